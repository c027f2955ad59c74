//! Files and directories only the service's user can open, whatever the
//! umask: the registry holds token hashes, `s3-credentials.json` the
//! secret that signs any request to the embedded store.
//!
//! Directories the service creates are 0700 and files 0600. SQLite gives
//! a database's `-wal` and `-shm` files the mode of the database file, so
//! creating that file 0600 before SQLite opens it covers all three. The
//! binary also narrows its umask at start ([`restrict_umask`]) so the
//! objects s3s-fs writes follow.

use std::io::{self, Write};
use std::path::Path;

/// Narrows the process umask to (at least) 077. Call at the start of
/// `main`.
pub fn restrict_umask() {
    #[cfg(unix)]
    {
        let previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        // A stricter umask the user set (0277) stays as strict.
        let combined = previous.as_raw_mode() | 0o077;
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(combined));
    }
}

/// Creates `dir` and any missing parents as 0700; an existing directory
/// is left as it is.
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

/// Opens `path` as a 0600 file (created if missing, narrowed if an older
/// version left it readable by others), for appending or for SQLite.
fn open_private(path: &Path, truncate: bool) -> io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true);
    if truncate {
        opts.write(true).truncate(true);
    } else {
        opts.append(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

/// Makes `path` a 0600 file without touching its content.
pub fn prepare_file(path: &Path) -> io::Result<()> {
    open_private(path, false).map(drop)
}

/// Writes `bytes` to `path` as a 0600 file.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = open_private(path, true)?;
    file.write_all(bytes)?;
    file.sync_all()
}
