//! Waiting for something that happens in the background (a worker's reply, a lease taken, an e-mail sent):
//! poll a check until it yields a value. Deadlines use tokio's clock, so tests under
//! `tokio::time::pause()` wait in virtual time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often a check runs.
const INTERVAL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Some`, and returns that value; panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match within(limit, check).await {
        Some(value) => value,
        None => panic!("{what}: not within {limit:?}"),
    }
}

/// Polls `check` until it returns `Some`; `None` after `limit`, for callers that explain a timeout
/// themselves (with what they saw last).
pub async fn within<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
