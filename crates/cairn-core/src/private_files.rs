//! Files and directories only their user can open, whatever the umask:
//! notes, keys and sessions live here, and a machine may have other users.
//!
//! Directories Cairn creates are 0700 and files 0600. SQLite gives a
//! database's `-wal` and `-shm` files the mode of the database file, so
//! creating that file 0600 before SQLite opens it covers all three.
//! Programs also narrow their umask at start ([`restrict_umask`]), so the
//! files other libraries write (the embedded store's objects) follow.

use std::io;
use std::path::Path;

/// Narrows the process umask to 077: from here on, whatever this process
/// creates is its user's alone. Call at the start of `main`.
pub fn restrict_umask() {
    #[cfg(unix)]
    {
        let previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        // A stricter umask the user set (0277) stays as strict.
        let combined = previous.as_raw_mode() | 0o077;
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(combined));
    }
}

/// Creates `dir` and any missing parents as 0700. An existing directory is
/// left as it is: it may be one the user chose and shares on purpose.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes `path` a 0600 file: creates it empty if missing, and narrows the
/// mode of one an older Cairn left readable by others. For files another
/// library then opens (SQLite databases).
pub fn prepare_file(path: &Path) -> io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path)?;
    restrict(&file)
}

/// Narrows an existing file (a database's `-wal` or `-shm` from an older
/// Cairn) to 0600; a missing one is fine.
pub fn restrict_if_present(path: &Path) -> io::Result<()> {
    match std::fs::File::open(path) {
        Ok(file) => restrict(&file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn restrict(file: &std::fs::File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _unused = file;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn created_dirs_and_files_are_private_and_old_files_are_narrowed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);

        let file = dir.join("cairn.db");
        prepare_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::write(&file, b"kept").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"kept", "nothing truncated");

        let wal = dir.join("cairn.db-wal");
        restrict_if_present(&wal).unwrap();
        assert!(!wal.exists());
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        restrict_if_present(&wal).unwrap();
        assert_eq!(mode(&wal), 0o600);
    }
}
