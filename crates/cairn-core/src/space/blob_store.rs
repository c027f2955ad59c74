//! A shared space's attachments in the store (docs/sharing.md,
//! "Attachments in a space"): which chunks of the space's notes the
//! space's index lacks, packed into this device's slots under the space's
//! prefix and sealed with the space's keys; their locations recorded in
//! the space's blob index (published with the space's next round); and
//! which chunks the space's index has that this device wants.
//!
//! The runner (`cairn_client::space_blobs`) moves the bytes between the
//! two, through the space's grant; nothing here holds a network call.
//!
//! The locations are read from the index document when asked, not kept
//! in rows of their own: a space's index is read once per round, and the
//! schema stays as it is. This device's slots in the space are the ones
//! its entries name; none is emptied or reused (a note moved out leaves
//! its chunks to the space, whose members have read them).

use std::collections::{BTreeMap, BTreeSet};

use cairn_protocol::BlobSlot;
use rusqlite::OptionalExtension;

use crate::blob::index_doc;
use crate::blob::local_files::ChunkFiles;
use crate::blob::location::ChunkLocation;
use crate::blob::seal::sealed_len;
use crate::blob::transfer::{ChunkDownload, SlotUpload};
use crate::blob::{BlobError, ChunkId, SLOT_TARGET};
use crate::error::Result;
use crate::origin::Origin;
use crate::space::blob_index::{self, space_blob_index_id};
use crate::space::blob_keys::SpaceBlobKeys;
use crate::space::blob_seal;
use crate::space::epoch::SpaceId;
use crate::store::{sql_err, Store};
use crate::sync::opener::SpaceSync;

/// The keys `sync`'s space seals and opens attachments with: every epoch
/// key held, sealing at the epoch its stream seals with now.
pub fn space_blob_keys(sync: &SpaceSync) -> SpaceBlobKeys {
    let keys = SpaceBlobKeys::derive(&sync.space, &sync.keys);
    match &sync.writing {
        Some(w) => keys.sealing_at(w.epoch),
        None => keys,
    }
}

/// The body of a slot upload in a space: each chunk read from this
/// device's files and sealed with the space's keys, one after the other.
/// Each file was checked when it was written here (against its id when
/// attached on this device, under its seal when downloaded), so only its
/// length is checked again: a chunk another account named cannot be
/// named again here.
pub fn seal_space_slot(
    keys: &SpaceBlobKeys,
    files: &ChunkFiles,
    upload: &SlotUpload,
) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(upload.sealed_size() as usize);
    for (id, len) in &upload.chunks {
        let plain = files.read(id)?;
        if plain.len() != *len as usize {
            return Err(BlobError::Altered {
                chunk: id.to_hex(),
                reason: "the copy on this device does not have its recorded length".into(),
            }
            .into());
        }
        let sealed = blob_seal::seal(keys, id, &plain).map_err(|e| crate::CoreError::Invalid {
            what: "shared attachment",
            reason: e.to_string(),
        })?;
        body.extend_from_slice(&sealed);
    }
    Ok(body)
}

/// Opens a fetched chunk of the space, checking it against its name, its
/// space and its epoch.
pub fn open_space_chunk(
    keys: &SpaceBlobKeys,
    chunk: &ChunkDownload,
    sealed: &[u8],
) -> std::result::Result<Vec<u8>, BlobError> {
    blob_seal::open(keys, &chunk.id, chunk.len as usize, sealed)
}

/// The SHA-256 of a chunk's plaintext that opened under a space's seal,
/// kept to check its file when it is read back (schema 15).
pub fn chunk_digest(plain: &[u8]) -> [u8; 32] {
    <sha2::Sha256 as sha2::Digest>::digest(plain).into()
}

impl Store {
    /// Records chunks of a space as here, whose files were opened under
    /// the space's seal and made durable: with each plaintext's SHA-256
    /// (`chunk_digest`), since their names are another account's. The
    /// digests go first: a stop in between leaves a digest with no file,
    /// which nothing reads.
    pub fn record_space_chunks(&mut self, chunks: &[(ChunkId, u32, [u8; 32])]) -> Result<()> {
        let path = self.path.clone();
        let e = sql_err("storing a downloaded attachment", &path);
        {
            let tx = self.conn.transaction().map_err(&e)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO blob_checked(chunk_id, sha256) VALUES (?1, ?2)",
                    )
                    .map_err(&e)?;
                for (id, _, digest) in chunks {
                    stmt.execute(rusqlite::params![id.to_hex(), &digest[..]])
                        .map_err(&e)?;
                }
            }
            tx.commit().map_err(&e)?;
        }
        let here: Vec<(ChunkId, u32)> = chunks.iter().map(|(id, len, _)| (*id, *len)).collect();
        self.record_downloaded_chunks(&here)
    }

    /// Whether `plain` is the chunk `id` that opened under a space's seal
    /// here (its name is another account's, so it cannot be recomputed).
    pub(crate) fn checked_in_space(&self, id: &ChunkId, plain: &[u8]) -> Result<bool> {
        let digest: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT sha256 FROM blob_checked WHERE chunk_id = ?1",
                [id.to_hex()],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err("reading an attachment", &self.path))?;
        Ok(digest.is_some_and(|d| d[..] == chunk_digest(plain)))
    }

    fn ensure_space_blob_index(&mut self, space: &SpaceId) -> Result<String> {
        let id = space_blob_index_id(space);
        let owned = id.clone();
        self.ensure_reserved(&id, |actor| blob_index::genesis(&owned, actor))?;
        Ok(id)
    }

    /// Makes sure the blob index document `id` (some space's) exists here,
    /// before changes to it from a peer are merged.
    pub(crate) fn ensure_space_blob_index_doc(&mut self, id: &str) -> Result<()> {
        let owned = id.to_owned();
        self.ensure_reserved(id, |actor| blob_index::genesis(&owned, actor))
    }

    /// The space's index as this device has it: chunk -> location, the
    /// entries that do not decode (a member's bug, or a hostile one) left
    /// out.
    pub fn space_blob_locations(
        &mut self,
        space: &SpaceId,
    ) -> Result<BTreeMap<ChunkId, ChunkLocation>> {
        let id = space_blob_index_id(space);
        if !self.doc_exists(&id)? {
            return Ok(BTreeMap::new());
        }
        let doc = self.doc_mut(&id)?;
        let entries = index_doc::read_entries(doc.doc_mut(), None).map_err(|source| {
            crate::CoreError::Document {
                id: id.clone(),
                source: Box::new(source),
            }
        })?;
        Ok(entries
            .iter()
            .filter_map(|(k, v)| Some((ChunkId::parse(k).ok()?, ChunkLocation::decode(v).ok()?)))
            .collect())
    }

    /// The next slot's worth of chunks to upload into the space, if any:
    /// chunks here that an attachment of a note inside the shared notebook
    /// names and the space's index lacks. `None` for a viewer.
    pub fn plan_space_blob_upload(&mut self, sync: &SpaceSync) -> Result<Option<SlotUpload>> {
        if sync.writing.is_none() {
            return Ok(None);
        }
        let notes: BTreeSet<String> = self.space_notes(&sync.notebook)?.into_iter().collect();
        if notes.is_empty() {
            return Ok(None);
        }
        let located = self.space_blob_locations(&sync.space)?;
        let e = sql_err("planning a shared attachment upload", &self.path);
        let rows: Vec<(String, String, i64)> = self
            .conn
            .prepare_cached(
                "SELECT a.note_id, l.chunk_id, l.len FROM attachment a
                 JOIN attachment_chunk c ON c.attachment_id = a.id
                 JOIN blob_local l ON l.chunk_id = c.chunk_id
                 ORDER BY l.rowid",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(&e)?;
        let mut seen = BTreeSet::new();
        let mut pending = Vec::new();
        for (note, chunk, len) in rows {
            let Ok(id) = ChunkId::parse(&chunk) else {
                continue;
            };
            if notes.contains(&note) && !located.contains_key(&id) && seen.insert(id) {
                pending.push((id, len as u32));
            }
        }
        if pending.is_empty() {
            return Ok(None);
        }
        let me = sync.device.as_str();
        let used: BTreeSet<u32> = located
            .values()
            .filter(|l| l.device == me)
            .map(|l| l.slot.get())
            .collect();
        let slot = (0..cairn_protocol::BLOB_SLOTS)
            .find(|s| !used.contains(s))
            .and_then(|s| BlobSlot::new(s).ok())
            .ok_or(BlobError::SlotsFull)?;
        let mut chunks = Vec::new();
        let mut size = 0u64;
        for (id, len) in pending {
            let sealed = sealed_len(len as usize) as u64;
            if !chunks.is_empty() && size + sealed > SLOT_TARGET {
                break;
            }
            size += sealed;
            chunks.push((id, len));
        }
        Ok(Some(SlotUpload {
            slot,
            generation: 0,
            chunks,
        }))
    }

    /// Records a slot upload into the space that succeeded: its chunks'
    /// locations go into the space's index, published with the space's
    /// next round.
    pub fn record_space_blob_upload(
        &mut self,
        sync: &SpaceSync,
        upload: &SlotUpload,
    ) -> Result<()> {
        let mut entries = Vec::with_capacity(upload.chunks.len());
        let mut offset = 0u64;
        for (id, len) in &upload.chunks {
            let sealed = sealed_len(*len as usize) as u64;
            let location = ChunkLocation {
                device: sync.device.as_str().to_owned(),
                slot: upload.slot,
                generation: upload.generation,
                offset,
                len: sealed,
            };
            offset += sealed;
            entries.push((id.to_hex(), location.encode()));
        }
        let id = self.ensure_space_blob_index(&sync.space)?;
        let now = self.clock.now_ms();
        let doc = self.doc_mut(&id)?;
        if let Err(e) = index_doc::put_entries(doc.doc_mut(), &entries) {
            doc.doc_mut().rollback();
            return Err(e);
        }
        let changed = doc.commit_local(now)?;
        self.in_tx(&[id.as_str()], |s| {
            if changed {
                s.write_changes(&id, Origin::Local)?;
            }
            Ok(())
        })
    }

    /// Chunks this device should have and has not that the space's index
    /// locates: those of attachments up to `background_limit` bytes, and
    /// of attachments asked for, in slot order.
    pub fn wanted_space_chunks(
        &mut self,
        space: &SpaceId,
        background_limit: u64,
    ) -> Result<Vec<ChunkDownload>> {
        let located = self.space_blob_locations(space)?;
        if located.is_empty() {
            return Ok(Vec::new());
        }
        let e = sql_err("listing shared attachments to download", &self.path);
        let rows: Vec<(String, i64)> = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT c.chunk_id, c.len FROM attachment a
                 JOIN attachment_chunk c ON c.attachment_id = a.id
                 WHERE (a.size <= ?1 OR a.id IN (SELECT attachment_id FROM blob_wanted))
                 AND c.chunk_id NOT IN (SELECT chunk_id FROM blob_local)",
            )
            .and_then(|mut s| {
                s.query_map([i64::try_from(background_limit).unwrap_or(i64::MAX)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect()
            })
            .map_err(&e)?;
        let mut out: Vec<ChunkDownload> = rows
            .into_iter()
            .filter_map(|(chunk, len)| {
                let id = ChunkId::parse(&chunk).ok()?;
                let location = located.get(&id)?.clone();
                Some(ChunkDownload {
                    id,
                    len: u32::try_from(len).ok()?,
                    location,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.location.device, a.location.slot.get(), a.location.offset).cmp(&(
                &b.location.device,
                b.location.slot.get(),
                b.location.offset,
            ))
        });
        Ok(out)
    }
}
