//! Time is injected so tests control it and never sleep. The clock is the
//! protocol crate's, one for the core, the client and the service alike.

#[cfg(any(test, feature = "test-support"))]
pub use cairn_protocol::clock::ManualClock;
pub use cairn_protocol::clock::{Clock, SystemClock};
