//! Where a change came from. Every write to the store carries one, so the
//! UI is told of a peer's change as such and not twice of its own.
//!
//! Sync does not decide anything from it: every chunk stored after the
//! last publish is published (merged ones too, so each device's stream is
//! causally complete), and what is unpublished is read from the publish
//! watermark. A chunk's stored origin is only the origin of the write that
//! stored it; a compacted snapshot takes the origin of the write that
//! folded it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Typed or done on this device.
    Local,
    /// Merged from another replica (another device, or an import of changes).
    Merged,
}

impl Origin {
    pub(crate) fn to_sql(self) -> i64 {
        match self {
            Origin::Local => 0,
            Origin::Merged => 1,
        }
    }
}
