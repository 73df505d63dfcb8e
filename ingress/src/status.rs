//! What the shop sees of its connection: French status details, and the `whatsapp_tenants{state}` gauge of
//! this node (the fleet view is the sum over nodes).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemas::whatsapp::WaStatus;
use uuid::Uuid;

pub const CONNECTING: &str = "Connexion à WhatsApp en cours…";
pub const RECONNECTING: &str = "Connexion à WhatsApp perdue, reconnexion en cours…";
pub const WAITING_FOR_SCAN: &str =
    "Scannez le QR code avec WhatsApp (Réglages › Appareils connectés › Connecter un appareil).";
pub const WAITING_FOR_CODE: &str = "Saisissez le code d'association dans WhatsApp (Appareils connectés › Connecter avec un numéro).";
pub const CONNECTED: &str = "Votre numéro WhatsApp est connecté.";
pub const QR_EXPIRED: &str = "QR code expiré, relancez la connexion";
pub const LOGGED_OUT: &str = "Votre numéro a été délié de Tdjaasa depuis le téléphone. Relancez la connexion et scannez un nouveau QR code.";
pub const LOGGED_OUT_ON_REQUEST: &str = "Numéro délié à votre demande.";
pub const REPLACED: &str = "Votre session WhatsApp a été ouverte ailleurs (un autre ordinateur ou service). Tdjaasa s'est retiré ; relancez la connexion pour la reprendre.";
pub const UNAVAILABLE: &str =
    "Le service WhatsApp est momentanément indisponible. Réessayez dans une minute.";
/// A sandbox command reached a node on the real WhatsApp gateway.
pub const SANDBOX_ONLY: &str = "Simulation impossible : ce service est relié au vrai WhatsApp. Le scan et les messages de client simulés n'existent qu'en mode démonstration (WHATSAPP_GATEWAY=sandbox).";
/// A sandbox command for a tenant whose connection runs nowhere.
pub const NOT_RUNNING: &str =
    "Aucune connexion WhatsApp en cours pour cette boutique : lancez d'abord la connexion.";
pub const NOTHING_TO_SCAN: &str =
    "Aucun QR code ni code d'association en attente : lancez d'abord la connexion.";
pub const ALREADY_CONNECTED: &str = "Votre numéro WhatsApp est déjà connecté.";
pub const NOT_LINKED: &str =
    "Le numéro n'est pas encore connecté : simulez d'abord le scan du QR code.";
pub const SCANNED: &str = "QR code scanné (simulation) : connexion en cours…";
pub const CUSTOMER_MESSAGE: &str =
    "Message du client reçu (simulation) : l'assistant va lui répondre.";

/// No connection attempt reaches WhatsApp; the next one starts in `retry_in`.
pub fn unreachable(retry_in: Duration) -> String {
    format!(
        "Impossible de joindre WhatsApp (pas d'accès à internet ?). Nouvel essai dans {}.",
        delay(retry_in)
    )
}

/// `1 s`, `45 s`, `3 min`: rounded up, never `0 s`.
fn delay(wait: Duration) -> String {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    match seconds.max(1) {
        seconds @ ..120 => format!("{seconds} s"),
        seconds => format!("{} min", seconds.div_ceil(60)),
    }
}

pub fn banned(until: Option<DateTime<Utc>>) -> String {
    match until {
        Some(until) => format!(
            "WhatsApp a temporairement suspendu ce numéro jusqu'au {} (UTC). Relancez la connexion après cette date.",
            until.format("%d/%m/%Y à %H:%M")
        ),
        None => "WhatsApp a temporairement suspendu ce numéro. Relancez la connexion plus tard."
            .to_owned(),
    }
}

const ALL: [WaStatus; 6] = [
    WaStatus::Disconnected,
    WaStatus::WaitingForScan,
    WaStatus::Connecting,
    WaStatus::Connected,
    WaStatus::LoggedOut,
    WaStatus::Banned,
];

/// This node's tenants by state, mirrored into the gauge on every change.
#[derive(Default)]
pub struct StateGauge {
    states: Mutex<HashMap<Uuid, WaStatus>>,
}

impl StateGauge {
    /// Records a tenant's state; `None` when this node no longer runs it.
    pub fn set(&self, tenant_id: Uuid, state: Option<WaStatus>) {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match state {
            Some(state) => states.insert(tenant_id, state),
            None => states.remove(&tenant_id),
        };
        for status in ALL {
            let count = states.values().filter(|s| **s == status).count();
            metrics::gauge!("whatsapp_tenants", "state" => status.as_str()).set(count as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offline_detail_says_when_the_next_attempt_comes() {
        assert_eq!(
            unreachable(Duration::from_secs(30)),
            "Impossible de joindre WhatsApp (pas d'accès à internet ?). Nouvel essai dans 30 s."
        );
        assert!(unreachable(Duration::from_millis(100)).ends_with("dans 1 s."));
        assert!(unreachable(Duration::from_millis(1500)).ends_with("dans 2 s."));
        assert!(unreachable(Duration::from_secs(300)).ends_with("dans 5 min."));
    }
}
