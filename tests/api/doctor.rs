//! `tdjaasa doctor`, run as an operator runs it: a healthy installation passes, and each thing broken behind
//! its back is named in plain words with a failing exit code.

use std::process::Command;

use schemas::Subjects;
use sqlx::PgPool;
use testkit::nats::{TEST_STREAMS, connect, delete_streams, nats_url};
use uuid::Uuid;

/// Runs the doctor against `database` and the NATS namespace `prefix` with a complete production
/// configuration; its exit success and what it printed.
fn doctor(database: &str, prefix: &str) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tdjaasa"))
        .arg("doctor")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TDJ_ENV", "production")
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{database}"),
        )
        .env("NATS_URL", nats_url())
        .env("NATS_PREFIX", prefix)
        .env(
            "NATS_INBOUND_MAX_BYTES",
            TEST_STREAMS.inbound_max_bytes.to_string(),
        )
        .env(
            "NATS_OUTBOUND_MAX_BYTES",
            TEST_STREAMS.outbound_max_bytes.to_string(),
        )
        .env(
            "NATS_EVENTS_MAX_BYTES",
            TEST_STREAMS.events_max_bytes.to_string(),
        )
        .env(
            "TDJ_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .env("SMTP_URL", "smtp://127.0.0.1:2525")
        .env("PUBLIC_URL", "https://app.tdjaasa.example")
        .env("WAVE_API_KEY", "wave_ci_prod_doctor")
        .env("WAVE_WEBHOOK_SECRET", "wave_ci_WHS_doctor")
        .output()
        .expect("run tdjaasa doctor");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[sqlx::test(migrator = "store::MIGRATOR")]
async fn the_doctor_passes_a_healthy_installation_and_names_what_breaks(pool: PgPool) {
    // Arrange: a migrated database and a provisioned NATS namespace, as `tdjaasa up` leaves them.
    let database = pool
        .connect_options()
        .get_database()
        .expect("the test database")
        .to_owned();
    let prefix = format!("t{}", Uuid::new_v4().simple());
    let subjects = Subjects::with_prefix(&prefix).expect("prefix");
    let client = connect().await;
    tdj_nats::provision(&client, &subjects, &TEST_STREAMS)
        .await
        .expect("provision");

    // Act / Assert: healthy.
    let (healthy, report) = doctor(&database, &prefix);
    assert!(healthy, "a healthy installation passes:\n{report}");
    assert!(report.contains("Aucun problème trouvé"), "{report}");
    assert!(
        !report.contains("wave_ci_prod_doctor") && !report.contains("AAECAwQF"),
        "no secret is printed:\n{report}"
    );

    // A shop table loses its forced row-level security, and the workers' consumer disappears.
    sqlx::query("alter table product no force row level security")
        .execute(&pool)
        .await
        .expect("alter");
    async_nats::jetstream::new(client.clone())
        .get_stream(subjects.inbound_stream())
        .await
        .expect("stream")
        .delete_consumer(&subjects.workers_consumer())
        .await
        .expect("delete consumer");
    let (healthy, report) = doctor(&database, &prefix);
    assert!(!healthy, "exit code 1:\n{report}");
    assert!(
        report.lines().any(|l| l.contains("PROBLÈME")
            && l.contains("Sécurité par ligne")
            && l.contains("product")),
        "the unprotected table is named:\n{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.contains("PROBLÈME") && l.contains("consommateur")),
        "the missing consumer is named:\n{report}"
    );
    assert!(report.contains("2 problème(s)"), "{report}");

    delete_streams(&client, &subjects).await;
}
