//! Which clock a client process reads: the wall clock, unless
//! `CAIRN_CLOCK_FILE` names a clock file.
//!
//! Scenario tests run the real `cairn` binary as a child process and keep
//! the service and storage on a manual clock that they move instead of
//! waiting out token and grant lifetimes. A child cannot share that clock
//! in memory, so the test writes the time to a file and names it here
//! ([`cairn_protocol::FileClock`]). The variable only changes what this
//! process believes about its own tokens' and grant's freshness; the
//! service and storage judge expiry by their own clocks, so setting it
//! grants nothing, and an unset or empty variable is the wall clock.

use std::sync::Arc;

use cairn_protocol::{Clock, FileClock, SystemClock};

/// Names a file holding the time (milliseconds since the epoch) that this
/// process reads instead of the wall clock; for scenario tests.
pub const CLOCK_FILE_ENV: &str = "CAIRN_CLOCK_FILE";

/// The wall clock, or the clock file `CAIRN_CLOCK_FILE` names.
pub fn clock_from_env() -> Arc<dyn Clock> {
    match std::env::var_os(CLOCK_FILE_ENV) {
        Some(path) if !path.is_empty() => Arc::new(FileClock::new(path)),
        _ => Arc::new(SystemClock),
    }
}
