//! Whether the store was closed cleanly last time, so the check for damage
//! (`repair::check`, which reads every page: about 0.4 s for 10,000 notes,
//! growing with the file) runs when damage is likely rather than at every
//! open.
//!
//! Every open store keeps a file `cairn.db.open/<pid>-<n>`; closing it
//! removes the file. At open, a file left by a process that is no longer
//! running means a crash, a kill or a power cut: the store is checked. So
//! is a store this version opens for the first time (no marker directory
//! yet), and one where an operation met a damaged page (`request_check`).
//! Several processes may hold the store at once (the app and the CLI):
//! each has its own file, and only dead processes' files count.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::private_files;

const DIR_SUFFIX: &str = ".open";
/// Left by an operation that met a damaged page: check at the next open.
const CHECK_FILE: &str = "check";

/// Distinguishes several stores opened by one process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// This process's marker; removed when the store closes.
#[derive(Debug)]
pub(crate) struct OpenMarker {
    path: Option<PathBuf>,
}

/// What the markers say at open.
pub(crate) struct Previous {
    pub(crate) needs_check: bool,
    /// Markers of dead processes, to remove once the check has passed.
    stale: Vec<PathBuf>,
}

fn dir_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(DIR_SUFFIX);
    PathBuf::from(s)
}

/// Reads what earlier opens of `db` left. Errors reading the markers only
/// ever make the answer "check".
pub(crate) fn previous(db: &Path) -> Previous {
    let dir = dir_of(db);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(_) => {
            return Previous {
                needs_check: true,
                stale: Vec::new(),
            }
        }
    };
    let mut needs_check = false;
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == CHECK_FILE {
            needs_check = true;
            stale.push(entry.path());
            continue;
        }
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if !pid.is_some_and(is_running) {
            needs_check = true;
            stale.push(entry.path());
        }
    }
    Previous { needs_check, stale }
}

impl Previous {
    /// After a check that passed: the crash it was for is dealt with.
    pub(crate) fn forget(self) {
        for path in self.stale {
            // One still there only costs another check next time.
            std::fs::remove_file(path).ok();
        }
    }
}

/// Marks `db` open by this process. A marker that cannot be written (a
/// read-only directory) is no reason not to open: the next open checks.
pub(crate) fn mark_open(db: &Path) -> OpenMarker {
    let dir = dir_of(db);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}", std::process::id()));
    let made = private_files::create_dir_all(&dir)
        .and_then(|()| private_files::prepare_file(&path))
        .is_ok();
    OpenMarker {
        path: made.then_some(path),
    }
}

impl OpenMarker {
    /// For a store no other process can see (one being rebuilt).
    pub(crate) fn unmarked() -> OpenMarker {
        OpenMarker { path: None }
    }
}

/// Asks for a check at the next open of `db`: an operation met damage.
pub(crate) fn request_check(db: &Path) {
    let dir = dir_of(db);
    if private_files::create_dir_all(&dir).is_ok() {
        private_files::prepare_file(&dir.join(CHECK_FILE)).ok();
    }
}

impl Drop for OpenMarker {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Left behind, it costs one check at the next open.
            std::fs::remove_file(path).ok();
        }
    }
}

#[cfg(unix)]
fn is_running(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // Running, as another user: not ours to signal, but alive.
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

#[cfg(not(unix))]
fn is_running(_pid: u32) -> bool {
    // No cheap way to ask: treat every marker as stale, so a store is
    // checked at each open while another process has it open.
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_close_needs_no_check_and_a_dead_process_does() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cairn.db");
        assert!(previous(&db).needs_check, "never opened by this version");
        let marker = mark_open(&db);
        // Another open while this one is running: no crash to see.
        assert!(!previous(&db).needs_check);
        drop(marker);
        assert!(!previous(&db).needs_check, "closed cleanly");

        // A process that died with the store open left its marker.
        std::fs::write(dir_of(&db).join(format!("{}-0", u32::MAX - 1)), b"").unwrap();
        let seen = previous(&db);
        assert!(seen.needs_check);
        seen.forget();
        assert!(!previous(&db).needs_check, "forgotten after the check");

        request_check(&db);
        assert!(previous(&db).needs_check, "an operation met damage");
    }
}
