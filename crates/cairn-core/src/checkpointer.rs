//! Copies the write-ahead log into the database file on a thread of its
//! own, so that no keystroke waits for it.
//!
//! By default SQLite checkpoints on the connection that commits, once the
//! log holds 1,000 pages: with `synchronous=FULL` that copies about 4 MB
//! and syncs the database file inside one edit's commit. An edit of a
//! large note writes about thirty pages, so every thirtieth keystroke
//! paid it: 2 to 3 ms in the steady state, and 60 to 100 ms for the first
//! one after a bulk write (measured with `cairn bench local` and the
//! edit-to-peer samples of `cairn bench sync`).
//!
//! Here the store's own connection only checkpoints as a backstop, when
//! the log is far larger ([`BACKSTOP_PAGES`]), and this thread runs
//! passive checkpoints from a second connection: after writes, once they
//! pause or at least every [`BURST_MAX`] while they go on. A passive
//! checkpoint never blocks the writer, which goes on appending to the log
//! meanwhile; SQLite starts the log over at the next write once all of it
//! is in the database file.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// The store's connection checkpoints by itself only past this many log
/// pages (about 40 MB): when this thread cannot (a reader holds old
/// pages) or a bulk write outruns it.
pub(crate) const BACKSTOP_PAGES: i64 = 10_000;

/// Writes this close together are one burst: typing, a sync round.
const PAUSE: Duration = Duration::from_millis(250);

/// The longest a burst of writes goes without a checkpoint.
const BURST_MAX: Duration = Duration::from_secs(2);

/// How often the log is looked at with no write announced: another
/// process (the CLI beside the app) may write the same database.
const IDLE_LOOK: Duration = Duration::from_secs(30);

pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// The store's durability (`Store::set_durable`), which this thread's
    /// checkpoints follow: during a bulk write without fsync, copying the
    /// log into the database file syncs nothing either (the write's last
    /// `Store::checkpoint` makes it durable).
    durable: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`, or None (with a
    /// warning) when that connection cannot be made: the backstop then
    /// does the work, as SQLite would by default.
    pub(crate) fn start(path: &Path, durable: bool) -> Option<Checkpointer> {
        let conn = match Connection::open(path).and_then(|c| {
            c.busy_timeout(Duration::from_secs(5))?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "warning: no background checkpoints for {}: {e}",
                    path.display()
                );
                return None;
            }
        };
        // One wake pending is enough: it means "there were writes".
        let (wake, woken) = mpsc::sync_channel(1);
        let durable = Arc::new(AtomicBool::new(durable));
        let follows = durable.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-checkpoint".into())
            .spawn(move || run(&conn, &woken, &follows));
        match thread {
            Ok(thread) => Some(Checkpointer {
                wake: Some(wake),
                thread: Some(thread),
                durable,
            }),
            Err(e) => {
                eprintln!("warning: no background checkpoints: {e}");
                None
            }
        }
    }

    /// Sets whether the thread's checkpoints sync the database file.
    pub(crate) fn set_durable(&self, durable: bool) {
        self.durable.store(durable, Ordering::Relaxed);
    }

    /// Tells the thread that a write was committed. Never waits.
    pub(crate) fn wrote(&self) {
        if let Some(wake) = &self.wake {
            // Full: a wake is pending already. Disconnected: the thread
            // ended after an error it reported; the backstop remains.
            if wake.try_send(()).is_err() {}
        }
    }
}

impl Drop for Checkpointer {
    /// Ends the thread and waits for it, so its connection is closed
    /// before the store's: the last connection to close folds the log
    /// into the database and removes it.
    fn drop(&mut self) {
        self.wake.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                eprintln!("warning: the checkpoint thread panicked");
            }
        }
    }
}

fn run(conn: &Connection, woken: &Receiver<()>, durable: &AtomicBool) {
    let mut synced: Option<bool> = None;
    loop {
        match woken.recv_timeout(IDLE_LOOK) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Wait for the burst to pause, or for its time to run out.
        let started = Instant::now();
        let mut ending = false;
        while started.elapsed() < BURST_MAX {
            match woken.recv_timeout(PAUSE) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    ending = true;
                    break;
                }
            }
        }
        let now = durable.load(Ordering::Relaxed);
        if synced != Some(now) {
            let level = if now { "FULL" } else { "OFF" };
            match conn.pragma_update(None, "synchronous", level) {
                Ok(()) => synced = Some(now),
                Err(e) => eprintln!("warning: the checkpoint thread kept its durability: {e}"),
            }
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            eprintln!("warning: a background checkpoint failed: {e}");
        }
        if ending {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes on one connection, which never checkpoints, reach the
    /// database file itself: only the thread can have copied them there.
    #[test]
    fn the_log_is_copied_into_the_database_after_writes_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.execute_batch("CREATE TABLE t(x)").unwrap();
        let cp = Checkpointer::start(&path, true).unwrap();
        for _ in 0..50 {
            writer
                .execute("INSERT INTO t VALUES (randomblob(4000))", [])
                .unwrap();
            cp.wrote();
        }
        // Fifty rows of 4,000 bytes: about 200 KB once in the file.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let len = std::fs::metadata(&path).unwrap().len();
            if len >= 50 * 4000 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the database file is {len} bytes"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(cp);
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 50);
    }
}
