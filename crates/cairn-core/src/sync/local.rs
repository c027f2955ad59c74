//! The engine's local effects, performed on the store. Both runners (the
//! blocking one here and the async one in the client) call this, so the
//! store side of a round is written once.

use crate::error::{CoreError, Result};
use crate::store::Store;
use crate::sync::effect::{Event, LocalEffect};
use crate::sync::reader::ReadError;
use crate::sync::snapshot_apply::SnapshotApplyError;

/// Whether a failure to apply a peer's changes is the data's fault (the
/// peer is reported, the round goes on) rather than this device's (a full
/// disk, a broken database: the round stops and says so).
pub(crate) fn caused_by_data(e: &CoreError) -> bool {
    !matches!(
        e,
        CoreError::Database { .. }
            | CoreError::DiskFull { .. }
            | CoreError::ReadOnly { .. }
            | CoreError::Open { .. }
            | CoreError::SchemaTooNew { .. }
    )
}

impl Store {
    /// Performs one local effect of a sync round, returning the engine's
    /// answer if it expects one.
    pub fn perform_local(&mut self, me: &str, effect: LocalEffect) -> Result<Option<Event>> {
        match effect {
            LocalEffect::PreparePublish => Ok(Some(Event::PublishPlanned(
                self.prepare_publish(me)?.map(Box::new),
            ))),
            LocalEffect::RecordPublish(plan) => {
                self.finish_publish(&plan)?;
                Ok(None)
            }
            LocalEffect::ApplyPeer(apply) if apply.snapshot.is_some() => {
                let apply = *apply;
                let peer = apply.peer;
                let Some(snapshot) = apply.snapshot else {
                    return Ok(None);
                };
                let result = match self.apply_peer_snapshot(
                    &apply.state,
                    &apply.head,
                    apply.etag,
                    &snapshot,
                    apply.digest,
                    apply.bundles,
                    me,
                ) {
                    Ok(applied) => Ok(applied.changed),
                    Err(SnapshotApplyError::Read(e)) => Err(e),
                    Err(SnapshotApplyError::Store(e)) => return Err(e),
                };
                Ok(Some(Event::PeerApplied { peer, result }))
            }
            LocalEffect::ApplyPeer(apply) => {
                let peer = apply.peer;
                let result = match self.apply_peer_with_digest(
                    &apply.state,
                    &apply.head,
                    apply.etag,
                    apply.bundles,
                    apply.digest,
                    me,
                ) {
                    Ok(changed) => Ok(changed),
                    // All or nothing: the transaction rolled back.
                    Err(e) if caused_by_data(&e) => Err(ReadError::BadChanges {
                        device: peer.clone(),
                        reason: e.to_string(),
                    }),
                    Err(e) => return Err(e),
                };
                Ok(Some(Event::PeerApplied { peer, result }))
            }
            LocalEffect::SetPeerError { peer, error } => {
                self.set_peer_error(&peer, error.as_ref())?;
                Ok(None)
            }
        }
    }
}
