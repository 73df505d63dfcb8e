//! Per-client-address rate limiting of login and signup (governor), against password guessing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::Error;

pub struct AddrLimiter {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>,
}

impl AddrLimiter {
    /// `per_minute` attempts per address, refilled evenly over the minute; 0 is treated as 1.
    pub fn per_minute(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::keyed(quota),
        }
    }

    pub fn check(&self, addr: IpAddr) -> Result<(), Error> {
        self.limiter.check_key(&addr).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }

    /// Drops the state of addresses that are back to a full quota (called periodically).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// How often idle limiter entries are dropped.
pub const SHRINK_EVERY: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_limited_independently_of_others() {
        let limiter = AddrLimiter::per_minute(2);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        assert!(
            matches!(limiter.check(a), Err(Error::TooManyRequests { retry_after_secs }) if retry_after_secs >= 1)
        );
        assert!(
            limiter.check(b).is_ok(),
            "another address keeps its own quota"
        );
    }
}
