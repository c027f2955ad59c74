//! What a UI shows about sync: a state with a code for every way it can go
//! wrong. The UI turns the code into a sentence; `detail` is for the log and
//! a "details" toggle, and never holds a URL with a signature or a token
//! (network errors are stripped of their URL where they are made).

use cairn_core::sync::{FailureCode, PeerError, RoundReport, SyncFailure, SyncStatus};
use serde::Serialize;

use crate::encryption::KeyError;
use crate::shown_text::without_secrets;
use crate::sync_agent::AgentError;
use crate::ClientError;

/// Why sync waits for a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SignInReason {
    /// This device was never signed in, or signed out.
    NotSignedIn,
    /// Another device removed this one from the account.
    DeviceRemoved,
    /// The session reached its end (its absolute lifetime, or unused too long).
    SessionExpired,
    /// The session was ended elsewhere (signed out, or revoked).
    SessionEnded,
    /// The storage grant expired or was revoked and no new one came.
    GrantExpired,
}

impl std::fmt::Display for SignInReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignInReason::NotSignedIn => "this device is not signed in",
            SignInReason::DeviceRemoved => "this device was removed from your account",
            SignInReason::SessionExpired => "your session expired",
            SignInReason::SessionEnded => {
                "this device's session has ended (signed out, or removed from another device)"
            }
            SignInReason::GrantExpired => "the storage grant expired or was revoked",
        })
    }
}

/// What stands in the way of sync, short of being offline or signed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SyncProblem {
    /// Storage answered with a server error; it usually passes.
    StorageUnavailable,
    /// Storage refused a request.
    StorageRejected,
    /// Another device's data is damaged or not from this account.
    BadObject,
    /// Another device's data went back in time (replayed or rolled back).
    RolledBack,
    /// Notes are encrypted and this device has no key for them yet.
    NoKey,
    /// Another device runs a newer Cairn.
    NewerFormat,
    /// A device was removed from the account: the passphrase gives this
    /// device the new key; until then its edits stay on it.
    KeyRotated,
    /// The Cairn service refused or gave an answer that made no sense.
    Service,
    /// The OS keychain holding the sign-in does not answer.
    Keychain,
    /// Something on this device: the database, a file, a task.
    Local,
}

impl SyncProblem {
    fn from_failure(code: FailureCode) -> SyncProblem {
        match code {
            // Offline and an expired grant are states of their own; as a
            // problem they come only from a kept error, which says little.
            FailureCode::Offline | FailureCode::StorageUnavailable => {
                SyncProblem::StorageUnavailable
            }
            FailureCode::GrantExpired | FailureCode::StorageRejected => {
                SyncProblem::StorageRejected
            }
            FailureCode::BadObject => SyncProblem::BadObject,
            FailureCode::RolledBack => SyncProblem::RolledBack,
            FailureCode::NoKey => SyncProblem::NoKey,
            FailureCode::NewerFormat => SyncProblem::NewerFormat,
        }
    }
}

/// What a UI shows about sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    Offline {
        detail: String,
    },
    Syncing,
    Synced {
        on_all_devices: bool,
        pending_changes: u64,
    },
    NeedsSignIn {
        reason: SignInReason,
    },
    Error {
        problem: SyncProblem,
        detail: String,
    },
}

impl SyncState {
    /// After a round (or a failure to run one).
    pub fn from_outcome(
        outcome: &Result<RoundReport, AgentError>,
        status: Option<&SyncStatus>,
    ) -> SyncState {
        match outcome {
            Ok(r) if r.needs_sign_in() => SyncState::NeedsSignIn {
                reason: SignInReason::GrantExpired,
            },
            Ok(r) => match r.failures().next() {
                Some(f) => SyncState::from_failure(f),
                None => SyncState::synced(status),
            },
            Err(e) => SyncState::from_error(e),
        }
    }

    /// From what the store kept, with no round run: what `cairn status`
    /// says, by the same rules as after a round.
    pub fn at_rest(signed_in: bool, status: &SyncStatus) -> SyncState {
        if !signed_in {
            return SyncState::NeedsSignIn {
                reason: SignInReason::NotSignedIn,
            };
        }
        match status.peers.iter().find_map(|p| p.error.as_ref()) {
            Some(e) => SyncState::from_peer_error(e),
            None => SyncState::synced(Some(status)),
        }
    }

    fn synced(status: Option<&SyncStatus>) -> SyncState {
        SyncState::Synced {
            on_all_devices: status.is_some_and(|s| s.on_all_devices),
            pending_changes: status.map(|s| s.pending_changes).unwrap_or(0),
        }
    }

    fn from_failure(f: &SyncFailure) -> SyncState {
        SyncState::from_peer_error(&PeerError::from(f))
    }

    fn from_peer_error(e: &PeerError) -> SyncState {
        match e.code {
            FailureCode::Offline => SyncState::Offline {
                detail: without_secrets(&e.detail),
            },
            FailureCode::GrantExpired => SyncState::NeedsSignIn {
                reason: SignInReason::GrantExpired,
            },
            code => SyncState::Error {
                problem: SyncProblem::from_failure(code),
                detail: without_secrets(&e.detail),
            },
        }
    }

    /// What to show when sync could not run at all.
    pub fn from_error(e: &AgentError) -> SyncState {
        let problem = match e {
            AgentError::NotSignedIn => {
                return SyncState::NeedsSignIn {
                    reason: SignInReason::NotSignedIn,
                }
            }
            AgentError::NeedsSignIn(reason) => return SyncState::NeedsSignIn { reason: *reason },
            AgentError::Offline(detail) => {
                return SyncState::Offline {
                    detail: without_secrets(detail),
                }
            }
            AgentError::Service(c) => client_problem(c),
            AgentError::Key(KeyError::Service(c)) => client_problem(c),
            AgentError::Key(KeyError::SecretNeeded | KeyError::NoLocalKey) => SyncProblem::NoKey,
            AgentError::Key(KeyError::KeyRotated) => SyncProblem::KeyRotated,
            AgentError::Key(KeyError::BadEnvelope(_)) => SyncProblem::Service,
            AgentError::Key(_) | AgentError::Sync(_) | AgentError::Task(_) => SyncProblem::Local,
        };
        SyncState::Error {
            problem,
            detail: without_secrets(&e.to_string()),
        }
    }
}

fn client_problem(e: &ClientError) -> SyncProblem {
    match e {
        ClientError::KeychainUnreadable { .. } | ClientError::CredentialStore(_) => {
            SyncProblem::Keychain
        }
        ClientError::Io { .. } => SyncProblem::Local,
        _ => SyncProblem::Service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::sync::PeerStatus;

    fn status(errors: &[Option<PeerError>]) -> SyncStatus {
        SyncStatus {
            device_id: Some("me".into()),
            published_seq: 3,
            pending_changes: 2,
            on_all_devices: false,
            peers: errors
                .iter()
                .enumerate()
                .map(|(i, e)| PeerStatus {
                    device_id: format!("peer{i}"),
                    merged_seq: 1,
                    head_seq: 1,
                    has_our_seq: 1,
                    last_ok_ms: None,
                    error: e.clone(),
                })
                .collect(),
        }
    }

    fn kept(code: FailureCode) -> Option<PeerError> {
        Some(PeerError {
            code,
            detail: "as kept".into(),
        })
    }

    #[test]
    fn at_rest_follows_the_same_rules_as_after_a_round() {
        assert_eq!(
            SyncState::at_rest(false, &status(&[])),
            SyncState::NeedsSignIn {
                reason: SignInReason::NotSignedIn
            }
        );
        assert_eq!(
            SyncState::at_rest(true, &status(&[None])),
            SyncState::Synced {
                on_all_devices: false,
                pending_changes: 2
            }
        );
        assert_eq!(
            SyncState::at_rest(true, &status(&[None, kept(FailureCode::Offline)])),
            SyncState::Offline {
                detail: "as kept".into()
            }
        );
        assert_eq!(
            SyncState::at_rest(true, &status(&[kept(FailureCode::GrantExpired)])),
            SyncState::NeedsSignIn {
                reason: SignInReason::GrantExpired
            }
        );
        assert_eq!(
            SyncState::at_rest(true, &status(&[kept(FailureCode::NewerFormat)])),
            SyncState::Error {
                problem: SyncProblem::NewerFormat,
                detail: "as kept".into()
            }
        );
    }

    #[test]
    fn the_ui_reads_codes_not_sentences() {
        let json = serde_json::to_value(SyncState::Error {
            problem: SyncProblem::BadObject,
            detail: "x".into(),
        })
        .unwrap_or_default();
        assert_eq!(json["state"], "error");
        assert_eq!(json["problem"], "bad_object");
        let json = serde_json::to_value(SyncState::NeedsSignIn {
            reason: SignInReason::DeviceRemoved,
        })
        .unwrap_or_default();
        assert_eq!(json["reason"], "device_removed");
    }
}
