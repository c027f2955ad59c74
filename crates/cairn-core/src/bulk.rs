//! The one path for writing many new documents at once: an import from
//! disk (`Store::create_notes`) and a first sync from a peer
//! (`Store::merge_batch`) both make or load documents on worker threads
//! while the calling thread writes the ones already done into SQLite, in
//! order, inside one transaction.
//!
//! Worker `w` takes every `workers`-th item and sends its results down a
//! channel of its own, so the writer reads item `k` from channel
//! `k % workers`: results arrive in item order without being collected
//! or sorted, and each channel is bounded, so however many notes there
//! are, only a few per worker wait in memory for the writer.

use std::sync::mpsc::{self, Receiver};

use crate::error::{CoreError, Result};

/// Results a worker may have ready before the writer takes them.
const AHEAD: usize = 32;

/// The workers' results, handed out in item order.
pub(crate) struct Results<T> {
    channels: Vec<Receiver<Result<T>>>,
    taken: usize,
}

impl<T> Results<T> {
    /// The next item's result, waiting for it if needed.
    pub(crate) fn next(&mut self) -> Result<T> {
        let n = self.channels.len();
        let Some(channel) = self.channels.get(self.taken % n.max(1)) else {
            return Err(stopped());
        };
        self.taken += 1;
        channel.recv().unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> CoreError {
    CoreError::Invalid {
        what: "bulk write",
        reason: "a worker making documents stopped".into(),
    }
}

/// How many worker threads make documents: one per core, as the writer
/// mostly waits on SQLite's own work between them.
pub(crate) fn workers(items: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
        .min(items.max(1))
}

/// Runs `make` over `items` on worker threads and lets `write` take the
/// results in order on this thread. When `write` returns (done or
/// failed), the workers stop at their next result.
pub(crate) fn pipeline<I, T, R>(
    items: &[I],
    make: impl Fn(&I) -> Result<T> + Sync,
    write: impl FnOnce(&mut Results<T>) -> R,
) -> R
where
    I: Sync,
    T: Send,
{
    if items.is_empty() {
        // Nothing to make (a merge of notes this device has): no threads.
        return write(&mut Results {
            channels: Vec::new(),
            taken: 0,
        });
    }
    let workers = workers(items.len());
    std::thread::scope(|scope| {
        let mut channels = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = mpsc::sync_channel(AHEAD);
            channels.push(rx);
            let make = &make;
            scope.spawn(move || {
                for item in items.iter().skip(w).step_by(workers) {
                    if tx.send(make(item)).is_err() {
                        break; // the writer is done: stop making
                    }
                }
            });
        }
        let mut results = Results { channels, taken: 0 };
        let out = write(&mut results);
        // Dropping the receivers ends the workers' loops before the scope
        // waits for them.
        drop(results);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_item_order() {
        let items: Vec<usize> = (0..1000).collect();
        let got = pipeline(
            &items,
            |i| Ok(i * 2),
            |r| {
                (0..items.len())
                    .map(|_| r.next())
                    .collect::<Result<Vec<_>>>()
            },
        )
        .unwrap();
        assert_eq!(got, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_writer_that_stops_early_stops_the_workers() {
        let items: Vec<usize> = (0..10_000).collect();
        let made = std::sync::atomic::AtomicUsize::new(0);
        let first = pipeline(
            &items,
            |i| {
                made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(*i)
            },
            |r| r.next(),
        )
        .unwrap();
        assert_eq!(first, 0);
        // Each worker can run at most its channel's bound (and one more)
        // ahead of a writer that took one result.
        let bound = workers(items.len()) * (AHEAD + 2);
        assert!(made.load(std::sync::atomic::Ordering::Relaxed) <= bound);
    }

    #[test]
    fn an_error_is_handed_out_in_its_place() {
        let items: Vec<usize> = (0..10).collect();
        let got: Vec<bool> = pipeline(
            &items,
            |i| {
                if *i == 4 {
                    Err(stopped())
                } else {
                    Ok(*i)
                }
            },
            |r| (0..10).map(|_| r.next().is_ok()).collect(),
        );
        assert_eq!(got.iter().filter(|ok| !**ok).count(), 1);
        assert!(!got[4]);
    }
}
