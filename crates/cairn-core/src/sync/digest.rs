//! A snapshot's digest, as writers before envelope version 3 put one
//! beside each snapshot; still read from such a device's objects. (Today's
//! snapshots carry each note's state beside its document instead:
//! `crate::sync::snapshot_entries`.)
//!
//! For each note the snapshot holds, in the same
//! order, the state its document produces (what the list, the search, the
//! backlinks and the notebooks show of it). A new device stores the
//! snapshot's bytes as they are and writes each new note's rows from its
//! digest entry, without loading a single document; loading every
//! document is what made a first sync slow (Automerge rebuilds every
//! change of a document to load it).
//!
//! The payload (JSON, sealed exactly as the snapshot is: same key and
//! epoch, associated data naming the digest's own kind and key and the
//! snapshot's sequence number):
//!
//! ```text
//! {"format": 1, "seq": N, "snapshot_hash": "<hex SHA-256 the head lists for the snapshot>",
//!  "notes": [{"id": "<note id>", "state": {..} | null}, ..]}
//! ```
//!
//! `notes` lists the snapshot's entries in its order, the reserved
//! documents (notebook tree, blob index, device actors) left out: those
//! are always loaded. A `null` state says the writer did not know it (a
//! note stored before digests): the reader loads that one.
//!
//! Trust: a digest comes from this account's own devices, under the same
//! AEAD as the snapshot, so storage cannot forge or swap one. A device of
//! the account could still write a state its document does not hold (a
//! bug, or an older device's damage). So a note stored from a digest is
//! marked unchecked, and the first time its document is loaded (opened,
//! edited, merged) its rows are rewritten from the document and the mark
//! cleared: a lying digest can make a row stale until then, never lose
//! data, since the document itself is stored as it came. Shared
//! notebooks do not use digests: another member's digest is not trusted
//! that way, and their documents are always loaded
//! (`crate::sync::space_stream`).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::note_doc::NoteState;
use crate::sync::bundle::Bundle;
use crate::sync::head::ObjectRef;
use crate::sync::object::{self, ObjectError, ObjectKind};
use crate::sync::opener::Opener;

pub const DIGEST_FORMAT: u32 = 1;

/// A digest larger than this is refused before it is parsed: its
/// snapshot, which it summarises, is bounded by the object limit, and a
/// digest is a fraction of it (the text once, without its history).
pub const MAX_DIGEST_BYTES: usize = object::MAX_PAYLOAD / 2;

/// What a digest says of one note: the fields of [`NoteState`] a note has
/// (the reserved documents' own fields are never in a digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestState {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub pinned: bool,
    #[serde(default)]
    pub trashed: bool,
    #[serde(default)]
    pub deleted: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
    #[serde(default)]
    pub notebook: Option<String>,
    #[serde(default)]
    pub links: BTreeMap<String, String>,
    #[serde(default)]
    pub attachments: Vec<(String, String)>,
}

impl DigestState {
    pub fn of(s: &NoteState) -> DigestState {
        DigestState {
            body: s.body.clone(),
            tags: s.tags.clone(),
            pinned: s.pinned,
            trashed: s.trashed,
            deleted: s.deleted,
            created_ms: s.created_ms,
            modified_ms: s.modified_ms,
            notebook: s.notebook.clone(),
            links: s.links.clone(),
            attachments: s.attachments.clone(),
        }
    }

    pub fn into_state(self) -> NoteState {
        NoteState {
            body: self.body,
            tags: self.tags,
            pinned: self.pinned,
            trashed: self.trashed,
            deleted: self.deleted,
            created_ms: self.created_ms,
            modified_ms: self.modified_ms,
            notebook: self.notebook,
            links: self.links,
            notebooks: Vec::new(),
            attachments: self.attachments,
            chunk_locations: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub id: String,
    pub state: Option<DigestState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub format: u32,
    /// The snapshot's sequence number.
    pub seq: u64,
    /// The hash the head lists for the snapshot (of its sealed payload).
    pub snapshot_hash: String,
    pub notes: Vec<DigestEntry>,
}

impl Digest {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and checks a digest's payload: its format, sizes, note ids
    /// (each a note id, none twice).
    pub fn decode(bytes: &[u8]) -> Result<Digest, ObjectError> {
        let bad = |why: String| ObjectError::Malformed(format!("digest: {why}"));
        if bytes.len() > MAX_DIGEST_BYTES {
            return Err(bad(format!("{} bytes is too large", bytes.len())));
        }
        let digest: Digest = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if digest.format != DIGEST_FORMAT {
            return Err(bad(format!(
                "format {} is not {DIGEST_FORMAT}",
                digest.format
            )));
        }
        let mut seen = HashSet::with_capacity(digest.notes.len());
        for (i, e) in digest.notes.iter().enumerate() {
            crate::store::validate_note_id(&e.id)
                .map_err(|_| bad(format!("entry {i} is not a note id")))?;
            if crate::reserved_doc::is_reserved(&e.id) {
                return Err(bad(format!("entry {i} is a reserved document")));
            }
            if !seen.insert(e.id.as_str()) {
                return Err(bad(format!("entry {i} names a note twice")));
            }
        }
        Ok(digest)
    }

    /// Each snapshot entry's state, by position in `snapshot`, when this
    /// digest is the one of `snapshot` (sequence number, hash, the same
    /// notes in the same order); else why not.
    pub fn states_for(
        self,
        snapshot: &Bundle,
        snapshot_ref: &ObjectRef,
    ) -> Result<Vec<Option<NoteState>>, String> {
        if self.seq != snapshot_ref.seq {
            return Err(format!(
                "it is of publish {}, the snapshot of {}",
                self.seq, snapshot_ref.seq
            ));
        }
        if self.snapshot_hash != snapshot_ref.hash {
            return Err("it names another snapshot".into());
        }
        let notes: Vec<usize> = snapshot
            .iter()
            .enumerate()
            .filter(|(_, (id, _))| !crate::reserved_doc::is_reserved(id))
            .map(|(i, _)| i)
            .collect();
        if notes.len() != self.notes.len() {
            return Err(format!(
                "it has {} notes, the snapshot {}",
                self.notes.len(),
                notes.len()
            ));
        }
        let mut out = vec![None; snapshot.len()];
        for (at, entry) in notes.into_iter().zip(self.notes) {
            if snapshot[at].0 != entry.id {
                return Err(format!("entry {at} names another note than the snapshot"));
            }
            out[at] = entry.state.map(DigestState::into_state);
        }
        Ok(out)
    }
}

/// The digest of `snapshot` (entries as published, `states[i]` the
/// stored state of entry `i`), whose sealed object `snapshot_ref` names.
pub fn of_snapshot(
    snapshot: &Bundle,
    states: &[Option<NoteState>],
    snapshot_ref: &ObjectRef,
) -> Digest {
    let notes = snapshot
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| !crate::reserved_doc::is_reserved(id))
        .map(|(i, (id, _))| DigestEntry {
            id: id.clone(),
            state: states.get(i).and_then(Option::as_ref).map(DigestState::of),
        })
        .collect();
    Digest {
        format: DIGEST_FORMAT,
        seq: snapshot_ref.seq,
        snapshot_hash: snapshot_ref.hash.clone(),
        notes,
    }
}

/// Checks a fetched digest against its reference and opens it, as
/// [`crate::sync::reader::open_object_with`] does a snapshot.
pub fn open_digest(
    device: &str,
    key: &str,
    r: &ObjectRef,
    bytes: &[u8],
    opener: &Opener,
) -> Result<Digest, ObjectError> {
    let obj = object::decode_kind(bytes, ObjectKind::Digest)?;
    if obj.hash_hex() != r.hash {
        return Err(ObjectError::HashMismatch);
    }
    if obj.seq != r.seq {
        return Err(ObjectError::Malformed(
            "sequence number disagrees with the head".into(),
        ));
    }
    let payload = opener.open(&obj, device, key)?;
    Digest::decode(&payload)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    const A: &str = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
    const B: &str = "7f9619ff-8b86-4011-b42d-00c04fc964ff";

    fn state(body: &str) -> DigestState {
        DigestState {
            body: body.into(),
            tags: vec!["t".into()],
            pinned: true,
            trashed: false,
            deleted: false,
            created_ms: 1,
            modified_ms: 2,
            notebook: Some("nb".into()),
            links: BTreeMap::from([("[[x]]".into(), B.into())]),
            attachments: vec![("att:1".into(), "{}".into())],
        }
    }

    fn digest() -> Digest {
        Digest {
            format: DIGEST_FORMAT,
            seq: 4,
            snapshot_hash: "ab".into(),
            notes: vec![
                DigestEntry {
                    id: A.into(),
                    state: Some(state("hello")),
                },
                DigestEntry {
                    id: B.into(),
                    state: None,
                },
            ],
        }
    }

    fn snapshot_ref() -> ObjectRef {
        ObjectRef {
            seq: 4,
            slot: 0,
            hash: "ab".into(),
            len: 10,
        }
    }

    #[test]
    fn round_trip_and_matching_its_snapshot() {
        let d = digest();
        let again = Digest::decode(&d.encode()).unwrap();
        assert_eq!(again, d);
        let tree = crate::notebook_doc::NOTEBOOKS_DOC_ID.to_string();
        let snapshot: Bundle = vec![
            (A.into(), vec![1].into()),
            (tree.clone(), vec![2].into()),
            (B.into(), vec![3].into()),
        ];
        let states = again
            .clone()
            .states_for(&snapshot, &snapshot_ref())
            .unwrap();
        assert_eq!(states.len(), 3);
        assert_eq!(states[0].as_ref().unwrap().body, "hello");
        assert!(states[1].is_none() && states[2].is_none());
        // Another order, another count, another publish, another snapshot.
        let swapped: Bundle = vec![(B.into(), vec![3].into()), (A.into(), vec![1].into())];
        assert!(again.clone().states_for(&swapped, &snapshot_ref()).is_err());
        assert!(again
            .clone()
            .states_for(&snapshot[..1].to_vec(), &snapshot_ref())
            .is_err());
        let later = ObjectRef {
            seq: 5,
            ..snapshot_ref()
        };
        assert!(again.clone().states_for(&snapshot, &later).is_err());
        let other = ObjectRef {
            hash: "cd".into(),
            ..snapshot_ref()
        };
        assert!(again.states_for(&snapshot, &other).is_err());
    }

    #[test]
    fn truncated_oversized_and_garbage_digests_are_refused() {
        let enc = digest().encode();
        for cut in [0, 1, enc.len() / 2, enc.len() - 1] {
            assert!(Digest::decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Digest::decode(&vec![b' '; MAX_DIGEST_BYTES + 1]).is_err());
        for garbage in [
            &b"\xff\xfe\x00"[..],
            b"[]",
            b"{}",
            b"null",
            b"{\"format\":1}",
        ] {
            assert!(Digest::decode(garbage).is_err());
        }
        let mut d = digest();
        d.format = 2;
        assert!(Digest::decode(&d.encode()).is_err());
        let mut d = digest();
        d.notes[1].id = A.into();
        assert!(Digest::decode(&d.encode()).is_err(), "a note twice");
        let mut d = digest();
        d.notes[0].id = "../../etc".into();
        assert!(Digest::decode(&d.encode()).is_err());
        let mut d = digest();
        d.notes[0].id = crate::notebook_doc::NOTEBOOKS_DOC_ID.into();
        assert!(Digest::decode(&d.encode()).is_err());
    }
}
