//! The blocking runner: drives a [`Round`] over a synchronous
//! [`Transport`], one request at a time. For tests, examples and tools;
//! the app and the CLI use the client crate's runner, which performs
//! requests concurrently.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use crate::error::CoreError;
use crate::store::Store;
use crate::sync::effect::{BucketRequest, Effect, Event, LocalEffect};
use crate::sync::engine::Round;
use crate::sync::outcome::RoundReport;
use crate::sync::transport::Transport;

/// Why a round could not run at all. Failures of its parts (the publish,
/// one peer) are not errors: they are in the [`RoundReport`].
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("the local store is unavailable (a previous operation panicked)")]
    Poisoned,
}

/// The store behind its mutex, or `Poisoned` if an earlier holder panicked.
pub fn lock_store(store: &Mutex<Store>) -> Result<MutexGuard<'_, Store>, SyncError> {
    store.lock().map_err(|_| SyncError::Poisoned)
}

/// Creates the round for `peers` from what the store knows.
pub fn begin_round(store: &Store, me: &str, peers: &[String]) -> Result<Round, SyncError> {
    let states = peers
        .iter()
        .map(|p| store.peer_state(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Round::personal(me, states, store.personal_keys()))
}

/// One bucket request against a synchronous transport.
pub fn perform_request(t: &mut dyn Transport, request: BucketRequest) -> Event {
    match request {
        BucketRequest::Put { request, key, body } => Event::PutDone {
            request,
            result: t.put(key, body),
        },
        BucketRequest::Get {
            request,
            device,
            key,
            if_none_match,
        } => Event::GetDone {
            request,
            result: t.get(&device, key, if_none_match.as_deref()),
        },
    }
}

/// A full round: publish, read every peer, acknowledge. The store is
/// locked only for local effects, never during a transfer.
pub fn run_round(
    store: &Mutex<Store>,
    t: &mut dyn Transport,
    me: &str,
    peers: &[String],
) -> Result<RoundReport, SyncError> {
    run_round_reading(store, t, me, peers, peers)
}

/// A round that reads only the peers in `read` (see [`Round::read_only`]).
pub fn run_round_reading(
    store: &Mutex<Store>,
    t: &mut dyn Transport,
    me: &str,
    peers: &[String],
    read: &[String],
) -> Result<RoundReport, SyncError> {
    let round = begin_round(&*lock_store(store)?, me, peers)?.read_only(read);
    drive(round, store, t, |s, local| s.perform_local(me, local))
}

/// Drives `round` to its end: bucket requests one at a time over `t`,
/// local effects with `perform_local` (the personal stream's or a
/// space's), the store locked only for those.
pub(crate) fn drive(
    mut round: Round,
    store: &Mutex<Store>,
    t: &mut dyn Transport,
    mut perform_local: impl FnMut(&mut Store, LocalEffect) -> Result<Option<Event>, CoreError>,
) -> Result<RoundReport, SyncError> {
    let mut queue: VecDeque<Effect> = round.start().into();
    while let Some(effect) = queue.pop_front() {
        let event = match effect {
            Effect::Bucket(request) => Some(perform_request(t, request)),
            Effect::Local(local) => perform_local(&mut *lock_store(store)?, local)?,
        };
        if let Some(event) = event {
            queue.extend(round.handle(event));
        }
    }
    Ok(round.finish())
}
