//! Time, injected: session expiry, OAuth state expiry, rate limits, the
//! grant's issue time, the event socket's expiry timer and the embedded
//! store's presigned URL expiry all read a [`Clock`], so tests move time
//! instead of sleeping. The clock is the protocol crate's, the one the
//! client reads too.

#[cfg(any(test, feature = "test-support"))]
pub use cairn_protocol::clock::ManualClock;
pub use cairn_protocol::clock::{sleep_until, Clock, SystemClock};
