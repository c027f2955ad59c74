//! The one clock every part reads: the core (edit times, sync
//! bookkeeping), the client (token and grant freshness), the service
//! (session expiry, rate limits, grant issue time) and the embedded S3
//! server (presigned URL expiry). Time is injected so tests move it
//! instead of sleeping.
//!
//! - [`SystemClock`]: the wall clock.
//! - [`ManualClock`] (feature `test-support`): moves only when told to,
//!   and wakes whoever waits on it ([`sleep_until`]) when it does.
//! - [`FileClock`]: reads the time from a file that a test advances, for
//!   the `cairn` processes a scenario test starts (they cannot share a
//!   [`ManualClock`] in memory). Only used when `CAIRN_CLOCK_FILE` is
//!   set; see `cairn_client::clock_from_env`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Seconds since the Unix epoch.
    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// For a clock moved by hand: a receiver that sees every move, so a
    /// timer waiting on this clock re-checks at once. The wall clock has
    /// none; real timers are enough for it.
    fn moves(&self) -> Option<watch::Receiver<i64>> {
        None
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            // A clock set before 1970 is broken; treat it as the epoch.
            Err(_) => 0,
        }
    }
}

/// Waits until `clock` reads `at_ms` or later. Against the wall clock
/// this is one timer; against a [`ManualClock`] it also wakes when the
/// clock is moved, so a test that jumps time sees the deadline pass at
/// once, and a clock that stands still never reaches it.
pub async fn sleep_until(clock: &dyn Clock, at_ms: i64) {
    let mut moves = clock.moves();
    loop {
        let left = at_ms.saturating_sub(clock.now_ms());
        if left <= 0 {
            return;
        }
        let timer = tokio::time::sleep(Duration::from_millis(left.unsigned_abs()));
        let Some(receiver) = moves.as_mut() else {
            timer.await;
            continue;
        };
        tokio::select! {
            () = timer => {}
            changed = receiver.changed() => {
                if changed.is_err() {
                    // Nothing can move the clock any more: timers alone
                    // from here on.
                    moves = None;
                }
            }
        }
    }
}

/// A clock that only moves when told to. Clones share one time.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Clone)]
pub struct ManualClock(std::sync::Arc<watch::Sender<i64>>);

#[cfg(any(test, feature = "test-support"))]
impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        ManualClock(std::sync::Arc::new(watch::Sender::new(now_ms)))
    }

    /// Starts at the real current time.
    pub fn starting_now() -> Self {
        ManualClock::new(SystemClock.now_ms())
    }

    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.send_modify(|t| *t = t.saturating_add(by));
    }

    pub fn set_ms(&self, now_ms: i64) {
        self.0.send_replace(now_ms);
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.0.borrow()
    }

    fn moves(&self) -> Option<watch::Receiver<i64>> {
        Some(self.0.subscribe())
    }
}

/// The time written in a file (milliseconds since the epoch, as decimal
/// text), read afresh at every call. A scenario test keeps its service on
/// a [`ManualClock`] and writes that clock's time here each time it moves
/// it, so the `cairn` processes it starts judge tokens and grants by the
/// same time as the service and storage.
///
/// When the file cannot be read or holds no number the wall clock
/// answers, with one warning on stderr: a clock has no way to fail.
#[derive(Debug, Clone)]
pub struct FileClock {
    path: PathBuf,
}

impl FileClock {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileClock { path: path.into() }
    }

    /// Writes `now_ms` for every [`FileClock`] on `path` to read; replaced
    /// whole (write then rename), so a reader never sees half a number.
    pub fn write(path: &std::path::Path, now_ms: i64) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, now_ms.to_string())?;
        std::fs::rename(&tmp, path)
    }

    fn read(&self) -> Option<i64> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }
}

impl Clock for FileClock {
    fn now_ms(&self) -> i64 {
        match self.read() {
            Some(ms) => ms,
            None => {
                static WARNED: OnceLock<()> = OnceLock::new();
                if WARNED.set(()).is_ok() {
                    eprintln!(
                        "warning: the clock file {} holds no time; using the system clock",
                        self.path.display()
                    );
                }
                SystemClock.now_ms()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_secs(), 1);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now_ms(), 3_000);
        let shared = c.clone();
        shared.set_ms(10_000);
        assert_eq!(c.now_ms(), 10_000);
    }

    #[test]
    fn file_clock_reads_what_was_written_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clock");
        let clock = FileClock::new(&path);
        FileClock::write(&path, 42_000).expect("write");
        assert_eq!(clock.now_secs(), 42);
        FileClock::write(&path, 99_000).expect("write");
        assert_eq!(clock.now_ms(), 99_000);
    }

    #[test]
    fn file_clock_without_a_file_is_the_wall_clock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = FileClock::new(dir.path().join("missing"));
        let before = SystemClock.now_ms();
        let read = clock.now_ms();
        assert!(read >= before && read <= SystemClock.now_ms(), "{read}");
    }

    #[tokio::test]
    async fn a_sleeper_wakes_when_the_manual_clock_passes_its_deadline() {
        let hour = Duration::from_secs(3600);
        let clock = ManualClock::new(0);
        let waiting = clock.clone();
        let (woke, mut woken) = watch::channel(false);
        let sleeper = tokio::spawn(async move {
            sleep_until(&waiting, 3_600_000).await;
            woke.send_replace(true);
        });
        // A move short of the deadline wakes it only to wait again.
        clock.advance(hour / 2);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!*woken.borrow());
        clock.advance(hour / 2);
        // Only the move can end an hour's wait within this bound.
        tokio::time::timeout(Duration::from_secs(10), woken.wait_for(|w| *w))
            .await
            .expect("woken by the move, not by an hour's timer")
            .expect("sleeper alive");
        sleeper.await.expect("sleeper ran");
    }
}
