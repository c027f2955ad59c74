//! The payload of a version 3 snapshot (`stream_object`): each document
//! with the state it produces, read one entry at a time.
//!
//! ```text
//! format u8 (1), count u32 LE, then per entry:
//!   id length u16 LE, note id (UTF-8)
//!   data length u32 LE, Automerge bytes for that document
//!   state length u32 LE, the note's state as a digest entry holds it
//!     (JSON, `digest::DigestState`); 0: none (a reserved document, or a
//!     note whose writer did not know it), so the reader loads it
//! ```
//!
//! Version 1 and 2 snapshots carry the states in a digest of their own
//! (`digest`), fetched beside the snapshot and parsed whole; here they
//! travel with their documents, so a reader needs neither the whole
//! snapshot nor the whole digest in memory, and the two cannot disagree.
//! A state is trusted as a digest's is (see `digest`): the note is marked
//! unchecked, and its rows are rewritten from the document when it is
//! first loaded.

use std::io::Read;

use crate::note_doc::NoteState;
use crate::sync::digest::DigestState;
use crate::sync::object::{ObjectError, MAX_PAYLOAD};

pub const ENTRIES_FORMAT: u8 = 1;

/// One entry: a document and, when its writer knew it, its state.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotEntry {
    pub id: String,
    pub doc: Vec<u8>,
    pub state: Option<NoteState>,
}

/// Encodes `entries` (id, document bytes) with `states[i]` the state of
/// entry `i`; reserved documents get none.
pub fn encode<D: AsRef<[u8]>>(entries: &[(String, D)], states: &[Option<NoteState>]) -> Vec<u8> {
    let docs: usize = entries
        .iter()
        .map(|(id, d)| 10 + id.len() + 2 * d.as_ref().len())
        .sum();
    let mut out = Vec::with_capacity(5 + docs);
    let mut scratch = Vec::new();
    let written = write_count(&mut out, entries.len() as u32).and_then(|()| {
        for (i, (id, data)) in entries.iter().enumerate() {
            let state = states.get(i).and_then(Option::as_ref);
            write_entry(&mut out, id, data.as_ref(), state, &mut scratch)?;
        }
        Ok(())
    });
    // Writing to memory does not fail; were it to, the payload would not
    // open, and the reader says so.
    if let Err(e) = written {
        eprintln!("warning: encoding a snapshot in memory failed: {e}");
    }
    out
}

/// Starts a payload of `count` entries.
pub fn write_count<W: std::io::Write + ?Sized>(out: &mut W, count: u32) -> std::io::Result<()> {
    out.write_all(&[ENTRIES_FORMAT])?;
    out.write_all(&count.to_le_bytes())
}

/// Writes one entry: `id`'s document `data` and its `state` (none for a
/// reserved document). `scratch` holds the state's JSON on its way.
pub fn write_entry<W: std::io::Write + ?Sized>(
    out: &mut W,
    id: &str,
    data: &[u8],
    state: Option<&NoteState>,
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    out.write_all(&(id.len() as u16).to_le_bytes())?;
    out.write_all(id.as_bytes())?;
    out.write_all(&(data.len() as u32).to_le_bytes())?;
    out.write_all(data)?;
    scratch.clear();
    if let Some(state) = state {
        if !crate::reserved_doc::is_reserved(id)
            && serde_json::to_writer(&mut *scratch, &DigestState::of(state)).is_err()
        {
            // Writing to memory does not fail; were it to, the entry goes
            // without a state and its reader loads the note.
            scratch.clear();
        }
    }
    out.write_all(&(scratch.len() as u32).to_le_bytes())?;
    out.write_all(scratch)
}

/// The documents of a whole snapshot's plaintext, without their states.
pub fn into_bundle(plaintext: &[u8]) -> Result<crate::sync::bundle::Bundle, ObjectError> {
    let mut r = EntryReader::new(plaintext, plaintext.len())?;
    let mut out = Vec::with_capacity(r.left() as usize);
    while let Some(e) = r.next_entry()? {
        out.push((e.id, e.doc.into()));
    }
    Ok(out)
}

/// Reads entries from the plaintext of a snapshot, as it is opened.
pub struct EntryReader<R> {
    source: R,
    left: u32,
    /// Bytes the entries may still take: a length beyond it is refused
    /// before anything is allocated for it.
    budget: usize,
}

fn malformed(why: impl Into<String>) -> ObjectError {
    ObjectError::Malformed(format!("snapshot: {}", why.into()))
}

fn io_error(e: std::io::Error) -> ObjectError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return malformed("it ends inside an entry");
    }
    crate::sync::stream_object::object_error(e)
}

impl<R: Read> EntryReader<R> {
    /// Reads the format and count; `max_bytes` bounds the plaintext (the
    /// object's payload length).
    pub fn new(mut source: R, max_bytes: usize) -> Result<EntryReader<R>, ObjectError> {
        let mut head = [0u8; 5];
        source.read_exact(&mut head).map_err(io_error)?;
        if head[0] != ENTRIES_FORMAT {
            return Err(ObjectError::UnknownVersion { found: head[0] });
        }
        let left = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        let budget = max_bytes.min(MAX_PAYLOAD).saturating_sub(5);
        // Each entry takes at least 10 bytes.
        if left as usize > budget / 10 {
            return Err(malformed(format!("it claims {left} entries")));
        }
        Ok(EntryReader {
            source,
            left,
            budget,
        })
    }

    /// Entries not read yet.
    pub fn left(&self) -> u32 {
        self.left
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, ObjectError> {
        if n > self.budget {
            return Err(malformed(format!("an entry of {n} bytes does not fit")));
        }
        self.budget -= n;
        let mut buf = vec![0u8; n];
        self.source.read_exact(&mut buf).map_err(io_error)?;
        Ok(buf)
    }

    fn len(&mut self, width: usize) -> Result<usize, ObjectError> {
        let b = self.take(width)?;
        Ok(match width {
            2 => u16::from_le_bytes([b[0], b[1]]) as usize,
            _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
        })
    }

    /// The next entry, or `None` after the last (when the plaintext must
    /// end too).
    pub fn next_entry(&mut self) -> Result<Option<SnapshotEntry>, ObjectError> {
        if self.left == 0 {
            let mut extra = [0u8; 1];
            return match self.source.read(&mut extra).map_err(io_error)? {
                0 => Ok(None),
                _ => Err(malformed("bytes follow its last entry")),
            };
        }
        self.left -= 1;
        let id_len = self.len(2)?;
        let id = String::from_utf8(self.take(id_len)?)
            .map_err(|_| malformed("a note id is not UTF-8"))?;
        let doc_len = self.len(4)?;
        let doc = self.take(doc_len)?;
        let state_len = self.len(4)?;
        let state = match state_len {
            0 => None,
            n => {
                let json = self.take(n)?;
                match serde_json::from_slice::<DigestState>(&json) {
                    Ok(s) if !crate::reserved_doc::is_reserved(&id) => Some(s.into_state()),
                    // A state only saves work: without it the note is
                    // loaded from its document.
                    Ok(_) => None,
                    Err(e) => {
                        eprintln!(
                            "the state of note {id} in a snapshot is not usable ({e}): loading it"
                        );
                        None
                    }
                }
            }
        };
        Ok(Some(SnapshotEntry { id, doc, state }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
    const B: &str = "7f9619ff-8b86-4011-b42d-00c04fc964ff";

    fn state(body: &str) -> NoteState {
        DigestState {
            body: body.into(),
            tags: vec!["t".into()],
            pinned: false,
            trashed: false,
            deleted: false,
            created_ms: 1,
            modified_ms: 2,
            notebook: None,
            links: Default::default(),
            attachments: Vec::new(),
        }
        .into_state()
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<SnapshotEntry>, ObjectError> {
        let mut r = EntryReader::new(bytes, bytes.len())?;
        let mut out = Vec::new();
        while let Some(e) = r.next_entry()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn entries_round_trip_with_and_without_states() {
        let entries = vec![
            (A.to_string(), b"doc a".to_vec()),
            (
                crate::notebook_doc::NOTEBOOKS_DOC_ID.to_string(),
                b"tree".to_vec(),
            ),
            (B.to_string(), Vec::new()),
        ];
        let states = vec![Some(state("a")), Some(state("tree?")), None];
        let got = read_all(&encode(&entries, &states)).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].id.as_str(), got[0].doc.as_slice()),
            (A, &b"doc a"[..])
        );
        assert_eq!(got[0].state.as_ref().map(|s| s.body.as_str()), Some("a"));
        // A reserved document never carries a state, whatever was passed.
        assert_eq!(got[1].state, None);
        assert_eq!((got[2].doc.len(), got[2].state.is_none()), (0, true));
    }

    #[test]
    fn a_cut_or_padded_payload_is_refused_and_a_bad_state_only_dropped() {
        let entries = vec![(A.to_string(), b"doc a".to_vec())];
        let bytes = encode(&entries, &[Some(state("a"))]);
        for cut in [0, 4, 5, 9, bytes.len() - 1] {
            assert!(read_all(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(read_all(&padded).is_err());
        let mut newer = bytes.clone();
        newer[0] = 2;
        assert_eq!(
            read_all(&newer),
            Err(ObjectError::UnknownVersion { found: 2 })
        );
        // A state that is not JSON: the entry stays, without it.
        let mut bad_state = bytes.clone();
        let last = bad_state.len() - 1;
        bad_state[last] = b'!';
        let got = read_all(&bad_state).unwrap();
        assert_eq!((got.len(), got[0].state.is_none()), (1, true));
        // Counts and lengths beyond the bytes are refused up front.
        let mut many = bytes.clone();
        many[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_all(&many).is_err());
    }
}
