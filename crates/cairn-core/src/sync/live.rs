//! The live lane: a device's newest changes, sealed, relayed by the
//! service's socket to the user's other devices, so an edit shows on the
//! other screen within milliseconds instead of after the next publish.
//!
//! The lane is only a shortcut. Every change it carries also goes out in
//! the device's next publish to storage, and merging is idempotent, so a
//! message that is lost, late, repeated or dropped for its size costs
//! nothing but time. That is what lets the bucket publish stay rare while
//! someone types (a publish waits for edits to settle) without a peer
//! seeing the typing late.
//!
//! A message is an object of kind [`ObjectKind::Live`] (the same envelope
//! and seal as stored objects), whose associated data binds it to the
//! sending device, the key [`LIVE_OBJECT_KEY`] and a sequence, over a
//! bundle of (note id, Automerge changes). Only sealed messages are made
//! or accepted: the service must never see a word, so an account without
//! a content key has no live lane.
//!
//! What a message carries: for each note with local chunks stored since
//! the last message, the note's changes since the heads the last message
//! left it at. A note not sent before sends its chunks since the lane's
//! mark when they are plain changes; a compacted chunk (a whole snapshot)
//! is left to the publish.
//!
//! A receiver may lack what a message builds on (a change made before the
//! lane started, or a message lost): the store then refuses it, and the
//! receiver keeps it to try again after its next merge (see the agent's
//! `PendingLive`), so one gap does not stop the lane until the publish.

use std::collections::HashMap;

use rusqlite::params;

use crate::error::Result;
use crate::origin::Origin;
use crate::store::{sql_err, Store, CHUNK_CHANGES};
use crate::sync::bundle::{self, Bundle};
use crate::sync::object::{self, ObjectError, ObjectKind};

/// The object key live messages are sealed under (they have no place in
/// the bucket; the name only keeps their seal apart from stored objects').
pub const LIVE_OBJECT_KEY: &str = "live";

/// The largest plaintext a message carries. Sealed and in base64 it fits
/// the socket's 4 KiB message and a PostgreSQL notification between the
/// service's instances; more waits for the publish.
pub const MAX_LIVE_PLAINTEXT: usize = 2_600;

/// What this device has sent on the lane so far.
pub struct LiveLane {
    device: String,
    sent: LaneMark,
}

impl LiveLane {
    /// A lane for `device` that starts from what is stored now: earlier
    /// changes go out with the publish, as before.
    pub fn start(store: &Store, device: &str) -> Result<LiveLane> {
        Ok(LiveLane {
            device: device.to_owned(),
            sent: LaneMark::start(store)?,
        })
    }

    /// The next message: the local changes stored since the last one,
    /// sealed. None when there are none, when they are too big for the
    /// lane (the publish carries them) or when the store has no content key.
    pub fn next(&mut self, store: &mut Store) -> Result<Option<Vec<u8>>> {
        let Some((last, payload)) = self.sent.take(store, |_| true)? else {
            return Ok(None);
        };
        if store.content_key().is_none() {
            return Ok(None);
        }
        // Sealed as the personal stream's objects are: with the newest
        // epoch's key once a device was removed, so the removed one could
        // not read the lane even if the service relayed it.
        Ok(Some(store.personal_keys().seal(
            ObjectKind::Live,
            last as u64,
            &self.device,
            LIVE_OBJECT_KEY,
            &payload,
        )))
    }
}

/// How far a lane has looked at the store's chunks, and what it sent of
/// each note: the part the personal lane and a shared space's lane
/// (`crate::sync::space_live`) have in common.
pub(crate) struct LaneMark {
    /// Chunks with ids up to here have been looked at.
    mark: i64,
    /// Each note's heads as of the last message that carried it.
    sent: HashMap<String, Vec<String>>,
}

impl LaneMark {
    pub(crate) fn start(store: &Store) -> Result<LaneMark> {
        Ok(LaneMark {
            mark: store.newest_chunk_id()?,
            sent: HashMap::new(),
        })
    }

    /// The local changes to the notes `keep` admits stored since the last
    /// call, as the newest chunk id looked at and the encoded bundle; None
    /// when there are none or they are over [`MAX_LIVE_PLAINTEXT`].
    pub(crate) fn take(
        &mut self,
        store: &mut Store,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Option<(i64, Vec<u8>)>> {
        let chunks = store.local_chunks_after(self.mark)?;
        let Some(last) = chunks.last().map(|c| c.id) else {
            return Ok(None);
        };
        self.mark = last;
        let mut entries: Bundle = Vec::new();
        let mut notes: Vec<&str> = chunks
            .iter()
            .map(|c| c.note_id.as_str())
            .filter(|n| keep(n))
            .collect();
        notes.dedup();
        for note in notes {
            let changes = match self.sent.get(note) {
                Some(heads) => store.changes_after(note, heads)?,
                None => {
                    // Not sent before: its chunks since the mark, if they
                    // are all plain changes (a snapshot is the whole note).
                    let mine: Vec<&LocalChunk> =
                        chunks.iter().filter(|c| c.note_id == note).collect();
                    if mine.iter().any(|c| c.kind != CHUNK_CHANGES) {
                        self.sent.insert(note.to_owned(), store.heads(note)?);
                        continue;
                    }
                    mine.iter().flat_map(|c| c.data.iter().copied()).collect()
                }
            };
            self.sent.insert(note.to_owned(), store.heads(note)?);
            if !changes.is_empty() {
                entries.push((note.to_owned(), changes.into()));
            }
        }
        let payload = bundle::encode(&entries);
        if entries.is_empty() || payload.len() > MAX_LIVE_PLAINTEXT {
            return Ok(None);
        }
        Ok(Some((last, payload)))
    }
}

/// Why a live message was refused.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("live changes: {0}")]
    Object(#[from] ObjectError),
    #[error("live changes cannot be read: this device has no content key")]
    NoKey,
}

/// Opens a live message from `device` and returns what it carries. Only
/// a message sealed by that device under the user's content key, or one
/// of the personal space's epoch keys, opens.
pub fn open(store: &Store, device: &str, bytes: &[u8]) -> std::result::Result<Bundle, LiveError> {
    if store.content_key().is_none() {
        return Err(LiveError::NoKey);
    }
    let obj = object::decode_kind(bytes, ObjectKind::Live)?;
    let payload = store.personal_keys().open(&obj, device, LIVE_OBJECT_KEY)?;
    Ok(bundle::decode(&payload)?)
}

/// A stored chunk, as the lane reads it.
pub(crate) struct LocalChunk {
    pub id: i64,
    pub note_id: String,
    pub kind: i64,
    pub data: Vec<u8>,
}

impl Store {
    /// The id of the newest stored chunk (0 when there is none).
    pub(crate) fn newest_chunk_id(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT coalesce(max(id), 0) FROM chunk", [], |r| r.get(0))
            .map_err(sql_err("reading changes", &self.path))
    }

    /// Chunks this device wrote after `after`, in id order.
    pub(crate) fn local_chunks_after(&self, after: i64) -> Result<Vec<LocalChunk>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, note_id, kind, data FROM chunk WHERE id > ?1 AND origin = ?2 ORDER BY id",
            )
            .map_err(sql_err("reading changes", &self.path))?;
        let rows = stmt
            .query_map(params![after, Origin::Local.to_sql()], |r| {
                Ok(LocalChunk {
                    id: r.get(0)?,
                    note_id: r.get(1)?,
                    kind: r.get(2)?,
                    data: r.get(3)?,
                })
            })
            .map_err(sql_err("reading changes", &self.path))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err("reading changes", &self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::ContentKey;
    use crate::testing;

    fn open_scratch() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::open_scratch(dir.path()).unwrap();
        (dir, store)
    }

    fn pair() -> (tempfile::TempDir, Store, tempfile::TempDir, Store) {
        let key = ContentKey::generate();
        let (da, mut a) = open_scratch();
        let (db, mut b) = open_scratch();
        a.set_content_key(Some(ContentKey::from_bytes(key.as_bytes()).expect("key")));
        b.set_content_key(Some(key));
        (da, a, db, b)
    }

    #[test]
    fn typing_reaches_a_peer_through_the_lane() {
        let (_da, mut a, _db, mut b) = pair();
        let id = a.create_note("shopping").unwrap();
        // The note itself reaches b the usual way first.
        let whole = a.save_note(&id).unwrap();
        b.merge(&id, &whole).unwrap();

        let mut lane = LiveLane::start(&a, "dev-a").unwrap();
        assert!(lane.next(&mut a).unwrap().is_none(), "nothing typed yet");
        for (i, ch) in " list".chars().enumerate() {
            a.splice(&id, 8 + i, 0, &ch.to_string()).unwrap();
            let msg = lane.next(&mut a).unwrap().expect("a message per edit");
            let entries = open(&b, "dev-a", &msg).unwrap();
            b.merge_many(&entries).unwrap();
        }
        assert_eq!(b.get(&id).unwrap().body, "shopping list");
        assert!(lane.next(&mut a).unwrap().is_none(), "sent already");
    }

    #[test]
    fn after_a_rotation_the_lane_is_sealed_with_the_new_epoch() {
        use crate::account_keys::AccountKeys;
        let (_da, mut a, _db, mut b) = pair();
        let old = AccountKeys::new(a.content_key().unwrap().clone());
        let new = old.rotated().unwrap();
        a.set_account_keys(Some(&new));
        let id = a.create_note("x").unwrap();
        b.merge(&id, &a.save_note(&id).unwrap()).unwrap();
        let mut lane = LiveLane::start(&a, "dev-a").unwrap();
        a.splice(&id, 1, 0, "y").unwrap();
        let msg = lane.next(&mut a).unwrap().expect("a message");
        assert_eq!(
            object::decode(&msg).unwrap().space.map(|s| s.epoch.0),
            Some(1)
        );
        // What a removed device holds (the content key alone) does not
        // open it; the new key does.
        assert!(matches!(
            open(&b, "dev-a", &msg),
            Err(LiveError::Object(ObjectError::NoPersonalKey { epoch: 1 }))
        ));
        b.set_account_keys(Some(&new));
        b.merge_many(&open(&b, "dev-a", &msg).unwrap()).unwrap();
        assert_eq!(b.get(&id).unwrap().body, "xy");
    }

    #[test]
    fn merged_changes_are_not_sent_back() {
        let (_da, mut a, _db, mut b) = pair();
        let id = b.create_note("from b").unwrap();
        let mut lane = LiveLane::start(&a, "dev-a").unwrap();
        let whole = b.save_note(&id).unwrap();
        a.merge(&id, &whole).unwrap();
        assert!(lane.next(&mut a).unwrap().is_none());
    }

    #[test]
    fn a_message_opens_only_as_what_it_was_sealed_for() {
        let (_da, mut a, _db, b) = pair();
        let id = a.create_note("x").unwrap();
        let mut lane = LiveLane::start(&a, "dev-a").unwrap();
        a.splice(&id, 1, 0, "y").unwrap();
        let msg = lane.next(&mut a).unwrap().expect("a message");
        assert!(open(&b, "dev-a", &msg).is_ok());
        // Said to come from another device: refused.
        assert!(matches!(
            open(&b, "dev-c", &msg),
            Err(LiveError::Object(ObjectError::Crypto(_)))
        ));
        // Altered on the way: refused.
        let mut bent = msg.clone();
        let last = bent.len() - 1;
        bent[last] ^= 1;
        assert!(open(&b, "dev-a", &bent).is_err());
        // A stored object is not a live message.
        let segment = object::encode_for(
            ObjectKind::Segment,
            1,
            "dev-a",
            LIVE_OBJECT_KEY,
            a.content_key(),
            b"",
        );
        assert!(open(&b, "dev-a", &segment).is_err());
        // Another account's key: refused.
        let (_dc, mut c) = open_scratch();
        c.set_content_key(Some(ContentKey::generate()));
        assert!(open(&c, "dev-a", &msg).is_err());
    }

    /// A note made and typed into before its first message: the message
    /// carries every chunk since the mark, except a snapshot's note.
    #[test]
    fn a_note_first_sent_carries_all_its_changes_since_the_mark() {
        let (_da, mut a, _db, mut b) = pair();
        let id = a.create_note("a").unwrap();
        b.merge(&id, &a.save_note(&id).unwrap()).unwrap();
        let mut lane = LiveLane::start(&a, "dev-a").unwrap();
        for (i, ch) in ["b", "c", "d"].iter().enumerate() {
            a.splice(&id, 1 + i, 0, ch).unwrap();
        }
        let msg = lane.next(&mut a).unwrap().expect("a message");
        b.merge_many(&open(&b, "dev-a", &msg).unwrap()).unwrap();
        assert_eq!(b.get(&id).unwrap().body, "abcd");
        // A note created since the mark starts with a snapshot: the
        // publish brings it.
        let fresh = a.create_note("new").unwrap();
        a.splice(&fresh, 3, 0, "er").unwrap();
        assert!(lane.next(&mut a).unwrap().is_none());
    }

    #[test]
    fn no_key_no_lane() {
        let (_d, mut s) = open_scratch();
        let id = s.create_note("plain").unwrap();
        let mut lane = LiveLane::start(&s, "dev").unwrap();
        s.splice(&id, 0, 0, "a ").unwrap();
        assert!(lane.next(&mut s).unwrap().is_none());
        assert!(matches!(
            open(&s, "dev", b"anything"),
            Err(LiveError::NoKey)
        ));
    }

    #[test]
    fn a_big_paste_waits_for_the_publish() {
        let (_da, mut a, _db, _b) = pair();
        let id = a.create_note("").unwrap();
        let mut lane = LiveLane::start(&a, "dev-a").unwrap();
        a.splice(&id, 0, 0, &"x".repeat(MAX_LIVE_PLAINTEXT * 2))
            .unwrap();
        assert!(lane.next(&mut a).unwrap().is_none());
        // The lane goes on with what comes after.
        a.splice(&id, 0, 0, "y").unwrap();
        assert!(lane.next(&mut a).unwrap().is_some());
    }

    proptest::proptest! {
        /// Whatever arrives, opening it returns an error or a bundle; it
        /// never panics.
        #[test]
        fn opening_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let (_d, mut s) = open_scratch();
            s.set_content_key(Some(ContentKey::generate()));
            // Either answer is fine; only a panic is not.
            open(&s, "dev", &bytes).ok();
        }
    }
}
