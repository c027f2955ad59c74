//! Chunks on this device: one plaintext file per chunk under `blobs/`
//! beside the database, `blobs/ab/abcdef…` (the first two hex digits fan
//! the files out over 256 folders).
//!
//! A chunk is written to a temporary file in its folder, fsynced, renamed
//! over its final name and the folder fsynced: after a crash the chunk is
//! either whole under its name or absent (a leftover temporary file is
//! ignored and removed on the next write of that chunk). Files are 0600,
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
        let path = self.path(id);
        if path.is_file() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        crate::private_files::create_dir_all(&dir).map_err(|e| BlobError::io(&dir, e))?;
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
            std::fs::rename(&tmp, &path)?;
            // The rename is durable only once the folder is.
            std::fs::File::open(&dir)?.sync_all()
        })();
        result.map_err(|e| {
            // Best effort: a leftover is overwritten by the next try.
            if let Err(rm) = std::fs::remove_file(&tmp) {
                if rm.kind() != std::io::ErrorKind::NotFound {
                    eprintln!("warning: could not remove {}: {rm}", tmp.display());
                }
            }
            BlobError::io(&path, e)
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
}
