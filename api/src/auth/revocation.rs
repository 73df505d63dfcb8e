//! Revoked access tokens: a token carries its user's token version, tenant and role; the extractor compares
//! them with the user's current [`Standing`], remembered per process for a couple of seconds so a burst of
//! requests costs one lookup.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use store::users::Standing;
use uuid::Uuid;

/// How long a looked-up version is trusted: the bound on how late a revocation reaches this process.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// Above this many remembered users, expired entries are dropped on the next insert.
const TRIM_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct TokenVersions {
    known: Mutex<HashMap<Uuid, (Option<Standing>, Instant)>>,
}

impl TokenVersions {
    /// The remembered standing of `user` (`Some(None)`: the user is known not to exist), if still fresh.
    pub fn cached(&self, user: Uuid) -> Option<Option<Standing>> {
        let known = self.known.lock().ok()?;
        known
            .get(&user)
            .filter(|(_, at)| at.elapsed() < FRESH_FOR)
            .map(|(version, _)| *version)
    }

    pub fn remember(&self, user: Uuid, standing: Option<Standing>) {
        if let Ok(mut known) = self.known.lock() {
            if known.len() > TRIM_ABOVE {
                known.retain(|_, (_, at)| at.elapsed() < FRESH_FOR);
            }
            known.insert(user, (standing, Instant::now()));
        }
    }

    /// Forgets a user at once in this process (after revoking them here).
    pub fn forget(&self, user: Uuid) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(&user);
        }
    }

    /// Forgets every user (after revoking a whole shop here).
    pub fn forget_all(&self) {
        if let Ok(mut known) = self.known.lock() {
            known.clear();
        }
    }
}
