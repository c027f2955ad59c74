//! Chunks on this device: one plaintext file per chunk under `blobs/`
//! beside the database, `blobs/ab/abcdef…` (the first two hex digits fan
//! the files out over 256 folders).
//!
//! A chunk is written to a temporary file in its folder, fsynced, renamed
//! over its final name and the folder fsynced: after a crash the chunk is
//! either whole under its name or absent (a leftover temporary file is
//! ignored and removed on the next write of that chunk). A download writes
//! a range's chunks as one [`ChunkBatch`], which fsyncs each folder once
//! for the whole range instead of once per chunk. Files are 0600,
//! folders 0700, like the database. The plaintext is kept here as the
//! notes are in the database: the disk is the user's own.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::blob::chunk_id::ChunkId;
use crate::blob::error::BlobError;

pub const BLOBS_DIR: &str = "blobs";

#[derive(Debug, Clone)]
pub struct ChunkFiles {
    root: PathBuf,
}

impl ChunkFiles {
    /// The chunk folder of the store whose data directory is `data_dir`.
    pub fn new(data_dir: &Path) -> ChunkFiles {
        ChunkFiles {
            root: data_dir.join(BLOBS_DIR),
        }
    }

    pub fn path(&self, id: &ChunkId) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(&hex[..2]).join(hex)
    }

    pub fn exists(&self, id: &ChunkId) -> bool {
        self.path(id).is_file()
    }

    /// Writes a chunk crash-safely. Writing one that exists is a no-op.
    pub fn write(&self, id: &ChunkId, bytes: &[u8]) -> Result<(), BlobError> {
        self.write_many(&[(*id, bytes)])
    }

    /// Writes chunks crash-safely, as [`ChunkFiles::write`] does one, with
    /// the folders' fsyncs shared (see [`ChunkBatch`]).
    pub fn write_many(&self, chunks: &[(ChunkId, &[u8])]) -> Result<(), BlobError> {
        let mut batch = self.batch();
        for (id, bytes) in chunks {
            batch.write(id, bytes)?;
        }
        batch.finish()
    }

    /// A batch of chunk writes whose folders are fsynced once, at its end.
    pub fn batch(&self) -> ChunkBatch<'_> {
        ChunkBatch {
            files: self,
            dirs: Vec::new(),
        }
    }

    /// One chunk to its temporary file, fsynced, then renamed over its
    /// name (its folder not yet fsynced).
    fn write_renamed(
        &self,
        id: &ChunkId,
        bytes: &[u8],
        dir: &Path,
        path: &Path,
    ) -> Result<(), BlobError> {
        crate::private_files::create_dir_all(dir).map_err(|e| BlobError::io(dir, e))?;
        let tmp = dir.join(format!("{}.partial", id.to_hex()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let result = (|| {
            let mut f = opts.open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, path)
        })();
        result.map_err(|e| {
            // Best effort: a leftover is overwritten by the next try.
            if let Err(rm) = std::fs::remove_file(&tmp) {
                if rm.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("warning: could not remove {}: {rm}", tmp.display());
                }
            }
            BlobError::io(path, e)
        })
    }

    pub fn read(&self, id: &ChunkId) -> Result<Vec<u8>, BlobError> {
        let path = self.path(id);
        std::fs::read(&path).map_err(|e| BlobError::io(&path, e))
    }

    pub fn remove(&self, id: &ChunkId) -> Result<(), BlobError> {
        let path = self.path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::io(&path, e)),
        }
    }
}

/// Chunks written one after another, each to its temporary file, fsynced
/// and renamed into place, and then every folder the batch renamed into
/// fsynced once when it finishes (a batch of small chunks lands in a few of
/// the 256 folders, not one fsync each). Only once [`ChunkBatch::finish`]
/// returns are the chunks durable, so only then may the store record them
/// as here; a crash before leaves each whole or absent. Chunks that exist
/// are skipped.
pub struct ChunkBatch<'a> {
    files: &'a ChunkFiles,
    dirs: Vec<PathBuf>,
}

impl ChunkBatch<'_> {
    pub fn write(&mut self, id: &ChunkId, bytes: &[u8]) -> Result<(), BlobError> {
        let path = self.files.path(id);
        if path.is_file() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.files.root).to_path_buf();
        self.files.write_renamed(id, bytes, &dir, &path)?;
        if !self.dirs.contains(&dir) {
            self.dirs.push(dir);
        }
        Ok(())
    }

    pub fn finish(self) -> Result<(), BlobError> {
        for dir in self.dirs {
            // The renames are durable only once their folder is.
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| BlobError::io(&dir, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::keys::BlobKeys;

    #[test]
    fn writes_whole_files_only_their_user_reads() {
        let dir = tempfile::tempdir().unwrap();
        let files = ChunkFiles::new(dir.path());
        let id = ChunkId::of(&BlobKeys::derive(None), b"hello");
        assert!(!files.exists(&id));
        files.write(&id, b"hello").unwrap();
        files.write(&id, b"hello").unwrap();
        assert_eq!(files.read(&id).unwrap(), b"hello");
        let parent = files.path(&id).parent().unwrap().to_path_buf();
        let names: Vec<_> = std::fs::read_dir(&parent)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(files.path(&id))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
        files.remove(&id).unwrap();
        files.remove(&id).unwrap();
        assert!(!files.exists(&id));
    }

    #[test]
    fn a_batch_writes_every_chunk_whole_and_skips_those_here() {
        let dir = tempfile::tempdir().unwrap();
        let files = ChunkFiles::new(dir.path());
        let keys = BlobKeys::derive(None);
        let data: Vec<Vec<u8>> = (0..40u32)
            .map(|i| i.to_le_bytes().repeat(100 + i as usize))
            .collect();
        let ids: Vec<ChunkId> = data.iter().map(|d| ChunkId::of(&keys, d)).collect();
        files.write(&ids[0], &data[0]).unwrap();
        let pairs: Vec<(ChunkId, &[u8])> = ids
            .iter()
            .copied()
            .zip(data.iter().map(|d| d.as_slice()))
            .collect();
        files.write_many(&pairs).unwrap();
        for (id, d) in ids.iter().zip(&data) {
            assert_eq!(&files.read(id).unwrap(), d);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(BLOBS_DIR))
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
