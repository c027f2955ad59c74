//! A token bucket per client address, in memory, for the sign-in endpoints:
//! enough to slow down guessing and account spam from one address. Buckets
//! are forgotten once full again, so memory stays bounded by the number of
//! addresses active within one refill period. An IPv6 client shares its
//! bucket with its whole /64: one subscriber usually holds all of it, and
//! could otherwise take a fresh address for every attempt.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::config::RateLimitConfig;
use crate::{Clock, ServerError};

struct Bucket {
    tokens: f64,
    updated_millis: i64,
}

pub struct RateLimiter {
    burst: f64,
    per_milli: f64,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig, clock: Arc<dyn Clock>) -> RateLimiter {
        RateLimiter {
            burst: f64::from(config.sign_in_burst.max(1)),
            per_milli: f64::from(config.sign_in_per_minute) / 60_000.0,
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`, or says how long to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), ServerError> {
        let now = self.clock.now_ms();
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| ServerError::Internal("rate limiter lock poisoned".to_owned()))?;
        if buckets.len() > 10_000 {
            let (burst, per_milli) = (self.burst, self.per_milli);
            buckets.retain(|_, b| refilled(b, now, burst, per_milli) < burst);
        }
        let bucket = buckets.entry(bucket_of(ip)).or_insert(Bucket {
            tokens: self.burst,
            updated_millis: now,
        });
        bucket.tokens = refilled(bucket, now, self.burst, self.per_milli);
        bucket.updated_millis = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait_millis = if self.per_milli > 0.0 {
                (1.0 - bucket.tokens) / self.per_milli
            } else {
                f64::from(u32::MAX)
            };
            Err(ServerError::RateLimited {
                retry_after_secs: (wait_millis / 1000.0).ceil().max(1.0) as u64,
            })
        }
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

fn refilled(bucket: &Bucket, now: i64, burst: f64, per_milli: f64) -> f64 {
    let elapsed = (now - bucket.updated_millis).max(0) as f64;
    (bucket.tokens + elapsed * per_milli).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let clock = Arc::new(ManualClock::new(0));
        let limiter = RateLimiter::new(
            RateLimitConfig {
                sign_in_burst: 2,
                sign_in_per_minute: 60,
            },
            clock.clone(),
        );
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        assert!(limiter.check(ip).is_ok());
        assert!(limiter.check(ip).is_ok());
        assert!(matches!(
            limiter.check(ip),
            Err(ServerError::RateLimited {
                retry_after_secs: 1
            })
        ));
        assert!(limiter.check(other).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(limiter.check(ip).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let clock = Arc::new(ManualClock::new(0));
        let limiter = RateLimiter::new(
            RateLimitConfig {
                sign_in_burst: 1,
                sign_in_per_minute: 1,
            },
            clock,
        );
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(limiter.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(limiter.check(ip("2001:db8:1:3::1")).is_ok());
    }
}
