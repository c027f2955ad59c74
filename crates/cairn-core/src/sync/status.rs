//! Where sync stands, from the store alone: what is still unpublished,
//! how far each peer has merged us, and the last error per peer.

use serde::Serialize;

use crate::error::Result;
use crate::store::Store;
use crate::sync::failure::PeerError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    pub device_id: String,
    /// Their newest publish we have merged.
    pub merged_seq: u64,
    /// Their newest publish we have seen.
    pub head_seq: u64,
    /// How far they have merged our publishes.
    pub has_our_seq: u64,
    /// When their head last brought something new. An unchanged head (a
    /// 304) writes nothing, so an idle peer keeps the time of its last news.
    pub last_ok_ms: Option<i64>,
    pub error: Option<PeerError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    pub device_id: Option<String>,
    /// Our newest publish.
    pub published_seq: u64,
    /// Notes with changes not yet published (typed here, or merged here
    /// and not yet passed on).
    pub pending_changes: u64,
    pub peers: Vec<PeerStatus>,
    /// Everything written here is published and merged by every peer.
    pub on_all_devices: bool,
}

impl Store {
    /// `peers`: the user's other devices as the grant lists them (a peer
    /// that never published still counts as not having our changes).
    pub fn sync_status(&self, peers: &[String]) -> Result<SyncStatus> {
        let me: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT device_id, seq FROM sync_self WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        let head_seq = self
            .conn
            .query_row("SELECT head FROM sync_self WHERE id = 1", [], |r| {
                r.get::<_, Option<Vec<u8>>>(0)
            })
            .ok()
            .flatten()
            .and_then(|h| crate::sync::DeviceHead::from_json(&h).ok())
            .map(|h| h.seq)
            .unwrap_or(0);
        let pending = self.unpublished_notes()?;
        let mut out = Vec::new();
        for p in peers {
            let s = self.peer_state(p)?;
            out.push(PeerStatus {
                device_id: p.clone(),
                merged_seq: s.applied_seq,
                head_seq: s.head_seq,
                has_our_seq: s.merged_of_me,
                last_ok_ms: s.last_ok_ms,
                error: s.last_error,
            });
        }
        let on_all = pending == 0
            && out
                .iter()
                .all(|p| p.has_our_seq >= head_seq && p.merged_seq >= p.head_seq);
        Ok(SyncStatus {
            device_id: me.map(|m| m.0),
            published_seq: head_seq,
            pending_changes: pending,
            peers: out,
            on_all_devices: on_all,
        })
    }
}
