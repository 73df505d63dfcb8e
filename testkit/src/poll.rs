//! Waiting for something that happens in the background (a worker's reply, a lease taken, an e-mail sent):
//! poll a check until it holds. Deadlines use tokio's clock, so tests under `tokio::time::pause()` wait in
//! virtual time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often a check runs.
const INTERVAL: Duration = Duration::from_millis(50);

/// What a check yields: `true`/`false`, or `Some(value)` once what it waits for exists.
pub trait Settled {
    type Value;
    fn settled(self) -> Option<Self::Value>;
}

impl Settled for bool {
    type Value = ();
    fn settled(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Settled for Option<T> {
    type Value = T;
    fn settled(self) -> Option<T> {
        self
    }
}

/// Polls `check` until it holds (or yields `Some`), and returns its value; panics with `what` after `limit`.
pub async fn eventually<S, F, Fut>(limit: Duration, what: &str, check: F) -> S::Value
where
    S: Settled,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    match within(limit, check).await {
        Some(value) => value,
        None => panic!("{what}: not within {limit:?}"),
    }
}

/// Polls `check` until it holds; `None` after `limit`, for callers that explain a timeout themselves (with
/// what they saw last).
pub async fn within<S, F, Fut>(limit: Duration, mut check: F) -> Option<S::Value>
where
    S: Settled,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await.settled() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
