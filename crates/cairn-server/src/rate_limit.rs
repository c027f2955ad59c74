//! Rate limits on signing in, counted in the registry so that N instances
//! allow what one would, not N times as much (GCRA, which behaves as a
//! token bucket; see [`Gcra`]).
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
//! every attempt. Buckets back at full are forgotten now and then, so the
//! table stays bounded by the clients active within one refill period.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_protocol::UserId;

use crate::config::RateLimitConfig;
use crate::registry::{Gcra, Registry};
use crate::{Clock, ServerError};

/// Every this many attempts, the full buckets are dropped.
const FORGET_FULL_BUCKETS_EVERY: u64 = 256;

pub struct SignInLimits {
    registry: Arc<dyn Registry>,
    quota: Gcra,
    clock: Arc<dyn Clock>,
    attempts: AtomicU64,
}

impl SignInLimits {
    pub fn new(
        config: RateLimitConfig,
        registry: Arc<dyn Registry>,
        clock: Arc<dyn Clock>,
    ) -> SignInLimits {
        SignInLimits {
            registry,
            quota: quota(config),
            clock,
            attempts: AtomicU64::new(0),
        }
    }

    /// Counts one attempt from `ip`, or says how long to wait.
    pub async fn address(&self, ip: IpAddr) -> Result<(), ServerError> {
        self.take(&format!("ip:{}", bucket_of(ip))).await
    }

    /// Counts one sign-in into `user`'s account, or says how long to wait.
    pub async fn account(&self, user: &UserId) -> Result<(), ServerError> {
        self.take(&format!("account:{user}")).await
    }

    async fn take(&self, bucket: &str) -> Result<(), ServerError> {
        let now_ms = self.clock.now_ms();
        if self.attempts.fetch_add(1, Ordering::Relaxed) % FORGET_FULL_BUCKETS_EVERY
            == FORGET_FULL_BUCKETS_EVERY - 1
        {
            self.registry.forget_full_sign_in_buckets(now_ms).await?;
        }
        match self
            .registry
            .take_sign_in(bucket, self.quota, now_ms)
            .await?
        {
            None => Ok(()),
            Some(wait_ms) => Err(ServerError::RateLimited {
                retry_after_secs: wait_ms.div_ceil(1000).max(1),
            }),
        }
    }
}

/// `burst` attempts at once, `per_minute` regained each minute (none: one
/// a year, as good as never).
fn quota(config: RateLimitConfig) -> Gcra {
    let interval_ms = match config.sign_in_per_minute {
        0 => 365 * 24 * 60 * 60 * 1000,
        n => (60_000 / i64::from(n)).max(1),
    };
    Gcra {
        interval_ms,
        burst: config.sign_in_burst.max(1),
    }
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
    use std::time::Duration;

    use super::*;
    use crate::registry::SqliteRegistry;
    use crate::ManualClock;

    fn limits(burst: u32, per_minute: u32, clock: Arc<ManualClock>) -> SignInLimits {
        let registry = SqliteRegistry::in_memory().expect("registry");
        SignInLimits::new(
            RateLimitConfig {
                sign_in_burst: burst,
                sign_in_per_minute: per_minute,
            },
            Arc::new(registry),
            clock,
        )
    }

    #[tokio::test]
    async fn burst_then_refill() {
        let clock = Arc::new(ManualClock::new(0));
        let limits = limits(2, 60, clock.clone());
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        assert!(limits.address(ip).await.is_ok());
        assert!(limits.address(ip).await.is_ok());
        assert!(matches!(
            limits.address(ip).await,
            Err(ServerError::RateLimited {
                retry_after_secs: 1
            })
        ));
        assert!(limits.address(other).await.is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(limits.address(ip).await.is_ok());
    }

    #[tokio::test]
    async fn an_ipv6_slash_64_is_one_client() {
        let clock = Arc::new(ManualClock::new(0));
        let limits = limits(1, 1, clock);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(limits.address(ip("2001:db8:1:2::1")).await.is_ok());
        assert!(limits.address(ip("2001:db8:1:2:ffff::9")).await.is_err());
        assert!(limits.address(ip("2001:db8:1:3::1")).await.is_ok());
    }

    #[tokio::test]
    async fn accounts_and_addresses_are_counted_apart() {
        let clock = Arc::new(ManualClock::new(0));
        let limits = limits(1, 1, clock);
        let user = UserId::new("key", "abcdefabcdefabcd").expect("user");
        let other = UserId::new("key", "0123456789abcdef").expect("user");
        assert!(limits.account(&user).await.is_ok());
        assert!(matches!(
            limits.account(&user).await,
            Err(ServerError::RateLimited {
                retry_after_secs: 60
            })
        ));
        assert!(limits.account(&other).await.is_ok());
        assert!(limits.address([10, 0, 0, 1].into()).await.is_ok());
    }
}
