//! One `chromedriver` process per browser: started on a port it picks itself (`--port=0`, read back from its
//! banner, so parallel tests never race for a port), in a process group of its own so that dropping it kills
//! chromedriver and every Chromium process it started, even when a test panics.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long chromedriver may take to listen (a loaded 2-core machine can be slow to start a process).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);

/// Where Debian's `chromium-driver` package puts it.
const DEBIAN_CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running chromedriver, and the temporary folder holding its log and Chromium's profile.
pub(super) struct Driver {
    child: Child,
    /// The process group: chromedriver's own pid (it was started as a group leader).
    pgid: Option<i32>,
    pub(super) url: String,
    /// Deleted after the processes are killed (field order: `Drop for Driver` runs first).
    workdir: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver and waits until it listens.
    pub(super) async fn start() -> Driver {
        let binary = chromedriver_path();
        let workdir = tempfile::Builder::new()
            .prefix("tdjaasa-browser-")
            .tempdir()
            .expect("temporary folder for the browser profile");
        let log = workdir.path().join("chromedriver.log");
        let mut child = Command::new(&binary)
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());
        let stdout = child.stdout.take().expect("chromedriver stdout is piped");
        let mut driver = Driver {
            child,
            pgid,
            url: String::new(),
            workdir,
        };

        // "ChromeDriver was started successfully on port 41235."
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let port = tokio::time::timeout(LISTEN_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok())
                {
                    return Some(port);
                }
                banner.push(line);
            }
            None
        })
        .await;
        let Ok(Some(port)) = port else {
            let status = driver.child.try_wait().ok().flatten();
            panic!(
                "chromedriver did not start listening within {LISTEN_TIMEOUT:?} (exit status: {status:?}); it said:\n{}\n{}",
                banner.join("\n"),
                driver.log_tail()
            );
        };
        // Keep reading so that chromedriver never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        driver.url = format!("http://127.0.0.1:{port}");
        driver
    }

    /// Chromium's profile folder (fresh for every browser).
    pub(super) fn profile_dir(&self) -> PathBuf {
        self.workdir.path().join("profile")
    }

    /// The end of chromedriver's log, for failure messages.
    pub(super) fn log_tail(&self) -> String {
        let path = self.workdir.path().join("chromedriver.log");
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!("--- last lines of chromedriver's log ---\n{tail}")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Chromium and its helpers stay in chromedriver's process group: kill the group, then reap chromedriver.
        if let Some(pgid) = self.pgid.and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        let _ = self.child.start_kill();
        let _ = self.child.try_wait();
    }
}

/// `/usr/bin/chromedriver`, else `chromedriver` on the `PATH`.
fn chromedriver_path() -> PathBuf {
    let debian = Path::new(DEBIAN_CHROMEDRIVER);
    if debian.is_file() {
        return debian.to_owned();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromedriver"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromedriver not found ({DEBIAN_CHROMEDRIVER} nor on PATH): the browser tests need Debian's \
                 `chromium` and `chromium-driver` packages, which `.ci/run` installs \
                 (or: apt-get install chromium chromium-driver)"
            )
        })
}
