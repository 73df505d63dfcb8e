//! Read-only checks of the JetStream layout for `tdjaasa doctor`: the streams, the workers' consumer and the
//! lease bucket as this configuration expects them. Nothing is created or changed here.

use async_nats::jetstream::{self, stream};
use schemas::Subjects;

use crate::{StreamLayout, events_stream, inbound_stream, lease_bucket_stream, outbound_stream};

/// One checked object: what it is, what was seen, and the problem if there is one (in plain French).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub what: String,
    pub seen: String,
    pub problem: Option<String>,
}

/// Checks the streams, the consumer and the lease bucket against `layout`.
pub async fn check(
    client: &async_nats::Client,
    subjects: &Subjects,
    layout: &StreamLayout,
) -> Vec<Finding> {
    let js = jetstream::new(client.clone());
    let mut findings = Vec::new();
    for expected in [
        inbound_stream(subjects, layout),
        outbound_stream(subjects, layout),
        events_stream(subjects, layout),
        lease_bucket_stream(subjects, layout),
    ] {
        findings.push(check_stream(&js, &expected).await);
    }
    let consumer = subjects.workers_consumer();
    let what = format!(
        "consommateur {consumer} (flux {})",
        subjects.inbound_stream()
    );
    let found = crate::telemetry::consumer_info(&js, &subjects.inbound_stream(), &consumer).await;
    findings.push(match found {
        Ok(info) => Finding {
            what,
            seen: format!(
                "{} message(s) en attente, {} en cours, {} relivré(s)",
                info.num_pending, info.num_ack_pending, info.num_redelivered
            ),
            problem: None,
        },
        Err(e) => Finding {
            what,
            seen: e,
            problem: Some(
                "absent : un worker le crée au démarrage (`tdjaasa worker`), sans lui aucun message n'est traité"
                    .into(),
            ),
        },
    });
    findings
}

async fn check_stream(js: &jetstream::Context, expected: &stream::Config) -> Finding {
    let what = format!("flux {}", expected.name);
    let info = match js.get_stream(&expected.name).await {
        Ok(mut stream) => stream.info().await.cloned().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let info = match info {
        Ok(info) => info,
        Err(e) => {
            return Finding {
                what,
                seen: e,
                problem: Some(
                    "absent : chaque service le crée au démarrage ; démarrez-en un (`tdjaasa api`, `worker` ou \
                     `ingress`) avec les mêmes réglages NATS"
                        .into(),
                ),
            };
        }
    };
    let config = &info.config;
    let seen = format!(
        "{} message(s), {} Mo sur {} Mo, {} réplique(s)",
        info.state.messages,
        info.state.bytes / (1 << 20),
        config.max_bytes.max(0) / (1 << 20),
        config.num_replicas
    );
    let mut problems = Vec::new();
    if config.num_replicas < expected.num_replicas {
        problems.push(format!(
            "{} réplique(s) au lieu de {} (NATS_REPLICAS) : un nœud NATS perdu peut perdre des messages",
            config.num_replicas, expected.num_replicas
        ));
    }
    if expected.max_bytes > 0 && config.max_bytes != expected.max_bytes {
        problems.push(format!(
            "taille maximale {} Mo au lieu des {} Mo configurés : redémarrez un service pour l'appliquer",
            config.max_bytes.max(0) / (1 << 20),
            expected.max_bytes / (1 << 20)
        ));
    }
    if config.max_bytes > 0 && info.state.bytes * 10 >= (config.max_bytes as u64) * 9 {
        problems.push(
            "plein à plus de 90 % : les nouveaux messages seront refusés (flux entrant) ou les plus anciens \
             effacés (événements)"
                .into(),
        );
    }
    Finding {
        what,
        seen,
        problem: (!problems.is_empty()).then(|| problems.join(" ; ")),
    }
}
