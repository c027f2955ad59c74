//! Rate limits on signing in, kept in memory by `governor` (GCRA, which
//! behaves as a token bucket).
//!
//! Two limits, so that neither a noisy neighbour nor a spread-out attack
//! gets far:
//!
//! - per client address: every sign-in attempt, account creation and
//!   GitHub round counts, and so does a refused refresh. A *valid* refresh
//!   never does: everyone behind one address (a household, an office)
//!   keeps syncing however many wrong keys someone there typed.
//! - per account: sign-ins that reach an account (a login code that names
//!   it), so that attempts spread over many addresses still meet a limit.
//!
//! An IPv6 client shares its bucket with its whole /64: one subscriber
//! usually holds all of it, and could otherwise take a fresh address for
//! every attempt. Buckets back at full are forgotten once there are many,
//! so memory stays bounded by the clients active within one refill period.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use cairn_protocol::UserId;
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::RateLimitConfig;
use crate::{Clock, ServerError};

/// How many buckets may pile up before the full ones are dropped.
const FORGET_FULL_BUCKETS_ABOVE: usize = 10_000;

/// The service's clock, as governor reads time: since the Unix epoch, so a
/// manual clock in the tests moves the limits too.
#[derive(Clone)]
struct ServiceClock(Arc<dyn Clock>);

impl GovernorClock for ServiceClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now_ms()).unwrap_or(0))
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, ServiceClock, NoOpMiddleware<Duration>>;

pub struct SignInLimits {
    per_address: Keyed<IpAddr>,
    per_account: Keyed<UserId>,
    clock: ServiceClock,
}

impl SignInLimits {
    pub fn new(config: RateLimitConfig, clock: Arc<dyn Clock>) -> SignInLimits {
        let clock = ServiceClock(clock);
        let quota = quota(config);
        SignInLimits {
            per_address: RateLimiter::new(quota, Default::default(), clock.clone()),
            per_account: RateLimiter::new(quota, Default::default(), clock.clone()),
            clock,
        }
    }

    /// Counts one attempt from `ip`, or says how long to wait.
    pub fn address(&self, ip: IpAddr) -> Result<(), ServerError> {
        self.take(&self.per_address, &bucket_of(ip))
    }

    /// Counts one sign-in into `user`'s account, or says how long to wait.
    pub fn account(&self, user: &UserId) -> Result<(), ServerError> {
        self.take(&self.per_account, user)
    }

    fn take<K: Hash + Eq + Clone>(&self, limiter: &Keyed<K>, key: &K) -> Result<(), ServerError> {
        if limiter.len() > FORGET_FULL_BUCKETS_ABOVE {
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ServerError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }
}

/// `burst` attempts at once, `per_minute` regained each minute (none: one
/// a year, as good as never).
fn quota(config: RateLimitConfig) -> Quota {
    let burst = NonZeroU32::new(config.sign_in_burst).unwrap_or(NonZeroU32::MIN);
    let period = match config.sign_in_per_minute {
        0 => Duration::from_secs(365 * 24 * 60 * 60),
        n => Duration::from_secs(60) / n,
    };
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// The address a client is counted under.
fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn limits(burst: u32, per_minute: u32, clock: Arc<ManualClock>) -> SignInLimits {
        SignInLimits::new(
            RateLimitConfig {
                sign_in_burst: burst,
                sign_in_per_minute: per_minute,
            },
            clock,
        )
    }

    #[test]
    fn burst_then_refill() {
        let clock = Arc::new(ManualClock::new(0));
        let limits = limits(2, 60, clock.clone());
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        assert!(limits.address(ip).is_ok());
        assert!(limits.address(ip).is_ok());
        assert!(matches!(
            limits.address(ip),
            Err(ServerError::RateLimited {
                retry_after_secs: 1
            })
        ));
        assert!(limits.address(other).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(limits.address(ip).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let clock = Arc::new(ManualClock::new(0));
        let limits = limits(1, 1, clock);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(limits.address(ip("2001:db8:1:2::1")).is_ok());
        assert!(limits.address(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(limits.address(ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn accounts_and_addresses_are_counted_apart() {
        let clock = Arc::new(ManualClock::new(0));
        let limits = limits(1, 1, clock);
        let user = UserId::new("key", "abcdefabcdefabcd").expect("user");
        let other = UserId::new("key", "0123456789abcdef").expect("user");
        assert!(limits.account(&user).is_ok());
        assert!(matches!(
            limits.account(&user),
            Err(ServerError::RateLimited {
                retry_after_secs: 60
            })
        ));
        assert!(limits.account(&other).is_ok());
        assert!(limits.address([10, 0, 0, 1].into()).is_ok());
    }
}
