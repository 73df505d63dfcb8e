//! Rate limits of sign-in and other costly public actions (governor): per client network and per account,
//! against password guessing from one place and spread over many.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::Error;

/// A limiter per key of `K`.
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    fn new(quota: Quota) -> Self {
        Self {
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// Takes one attempt of `key`'s quota, or says how long to wait.
    pub fn check_key(&self, key: &K) -> Result<(), Error> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }

    /// Drops the state of keys that are back to a full quota (called periodically).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Per client network: an IPv4 address, or an IPv6 /64 (one subscriber's whole allocation, which it can
/// rotate through at will).
pub type AddrLimiter = KeyedLimiter<IpAddr>;

impl AddrLimiter {
    /// `per_minute` attempts per client network, refilled evenly over the minute; 0 is treated as 1.
    pub fn per_minute(per_minute: u32) -> Self {
        Self::new(Quota::per_minute(nonzero(per_minute)))
    }

    pub fn check(&self, addr: IpAddr) -> Result<(), Error> {
        self.check_key(&network_of(addr))
    }
}

/// Per shop (the test chat, checkouts).
pub type ShopLimiter = KeyedLimiter<uuid::Uuid>;

impl ShopLimiter {
    /// `per_minute` actions per shop, refilled evenly over the minute; 0 is treated as 1.
    pub fn per_shop_minute(per_minute: u32) -> Self {
        Self::new(Quota::per_minute(nonzero(per_minute)))
    }
}

/// Per account (an e-mail address, known or not, so the limit tells nothing about who has an account).
pub type AccountLimiter = KeyedLimiter<String>;

impl AccountLimiter {
    /// `per_hour` attempts per account, at most ten of them in a burst; 0 is treated as 1.
    pub fn per_hour(per_hour: u32) -> Self {
        let per_hour = nonzero(per_hour);
        let burst = nonzero(per_hour.get().min(10));
        Self::new(Quota::per_hour(per_hour).allow_burst(burst))
    }

    pub fn check(&self, account: &str) -> Result<(), Error> {
        self.check_key(&account.trim().to_lowercase())
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// The key of a client address: IPv6 addresses are grouped by /64 (IPv4-mapped ones are IPv4).
fn network_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// How often idle limiter entries are dropped.
pub const SHRINK_EVERY: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn limited(result: Result<(), Error>) -> bool {
        matches!(result, Err(Error::TooManyRequests { retry_after_secs }) if retry_after_secs >= 1)
    }

    #[test]
    fn an_address_is_limited_independently_of_others() {
        let limiter = AddrLimiter::per_minute(2);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        assert!(limited(limiter.check(a)));
        assert!(
            limiter.check(b).is_ok(),
            "another address keeps its own quota"
        );
    }

    #[test]
    fn every_address_of_an_ipv6_64_shares_one_quota() {
        let limiter = AddrLimiter::per_minute(2);
        let prefix: u128 = 0x2001_0db8_0042_0007 << 64;
        for host in 1..=2u128 {
            assert!(
                limiter
                    .check(IpAddr::V6(Ipv6Addr::from(prefix | host)))
                    .is_ok()
            );
        }
        assert!(
            limited(limiter.check(IpAddr::V6(Ipv6Addr::from(prefix | 0xdead_beef)))),
            "a new address in the same /64 is the same client"
        );
        let neighbour = (0x2001_0db8_0042_0008u128 << 64) | 1;
        assert!(limiter.check(IpAddr::V6(Ipv6Addr::from(neighbour))).is_ok());
    }

    #[test]
    fn an_account_is_limited_whatever_the_address_and_the_spelling() {
        let limiter = AccountLimiter::per_hour(3);
        for spelling in ["awa@example.ci", " Awa@Example.CI", "AWA@EXAMPLE.CI"] {
            assert!(limiter.check(spelling).is_ok());
        }
        assert!(limited(limiter.check("awa@example.ci")));
        assert!(limiter.check("kofi@example.ci").is_ok());
    }
}
