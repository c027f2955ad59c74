//! Writing the personal stream's snapshot: every document with its state
//! (`snapshot_entries`), sealed in chunks (`stream_object`) into an
//! unlinked file beside the store as the documents are read, and uploaded
//! from there.
//!
//! A snapshot is as large as the account: at 100,000 notes, hundreds of
//! megabytes. Built in memory, its writer held every document, the
//! encoded payload and the sealed copy at once, gigabytes in all; a new
//! device writes one right after its first sync. Here the writer holds one
//! document and one chunk.
//!
//! Everything is read in one read transaction, so the documents, their
//! states and the highest chunk id named in the head agree with each
//! other whatever is typed meanwhile (the store's lock is held anyway).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use cairn_protocol::DeviceKey;

use crate::error::{CoreError, Result};
use crate::store::{sql_err, Store};
use crate::sync::object::ObjectKind;
use crate::sync::snapshot_entries;
use crate::sync::transport::{Body, Spill};

/// A snapshot as written: its body, the documents it holds, and the
/// highest chunk id it covers.
#[derive(Debug)]
pub(crate) struct WrittenSnapshot {
    pub body: Body,
    pub docs: Vec<String>,
    pub max_chunk: i64,
}

/// Where a writer's file goes: a disk that is full says so as such.
fn file_error(dir: &Path, e: std::io::Error) -> CoreError {
    match e.kind() {
        std::io::ErrorKind::StorageFull => CoreError::DiskFull {
            path: dir.to_path_buf(),
        },
        _ => CoreError::FileWrite {
            path: dir.to_path_buf(),
            reason: format!("writing the snapshot to upload: {e}"),
        },
    }
}

impl Store {
    /// The folder a snapshot to upload is written in: the store's own, so
    /// it is on the disk the store is on and readable by its user only.
    fn snapshot_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::env::temp_dir(),
        }
    }

    /// Writes the personal snapshot of sequence `seq` for `device`'s
    /// snapshot slot `key`.
    pub(crate) fn write_personal_snapshot(
        &mut self,
        seq: u64,
        device: &str,
        key: &DeviceKey,
    ) -> Result<WrittenSnapshot> {
        let own_tx = self.conn.is_autocommit();
        if own_tx {
            self.conn
                .execute_batch("BEGIN DEFERRED")
                .map_err(sql_err("reading the snapshot", &self.path))?;
        }
        let written = self.write_snapshot_in_tx(seq, device, key);
        if own_tx {
            // A read: nothing to undo, so ending it cannot lose anything.
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                eprintln!("warning: ending the snapshot's read failed: {e}");
            }
        }
        written
    }

    fn write_snapshot_in_tx(
        &self,
        seq: u64,
        device: &str,
        key: &DeviceKey,
    ) -> Result<WrittenSnapshot> {
        let dir = self.snapshot_dir();
        let io = |e: std::io::Error| file_error(&dir, e);
        let err = sql_err("reading the snapshot", &self.path);
        let count: i64 = self
            .conn
            .query_row("SELECT count(DISTINCT note_id) FROM chunk", [], |r| {
                r.get(0)
            })
            .map_err(&err)?;
        let count = u32::try_from(count).map_err(|_| CoreError::Invalid {
            what: "snapshot",
            reason: format!("{count} documents are more than a snapshot holds"),
        })?;
        let file = tempfile::tempfile_in(&dir).map_err(io)?;
        let mut sealer = self
            .personal_keys()
            .stream_sealer(
                ObjectKind::Snapshot,
                seq,
                device,
                &key.relative(),
                BufWriter::with_capacity(1 << 20, file),
            )
            .map_err(io)?;
        snapshot_entries::write_count(&mut sealer, count).map_err(io)?;

        // The chunk index is by note, so this reads each document's chunks
        // together, in the order `chunks_after` groups them.
        let mut stmt = self
            .conn
            .prepare("SELECT id, note_id, data FROM chunk ORDER BY note_id, id")
            .map_err(&err)?;
        let mut rows = stmt.query([]).map_err(&err)?;
        let mut docs: Vec<String> = Vec::with_capacity(count as usize);
        let mut doc: Vec<u8> = Vec::new();
        let mut scratch = Vec::new();
        let mut max_chunk = 0i64;
        let mut emit = |id: &str, doc: &[u8], sealer: &mut dyn Write| -> Result<()> {
            let state = if crate::reserved_doc::is_reserved(id) {
                None
            } else {
                self.stored_state(id)?
            };
            snapshot_entries::write_entry(sealer, id, doc, state.as_ref(), &mut scratch).map_err(io)
        };
        while let Some(r) = rows.next().map_err(&err)? {
            let chunk_id: i64 = r.get(0).map_err(&err)?;
            let note: String = r.get(1).map_err(&err)?;
            let data = r
                .get_ref(2)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(&err)?;
            max_chunk = max_chunk.max(chunk_id);
            if docs.last() != Some(&note) {
                if let Some(prev) = docs.last() {
                    emit(prev, &doc, &mut sealer)?;
                }
                doc.clear();
                docs.push(note);
            }
            doc.extend_from_slice(data);
        }
        if let Some(prev) = docs.last() {
            emit(prev, &doc, &mut sealer)?;
        }
        if docs.len() != count as usize {
            return Err(CoreError::Invalid {
                what: "snapshot",
                reason: format!("counted {count} documents, read {}", docs.len()),
            });
        }
        let (out, len) = sealer.finish().map_err(io)?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        let spill = Spill::new(file, len).map_err(io)?;
        Ok(WrittenSnapshot {
            body: Body::Spilled(spill),
            docs,
            max_chunk,
        })
    }
}
