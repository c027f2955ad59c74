//! The store's side of moving chunks to and from the bucket. The runner
//! (the client crate) asks what to upload or download, moves the bytes
//! through presigned URLs without holding the store, and reports back.
//!
//! Upload: [`Store::plan_blob_upload`] packs chunks no device has uploaded
//! yet into a free slot of this device; once the PUT succeeds,
//! [`Store::record_blob_upload`] writes their locations into the blob
//! index, which the round's publish then carries to the other devices. A
//! failed PUT records nothing: the next try packs the same chunks again.
//!
//! Download: [`Store::wanted_chunks`] lists the chunks of attachments this
//! device should have (those up to the background size limit, and those
//! asked for) that are not here; each is fetched with a Range GET, opened
//! and checked, its file made durable, and only then recorded as here by
//! [`Store::record_downloaded_chunks`] (a range's chunks in one commit), so
//! an interrupted download resumes with the chunks still missing.
//!
//! Garbage collection ([`Store::collect_blobs`]): chunks no attachment of
//! a live note refers to lose their local file and their index entry; a
//! slot of this device none of whose chunks is still referenced is
//! emptied (overwritten with nothing) only once every peer has merged the
//! publish that took its chunks out of the index, so a device that still
//! reads the old index never finds the slot reused under it. A peer that
//! still needs such a chunk has it locally (it attached it) and uploads it
//! again to its own slot when it sees the entry gone.

use cairn_protocol::BlobSlot;
use rusqlite::{params, OptionalExtension};

use crate::blob::chunk_id::ChunkId;
use crate::blob::index_doc::{self, BLOB_INDEX_DOC_ID};
use crate::blob::location::ChunkLocation;
use crate::blob::seal::sealed_len;
use crate::blob::SLOT_TARGET;
use crate::error::Result;
use crate::origin::Origin;
use crate::store::{sql_err, Store};

/// Attachments up to this size download in the background (20 MB).
pub const DEFAULT_BACKGROUND_LIMIT: u64 = 20 * 1000 * 1000;

/// Chunks to pack into one slot of this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotUpload {
    pub slot: BlobSlot,
    pub generation: u32,
    /// (chunk, plaintext length), in slot order; each sealed chunk follows
    /// the one before it.
    pub chunks: Vec<(ChunkId, u32)>,
}

impl SlotUpload {
    /// Sealed bytes of the whole slot.
    pub fn sealed_size(&self) -> u64 {
        self.chunks
            .iter()
            .map(|(_, len)| sealed_len(*len as usize) as u64)
            .sum()
    }
}

/// The body of a slot upload: each chunk read from this device's files,
/// checked against its id and sealed, one after the other. Its size is
/// bounded by the slot (about `SLOT_TARGET`), whatever the files' sizes.
pub fn seal_slot(
    keys: &crate::blob::BlobKeys,
    files: &crate::blob::local_files::ChunkFiles,
    upload: &SlotUpload,
) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(upload.sealed_size() as usize);
    for (id, len) in &upload.chunks {
        let plain = files.read(id)?;
        if plain.len() != *len as usize || !crate::blob::attach::names(keys, &plain, id) {
            return Err(crate::blob::BlobError::Altered {
                chunk: id.to_hex(),
                reason: "the copy on this device does not match its id".into(),
            }
            .into());
        }
        body.extend_from_slice(&crate::blob::seal::seal(keys, id, &plain));
    }
    Ok(body)
}

/// One chunk to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkDownload {
    pub id: ChunkId,
    pub len: u32,
    pub location: ChunkLocation,
}

impl ChunkDownload {
    /// The HTTP Range of the chunk in its slot.
    pub fn range_header(&self) -> String {
        format!(
            "bytes={}-{}",
            self.location.offset,
            self.location.offset + self.location.len.saturating_sub(1)
        )
    }

    /// Opens the fetched sealed bytes, checking them against the id.
    pub fn open(
        &self,
        keys: &crate::blob::BlobKeys,
        sealed: &[u8],
    ) -> Result<Vec<u8>, crate::blob::BlobError> {
        crate::blob::seal::open(keys, &self.id, self.len as usize, sealed)
    }
}

/// What garbage collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    pub chunks_dropped: usize,
    /// Slots that are now safe to empty in the bucket (every peer merged
    /// the index without them): the runner PUTs nothing into each and
    /// then calls [`Store::record_slot_emptied`].
    pub slots_to_empty: Vec<BlobSlot>,
}

fn slot_of(n: i64) -> Option<BlobSlot> {
    u32::try_from(n).ok().and_then(|n| BlobSlot::new(n).ok())
}

impl Store {
    /// Makes sure the blob index document exists here.
    pub(crate) fn ensure_blob_index(&mut self) -> Result<()> {
        self.ensure_reserved(BLOB_INDEX_DOC_ID, index_doc::genesis)
    }

    fn edit_blob_index(
        &mut self,
        apply: impl FnOnce(&mut automerge::AutoCommit) -> Result<()>,
        also: impl FnOnce(&mut Store) -> Result<()>,
    ) -> Result<()> {
        self.ensure_blob_index()?;
        let now = self.clock.now_ms();
        let doc = self.doc_mut(BLOB_INDEX_DOC_ID)?;
        if let Err(e) = apply(doc.doc_mut()) {
            doc.doc_mut().rollback();
            return Err(e);
        }
        let changed = doc.commit_local(now)?;
        self.in_tx(&[BLOB_INDEX_DOC_ID], |s| {
            if changed {
                s.write_changes(BLOB_INDEX_DOC_ID, Origin::Local)?;
            }
            also(s)
        })
    }

    /// The next slot's worth of chunks to upload, if any: chunks here that
    /// an attachment of a live note refers to and no device has uploaded.
    /// A chunk another account named (downloaded from a shared notebook,
    /// `space::blob_store`) is not: this account's other devices read it
    /// from that notebook's storage, as this one did.
    pub fn plan_blob_upload(&mut self) -> Result<Option<SlotUpload>> {
        let e = sql_err("planning an attachment upload", &self.path);
        let pending: Vec<(String, i64)> = self
            .conn
            .prepare_cached(
                "SELECT l.chunk_id, l.len FROM blob_local l
                 WHERE l.chunk_id IN (SELECT chunk_id FROM attachment_chunk)
                 AND l.chunk_id NOT IN (SELECT chunk_id FROM blob_location)
                 AND l.chunk_id NOT IN (SELECT chunk_id FROM blob_checked)
                 ORDER BY l.rowid",
            )
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(&e)?;
        if pending.is_empty() {
            return Ok(None);
        }
        let slot: Option<(i64, i64)> = self
            .conn
            .query_row(
                "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x + 1 < ?1)
                 SELECT n.x, coalesce(s.generation + 1, 0) FROM n
                 LEFT JOIN blob_slot s ON s.slot = n.x
                 WHERE coalesce(s.live, 0) = 0
                 AND n.x NOT IN (SELECT slot FROM blob_slot_freed)
                 ORDER BY n.x LIMIT 1",
                [i64::from(cairn_protocol::BLOB_SLOTS)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(&e)?;
        let Some((slot, generation)) = slot else {
            return Err(crate::blob::BlobError::SlotsFull.into());
        };
        let slot = slot_of(slot).ok_or(crate::blob::BlobError::SlotsFull)?;
        let mut chunks = Vec::new();
        let mut size = 0u64;
        for (id, len) in pending {
            let sealed = sealed_len(len as usize) as u64;
            if !chunks.is_empty() && size + sealed > SLOT_TARGET {
                break;
            }
            size += sealed;
            chunks.push((ChunkId::parse(&id)?, len as u32));
        }
        Ok(Some(SlotUpload {
            slot,
            generation: u32::try_from(generation).unwrap_or(u32::MAX),
            chunks,
        }))
    }

    /// Records a slot upload that succeeded: its chunks' locations go into
    /// the blob index (published with the next round) and the slot is live.
    pub fn record_blob_upload(&mut self, me: &str, upload: &SlotUpload) -> Result<()> {
        let mut entries = Vec::with_capacity(upload.chunks.len());
        let mut offset = 0u64;
        for (id, len) in &upload.chunks {
            let sealed = sealed_len(*len as usize) as u64;
            let location = ChunkLocation {
                device: me.to_owned(),
                slot: upload.slot,
                generation: upload.generation,
                offset,
                len: sealed,
            };
            offset += sealed;
            entries.push((id.to_hex(), location.encode()));
        }
        let slot = i64::from(upload.slot.get());
        let generation = i64::from(upload.generation);
        let path = self.path.clone();
        self.edit_blob_index(
            |d| index_doc::put_entries(d, &entries),
            |s| {
                s.conn
                    .execute(
                        "INSERT INTO blob_slot(slot, generation, live) VALUES (?1, ?2, 1)
                         ON CONFLICT(slot) DO UPDATE SET generation = ?2, live = 1",
                        params![slot, generation],
                    )
                    .map_err(sql_err("recording an attachment upload", &path))?;
                Ok(())
            },
        )
    }

    /// Chunks this device should have and has not: those of attachments of
    /// live notes up to `background_limit` bytes, and of attachments asked
    /// for, that some device has uploaded.
    pub fn wanted_chunks(&self, background_limit: u64) -> Result<Vec<ChunkDownload>> {
        let e = sql_err("listing attachments to download", &self.path);
        let rows: Vec<(String, i64, String, i64, i64, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT c.chunk_id, c.len, l.device, l.slot, l.generation, l.offset, l.len
                 FROM attachment a
                 JOIN attachment_chunk c ON c.attachment_id = a.id
                 JOIN blob_location l ON l.chunk_id = c.chunk_id
                 WHERE (a.size <= ?1 OR a.id IN (SELECT attachment_id FROM blob_wanted))
                 AND c.chunk_id NOT IN (SELECT chunk_id FROM blob_local)
                 ORDER BY l.device, l.slot, l.offset",
            )
            .and_then(|mut s| {
                s.query_map([i64::try_from(background_limit).unwrap_or(i64::MAX)], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect()
            })
            .map_err(&e)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, len, device, slot, generation, offset, sealed) in rows {
            let Some(slot) = slot_of(slot) else { continue };
            out.push(ChunkDownload {
                id: ChunkId::parse(&id)?,
                len: len as u32,
                location: ChunkLocation {
                    device,
                    slot,
                    generation: generation as u32,
                    offset: offset as u64,
                    len: sealed as u64,
                },
            });
        }
        Ok(out)
    }

    /// Bytes of attachments still to move: chunks to download (as
    /// [`Store::wanted_chunks`] counts them) and chunks to upload.
    pub fn blob_bytes_remaining(&self, background_limit: u64) -> Result<u64> {
        let down: u64 = self
            .wanted_chunks(background_limit)?
            .iter()
            .map(|c| u64::from(c.len))
            .sum();
        let up: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(sum(len), 0) FROM blob_local
                 WHERE chunk_id IN (SELECT chunk_id FROM attachment_chunk)
                 AND chunk_id NOT IN (SELECT chunk_id FROM blob_location)
                 AND chunk_id NOT IN (SELECT chunk_id FROM blob_checked)",
                [],
                |r| r.get(0),
            )
            .map_err(sql_err("counting attachment bytes", &self.path))?;
        Ok(down + up as u64)
    }

    /// Stores a chunk that was downloaded, opened and checked.
    pub fn store_downloaded_chunk(&mut self, id: &ChunkId, bytes: &[u8]) -> Result<()> {
        self.chunk_files().write(id, bytes)?;
        self.record_downloaded_chunks(&[(*id, bytes.len() as u32)])
    }

    /// Records chunks as here whose files [`ChunkFiles::write_many`] has
    /// made durable (the runner writes them off the store's lock), in one
    /// transaction: one commit for a whole range of small files.
    ///
    /// [`ChunkFiles::write_many`]: crate::blob::local_files::ChunkFiles::write_many
    pub fn record_downloaded_chunks(&mut self, chunks: &[(ChunkId, u32)]) -> Result<()> {
        let path = self.path.clone();
        let e = sql_err("storing a downloaded attachment", &path);
        let tx = self.conn.transaction().map_err(&e)?;
        {
            let mut local = tx
                .prepare_cached("INSERT OR IGNORE INTO blob_local(chunk_id, len) VALUES (?1, ?2)")
                .map_err(&e)?;
            let mut error = tx
                .prepare_cached("DELETE FROM blob_error WHERE chunk_id = ?1")
                .map_err(&e)?;
            for (id, len) in chunks {
                local
                    .execute(params![id.to_hex(), i64::from(*len)])
                    .map_err(&e)?;
                error.execute([id.to_hex()]).map_err(&e)?;
            }
        }
        tx.commit().map_err(&e)?;
        Ok(())
    }

    /// Keeps why a chunk could not be downloaded, for the attachment's
    /// placeholder; its bytes are never shown.
    pub fn set_chunk_error(&mut self, id: &ChunkId, message: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO blob_error(chunk_id, message) VALUES (?1, ?2)
                 ON CONFLICT(chunk_id) DO UPDATE SET message = ?2",
                params![id.to_hex(), message],
            )
            .map_err(sql_err("recording a download failure", &self.path))?;
        Ok(())
    }

    /// Drops chunks no attachment of a live note refers to (their local
    /// file and their index entry), frees this device's slots that hold
    /// none still referenced, and says which freed slots every peer has
    /// since caught up with, so they can be emptied. `me` is this device.
    pub fn collect_blobs(&mut self, me: &str) -> Result<Collected> {
        let path = self.path.clone();
        let e = sql_err("collecting unused attachments", &path);
        let referenced = "SELECT chunk_id FROM attachment_chunk";
        let unused_local: Vec<String> = self
            .conn
            .prepare(&format!(
                "SELECT chunk_id FROM blob_local WHERE chunk_id NOT IN ({referenced})"
            ))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(&e)?;
        let unused_entries: Vec<String> = self
            .conn
            .prepare(&format!(
                "SELECT chunk_id FROM blob_location WHERE device = ?1 AND chunk_id NOT IN ({referenced})"
            ))
            .and_then(|mut s| s.query_map([me], |r| r.get(0))?.collect())
            .map_err(&e)?;
        let files = self.chunk_files();
        for id in &unused_local {
            files.remove(&ChunkId::parse(id)?)?;
        }
        self.conn
            .execute(
                &format!("DELETE FROM blob_local WHERE chunk_id NOT IN ({referenced})"),
                [],
            )
            .map_err(&e)?;
        let next_seq = self.sync_self(me)?.seq + 1;
        let me_owned = me.to_owned();
        let free_slots = |s: &mut Store| -> Result<()> {
            // Live slots of mine that no longer hold an indexed chunk.
            s.conn
                .execute(
                    "INSERT OR IGNORE INTO blob_slot_freed(slot, after_seq)
                     SELECT slot, ?2 FROM blob_slot WHERE live = 1 AND slot NOT IN
                       (SELECT slot FROM blob_location WHERE device = ?1)",
                    params![me_owned, next_seq as i64],
                )
                .map_err(sql_err("collecting unused attachments", &path))?;
            s.conn
                .execute(
                    "UPDATE blob_slot SET live = 0 WHERE slot IN (SELECT slot FROM blob_slot_freed)",
                    [],
                )
                .map_err(sql_err("collecting unused attachments", &path))?;
            Ok(())
        };
        if unused_entries.is_empty() {
            // Nothing leaves the index (and a device that never attached
            // anything never makes one).
            free_slots(self)?;
        } else {
            self.edit_blob_index(
                |d| index_doc::remove_entries(d, &unused_entries),
                free_slots,
            )?;
        }
        let published = self.sync_self(me)?.seq;
        let peers = self.peer_states()?;
        let caught_up: Vec<i64> = self
            .conn
            .prepare("SELECT slot, after_seq FROM blob_slot_freed ORDER BY slot")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(&e)?
            .into_iter()
            .filter(|(_, after)| {
                let after = *after as u64;
                published >= after && peers.iter().all(|p| p.merged_of_me >= after)
            })
            .map(|(slot, _)| slot)
            .collect();
        Ok(Collected {
            chunks_dropped: unused_local.len().max(unused_entries.len()),
            slots_to_empty: caught_up.into_iter().filter_map(slot_of).collect(),
        })
    }

    /// A freed slot was emptied in the bucket: it may be reused.
    pub fn record_slot_emptied(&mut self, slot: BlobSlot) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM blob_slot_freed WHERE slot = ?1",
                [i64::from(slot.get())],
            )
            .map_err(sql_err("collecting unused attachments", &self.path))?;
        Ok(())
    }
}

/// Rewrites the `blob_location` rows from the blob index's state. Entries
/// that do not decode (a peer's bug, or a hostile one) are left out.
pub(crate) fn write_locations(
    tx: &rusqlite::Connection,
    entries: &[(String, String)],
    path: &std::path::Path,
) -> Result<()> {
    let e = sql_err("updating the attachment index", path);
    tx.execute("DELETE FROM blob_location", []).map_err(&e)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO blob_location(chunk_id, device, slot, generation, offset, len)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(&e)?;
    for (chunk, value) in entries {
        let (Ok(id), Ok(l)) = (ChunkId::parse(chunk), ChunkLocation::decode(value)) else {
            continue;
        };
        stmt.execute(params![
            id.to_hex(),
            l.device,
            i64::from(l.slot.get()),
            i64::from(l.generation),
            l.offset as i64,
            l.len as i64
        ])
        .map_err(&e)?;
    }
    Ok(())
}
