//! Attaching files to notes and reading them back, on the store.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::blob::chunk_id::ChunkId;
use crate::blob::chunker::Chunker;
use crate::blob::error::BlobError;
use crate::blob::keys::BlobKeys;
use crate::blob::local_files::ChunkFiles;
use crate::blob::media_type;
use crate::blob::record::{check_name, AttachmentRecord, ChunkRef};
use crate::error::{CoreError, Result};
use crate::note_doc::NoteState;
use crate::store::{exec, sql_err, Store};

/// The largest file attached unless a setting says otherwise (100 MB).
pub const DEFAULT_MAX_ATTACHMENT: u64 = 100 * 1000 * 1000;

/// An attachment as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub id: String,
    pub note_id: String,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    /// Whether every byte of it is on this device.
    pub local: bool,
}

/// The file at `path` as an attachment would take it: its name and size,
/// or `TooLarge` when it is over `limit` (checked before anything is read,
/// so a drop of several files can refuse them all before storing one).
pub fn attachable(path: &Path, limit: u64) -> Result<(String, u64)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = std::fs::metadata(path).map_err(|e| BlobError::io(path, e))?;
    if !meta.is_file() {
        return Err(BlobError::Io {
            path: name,
            reason: "it is a folder, not a file".into(),
        }
        .into());
    }
    let size = meta.len();
    if size > limit {
        return Err(BlobError::TooLarge { name, size, limit }.into());
    }
    Ok((name, size))
}

/// The reference a note's body gets: an image inline, any other file as a
/// link, both to `attachment:{id}`.
pub fn reference(record: &AttachmentRecord) -> String {
    let text: String = record
        .name
        .chars()
        .map(|c| if matches!(c, '[' | ']') { '_' } else { c })
        .collect();
    let bang = if media_type::is_image(&record.media_type) {
        "!"
    } else {
        ""
    };
    format!("{bang}[{text}](attachment:{})", record.id)
}

/// `text` with each [`reference`] read as its name: a list row says "The
/// route we took: Trail map.png", not the Markdown behind the picture.
/// (`reference` keeps brackets out of the name, so the last `[` before
/// the target opens it.)
pub fn references_as_names(text: &str) -> String {
    const TARGET: &str = "](attachment:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(mid) = rest.find(TARGET) {
        let after = &rest[mid + TARGET.len()..];
        let (Some(open), Some(close)) = (rest[..mid].rfind('['), after.find(')')) else {
            break;
        };
        let start = if rest[..open].ends_with('!') {
            open - 1
        } else {
            open
        };
        out.push_str(&rest[..start]);
        out.push_str(&rest[open + 1..mid]);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

impl Store {
    /// The folder the database is in.
    pub fn data_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    pub fn chunk_files(&self) -> ChunkFiles {
        ChunkFiles::new(&self.data_dir())
    }

    /// The keys chunks are named and sealed with: from the content key when
    /// there is one.
    pub fn blob_keys(&self) -> BlobKeys {
        BlobKeys::derive(self.content_key.as_ref()).with_epochs(&self.personal_epochs)
    }

    /// Attaches the file at `path` to note `note_id` and appends a
    /// reference to its body. A file larger than `limit` is refused
    /// before anything is written.
    pub fn attach_file(
        &mut self,
        note_id: &str,
        path: &Path,
        limit: u64,
    ) -> Result<AttachmentRecord> {
        let (name, _) = attachable(path, limit)?;
        let file = std::fs::File::open(path).map_err(|e| BlobError::io(path, e))?;
        let media = media_type::guess(&name);
        let record = self.store_attachment(&name, media, std::io::BufReader::new(file), limit)?;
        self.add_attachment(note_id, &record, true)?;
        Ok(record)
    }

    /// Stores the bytes of `reader` as an attachment of `note_id` and adds
    /// its record, leaving the body as it is: the caller puts
    /// [`reference`] where the user wants it (the app, at the cursor, as
    /// an edit of its own). Refused for a note in the trash, and for more
    /// than `limit` bytes before the first chunk past it is written.
    pub fn attach_unreferenced(
        &mut self,
        note_id: &str,
        name: &str,
        reader: impl Read,
        limit: u64,
    ) -> Result<AttachmentRecord> {
        self.refuse_if_trashed(note_id)?;
        let record = self.store_attachment(name, media_type::guess(name), reader, limit)?;
        self.add_attachment(note_id, &record, false)?;
        Ok(record)
    }

    /// Stores the bytes of `reader` as chunks here, without adding them to
    /// any note yet; returns the record to add.
    pub fn store_attachment(
        &mut self,
        name: &str,
        media_type: &str,
        reader: impl Read,
        limit: u64,
    ) -> Result<AttachmentRecord> {
        let name = check_name(name).map_err(|reason| CoreError::Invalid {
            what: "attachment name",
            reason,
        })?;
        let keys = self.blob_keys();
        let files = self.chunk_files();
        let mut chunker = Chunker::new(reader);
        let mut chunks = Vec::new();
        let mut size: u64 = 0;
        while let Some(bytes) = chunker.next_chunk().map_err(|e| BlobError::Io {
            path: name.clone(),
            reason: e.to_string(),
        })? {
            size += bytes.len() as u64;
            if size > limit {
                return Err(BlobError::TooLarge { name, size, limit }.into());
            }
            let id = ChunkId::of(&keys, &bytes);
            files.write(&id, &bytes)?;
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO blob_local(chunk_id, len) VALUES (?1, ?2)",
                    params![id.to_hex(), bytes.len() as i64],
                )
                .map_err(sql_err("storing an attachment", &self.path))?;
            chunks.push(ChunkRef {
                id,
                len: bytes.len() as u32,
            });
        }
        Ok(AttachmentRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name,
            media_type: media_type.to_owned(),
            size,
            chunks,
        })
    }

    /// Adds a stored attachment's record to a note, with a reference at the
    /// end of the body when `append_reference` (a person attaching: refused
    /// for a note in the trash). Without, the body already refers to it
    /// (an import, which may bring notes that are in the trash).
    pub fn add_attachment(
        &mut self,
        note_id: &str,
        record: &AttachmentRecord,
        append_reference: bool,
    ) -> Result<()> {
        if append_reference {
            self.refuse_if_trashed(note_id)?;
        }
        let text = reference(record);
        self.edit(note_id, |d| {
            d.put_attachment(record)?;
            if append_reference {
                let body = d.body()?;
                let sep = if body.is_empty() || body.ends_with('\n') {
                    ""
                } else {
                    "\n"
                };
                let at = d.body_len();
                d.splice(at, 0, &format!("{sep}{text}\n"))?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Attachments of one note, or of every note.
    pub fn attachments(&self, note_id: Option<&str>) -> Result<Vec<Attachment>> {
        let sql = "SELECT a.id, a.note_id, a.name, a.media_type, a.size,
                (SELECT count(*) FROM attachment_chunk c
                   WHERE c.attachment_id = a.id
                   AND c.chunk_id NOT IN (SELECT chunk_id FROM blob_local)) AS missing
             FROM attachment a WHERE (?1 IS NULL OR a.note_id = ?1)
             ORDER BY a.note_id, a.name, a.id";
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(sql_err("listing attachments", &self.path))?;
        let rows = stmt
            .query_map([note_id], |r| {
                Ok(Attachment {
                    id: r.get(0)?,
                    note_id: r.get(1)?,
                    name: r.get(2)?,
                    media_type: r.get(3)?,
                    size: r.get::<_, i64>(4)? as u64,
                    local: r.get::<_, i64>(5)? == 0,
                })
            })
            .and_then(|r| r.collect())
            .map_err(sql_err("listing attachments", &self.path))?;
        Ok(rows)
    }

    pub fn attachment(&self, id: &str) -> Result<Attachment> {
        self.attachments(None)?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| BlobError::NotFound { id: id.to_owned() }.into())
    }

    /// The chunk list of an attachment, in order.
    pub(crate) fn attachment_chunks(&self, id: &str) -> Result<Vec<ChunkRef>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT chunk_id, len FROM attachment_chunk WHERE attachment_id = ?1 ORDER BY seq",
            )
            .map_err(sql_err("reading an attachment", &self.path))?;
        let rows: Vec<(String, i64)> = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(sql_err("reading an attachment", &self.path))?;
        rows.into_iter()
            .map(|(c, len)| {
                Ok(ChunkRef {
                    id: ChunkId::parse(&c)?,
                    len: len as u32,
                })
            })
            .collect()
    }

    /// Writes the attachment's bytes to `out`, checking every chunk
    /// against its id. Fails with `NotLocal` when a piece is not here.
    pub fn write_attachment(&self, id: &str, out: &mut impl Write) -> Result<u64> {
        let info = self.attachment(id)?;
        let chunks = self.attachment_chunks(id)?;
        if !info.local {
            let missing = chunks
                .iter()
                .filter(|c| !self.chunk_files().exists(&c.id))
                .count();
            return Err(BlobError::NotLocal {
                name: info.name,
                missing: missing.max(1),
                total: chunks.len(),
            }
            .into());
        }
        let keys = self.blob_keys();
        let files = self.chunk_files();
        let mut written = 0u64;
        for c in &chunks {
            let bytes = files.read(&c.id)?;
            if bytes.len() != c.len as usize
                || !(names(&keys, &bytes, &c.id) || self.checked_in_space(&c.id, &bytes)?)
            {
                return Err(BlobError::Altered {
                    chunk: c.id.to_hex(),
                    reason: "the copy on this device does not match its id".into(),
                }
                .into());
            }
            out.write_all(&bytes).map_err(|e| BlobError::Io {
                path: info.name.clone(),
                reason: e.to_string(),
            })?;
            written += bytes.len() as u64;
        }
        Ok(written)
    }

    /// Bytes of the attachment already on this device: what a placeholder
    /// shows as progress while the rest downloads.
    pub fn attachment_local_bytes(&self, id: &str) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(sum(len), 0) FROM attachment_chunk
                 WHERE attachment_id = ?1 AND chunk_id IN (SELECT chunk_id FROM blob_local)",
                [id],
                |r| r.get(0),
            )
            .map_err(sql_err("reading an attachment", &self.path))?;
        Ok(n as u64)
    }

    /// Asks for an attachment to be downloaded by the next sync, whatever
    /// its size (a note that shows it was opened).
    pub fn want_attachment(&mut self, id: &str) -> Result<()> {
        self.attachment(id)?;
        self.conn
            .execute(
                "INSERT OR IGNORE INTO blob_wanted(attachment_id) VALUES (?1)",
                [id],
            )
            .map_err(sql_err("asking for an attachment", &self.path))?;
        Ok(())
    }

    /// The chunk id of the first chunk of an attachment that failed to
    /// download, with why.
    pub fn attachment_error(&self, id: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT e.message FROM blob_error e JOIN attachment_chunk c ON c.chunk_id = e.chunk_id
                 WHERE c.attachment_id = ?1 ORDER BY c.seq LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err("reading an attachment", &self.path))
    }
}

/// Whether `id` names `bytes`: under this account's keys, or under the
/// public ones a chunk attached before the device had the content key got.
pub(crate) fn names(keys: &BlobKeys, bytes: &[u8], id: &ChunkId) -> bool {
    ChunkId::of(keys, bytes) == *id || ChunkId::of(&BlobKeys::derive(None), bytes) == *id
}

/// Rewrites the attachment rows of one note from its state (inside the
/// note's write). A deleted note has none; records that do not decode
/// (a peer's bug) are left out rather than failing the note.
pub(crate) fn write_note_attachments(
    tx: &Connection,
    note_id: &str,
    s: &NoteState,
    path: &Path,
) -> Result<()> {
    let e = sql_err("updating the attachment list", path);
    exec(
                tx,
        "DELETE FROM attachment_chunk WHERE attachment_id IN (SELECT id FROM attachment WHERE note_id = ?1)",
        [note_id],
    )
    .map_err(&e)?;
    exec(tx, "DELETE FROM attachment WHERE note_id = ?1", [note_id]).map_err(&e)?;
    if s.deleted {
        return Ok(());
    }
    for (key, value) in &s.attachments {
        let Ok(r) = AttachmentRecord::decode(key, value) else {
            continue;
        };
        // One attachment id in two notes (a copied record): the first stays.
        let inserted = exec(
                tx,
                "INSERT OR IGNORE INTO attachment(id, note_id, name, media_type, size) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![r.id, note_id, r.name, r.media_type, r.size as i64],
            )
            .map_err(&e)?;
        if inserted == 0 {
            continue;
        }
        for (seq, c) in r.chunks.iter().enumerate() {
            exec(
                tx,
                "INSERT INTO attachment_chunk(attachment_id, seq, chunk_id, len) VALUES (?1, ?2, ?3, ?4)",
                params![r.id, seq as i64, c.id.to_hex(), i64::from(c.len)],
            )
            .map_err(&e)?;
        }
    }
    Ok(())
}
