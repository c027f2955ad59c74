//! Why one part of a round failed, kept typed from the transport to the
//! UI: the agent decides "offline" or "sign in again" from the kind, never
//! from the words.

use serde::{Deserialize, Serialize};

use crate::sync::object::ObjectError;
use crate::sync::reader::ReadError;
use crate::sync::transport::{TransportError, TransportErrorKind};

/// The failure of the publish, or of reading one peer. The round goes on
/// past it; the next round tries again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncFailure {
    #[error("storage: {0}")]
    Storage(#[from] TransportError),
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// A stable name for a failure, for code that decides and for the UI.
/// Kept in the store beside a peer's error, so the names never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// No connection to storage, or it did not answer in time.
    Offline,
    /// Storage answered with a server error or cut a body short.
    StorageUnavailable,
    /// The grant expired or was revoked: a new grant (or sign-in) is needed.
    GrantExpired,
    /// Storage refused the request for another reason.
    StorageRejected,
    /// A peer's object is damaged, forged or not ours.
    BadObject,
    /// A peer's head went back in time (a replayed or rolled-back head).
    RolledBack,
    /// A peer's object is sealed and this device holds no key for it.
    NoKey,
    /// A peer's object comes from a newer Cairn.
    NewerFormat,
}

impl FailureCode {
    const ALL: [FailureCode; 8] = [
        FailureCode::Offline,
        FailureCode::StorageUnavailable,
        FailureCode::GrantExpired,
        FailureCode::StorageRejected,
        FailureCode::BadObject,
        FailureCode::RolledBack,
        FailureCode::NoKey,
        FailureCode::NewerFormat,
    ];

    /// The name kept in the store (and sent to the UI).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::Offline => "offline",
            FailureCode::StorageUnavailable => "storage_unavailable",
            FailureCode::GrantExpired => "grant_expired",
            FailureCode::StorageRejected => "storage_rejected",
            FailureCode::BadObject => "bad_object",
            FailureCode::RolledBack => "rolled_back",
            FailureCode::NoKey => "no_key",
            FailureCode::NewerFormat => "newer_format",
        }
    }

    /// The code a stored name stands for; `None` for a name this version
    /// does not know (written by a newer one).
    pub fn from_name(name: &str) -> Option<FailureCode> {
        FailureCode::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// The last failure of reading one peer, as the store keeps it between
/// rounds: the code decides, the detail is for the log and "details".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerError {
    pub code: FailureCode,
    pub detail: String,
}

impl From<&SyncFailure> for PeerError {
    fn from(f: &SyncFailure) -> Self {
        PeerError {
            code: f.code(),
            detail: f.to_string(),
        }
    }
}

impl SyncFailure {
    pub fn code(&self) -> FailureCode {
        match self {
            SyncFailure::Storage(t) => match t.kind {
                TransportErrorKind::Offline => FailureCode::Offline,
                TransportErrorKind::Unavailable => FailureCode::StorageUnavailable,
                TransportErrorKind::Unauthorized => FailureCode::GrantExpired,
                TransportErrorKind::Rejected => FailureCode::StorageRejected,
            },
            SyncFailure::Read(ReadError::WentBack { .. }) => FailureCode::RolledBack,
            SyncFailure::Read(
                ReadError::BadHead { source, .. } | ReadError::BadObject { source, .. },
            ) => match source {
                ObjectError::Sealed => FailureCode::NoKey,
                ObjectError::UnknownVersion { .. } | ObjectError::UnknownFlags { .. } => {
                    FailureCode::NewerFormat
                }
                _ => FailureCode::BadObject,
            },
            SyncFailure::Read(
                ReadError::WrongDevice { .. }
                | ReadError::BadChanges { .. }
                | ReadError::RefusedHead { .. },
            ) => FailureCode::BadObject,
        }
    }

    /// Whether a new grant (or signing in again) is what it takes.
    pub fn needs_sign_in(&self) -> bool {
        self.code() == FailureCode::GrantExpired
    }

    /// Whether trying again later may work by itself.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code(),
            FailureCode::Offline | FailureCode::StorageUnavailable
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_from_its_stored_name() {
        for code in FailureCode::ALL {
            assert_eq!(FailureCode::from_name(code.as_str()), Some(code));
            // The serde name is the stored name: the UI and the store agree.
            assert_eq!(
                serde_json::to_string(&code).unwrap_or_default(),
                format!("\"{}\"", code.as_str())
            );
        }
        assert_eq!(FailureCode::from_name("from_the_future"), None);
    }
}
