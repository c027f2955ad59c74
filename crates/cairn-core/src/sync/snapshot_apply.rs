//! Applying a peer's snapshot while it is opened, in batches.
//!
//! A snapshot holds the whole account, so a new device's first sync is
//! mostly this. A version 3 snapshot (`stream_object`, entries with their
//! states: `snapshot_entries`) is read chunk by chunk from where the
//! runner put it (memory, or a file it spilled the download to), and its
//! entries are stored a batch at a time, each batch its own transaction:
//! memory holds one batch, however large the account, and what a batch
//! stored is there for good. (The runner holds the store's lock for the
//! whole apply, so other readers of the store see the notes at its end;
//! handing the lock back between batches would take a resumable apply.)
//! The peer's new position is recorded only with the
//! last batch, together with the segments after the snapshot, so a
//! snapshot cut off, damaged or killed halfway is read again from the
//! start next round. What was stored before the failure stays (the
//! entries read so far are stored before the error is reported): every
//! chunk was authenticated before any of it was used, so it is this
//! account's own data, and merging it again changes nothing.
//!
//! An older snapshot (version 1 or 2, one AEAD message) that reached here
//! in a file is read whole and applied the same way, with the states of
//! its separate digest.

use std::io::Read;

use cairn_protocol::DeviceKey;

use crate::error::CoreError;
use crate::note_doc::NoteState;
use crate::store::Store;
use crate::sync::bundle::Bundle;
use crate::sync::digest::Digest;
use crate::sync::head::{DeviceHead, ObjectRef};
use crate::sync::object::{ObjectError, ObjectKind};
use crate::sync::opener::Opener;
use crate::sync::personal_object::{personal_space, PersonalKeys};
use crate::sync::reader::{self, ReadError};
use crate::sync::snapshot_entries::{EntryReader, SnapshotEntry};
use crate::sync::state::PeerState;
use crate::sync::stream_object::{self, Opened, Place, StreamHeader, STREAM_FORMAT_VERSION};
use crate::sync::transport::Spill;

/// Entries stored per transaction: enough that a transaction's cost is
/// spread thin, few enough that a batch is a few megabytes.
const BATCH_ENTRIES: usize = 1000;
const BATCH_BYTES: usize = 16 << 20;

/// Where a fetched snapshot's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotBody {
    Memory(Vec<u8>),
    Spilled(Spill),
}

impl SnapshotBody {
    /// The first bytes: enough for any header.
    pub fn prefix(&self) -> &[u8] {
        match self {
            SnapshotBody::Memory(b) => &b[..b.len().min(crate::sync::transport::SPILL_PREFIX_LEN)],
            SnapshotBody::Spilled(s) => s.prefix(),
        }
    }
}

/// A peer's snapshot as fetched, its header checked against the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSnapshot {
    pub key: DeviceKey,
    pub r: ObjectRef,
    pub body: SnapshotBody,
}

/// What checking a fetched snapshot's first bytes against the head says.
#[derive(Debug, PartialEq, Eq)]
pub enum Precheck {
    /// The header is the one the head names.
    Matches,
    /// The slot holds another object than the head names: it was rewritten
    /// since the head was read.
    Rewritten,
}

/// Checks the header of a fetched snapshot (any version) against `r`.
pub fn precheck(prefix: &[u8], r: &ObjectRef) -> Result<Precheck, ObjectError> {
    if prefix.len() < crate::sync::object::HEADER_LEN {
        return Err(ObjectError::TooShort { len: prefix.len() });
    }
    if prefix[..4] != crate::sync::object::MAGIC {
        return Err(ObjectError::BadMagic);
    }
    if hex::encode(&prefix[20..52]) != r.hash {
        return Ok(Precheck::Rewritten);
    }
    if prefix[4] == STREAM_FORMAT_VERSION {
        let header = StreamHeader::parse(prefix)?;
        check_header(&header, r)?;
    }
    Ok(Precheck::Matches)
}

fn check_header(header: &StreamHeader, r: &ObjectRef) -> Result<(), ObjectError> {
    if header.kind != ObjectKind::Snapshot {
        return Err(ObjectError::WrongKind {
            expected: ObjectKind::Snapshot,
            found: header.kind,
        });
    }
    if header.seq != r.seq {
        return Err(ObjectError::Malformed(
            "sequence number disagrees with the head".into(),
        ));
    }
    if header.space != personal_space() {
        return Err(ObjectError::SpaceObject);
    }
    Ok(())
}

/// A snapshot's entries, one at a time, from either format.
enum Entries<'a> {
    Streamed(Box<EntryReader<Opened<Box<dyn Read + 'a>>>>),
    /// An older snapshot, opened whole, with its digest's states.
    Whole {
        bundle: std::vec::IntoIter<(String, bytes::Bytes)>,
        states: std::vec::IntoIter<Option<NoteState>>,
    },
}

impl Entries<'_> {
    fn next_entry(&mut self) -> Result<Option<SnapshotEntry>, ObjectError> {
        match self {
            Entries::Streamed(r) => r.next_entry(),
            Entries::Whole { bundle, states } => Ok(bundle.next().map(|(id, doc)| SnapshotEntry {
                id,
                doc: doc.to_vec(),
                state: states.next().flatten(),
            })),
        }
    }
}

fn open_entries<'a>(
    device: &str,
    snapshot: &'a RawSnapshot,
    digest: Option<Digest>,
    keys: &PersonalKeys,
) -> Result<Entries<'a>, ObjectError> {
    let key = snapshot.key.relative();
    if snapshot.body.prefix().get(4) == Some(&STREAM_FORMAT_VERSION) {
        let header = StreamHeader::parse(snapshot.body.prefix())?;
        check_header(&header, &snapshot.r)?;
        if header.hash_hex() != snapshot.r.hash {
            return Err(ObjectError::HashMismatch);
        }
        let cipher_key = match (header.sealed, header.epoch.0) {
            (false, _) => None,
            (true, 0) => Some(keys.content.clone().ok_or(ObjectError::Sealed)?),
            (true, e) => Some(
                keys.epochs
                    .get(&header.epoch)
                    .ok_or(ObjectError::NoPersonalKey { epoch: e })?
                    .cipher()
                    .clone(),
            ),
        };
        let mut source: Box<dyn Read + 'a> = match &snapshot.body {
            SnapshotBody::Memory(b) => Box::new(&b[..]),
            SnapshotBody::Spilled(s) => Box::new(
                s.reader()
                    .map_err(|e| ObjectError::Malformed(format!("reading the download: {e}")))?,
            ),
        };
        let mut skip = [0u8; stream_object::STREAM_HEADER_LEN];
        source
            .read_exact(&mut skip)
            .map_err(|_| ObjectError::TooShort {
                len: snapshot.body.prefix().len(),
            })?;
        let payload_len = header.payload_len;
        let place = Place {
            device,
            object_key: &key,
        };
        let opened = Opened::new(source, header, place, cipher_key.as_ref())?;
        return Ok(Entries::Streamed(Box::new(EntryReader::new(
            opened,
            payload_len,
        )?)));
    }
    let bytes = match &snapshot.body {
        SnapshotBody::Memory(b) => b.clone(),
        SnapshotBody::Spilled(s) => s
            .read_all()
            .map_err(|e| ObjectError::Malformed(format!("reading the download: {e}")))?,
    };
    let opener = Opener::Personal(keys.clone());
    let bundle = match reader::open_object_owned(
        device,
        &key,
        &snapshot.r,
        ObjectKind::Snapshot,
        bytes,
        &opener,
    ) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(ObjectError::HashMismatch),
        Err(ReadError::BadObject { source, .. }) => return Err(source),
        Err(e) => return Err(ObjectError::Malformed(e.to_string())),
    };
    let states = match digest {
        Some(d) => d.states_for(&bundle, &snapshot.r).unwrap_or_else(|why| {
            eprintln!(
                "the digest of device {device}'s snapshot was not used ({why}): loading its notes"
            );
            Vec::new()
        }),
        None => Vec::new(),
    };
    Ok(Entries::Whole {
        bundle: bundle.into_iter(),
        states: states.into_iter(),
    })
}

/// Why a snapshot was not (wholly) applied.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotApplyError {
    /// Its bytes are not a usable snapshot: the peer fails this round.
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Store(#[from] CoreError),
}

/// What was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotApplied {
    pub changed: usize,
    pub entries: usize,
    pub batches: usize,
}

impl Store {
    /// Applies `snapshot` of `head.device` in batches, then `segments`
    /// (the head's log after it) with the peer's new state in the last
    /// transaction.
    #[allow(clippy::too_many_arguments)] // the parts of one peer's read
    pub fn apply_peer_snapshot(
        &mut self,
        state: &PeerState,
        head: &DeviceHead,
        etag: Option<String>,
        snapshot: &RawSnapshot,
        digest: Option<Digest>,
        segments: Vec<Bundle>,
        me: &str,
    ) -> Result<SnapshotApplied, SnapshotApplyError> {
        let device = head.device.as_str();
        let bad = |source: ObjectError| ReadError::BadObject {
            device: device.to_string(),
            key: snapshot.key.relative(),
            source,
        };
        let keys = self.personal_keys();
        let mut entries = open_entries(device, snapshot, digest, &keys).map_err(bad)?;
        let mut applied = SnapshotApplied::default();
        let mut batch: Vec<SnapshotEntry> = Vec::new();
        let mut bytes = 0;
        loop {
            let next = match entries.next_entry() {
                Ok(next) => next,
                Err(e) => {
                    // What came before was authenticated: keep it, so a
                    // download cut short still leaves its notes here.
                    if !batch.is_empty() {
                        self.store_batch(&batch, device)?;
                    }
                    return Err(bad(e).into());
                }
            };
            let end = next.is_none();
            if let Some(e) = next {
                bytes += e.doc.len();
                batch.push(e);
                applied.entries += 1;
            }
            if !batch.is_empty() && (end || batch.len() >= BATCH_ENTRIES || bytes >= BATCH_BYTES) {
                applied.changed += self.store_batch(&batch, device)?;
                applied.batches += 1;
                batch.clear();
                bytes = 0;
            }
            if end {
                break;
            }
        }
        let new_state = state.after_read(head, etag, me, self.clock.now_ms());
        let rest: Vec<(&str, &[u8])> = segments
            .iter()
            .flat_map(|b| b.iter().map(|(id, bytes)| (id.as_str(), &bytes[..])))
            .collect();
        applied.changed += self
            .merge_batch_with(&rest, &[], |s| s.save_peer(&new_state))
            .map_err(|e| data_error(e, device))?;
        Ok(applied)
    }

    fn store_batch(
        &mut self,
        batch: &[SnapshotEntry],
        device: &str,
    ) -> Result<usize, SnapshotApplyError> {
        let refs: Vec<(&str, &[u8])> = batch.iter().map(|e| (e.id.as_str(), &e.doc[..])).collect();
        let known: Vec<Option<NoteState>> = batch.iter().map(|e| e.state.clone()).collect();
        self.merge_batch_with(&refs, &known, |_| Ok(()))
            .map_err(|e| data_error(e, device))
    }
}

/// A store error caused by the data (a document that does not load) is
/// the peer's; any other is the store's own.
fn data_error(e: CoreError, device: &str) -> SnapshotApplyError {
    if crate::sync::local::caused_by_data(&e) {
        SnapshotApplyError::Read(ReadError::BadChanges {
            device: device.to_string(),
            reason: e.to_string(),
        })
    } else {
        SnapshotApplyError::Store(e)
    }
}
