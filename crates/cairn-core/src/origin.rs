//! Where a change came from. Every write to the store carries one, so the
//! sync writer publishes only local changes and the UI is not told twice.

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
