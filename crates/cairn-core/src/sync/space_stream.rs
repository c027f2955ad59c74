//! A shared space's stream on this device (docs/sharing.md, "Sync through
//! spaces"): its own publishing position and peer states (schema 11), the
//! documents that go out (the notes inside the shared notebook, each the
//! first time whole), sealed with the current epoch's key, and what comes
//! in applied only to notes inside the shared notebook on this device.
//!
//! The engine is the personal stream's ([`crate::sync::engine::Round`],
//! made with [`Round::for_space`]); the runner performs its local effects
//! here ([`Store::perform_space_local`]) instead of on the personal tables.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use cairn_protocol::DeviceKey;
use rusqlite::{params, OptionalExtension};

use crate::error::{CoreError, Result};
use crate::note_doc::NoteDoc;
use crate::space::{blob_index, object_ad, tree};
use crate::store::{sql_err, Store};
use crate::sync::bundle::Bundle;
use crate::sync::effect::{Event, LocalEffect};
use crate::sync::engine::Round;
use crate::sync::head::DeviceHead;
use crate::sync::object::ObjectKind;
use crate::sync::opener::{SpaceSync, SpaceWriting};
use crate::sync::outcome::RoundReport;
use crate::sync::reader::ReadError;
use crate::sync::round::{drive, lock_store, SyncError};
use crate::sync::signed_head::{self, HeadPlace};
use crate::sync::state::{PeerState, SelfState};
use crate::sync::transport::Transport;
use crate::sync::writer::{plan_publish, PublishPlan, PublishScope};

/// The ids every reserved document (the notebook tree, the blob index,
/// the device actors) starts with: never part of a space.
const RESERVED_PREFIX: &str = "00000000-0000-0000-0000-";

/// The notes inside `notebook` or below it, short of any notebook that
/// another space shares: those notes are that space's, and only its
/// members may read them (shares nest only by a concurrent move, which
/// `Store::move_notebook` refuses here).
const SPACE_DOCS: &str = "WITH RECURSIVE down(id, depth) AS (
       SELECT ?1, 0
       UNION ALL
       SELECT n.id, down.depth + 1 FROM notebook n JOIN down ON n.parent = down.id
       WHERE down.depth < 1000 AND NOT EXISTS (
         SELECT 1 FROM space s WHERE s.notebook = n.id AND s.standing = 'member')
     )
     SELECT p.note_id FROM note_place p JOIN down ON p.notebook = down.id";

fn invalid(what: &'static str, e: impl std::fmt::Display) -> CoreError {
    CoreError::Invalid {
        what,
        reason: e.to_string(),
    }
}

struct SpaceScope<'a> {
    store: &'a mut Store,
    sync: &'a SpaceSync,
    writing: &'a SpaceWriting,
}

impl Store {
    fn space_id_text(sync: &SpaceSync) -> String {
        sync.space.to_string()
    }

    /// The notes of the space's notebook, on this device.
    pub fn space_notes(&self, notebook: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(SPACE_DOCS)
            .map_err(sql_err("listing a shared notebook's notes", &self.path))?;
        let rows = stmt
            .query_map([notebook], |r| r.get(0))
            .and_then(|r| r.collect())
            .map_err(sql_err("listing a shared notebook's notes", &self.path));
        rows
    }

    /// What the space carries from this device: its notes, and its tree
    /// (`space::tree`) and blob index (`space::blob_index`) once they are
    /// here.
    fn space_docs(&self, sync: &SpaceSync) -> Result<Vec<String>> {
        let mut docs = self.space_notes(&sync.notebook)?;
        let tree = tree::space_tree_id(&sync.space);
        if self.doc_exists(&tree)? {
            docs.push(tree);
        }
        let blobs = blob_index::space_blob_index_id(&sync.space);
        if self.doc_exists(&blobs)? {
            docs.push(blobs);
        }
        Ok(docs)
    }

    fn space_self(&mut self, sync: &SpaceSync) -> Result<SelfState> {
        let path = self.path.clone();
        let space = Store::space_id_text(sync);
        let row: Option<(String, i64, i64, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT device_id, seq, watermark, head FROM space_sync_self WHERE space_id = ?1",
                [&space],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(sql_err("reading a space's sync state", &path))?;
        match row {
            Some((device_id, seq, watermark, head)) if device_id == sync.device.as_str() => {
                let head = head
                    .map(|h| DeviceHead::from_json(&h).map_err(|e| invalid("stored head", e)))
                    .transpose()?;
                Ok(SelfState {
                    device_id,
                    seq: seq as u64,
                    watermark,
                    head,
                })
            }
            _ => {
                // New here, or the store now syncs as another device:
                // that device's stream starts from nothing.
                self.conn
                    .execute(
                        "INSERT OR REPLACE INTO space_sync_self(space_id, device_id, seq, watermark, head)
                         VALUES (?1, ?2, 0, 0, NULL)",
                        params![space, sync.device.as_str()],
                    )
                    .map_err(sql_err("starting a space's sync state", &path))?;
                self.conn
                    .execute("DELETE FROM space_doc WHERE space_id = ?1", [&space])
                    .map_err(sql_err("starting a space's sync state", &path))?;
                Ok(SelfState {
                    device_id: sync.device.as_str().to_owned(),
                    seq: 0,
                    watermark: 0,
                    head: None,
                })
            }
        }
    }

    /// What this device has merged from `device` in the space.
    pub fn space_peer_state(&self, sync: &SpaceSync, device: &str) -> Result<PeerState> {
        self.conn
            .query_row(
                "SELECT etag, applied_seq, head_seq, merged_of_me, last_error, last_ok_ms, last_error_code
                 FROM space_sync_peer WHERE space_id = ?1 AND device_id = ?2",
                params![Store::space_id_text(sync), device],
                |r| PeerState::from_row(device, r),
            )
            .optional()
            .map(|p| {
                p.unwrap_or_else(|| PeerState {
                    device_id: device.to_owned(),
                    ..PeerState::default()
                })
            })
            .map_err(sql_err("reading a space peer's state", &self.path))
    }

    fn save_space_peer(&mut self, sync: &SpaceSync, p: &PeerState) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO space_sync_peer(space_id, device_id, etag, applied_seq, head_seq,
                   merged_of_me, last_error, last_ok_ms, last_error_code)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    Store::space_id_text(sync),
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
            .map_err(sql_err("recording a space peer's state", &path))?;
        Ok(())
    }

    fn space_merged_map(&self, sync: &SpaceSync) -> Result<BTreeMap<String, u64>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT device_id, applied_seq FROM space_sync_peer
                 WHERE space_id = ?1 AND applied_seq > 0",
            )
            .map_err(sql_err("reading a space's peers", &self.path))?;
        let rows: Vec<(String, i64)> = stmt
            .query_map([Store::space_id_text(sync)], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(sql_err("reading a space's peers", &self.path))?;
        Ok(rows.into_iter().map(|(d, s)| (d, s as u64)).collect())
    }

    /// The chunks of the space's notes to publish after `after`: every
    /// chunk of a note not yet published whole in the space, the newer
    /// ones of the others.
    fn space_chunks_after(&self, sync: &SpaceSync, after: i64) -> Result<(Bundle, i64)> {
        let sent: BTreeSet<String> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT note_id FROM space_doc WHERE space_id = ?1")
                .map_err(sql_err("reading a space's documents", &self.path))?;
            let rows = stmt
                .query_map([Store::space_id_text(sync)], |r| r.get(0))
                .and_then(|r| r.collect())
                .map_err(sql_err("reading a space's documents", &self.path))?;
            rows
        };
        let mut out: Bundle = Vec::new();
        let mut max = after;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, data FROM chunk WHERE note_id = ?1 AND id > ?2 ORDER BY id")
            .map_err(sql_err("reading changes to publish", &self.path))?;
        for note in self.space_docs(sync)? {
            if note.starts_with(RESERVED_PREFIX) {
                continue;
            }
            let from = if sent.contains(&note) { after } else { 0 };
            let rows: Vec<(i64, Vec<u8>)> = stmt
                .query_map(params![note, from], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|r| r.collect())
                .map_err(sql_err("reading changes to publish", &self.path))?;
            if rows.is_empty() {
                continue;
            }
            let mut data = Vec::new();
            for (id, bytes) in rows {
                max = max.max(id);
                data.extend_from_slice(&bytes);
            }
            out.push((note, data.into()));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok((out, max))
    }

    fn space_self_update(&mut self, sync: &SpaceSync, sql: &str, value: i64) -> Result<()> {
        let path = self.path.clone();
        self.conn
            .execute(sql, params![Store::space_id_text(sync), value])
            .map_err(sql_err("updating a space's sync state", &path))?;
        Ok(())
    }

    /// Plans the next publish in the space, or `None` (nothing new, or
    /// this account does not write there).
    pub fn prepare_space_publish(&mut self, sync: &SpaceSync) -> Result<Option<PublishPlan>> {
        let Some(writing) = &sync.writing else {
            return Ok(None);
        };
        let device = sync.device.as_str().to_owned();
        plan_publish(
            &mut SpaceScope {
                store: self,
                sync,
                writing,
            },
            &device,
        )
    }

    /// Records a publish in the space whose uploads all succeeded.
    pub fn finish_space_publish(&mut self, sync: &SpaceSync, plan: &PublishPlan) -> Result<()> {
        let path = self.path.clone();
        let err = sql_err("recording a publish in a space", &path);
        let space = Store::space_id_text(sync);
        let inside: BTreeSet<String> = self.space_docs(sync)?.into_iter().collect();
        let tx = self.conn.transaction().map_err(&err)?;
        // A note that left the notebook is no longer sent: if it comes
        // back, what it missed meanwhile goes out with it, whole.
        let sent: Vec<String> = {
            let mut stmt = tx
                .prepare("SELECT note_id FROM space_doc WHERE space_id = ?1")
                .map_err(&err)?;
            let rows = stmt
                .query_map([&space], |r| r.get(0))
                .and_then(|r| r.collect())
                .map_err(&err)?;
            rows
        };
        for gone in sent.iter().filter(|n| !inside.contains(*n)) {
            tx.execute(
                "DELETE FROM space_doc WHERE space_id = ?1 AND note_id = ?2",
                params![space, gone],
            )
            .map_err(&err)?;
        }
        tx.execute(
            "UPDATE space_sync_self SET watermark = max(watermark, ?2), head = ?3,
               unrecorded_snapshot_slots = 0 WHERE space_id = ?1",
            params![space, plan.watermark, plan.head.to_json()],
        )
        .map_err(&err)?;
        for doc in &plan.docs {
            tx.execute(
                "INSERT OR IGNORE INTO space_doc(space_id, note_id) VALUES (?1, ?2)",
                params![space, doc],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// Whether a document from a peer in the space may change this store:
    /// the space's own tree, or a note that is, on this device, inside the
    /// space's notebook (or, new here, says it is). Only writers' devices
    /// are read at all, so a viewer's tree changes, like their notes',
    /// reach no one.
    pub(crate) fn admitted(&self, sync: &SpaceSync, id: &str, chunks: &[Vec<u8>]) -> Result<bool> {
        if tree::is_space_tree(id) {
            return Ok(id == tree::space_tree_id(&sync.space));
        }
        if blob_index::is_space_blob_index(id) {
            // Its own space's index only: entries for another space's
            // chunks would name slots this space's members cannot read.
            return Ok(id == blob_index::space_blob_index_id(&sync.space));
        }
        if id.starts_with(RESERVED_PREFIX) {
            return Ok(false);
        }
        let notebook = if self.doc_exists(id)? {
            self.conn
                .query_row(
                    "SELECT notebook FROM note_place WHERE note_id = ?1",
                    [id],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(sql_err("finding a note's notebook", &self.path))?
        } else {
            // All of it as it came (the document, then changes), as the
            // merge will load it.
            match NoteDoc::load(id, &self.actor, chunks) {
                Ok(doc) => doc.state(None).ok().and_then(|s| s.notebook),
                // Not a whole document: nothing it could be merged into.
                Err(_) => None,
            }
        };
        match notebook {
            Some(n) => Ok(self.space_of_notebook(&n)? == Some(sync.space)),
            None => Ok(false),
        }
    }

    /// The entries of `entries` that may change this store (see
    /// [`Store::admitted`]); the others are dropped, not refused: the rest
    /// of a peer's changes are the space's and still apply.
    pub(crate) fn admitted_entries<'a>(
        &self,
        sync: &SpaceSync,
        entries: impl Iterator<Item = &'a (String, bytes::Bytes)> + Clone,
    ) -> Result<Vec<(&'a str, &'a [u8])>> {
        // Decided once per note, from everything that came for it: a note
        // new here arrives whole in its first entry, and its later entries
        // are changes that do not load by themselves.
        let mut per_note: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
        for (id, bytes) in entries.clone() {
            per_note
                .entry(id.as_str())
                .or_default()
                .push(bytes.to_vec());
        }
        let mut admitted = BTreeSet::new();
        for (id, chunks) in &per_note {
            if self.admitted(sync, id, chunks)? {
                admitted.insert(*id);
            }
        }
        Ok(entries
            .filter(|(id, _)| admitted.contains(id.as_str()))
            .map(|(id, bytes)| (id.as_str(), &bytes[..]))
            .collect())
    }

    /// Applies what was fetched from a peer in the space, and its new
    /// state, in one transaction; changes to notes outside the space's
    /// notebook here are dropped.
    ///
    /// Every new note's document is loaded here: a shared notebook's
    /// streams have no snapshot digests (`crate::sync::digest`). A digest
    /// is taken on trust from the account's own devices, its rows checked
    /// only when the note is next opened; another member's is not trusted
    /// that way, since what a member's device shows must be what the
    /// documents hold.
    pub fn apply_space_peer(
        &mut self,
        sync: &SpaceSync,
        state: &PeerState,
        head: &DeviceHead,
        etag: Option<String>,
        bundles: Vec<Bundle>,
    ) -> Result<usize> {
        let new_state = state.after_read(head, etag, sync.device.as_str(), self.clock.now_ms());
        // The space's tree first: a note in a notebook made in the same
        // publish is inside the shared notebook only once that notebook
        // is here. Merged again with the rest if this stops in between.
        let tree = tree::space_tree_id(&sync.space);
        let tree_entries: Vec<(&str, &[u8])> = bundles
            .iter()
            .flat_map(|b| b.iter())
            .filter(|(id, _)| *id == tree)
            .map(|(id, bytes)| (id.as_str(), &bytes[..]))
            .collect();
        let mut changed = 0;
        if !tree_entries.is_empty() {
            changed += self.merge_batch(&tree_entries, |_| Ok(()))?;
        }
        let rest = bundles
            .iter()
            .flat_map(|b| b.iter())
            .filter(|(id, _)| *id != tree);
        let entries = self.admitted_entries(sync, rest)?;
        changed += self.merge_batch(&entries, |s| s.save_space_peer(sync, &new_state))?;
        Ok(changed)
    }

    /// Performs one local effect of a space's round.
    pub fn perform_space_local(
        &mut self,
        sync: &SpaceSync,
        effect: LocalEffect,
    ) -> Result<Option<Event>> {
        match effect {
            LocalEffect::PreparePublish => Ok(Some(Event::PublishPlanned(
                self.prepare_space_publish(sync)?.map(Box::new),
            ))),
            LocalEffect::RecordPublish(plan) => {
                self.finish_space_publish(sync, &plan)?;
                Ok(None)
            }
            LocalEffect::ApplyPeer(apply) => {
                let peer = apply.peer;
                let result = match self.apply_space_peer(
                    sync,
                    &apply.state,
                    &apply.head,
                    apply.etag,
                    apply.bundles,
                ) {
                    Ok(changed) => Ok(changed),
                    Err(e) if crate::sync::local::caused_by_data(&e) => {
                        Err(ReadError::BadChanges {
                            device: peer.clone(),
                            reason: e.to_string(),
                        })
                    }
                    Err(e) => return Err(e),
                };
                Ok(Some(Event::PeerApplied { peer, result }))
            }
            LocalEffect::SetPeerError { peer, error } => {
                let mut p = self.space_peer_state(sync, &peer)?;
                p.last_error = error;
                self.save_space_peer(sync, &p)?;
                Ok(None)
            }
        }
    }

    /// The round of `sync`'s space, for its peers in the store's view.
    pub fn begin_space_round(&self, sync: &SpaceSync) -> Result<Round> {
        let states = sync
            .peers
            .keys()
            .map(|d| self.space_peer_state(sync, d))
            .collect::<Result<Vec<_>>>()?;
        Ok(Round::for_space(sync.device.as_str(), states, sync.clone()))
    }
}

impl PublishScope for SpaceScope<'_> {
    fn store(&mut self) -> &mut Store {
        self.store
    }
    fn self_state(&mut self, _device_id: &str) -> Result<SelfState> {
        self.store.space_self(self.sync)
    }
    fn chunks_after(&mut self, after: i64) -> Result<(Bundle, i64)> {
        self.store.space_chunks_after(self.sync, after)
    }
    fn merged_map(&mut self) -> Result<BTreeMap<String, u64>> {
        self.store.space_merged_map(self.sync)
    }
    fn reserve_seq(&mut self, seq: u64) -> Result<()> {
        self.store.space_self_update(
            self.sync,
            "UPDATE space_sync_self SET seq = ?2 WHERE space_id = ?1 AND seq < ?2",
            seq as i64,
        )
    }
    fn unrecorded_snapshot_slots(&mut self) -> Result<u32> {
        let bits: Option<i64> = self
            .store
            .conn
            .query_row(
                "SELECT unrecorded_snapshot_slots FROM space_sync_self WHERE space_id = ?1",
                [Store::space_id_text(self.sync)],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err("reading a space's sync state", &self.store.path))?;
        Ok(bits.unwrap_or(0) as u32)
    }
    fn mark_snapshot_slot(&mut self, slot: u32) -> Result<()> {
        self.store.space_self_update(
            self.sync,
            "UPDATE space_sync_self SET unrecorded_snapshot_slots = unrecorded_snapshot_slots | ?2
             WHERE space_id = ?1",
            1i64 << slot,
        )
    }
    fn seal(&self, kind: ObjectKind, seq: u64, key: &DeviceKey, payload: &[u8]) -> Vec<u8> {
        let place = self.sync.own_place(&key.relative());
        let w = self.writing;
        if kind != ObjectKind::Head {
            return object_ad::seal(kind, seq, &place, w.epoch, &w.key, payload);
        }
        // A head goes out signed: the epoch key alone must not be enough
        // to write one that others read as this member's.
        let at = HeadPlace {
            space: self.sync.space,
            user: &self.sync.user,
            device: &self.sync.device,
            epoch: w.epoch,
            seq,
        };
        let signed = signed_head::sign(&w.identity, &at, payload);
        object_ad::seal(kind, seq, &place, w.epoch, &w.key, &signed)
    }
}

/// A whole round of a space over a synchronous transport, for tests and
/// tools (the app's runner is the client crate's).
pub fn run_space_round(
    store: &Mutex<Store>,
    t: &mut dyn Transport,
    sync: &SpaceSync,
) -> std::result::Result<RoundReport, SyncError> {
    let round = lock_store(store)?.begin_space_round(sync)?;
    drive(round, store, t, |s, local| {
        s.perform_space_local(sync, local)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::space::chain::tests::shared;
    use crate::space::epoch::{Epoch, EpochKey, SpaceId};
    use crate::space::identity::tests::user;
    use crate::space::identity::SharingIdentity;
    use crate::space::local::LocalSpace;
    use crate::sync::memory::MemoryStorage;
    use crate::sync::object;
    use crate::sync::opener::{PeerAccess, SpacePeer};
    use crate::sync::signed_head::HeadRefusal;
    use crate::NewNotebook;
    use cairn_protocol::DeviceId;

    pub(crate) struct Member {
        pub(crate) store: Mutex<Store>,
        pub(crate) sync: SpaceSync,
        pub(crate) identity: SharingIdentity,
        _dir: tempfile::TempDir,
    }

    fn writing(key: &EpochKey, identity: SharingIdentity) -> SpaceWriting {
        SpaceWriting {
            epoch: Epoch::FIRST,
            key: key.clone(),
            identity,
        }
    }

    /// alice (owner, device a1), bob (editor, b1), carol (viewer, c1) in
    /// one space sharing alice's notebook `notebook`.
    pub(crate) fn space(notebook: &str, key: &EpochKey, space: SpaceId) -> Vec<Member> {
        let (p, s) = shared();
        let state = s.state().unwrap();
        let people = [
            ("alice", "a1", true),
            ("bob", "b1", true),
            ("carol", "c1", false),
        ];
        let identity = |u: &str| match u {
            "alice" => p.alice.clone(),
            "bob" => p.bob.clone(),
            _ => p.carol.clone(),
        };
        let peers = |me: &str| {
            people
                .iter()
                .filter(|(_, d, _)| *d != me)
                .map(|(u, d, w)| {
                    let access = if *w {
                        PeerAccess::Writer
                    } else {
                        PeerAccess::Ignored
                    };
                    (
                        d.to_string(),
                        SpacePeer {
                            user: user(u),
                            access,
                        },
                    )
                })
                .collect()
        };
        people
            .iter()
            .map(|(u, d, writes)| {
                let (store, dir) = member_store(notebook, &state, u, space);
                Member {
                    store: Mutex::new(store),
                    sync: SpaceSync {
                        space,
                        user: user(u),
                        device: DeviceId::parse(d).unwrap(),
                        notebook: notebook.to_owned(),
                        writing: writes.then(|| writing(key, identity(u))),
                        keys: BTreeMap::from([(Epoch::FIRST, key.clone())]),
                        peers: peers(d),
                        signers: state.signers(),
                    },
                    identity: identity(u),
                    _dir: dir,
                }
            })
            .collect()
    }

    /// A store of `u`'s with the shared notebook, knowing the space.
    fn member_store(
        notebook: &str,
        state: &crate::space::chain::SpaceState,
        u: &str,
        space: SpaceId,
    ) -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store
            .create_notebooks(&[NewNotebook {
                id: Some(notebook.to_owned()),
                name: "Trips".into(),
                parent: None,
            }])
            .unwrap();
        let mut local = LocalSpace::from_state(state, &user(u), Some(notebook.into()), None);
        local.space = space;
        store.save_local_space(&local, &[]).unwrap();
        (store, dir)
    }

    pub(crate) fn round(m: &Member, storage: &MemoryStorage) -> RoundReport {
        run_space_round(
            &m.store,
            &mut storage.device(m.sync.device.as_str()),
            &m.sync,
        )
        .unwrap()
    }

    /// A note `m` writes into the shared notebook.
    pub(crate) fn shared_note(m: &Member, notebook: &str, text: &str) -> String {
        let mut s = m.store.lock().unwrap();
        let n = s.create_note(text).unwrap();
        s.move_note(&n, Some(notebook)).unwrap();
        n
    }

    pub(crate) fn body(m: &Member, id: &str) -> Option<String> {
        m.store.lock().unwrap().get(id).ok().map(|n| n.body)
    }

    #[test]
    fn members_edit_a_shared_note_and_nothing_else_crosses() {
        let notebook = uuid::Uuid::new_v4().to_string();
        let key = EpochKey::generate();
        let id = SpaceId::generate();
        let m = space(&notebook, &key, id);
        let (alice, bob, carol) = (&m[0], &m[1], &m[2]);
        let storage = MemoryStorage::default();
        let (shared_note, personal) = {
            let mut s = alice.store.lock().unwrap();
            let n = s.create_note("Rome\nColosseum").unwrap();
            s.move_note(&n, Some(&notebook)).unwrap();
            (n, s.create_note("my diary").unwrap())
        };
        round(alice, &storage);
        // Nothing personal in the bucket, and everything is version 2.
        let head = storage.object("a1", DeviceKey::Head).unwrap();
        assert_eq!(object::decode(&head).unwrap().space.unwrap().space, id);
        assert!(!String::from_utf8_lossy(
            &storage
                .object("a1", DeviceKey::snapshot(0).unwrap())
                .unwrap()
        )
        .contains("Colosseum"));
        round(bob, &storage);
        round(carol, &storage);
        assert_eq!(body(bob, &shared_note).as_deref(), Some("Rome\nColosseum"));
        assert_eq!(
            body(carol, &shared_note).as_deref(),
            Some("Rome\nColosseum")
        );
        assert_eq!(body(bob, &personal), None, "a personal note stays home");

        // Both writers edit; the viewer's edit is not applied by anyone.
        bob.store
            .lock()
            .unwrap()
            .splice(&shared_note, 4, 0, " in May")
            .unwrap();
        alice
            .store
            .lock()
            .unwrap()
            .splice(&shared_note, 0, 0, "Trip: ")
            .unwrap();
        carol
            .store
            .lock()
            .unwrap()
            .splice(&shared_note, 0, 0, "VIEWER ")
            .unwrap();
        // A viewer's own client writes nothing...
        assert!(round(carol, &storage).published.is_none());
        // ...and one changed to publish anyway is not read by anyone.
        let mut rogue = carol.sync.clone();
        rogue.writing = Some(writing(&key, carol.identity.clone()));
        let r = run_space_round(&carol.store, &mut storage.device("c1"), &rogue).unwrap();
        assert!(r.published.is_some());
        for _ in 0..2 {
            let report = round(alice, &storage);
            let c1 = report.peers.iter().find(|p| p.device == "c1").unwrap();
            assert!(c1.skipped && c1.error.is_none());
            assert_eq!(
                c1.refused,
                Some(HeadRefusal::ViewerSigned {
                    signer: user("carol")
                })
            );
            round(bob, &storage);
        }
        let a = body(alice, &shared_note).unwrap();
        assert_eq!(a, "Trip: Rome in May\nColosseum");
        assert_eq!(body(bob, &shared_note).unwrap(), a);

        // What comes in changes only notes inside the shared notebook on
        // this device: not bob's own note under the same id, not a new
        // note that is not in it; a new note that is in it, yes.
        let bobs = bob
            .store
            .lock()
            .unwrap()
            .create_note("bob private")
            .unwrap();
        let doc = |id: &str, notebook: Option<&str>| {
            let mut d = NoteDoc::create(id, b"mallory", "injected", 1).unwrap();
            d.set_notebook(notebook).unwrap();
            d.commit_local(2).unwrap();
            bytes::Bytes::from(d.save())
        };
        let loose = uuid::Uuid::new_v4().to_string();
        let joined = uuid::Uuid::new_v4().to_string();
        // The joined note whole, then a change to it in a later segment of
        // the same read.
        let (joined_whole, joined_change) = {
            let mut d = NoteDoc::create(&joined, b"mallory", "injected", 1).unwrap();
            d.set_notebook(Some(&notebook)).unwrap();
            d.commit_local(2).unwrap();
            let whole = d.save();
            let heads = d.heads();
            d.splice(8, 0, " twice").unwrap();
            d.commit_local(3).unwrap();
            (
                bytes::Bytes::from(whole),
                bytes::Bytes::from(d.save_after(&heads)),
            )
        };
        let later = vec![(joined.clone(), joined_change)];
        let bundle = vec![
            (bobs.clone(), doc(&bobs, Some(&notebook))),
            (loose.clone(), doc(&loose, None)),
            (joined.clone(), joined_whole),
            (
                crate::NOTEBOOKS_DOC_ID.to_owned(),
                doc(crate::NOTEBOOKS_DOC_ID, None),
            ),
        ];
        let mut h = DeviceHead::new("a1");
        h.seq = 99;
        let state = bob
            .store
            .lock()
            .unwrap()
            .space_peer_state(&bob.sync, "a1")
            .unwrap();
        bob.store
            .lock()
            .unwrap()
            .apply_space_peer(&bob.sync, &state, &h, None, vec![bundle, later])
            .unwrap();
        assert_eq!(body(bob, &bobs).as_deref(), Some("bob private"));
        assert_eq!(body(bob, &loose), None);
        assert_eq!(body(bob, &joined).as_deref(), Some("injected twice"));
    }

    #[test]
    fn a_note_moved_out_stops_going_out_and_comes_back_whole() {
        let notebook = uuid::Uuid::new_v4().to_string();
        let key = EpochKey::generate();
        let m = space(&notebook, &key, SpaceId::generate());
        let (alice, bob) = (&m[0], &m[1]);
        let storage = MemoryStorage::default();
        let note = shared_note(alice, &notebook, "plan");
        round(alice, &storage);
        round(bob, &storage);
        assert_eq!(body(bob, &note).as_deref(), Some("plan"));
        // Out of the notebook, then edited: nothing of it reaches bob.
        {
            let mut s = alice.store.lock().unwrap();
            s.move_note(&note, None).unwrap();
            s.splice(&note, 4, 0, " (private now)").unwrap();
        }
        round(alice, &storage);
        round(bob, &storage);
        assert_eq!(body(bob, &note).as_deref(), Some("plan"));
        // Back in: all it missed goes out with it.
        alice
            .store
            .lock()
            .unwrap()
            .move_note(&note, Some(&notebook))
            .unwrap();
        round(alice, &storage);
        round(bob, &storage);
        assert_eq!(body(bob, &note).as_deref(), Some("plan (private now)"));
    }

    #[test]
    fn a_departed_writer_is_read_up_to_the_fence_only() {
        let notebook = uuid::Uuid::new_v4().to_string();
        let key = EpochKey::generate();
        let mut m = space(&notebook, &key, SpaceId::generate());
        let storage = MemoryStorage::default();
        let note = shared_note(&m[1], &notebook, "from bob");
        let fence = round(&m[1], &storage).published.unwrap();
        // Bob is removed at `fence`; a URL still valid lets him upload more.
        m[0].sync.peers.get_mut("b1").unwrap().access = PeerAccess::FencedAt(fence);
        m[1].store
            .lock()
            .unwrap()
            .splice(&note, 0, 0, "LATE ")
            .unwrap();
        assert!(round(&m[1], &storage).published.unwrap() > fence);
        round(&m[0], &storage);
        assert_eq!(body(&m[0], &note).as_deref(), Some("from bob"));
        // Read again later: still nothing past the fence.
        round(&m[0], &storage);
        assert_eq!(body(&m[0], &note).as_deref(), Some("from bob"));
    }

    /// Whoever holds the epoch key (a viewer, the owner, a member who has
    /// since left) can seal a head for any prefix; what they cannot do is
    /// sign it as the member whose prefix it is. Such a head, or an
    /// unsigned one, is ignored with its reason, and changes nothing.
    #[test]
    fn a_head_its_prefix_owner_did_not_sign_is_ignored_and_changes_nothing() {
        let notebook = uuid::Uuid::new_v4().to_string();
        let key = EpochKey::generate();
        let m = space(&notebook, &key, SpaceId::generate());
        let (alice, bob, carol) = (&m[0], &m[1], &m[2]);
        let storage = MemoryStorage::default();
        let note = shared_note(bob, &notebook, "from bob");
        round(bob, &storage);
        round(alice, &storage);
        round(carol, &storage);
        assert_eq!(body(alice, &note).as_deref(), Some("from bob"));
        let genuine = storage.object("b1", DeviceKey::Head).unwrap();

        // A forger's store, with an edit of its own to the shared note,
        // publishing into bob's prefix as bob's device.
        let forger = {
            let state = shared().1.state().unwrap();
            let (store, dir) = member_store(&notebook, &state, "bob", bob.sync.space);
            (Mutex::new(store), dir)
        };
        let mut reading = bob.sync.clone();
        reading.writing = None;
        run_space_round(&forger.0, &mut storage.device("b1"), &reading).unwrap();
        let forge = |signer: &Member| {
            forger
                .0
                .lock()
                .unwrap()
                .splice(&note, 0, 0, "FORGED ")
                .unwrap();
            let mut as_bob = bob.sync.clone();
            as_bob.writing = Some(writing(&key, signer.identity.clone()));
            let r = run_space_round(&forger.0, &mut storage.device("b1"), &as_bob).unwrap();
            assert!(r.published.is_some(), "the forged head was written");
        };
        let refused = |reader: &Member| {
            let report = round(reader, &storage);
            let b1 = report.peers.iter().find(|p| p.device == "b1").unwrap();
            assert!(b1.skipped && b1.error.is_none(), "{b1:?}");
            assert_eq!(body(reader, &note).as_deref(), Some("from bob"));
            b1.refused.clone()
        };

        // Signed by the viewer (who holds the key), and by the owner.
        forge(carol);
        assert_eq!(
            refused(alice),
            Some(HeadRefusal::ViewerSigned {
                signer: user("carol")
            })
        );
        forge(alice);
        assert_eq!(
            refused(carol),
            Some(HeadRefusal::WrongSigner {
                signer: user("alice"),
                owner: user("bob"),
            })
        );
        // Bob's genuine head, unsigned (its JSON sealed as it is), or
        // with one bit of his signature flipped.
        let head = object::decode(&genuine).unwrap();
        let place = bob.sync.own_place("head");
        let signed = object_ad::open(&head, &place, |_| Some(key.clone())).unwrap();
        let reseal = |payload: &[u8]| {
            object_ad::seal(
                ObjectKind::Head,
                head.seq,
                &place,
                Epoch::FIRST,
                &key,
                payload,
            )
        };
        let json = signed_head::parse(&signed).unwrap().head_json.to_vec();
        storage.put_raw("b1", DeviceKey::Head, reseal(&json));
        assert_eq!(refused(alice), Some(HeadRefusal::Unsigned));
        let mut flipped = signed.clone();
        flipped[3] ^= 1;
        storage.put_raw("b1", DeviceKey::Head, reseal(&flipped));
        assert_eq!(
            refused(alice),
            Some(HeadRefusal::BadSignature {
                signer: user("bob")
            })
        );

        // Bob's own head back in place, and then a genuine new edit of his:
        // read as before, nothing of the forger's with it.
        storage.put_raw("b1", DeviceKey::Head, genuine);
        let report = round(alice, &storage);
        let b1 = report.peers.iter().find(|p| p.device == "b1").unwrap();
        assert!(b1.refused.is_none() && b1.error.is_none(), "{b1:?}");
        bob.store
            .lock()
            .unwrap()
            .splice(&note, 8, 0, ", again")
            .unwrap();
        round(bob, &storage);
        round(alice, &storage);
        assert_eq!(body(alice, &note).as_deref(), Some("from bob, again"));
    }
}
