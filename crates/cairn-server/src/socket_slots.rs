//! How many event sockets may be open at once: a few per session (an app
//! reconnecting before the service noticed its old socket die needs more
//! than one) and more per user (one per device). Opening one more than a
//! cap allows closes the oldest socket under that cap, so a client that
//! reconnects is never locked out by its own dead sockets, while one
//! token can no longer hold hundreds of sockets open.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cairn_protocol::UserId;
use tokio::sync::oneshot;

/// Sockets one session may keep open.
pub const MAX_SOCKETS_PER_SESSION: usize = 4;
/// Sockets one user may keep open, over all their sessions.
pub const MAX_SOCKETS_PER_USER: usize = 32;

struct Slot {
    id: u64,
    session_id: i64,
    /// Tells the socket it was pushed out by a newer one.
    evict: oneshot::Sender<()>,
}

#[derive(Default)]
pub struct SocketSlots {
    /// Each user's open sockets, oldest first.
    open: Mutex<HashMap<UserId, Vec<Slot>>>,
    next_id: AtomicU64,
}

/// A socket's place under the caps; dropping it frees the place.
pub struct SocketSlot {
    slots: Arc<SocketSlots>,
    user: UserId,
    id: u64,
    /// Fires when a newer socket took this one's place.
    pub evicted: oneshot::Receiver<()>,
}

impl SocketSlots {
    /// A place for a new socket of `session_id`, closing the oldest socket
    /// of the session, then of the user, that a cap leaves no room for.
    pub fn acquire(self: &Arc<Self>, user: &UserId, session_id: i64) -> SocketSlot {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (evict, evicted) = oneshot::channel();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let sockets = open.entry(user.clone()).or_default();
        let of_session = sockets
            .iter()
            .filter(|s| s.session_id == session_id)
            .count();
        if of_session >= MAX_SOCKETS_PER_SESSION {
            if let Some(oldest) = sockets.iter().position(|s| s.session_id == session_id) {
                evict_at(sockets, oldest);
            }
        }
        if sockets.len() >= MAX_SOCKETS_PER_USER {
            evict_at(sockets, 0);
        }
        sockets.push(Slot {
            id,
            session_id,
            evict,
        });
        SocketSlot {
            slots: Arc::clone(self),
            user: user.clone(),
            id,
            evicted,
        }
    }
}

fn evict_at(sockets: &mut Vec<Slot>, index: usize) {
    let slot = sockets.remove(index);
    // A socket that already ended dropped its receiver: nothing to tell.
    if slot.evict.send(()).is_err() {
        tracing::debug!(slot = slot.id, "evicted socket had already ended");
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sockets) = open.get_mut(&self.user) {
            sockets.retain(|s| s.id != self.id);
            if sockets.is_empty() {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u8) -> UserId {
        UserId::new("key", &format!("{n:016}")).expect("user")
    }

    #[test]
    fn the_oldest_of_a_full_session_goes_first() {
        let slots = Arc::new(SocketSlots::default());
        let mut held: Vec<_> = (0..MAX_SOCKETS_PER_SESSION)
            .map(|_| slots.acquire(&user(1), 7))
            .collect();
        let other_session = slots.acquire(&user(1), 8);
        let newest = slots.acquire(&user(1), 7);
        assert!(held[0].evicted.try_recv().is_ok(), "oldest evicted");
        for slot in &mut held[1..] {
            assert!(slot.evicted.try_recv().is_err(), "younger ones stay");
        }
        let mut other_session = other_session;
        let mut newest = newest;
        assert!(other_session.evicted.try_recv().is_err());
        assert!(newest.evicted.try_recv().is_err());
    }

    #[test]
    fn a_full_user_loses_its_oldest_socket_whatever_the_session() {
        let slots = Arc::new(SocketSlots::default());
        let mut held: Vec<_> = (0..MAX_SOCKETS_PER_USER)
            .map(|i| slots.acquire(&user(1), i as i64))
            .collect();
        let mut stranger = slots.acquire(&user(2), 0);
        let _newest = slots.acquire(&user(1), 1_000);
        assert!(held[0].evicted.try_recv().is_ok());
        assert!(held[1].evicted.try_recv().is_err());
        assert!(
            stranger.evicted.try_recv().is_err(),
            "other users unaffected"
        );
    }

    #[test]
    fn a_closed_socket_frees_its_place() {
        let slots = Arc::new(SocketSlots::default());
        let first = slots.acquire(&user(1), 7);
        drop(first);
        let mut held: Vec<_> = (0..MAX_SOCKETS_PER_SESSION)
            .map(|_| slots.acquire(&user(1), 7))
            .collect();
        for slot in &mut held {
            assert!(slot.evicted.try_recv().is_err());
        }
        drop(held);
        let open = slots.open.lock().expect("lock");
        assert!(open.is_empty(), "no entry left for an idle user");
    }
}
