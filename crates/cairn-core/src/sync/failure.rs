//! Why one part of a round failed, kept typed from the transport to the
//! UI: the agent decides "offline" or "sign in again" from the kind, never
//! from the words.

use serde::Serialize;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
            SyncFailure::Read(ReadError::WrongDevice { .. } | ReadError::BadChanges { .. }) => {
                FailureCode::BadObject
            }
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
