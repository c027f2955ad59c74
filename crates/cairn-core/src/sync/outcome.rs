//! What a round did, for the agent, the UI and the benchmarks.

use crate::sync::failure::SyncFailure;
use crate::sync::signed_head::HeadRefusal;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerOutcome {
    pub device: String,
    pub changed_notes: usize,
    pub error: Option<SyncFailure>,
    /// Not read this round: a round for one peer's publish reads only
    /// that peer (see [`crate::sync::engine::Round::read_only`]); what is
    /// known of this one is as the last round that read it left it.
    pub skipped: bool,
    /// In a shared notebook, the head found was not read, and why: its
    /// signature does not make it the member's own (a forgery by whoever
    /// holds the epoch key, with the storage's help). Like a viewer's
    /// head, it is ignored (`skipped`), not an error of the round.
    pub refused: Option<HeadRefusal>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// The newest sequence number published this round, if data went out.
    pub published: Option<u64>,
    pub wrote_snapshot: bool,
    pub publish_error: Option<SyncFailure>,
    pub requests: u64,
    /// Of `requests`, the uploads of the publish.
    pub publish_requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub peers: Vec<PeerOutcome>,
}

impl RoundReport {
    pub fn changed_notes(&self) -> usize {
        self.peers.iter().map(|p| p.changed_notes).sum()
    }

    pub fn ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The publish's failure first, then each peer's.
    pub fn failures(&self) -> impl Iterator<Item = &SyncFailure> {
        self.publish_error
            .iter()
            .chain(self.peers.iter().filter_map(|p| p.error.as_ref()))
    }

    /// Whether any part needs a new grant (or signing in again).
    pub fn needs_sign_in(&self) -> bool {
        self.failures().any(SyncFailure::needs_sign_in)
    }
}
