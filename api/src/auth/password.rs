//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), off the async runtime and on a
//! bounded number of threads.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::Error;

/// Hashes running at once: one per core. Each takes 19 MiB and a core for tens of milliseconds, so a flood
/// of sign-ins (even spread over many addresses) queues here instead of taking gigabytes and every thread.
static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(hashing_slots()));

/// Longest a request waits for a hashing slot before it is told to retry (429).
const WAIT_FOR_SLOT: Duration = Duration::from_secs(10);

/// Hashes running now, and the most seen at once (for the tests of the bound).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// How many password hashes may run at once in this process.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The most password hashes this process ever ran at once.
pub fn peak_concurrent_hashes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

async fn slot() -> Result<SemaphorePermit<'static>, Error> {
    match tokio::time::timeout(WAIT_FOR_SLOT, SLOTS.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_closed)) => Err(Error::Unavailable),
        Err(_elapsed) => Err(Error::TooManyRequests {
            retry_after_secs: 5,
        }),
    }
}

/// Runs `work` on the blocking pool while holding a hashing slot.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Error> {
    let _slot = slot().await?;
    let running = RUNNING.fetch_add(1, Ordering::Relaxed) + 1;
    PEAK.fetch_max(running, Ordering::Relaxed);
    let outcome = tokio::task::spawn_blocking(work).await;
    RUNNING.fetch_sub(1, Ordering::Relaxed);
    outcome
        .map_err(|e| anyhow::anyhow!("password hashing task panicked: {e}"))?
        .map_err(Error::Internal)
}

/// Hashes a password into a PHC string.
pub async fn hash_password(password: SecretString) -> Result<String, Error> {
    hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    })
    .await
}

/// Checks a password against a stored hash. With no hash (unknown e-mail), a fixed dummy hash is checked
/// instead so that the answer takes the same time and does not reveal which e-mails exist.
pub async fn verify_password(
    password: SecretString,
    hash: Option<SecretString>,
) -> Result<bool, Error> {
    hashing(move || {
        let known = hash.is_some();
        let stored = hash
            .map(|h| h.expose_secret().to_owned())
            .unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
        let matches = Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
}

/// argon2id hash of a random string nobody knows, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5MeLtQ3t7xwyiY7Fw4Bd0vlm7PCGr+TyTK1u2iz8Pl4";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let hash = hash_password(SecretString::from("mot de passe 1"))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        let ok = verify_password(
            SecretString::from("mot de passe 1"),
            Some(SecretString::from(hash.clone())),
        );
        assert!(ok.await.expect("verify"));
        let wrong = verify_password(
            SecretString::from("mot de passe 2"),
            Some(SecretString::from(hash)),
        );
        assert!(!wrong.await.expect("verify"));
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        assert!(
            !verify_password(SecretString::from("x"), None)
                .await
                .expect("dummy hash parses")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_flood_of_hashes_never_runs_more_than_one_per_core() {
        let flood: Vec<_> = (0..24)
            .map(|i| {
                tokio::spawn(verify_password(
                    SecretString::from(format!("essai {i}")),
                    None,
                ))
            })
            .collect();
        for attempt in flood {
            assert!(!attempt.await.expect("task").expect("answered"));
        }
        assert!(peak_concurrent_hashes() >= 1);
        assert!(
            peak_concurrent_hashes() <= hashing_slots(),
            "{} hashes at once with {} slots",
            peak_concurrent_hashes(),
            hashing_slots()
        );
    }
}
