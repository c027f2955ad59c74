//! Damage as a failing disk or an interrupted copy leaves it, for the tests
//! of noticing and repairing a damaged store (here and in the CLI's and the
//! app's tests). Behind `test-support`: nothing ships that breaks a store.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Flips the type byte of the first page of `table` in the closed database
/// `db` (after folding its WAL in), so SQLite finds no b-tree there.
pub fn flip_page_of(db: &Path, table: &str) -> Result<(), String> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    let page: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = ?1",
            [table],
            |r| r.get(0),
        )
        .map_err(|e| format!("no table {table}: {e}"))?;
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(|e| e.to_string())?;
    drop(conn);
    let io = |e: std::io::Error| format!("{}: {e}", db.display());
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(db)
        .map_err(io)?;
    // Byte 0 of a b-tree page is its type (2, 5, 10 or 13); 0xFF is none.
    let offset = ((page - 1) * page_size) as u64;
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut kind = [0u8];
    file.read_exact(&mut kind).map_err(io)?;
    if !matches!(kind[0], 2 | 5 | 10 | 13) {
        return Err(format!(
            "page {page} of {table} is no b-tree page: {kind:?}"
        ));
    }
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    file.write_all(&[0xFF]).map_err(io)?;
    file.sync_all().map_err(io)
}

/// What a process killed with the store in `dir` open leaves behind: its
/// open marker (see `open_marker`), naming a process that no longer runs.
pub fn leave_crash_marker(dir: &Path) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let mut child = std::process::Command::new("true").spawn().map_err(io)?;
    let pid = child.id();
    child.wait().map_err(io)?;
    let markers = dir.join(format!("{}.open", crate::store::DB_FILE));
    std::fs::create_dir_all(&markers).map_err(io)?;
    std::fs::write(markers.join(format!("{pid}-0")), b"").map_err(io)
}

/// Whether a repair of the store in `dir` kept the damaged file beside the
/// repaired one (`cairn.db.damaged-<time>`).
pub fn damaged_copy_kept(dir: &Path) -> bool {
    let prefix = format!("{}.damaged-", crate::store::DB_FILE);
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
    })
}
