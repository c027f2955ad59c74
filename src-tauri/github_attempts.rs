//! The GitHub sign-in under way, if any: which attempt it is, the loopback
//! port its listener holds, and the page the user is to open.
//!
//! Attempts are told apart by a number, not by their port: a port can be
//! reused once its listener has stopped, and an attempt that ended must not
//! stop someone else's listener, nor clear a newer attempt's record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct GithubAttempts {
    next: AtomicU64,
    pending: Mutex<Option<Pending>>,
}

struct Pending {
    id: u64,
    port: u16,
    authorize_url: Option<String>,
}

impl GithubAttempts {
    /// Records a new attempt listening on `port`. Returns its number, and
    /// the port of the attempt it replaces, for the caller to stop.
    pub fn begin(&self, port: u16) -> (u64, Option<u16>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let earlier = self.with(|p| {
            p.replace(Pending {
                id,
                port,
                authorize_url: None,
            })
        });
        (id, earlier.map(|e| e.port))
    }

    /// Keeps the page attempt `id` asks the user to open. False when the
    /// attempt was cancelled (or replaced) meanwhile.
    pub fn show(&self, id: u64, authorize_url: &str) -> bool {
        self.with(|p| match p {
            Some(pending) if pending.id == id => {
                pending.authorize_url = Some(authorize_url.to_owned());
                true
            }
            _ => false,
        })
    }

    /// Forgets attempt `id` if it is still the one under way.
    pub fn end(&self, id: u64) {
        self.with(|p| {
            if p.as_ref().is_some_and(|pending| pending.id == id) {
                *p = None;
            }
        });
    }

    /// Ends the attempt under way; returns its port, for the caller to stop.
    pub fn cancel(&self) -> Option<u16> {
        self.with(|p| p.take().map(|pending| pending.port))
    }

    /// The page the attempt under way asks the user to open.
    pub fn authorize_url(&self) -> Option<String> {
        self.with(|p| p.as_ref().and_then(|pending| pending.authorize_url.clone()))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Option<Pending>) -> T) -> T {
        // A poisoned lock only means a panic elsewhere; the record is plain
        // data and still right.
        let mut guard = match self.pending.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_attempt_does_not_touch_a_newer_one() {
        let a = GithubAttempts::default();
        let (first, none) = a.begin(4000);
        assert_eq!(none, None);
        let (second, earlier) = a.begin(4001);
        assert_eq!(earlier, Some(4000));
        assert!(!a.show(first, "http://first"), "the first was replaced");
        assert!(a.show(second, "http://second"));
        a.end(first);
        assert_eq!(a.authorize_url().as_deref(), Some("http://second"));
        assert_eq!(a.cancel(), Some(4001));
        assert!(!a.show(second, "http://second"), "cancelled");
        assert_eq!(a.cancel(), None);
    }
}
