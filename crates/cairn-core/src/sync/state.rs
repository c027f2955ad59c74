//! Sync state kept in the store: this device's publishing position and
//! what it has merged from each peer. Updated in the same transaction as
//! the data it describes.

use rusqlite::{params, OptionalExtension};

use crate::error::{CoreError, Result};
use crate::store::{sql_err, Store};
use crate::sync::failure::{FailureCode, PeerError};
use crate::sync::head::DeviceHead;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfState {
    pub device_id: String,
    pub seq: u64,
    pub watermark: i64,
    pub head: Option<DeviceHead>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerState {
    pub device_id: String,
    pub etag: Option<String>,
    pub applied_seq: u64,
    pub head_seq: u64,
    pub merged_of_me: u64,
    pub last_error: Option<PeerError>,
    /// When their head last brought something new. An unchanged head (a
    /// 304) writes nothing, so an idle peer keeps the time of its last news.
    pub last_ok_ms: Option<i64>,
}

impl PeerState {
    /// The state after applying `head` (with `etag`) at `now_ms`: what
    /// the peer's head says it merged of `me`, and no error.
    pub fn after_read(
        &self,
        head: &DeviceHead,
        etag: Option<String>,
        me: &str,
        now_ms: i64,
    ) -> PeerState {
        PeerState {
            device_id: self.device_id.clone(),
            etag,
            applied_seq: head.seq.max(self.applied_seq),
            head_seq: head.seq,
            merged_of_me: head.merged.get(me).copied().unwrap_or(0),
            last_error: None,
            last_ok_ms: Some(now_ms),
        }
    }

    /// A stored peer row: `etag, applied_seq, head_seq, merged_of_me,
    /// last_error, last_ok_ms, last_error_code`, in that order.
    pub(crate) fn from_row(device_id: &str, r: &rusqlite::Row<'_>) -> rusqlite::Result<PeerState> {
        Ok(PeerState {
            device_id: device_id.to_string(),
            etag: r.get(0)?,
            applied_seq: r.get::<_, i64>(1)? as u64,
            head_seq: r.get::<_, i64>(2)? as u64,
            merged_of_me: r.get::<_, i64>(3)? as u64,
            last_error: stored_error(r.get(6)?, r.get(4)?),
            last_ok_ms: r.get(5)?,
        })
    }
}

impl Store {
    /// This device's publishing state, created on first use.
    pub fn sync_self(&mut self, device_id: &str) -> Result<SelfState> {
        let path = self.path.clone();
        let row: Option<(String, i64, i64, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT device_id, seq, watermark, head FROM sync_self WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(sql_err("reading sync state", &path))?;
        match row {
            Some((stored, _, _, _)) if stored != device_id => {
                // The store now syncs as another device (signed in again,
                // or to another account): start over as that device. The
                // notes stay; they are published afresh.
                self.reset_sync()?;
                self.sync_self(device_id)
            }
            Some((stored, seq, watermark, head)) => {
                let head = match head {
                    Some(h) => Some(DeviceHead::from_json(&h).map_err(|e| CoreError::Invalid {
                        what: "stored head",
                        reason: e.to_string(),
                    })?),
                    None => None,
                };
                Ok(SelfState {
                    device_id: stored,
                    seq: seq as u64,
                    watermark,
                    head,
                })
            }
            None => {
                self.conn
                    .execute(
                        "INSERT INTO sync_self(id, device_id, seq, watermark, head) VALUES (1, ?1, 0, 0, NULL)",
                        [device_id],
                    )
                    .map_err(sql_err("starting sync state", &path))?;
                Ok(SelfState {
                    device_id: device_id.to_string(),
                    seq: 0,
                    watermark: 0,
                    head: None,
                })
            }
        }
    }

    /// Forgets all sync state (sign-out, or a switch of account). Notes stay.
    pub fn reset_sync(&mut self) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute_batch("DELETE FROM sync_self; DELETE FROM sync_peer;")
            .map_err(sql_err("resetting sync state", &path))
    }

    /// Takes sequence number `seq` for a publish, durably, before anything
    /// is uploaded: a crash mid-publish must never let two different
    /// objects go out under one number.
    pub(crate) fn reserve_seq(&mut self, seq: u64) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(
                "UPDATE sync_self SET seq = ?1 WHERE id = 1 AND seq < ?1",
                [seq as i64],
            )
            .map_err(sql_err("reserving a publish number", &path))?;
        Ok(())
    }

    /// Snapshot slots written by publishes not recorded since (a bit per
    /// slot): a head naming them may be live in storage.
    pub(crate) fn unrecorded_snapshot_slots(&self) -> Result<u32> {
        self.conn
            .query_row(
                "SELECT unrecorded_snapshot_slots FROM sync_self WHERE id = 1",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|bits| bits.unwrap_or(0) as u32)
            .map_err(sql_err("reading sync state", &self.path))
    }

    /// Notes, durably and before the upload, that a snapshot goes to `slot`.
    pub(crate) fn mark_snapshot_slot(&mut self, slot: u32) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(
                "UPDATE sync_self SET unrecorded_snapshot_slots = unrecorded_snapshot_slots | ?1
                 WHERE id = 1",
                [1i64 << slot],
            )
            .map_err(sql_err("reserving a snapshot slot", &path))?;
        Ok(())
    }

    /// Records a publish: its head is the live one now, and no earlier
    /// unrecorded head can be (this one replaced it in storage).
    pub(crate) fn save_published(&mut self, watermark: i64, head: &DeviceHead) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(
                "UPDATE sync_self SET watermark = max(watermark, ?1), head = ?2,
                   unrecorded_snapshot_slots = 0 WHERE id = 1",
                params![watermark, head.to_json()],
            )
            .map_err(sql_err("recording a publish", &path))?;
        Ok(())
    }

    pub fn peer_state(&self, device_id: &str) -> Result<PeerState> {
        self.conn
            .query_row(
                "SELECT etag, applied_seq, head_seq, merged_of_me, last_error, last_ok_ms,
                        last_error_code
                 FROM sync_peer WHERE device_id = ?1",
                [device_id],
                |r| PeerState::from_row(device_id, r),
            )
            .optional()
            .map(|p| {
                p.unwrap_or_else(|| PeerState {
                    device_id: device_id.to_string(),
                    ..PeerState::default()
                })
            })
            .map_err(sql_err("reading peer state", &self.path))
    }

    pub fn peer_states(&self) -> Result<Vec<PeerState>> {
        let ids: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT device_id FROM sync_peer ORDER BY device_id")
                .map_err(sql_err("listing peers", &self.path))?;
            let rows = stmt
                .query_map([], |r| r.get(0))
                .and_then(|r| r.collect())
                .map_err(sql_err("listing peers", &self.path))?;
            rows
        };
        ids.iter().map(|id| self.peer_state(id)).collect()
    }

    pub(crate) fn save_peer(&mut self, p: &PeerState) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(
                "INSERT INTO sync_peer(device_id, etag, applied_seq, head_seq, merged_of_me, last_error,
                                       last_ok_ms, last_error_code)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(device_id) DO UPDATE SET etag=excluded.etag, applied_seq=excluded.applied_seq,
                   head_seq=excluded.head_seq, merged_of_me=excluded.merged_of_me,
                   last_error=excluded.last_error, last_ok_ms=excluded.last_ok_ms,
                   last_error_code=excluded.last_error_code",
                params![
                    p.device_id,
                    p.etag,
                    p.applied_seq as i64,
                    p.head_seq as i64,
                    p.merged_of_me as i64,
                    p.last_error.as_ref().map(|e| e.detail.as_str()),
                    p.last_ok_ms,
                    p.last_error.as_ref().map(|e| e.code.as_str()),
                ],
            )
            .map_err(sql_err("recording peer state", &path))?;
        Ok(())
    }

    /// Records an error for a peer without touching anything else.
    pub fn set_peer_error(&mut self, device_id: &str, error: Option<&PeerError>) -> Result<()> {
        let mut p = self.peer_state(device_id)?;
        p.last_error = error.cloned();
        self.save_peer(&p)
    }

    /// Peer -> how far this device has merged it (goes into our head).
    pub(crate) fn merged_map(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        Ok(self
            .peer_states()?
            .into_iter()
            .filter(|p| p.applied_seq > 0)
            .map(|p| (p.device_id, p.applied_seq))
            .collect())
    }

    /// Every stored chunk with id above `after`, grouped per note in id
    /// order: (note id, concatenated chunks), in note id order, and the
    /// highest id seen.
    ///
    /// Read in id order and grouped here: asked for note order, SQLite
    /// walks the whole `chunk_by_note` index to skip the sort, which made
    /// every round (an idle one too) cost a pass over every note's chunks.
    pub(crate) fn chunks_after(&self, after: i64) -> Result<(crate::sync::bundle::Bundle, i64)> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, note_id, data FROM chunk WHERE id > ?1 ORDER BY id")
            .map_err(sql_err("reading changes to publish", &self.path))?;
        let mut rows = stmt
            .query([after])
            .map_err(sql_err("reading changes to publish", &self.path))?;
        let mut out: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
        let mut max = after;
        while let Some(r) = rows
            .next()
            .map_err(sql_err("reading changes to publish", &self.path))?
        {
            let id: i64 = r.get(0).map_err(sql_err("reading changes", &self.path))?;
            let note: String = r.get(1).map_err(sql_err("reading changes", &self.path))?;
            let data = r
                .get_ref(2)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(sql_err("reading changes", &self.path))?;
            max = max.max(id);
            out.entry(note).or_default().extend_from_slice(data);
        }
        Ok((out.into_iter().map(|(n, d)| (n, d.into())).collect(), max))
    }

    /// How many notes hold changes this device has not published yet.
    ///
    /// Decided from the publish watermark alone: every chunk stored after
    /// the last publish goes out in the next one, whatever its origin. A
    /// chunk's origin cannot say it, since compaction folds a note's chunks
    /// into one snapshot labelled with the origin of the write that folded
    /// them, so a merge that compacts would relabel an unpublished local
    /// edit as merged.
    pub fn unpublished_notes(&self) -> Result<u64> {
        let watermark: i64 = self
            .conn
            .query_row(
                "SELECT coalesce((SELECT watermark FROM sync_self WHERE id = 1), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(sql_err("counting unpublished changes", &self.path))?;
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(DISTINCT note_id) FROM chunk WHERE id > ?1",
                [watermark],
                |r| r.get(0),
            )
            .map_err(sql_err("counting unpublished changes", &self.path))?;
        Ok(n as u64)
    }
}

/// A kept error from its two columns. A code this version does not know
/// (a newer one wrote it) still says that something failed.
pub(crate) fn stored_error(code: Option<String>, detail: Option<String>) -> Option<PeerError> {
    let detail = detail?;
    let code = code
        .as_deref()
        .and_then(FailureCode::from_name)
        .unwrap_or(FailureCode::StorageRejected);
    Some(PeerError { code, detail })
}
