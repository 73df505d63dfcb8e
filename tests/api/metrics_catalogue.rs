//! The metrics catalogue: every metric the code records has a help line in its crate's catalogue, and the
//! README's table lists exactly the catalogued metrics (its dashboards and alerts are checked against that
//! table by `deploy/check`).

use std::collections::BTreeSet;
use std::path::Path;

/// The metric names recorded in the Rust sources under `dir` (`counter!("…"`, `gauge!("…"`, `histogram!("…"`).
fn recorded_in(dir: &Path, names: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            recorded_in(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let source = std::fs::read_to_string(&path).expect("source file");
            for macro_call in ["counter!(", "gauge!(", "histogram!("] {
                for (at, _) in source.match_indices(macro_call) {
                    let rest = source[at + macro_call.len()..].trim_start();
                    if let Some(quoted) = rest.strip_prefix('"')
                        && let Some(end) = quoted.find('"')
                    {
                        names.insert(quoted[..end].to_owned());
                    }
                }
            }
        }
    }
}

fn catalogued() -> BTreeSet<String> {
    [
        api::metrics::CATALOGUE,
        workers::metrics::CATALOGUE,
        ingress::metrics::CATALOGUE,
        tdj_nats::telemetry::CATALOGUE,
    ]
    .iter()
    .flat_map(|catalogue| catalogue.iter().map(|(name, _)| (*name).to_owned()))
    .collect()
}

#[test]
fn every_recorded_metric_has_a_help_line_and_every_help_line_a_metric() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut recorded = BTreeSet::new();
    for crate_dir in [
        "api/src",
        "workers/src",
        "ingress/src",
        "nats/src",
        "store/src",
        "src",
    ] {
        recorded_in(&root.join(crate_dir), &mut recorded);
    }
    let catalogued = catalogued();
    let missing: Vec<_> = recorded.difference(&catalogued).collect();
    assert!(
        missing.is_empty(),
        "recorded without a help line: {missing:?}"
    );
    let stale: Vec<_> = catalogued.difference(&recorded).collect();
    assert!(stale.is_empty(), "described but never recorded: {stale:?}");
    for (name, help) in api::metrics::CATALOGUE
        .iter()
        .chain(workers::metrics::CATALOGUE)
        .chain(ingress::metrics::CATALOGUE)
        .chain(tdj_nats::telemetry::CATALOGUE)
    {
        assert!(help.ends_with('.') && help.len() > 20, "{name}: {help:?}");
    }
}

#[test]
fn the_readme_lists_exactly_the_catalogued_metrics() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Metrics\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Metrics section");
    let listed: BTreeSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, catalogued());
}

/// The current value of one series in this process's metrics, e.g. `orders_created_total` or
/// `payment_webhooks_total{provider="wave",verdict="bad_signature"}` (0 when not recorded yet). Tests share the
/// process's counters: compare a value before and after, never an absolute one.
pub fn series_value(series: &str) -> f64 {
    let rendered = api::metrics::handle().render();
    rendered
        .lines()
        .filter_map(|line| line.strip_prefix(series))
        .filter_map(|rest| rest.strip_prefix(' '))
        .filter_map(|value| value.trim().parse::<f64>().ok())
        .sum()
}
