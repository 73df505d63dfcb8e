//! Long-lived Server-Sent Event streams: each re-checks its sign-in while open, so a revoked token, an
//! expired one, a closed session or a changed role ends it; and each shop may hold only so many at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use uuid::Uuid;

use crate::Error;

/// Open streams allowed per shop (its people's tabs and devices); more are refused with 429.
pub const STREAMS_PER_SHOP: usize = 20;

/// `stream`, ended at the first check of `still_allowed` (every `every`) that says no.
pub fn until_revoked<S, F, Fut>(
    stream: S,
    every: Duration,
    still_allowed: F,
) -> impl Stream<Item = S::Item> + Send
where
    S: Stream + Send,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let revoked = async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.tick().await;
        loop {
            tick.tick().await;
            if !still_allowed().await {
                break;
            }
        }
    };
    stream.take_until(Box::pin(revoked))
}

/// Counts the open streams of each shop.
#[derive(Default)]
pub struct LiveStreams {
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// One open stream; dropping it (the stream ended or the client left) frees the place.
pub struct StreamSlot {
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
    tenant_id: Uuid,
}

impl LiveStreams {
    /// A place for one more stream of `tenant_id`, or 429 when the shop already holds
    /// [`STREAMS_PER_SHOP`].
    pub fn open(&self, tenant_id: Uuid) -> Result<StreamSlot, Error> {
        let mut open = self.open.lock().map_err(|_| Error::Unavailable)?;
        let count = open.entry(tenant_id).or_default();
        if *count >= STREAMS_PER_SHOP {
            return Err(Error::TooManyRequests {
                retry_after_secs: 30,
            });
        }
        *count += 1;
        Ok(StreamSlot {
            open: self.open.clone(),
            tenant_id,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(count) = open.get_mut(&self.tenant_id)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.tenant_id);
            }
        }
    }
}

/// Keeps `slot` for as long as `stream` lives.
pub fn holding<S: Stream + Send>(
    stream: S,
    slot: StreamSlot,
) -> impl Stream<Item = S::Item> + Send {
    stream.map(move |item| {
        let _held = &slot;
        item
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_stream_ends_once_its_sign_in_is_revoked() {
        let allowed = Arc::new(AtomicBool::new(true));
        let check = allowed.clone();
        let endless = futures::stream::repeat(()).then(|()| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
        });
        let mut stream = Box::pin(until_revoked(
            endless,
            Duration::from_millis(100),
            move || {
                let check = check.clone();
                async move { check.load(Ordering::SeqCst) }
            },
        ));
        for _ in 0..10 {
            assert!(stream.next().await.is_some());
        }
        allowed.store(false, Ordering::SeqCst);
        let ended = tokio::time::timeout(Duration::from_secs(2), async {
            while stream.next().await.is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "the stream ends after the revocation");
    }

    #[test]
    fn a_shop_holds_a_bounded_number_of_streams_and_gets_them_back() {
        let streams = LiveStreams::default();
        let shop = Uuid::new_v4();
        let held: Vec<StreamSlot> = (0..STREAMS_PER_SHOP)
            .map(|_| streams.open(shop).expect("place"))
            .collect();
        assert!(matches!(
            streams.open(shop),
            Err(Error::TooManyRequests { .. })
        ));
        assert!(
            streams.open(Uuid::new_v4()).is_ok(),
            "other shops are not affected"
        );
        drop(held);
        assert!(streams.open(shop).is_ok());
    }
}
