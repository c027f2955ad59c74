//! How the client waits between tries, in one place: the event socket's
//! reconnects and the sync transport's retries of one request both take
//! their delays from here (backon's exponential backoff with jitter).
//!
//! Each delay doubles, plus a random part up to its size, so that many
//! clients dropped at once do not come back in lockstep.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Delays starting at `first`, doubling up to `max`, for `times` retries
/// (`None`: without end).
pub fn retry_policy(first: Duration, max: Duration, times: Option<usize>) -> ExponentialBuilder {
    let builder = ExponentialBuilder::new()
        .with_min_delay(first)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter();
    match times {
        Some(n) => builder.with_max_times(n),
        None => builder.without_max_times(),
    }
}

/// Reconnecting the event socket: from 250 ms up to 30 s, for as long as
/// the subscription lives.
pub fn reconnect_policy() -> ExponentialBackoff {
    retry_policy(Duration::from_millis(250), Duration::from_secs(30), None).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stop_after_the_last_try() {
        let first = Duration::from_millis(100);
        let max = Duration::from_millis(800);
        let delays: Vec<_> = retry_policy(first, max, Some(6)).build().collect();
        assert_eq!(delays.len(), 6);
        // Jitter adds up to one more step.
        assert!(delays[0] >= first && delays[0] <= first * 2, "{delays:?}");
        assert!(delays[5] >= max && delays[5] <= max * 2, "{delays:?}");
    }

    #[test]
    fn reconnecting_never_runs_out() {
        assert_eq!(reconnect_policy().take(100).count(), 100);
    }
}
