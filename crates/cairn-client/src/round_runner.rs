//! Runs the core's sync engine over HTTP: the engine decides, this
//! performs. Bucket requests run as tasks on the runtime, all peers' at
//! once (up to [`MAX_IN_FLIGHT`]); local effects run one at a time, in the
//! order the engine gave them, on the thread that drives the round.
//!
//! The driver is a blocking thread because local effects hold the store's
//! lock and may take long (merging a first sync's snapshot), and because
//! opening a large object (hash, decrypt, decode) is the engine's work and
//! should not stall the runtime's workers.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cairn_core::error::CoreError;
use cairn_core::sync::opener::SpaceSync;
use cairn_core::sync::{
    begin_round, lock_store, BucketRequest, Effect, Event, LocalEffect, Round, RoundReport,
    SyncError,
};
use cairn_core::Store;
use cairn_protocol::{DeviceKey, Grant, SpaceGrant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::bucket::{Bucket, ObjectGrant};

/// Requests in flight at once, over all peers. Enough to keep a first sync
/// of many segments busy without opening a connection per object.
pub const MAX_IN_FLIGHT: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("the sync task stopped unexpectedly: {0}")]
    Task(String),
}

async fn perform<G: ObjectGrant + 'static>(
    bucket: Bucket,
    grant: Arc<G>,
    request: BucketRequest,
    spill: Option<Arc<PathBuf>>,
) -> Event {
    match request {
        BucketRequest::Put { request, key, body } => Event::PutDone {
            request,
            result: bucket.put(&*grant, key, body).await,
        },
        // A snapshot of the personal stream goes to a file beside the
        // store, not into memory.
        BucketRequest::Get {
            request,
            device,
            key: key @ DeviceKey::Snapshot(_),
            if_none_match: _,
        } if spill.is_some() => {
            let dir = spill
                .as_deref()
                .map_or(std::path::Path::new("."), |d| d.as_path());
            Event::GetDone {
                request,
                result: bucket.get_spilled(&*grant, &device, key, dir).await,
            }
        }
        BucketRequest::Get {
            request,
            device,
            key,
            if_none_match,
        } => Event::GetDone {
            request,
            result: bucket
                .get(&*grant, &device, key, if_none_match.as_deref())
                .await,
        },
    }
}

/// One round for `me`, reading the peers the grant lists.
///
/// `read`: the peers to read, or `None` for every peer in the grant (see
/// `Round::read_only`).
pub async fn run_round(
    store: Arc<Mutex<Store>>,
    bucket: Bucket,
    grant: Arc<Grant>,
    read: Option<Vec<String>>,
) -> Result<RoundReport, RunnerError> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let me = grant.device_id.as_str().to_owned();
        let peers: Vec<String> = grant
            .peers
            .iter()
            .map(|p| p.device_id.as_str().to_owned())
            .collect();
        let (mut round, spill) = {
            let s = lock_store(&store)?;
            let dir = s.path().parent().map(|p| match p.as_os_str().is_empty() {
                true => Arc::new(PathBuf::from(".")),
                false => Arc::new(p.to_path_buf()),
            });
            (begin_round(&s, &me, &peers)?, dir)
        };
        if let Some(read) = read {
            round = round.read_only(&read);
        }
        drive(
            &runtime,
            &store,
            &bucket,
            &grant,
            round,
            spill,
            |s, effect| s.perform_local(&me, effect),
        )
    })
    .await
    .map_err(|e| RunnerError::Task(e.to_string()))?
}

/// One round of a shared space's stream, through its space grant; `sync`
/// says which peers count and holds the keys.
pub async fn run_space_round(
    store: Arc<Mutex<Store>>,
    bucket: Bucket,
    grant: Arc<SpaceGrant>,
    sync: SpaceSync,
) -> Result<RoundReport, RunnerError> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let round = lock_store(&store)?
            .begin_space_round(&sync)
            .map_err(SyncError::from)?;
        drive(
            &runtime,
            &store,
            &bucket,
            &grant,
            round,
            None,
            |s, effect| s.perform_space_local(&sync, effect),
        )
    })
    .await
    .map_err(|e| RunnerError::Task(e.to_string()))?
}

fn drive<G: ObjectGrant + 'static>(
    runtime: &tokio::runtime::Handle,
    store: &Mutex<Store>,
    bucket: &Bucket,
    grant: &Arc<G>,
    mut round: Round,
    spill: Option<Arc<PathBuf>>,
    mut perform_local: impl FnMut(&mut Store, LocalEffect) -> Result<Option<Event>, CoreError>,
) -> Result<RoundReport, RunnerError> {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut in_flight: JoinSet<Event> = JoinSet::new();
    let mut local: VecDeque<LocalEffect> = VecDeque::new();
    let dispatch = |effects: Vec<Effect>,
                    local: &mut VecDeque<LocalEffect>,
                    in_flight: &mut JoinSet<Event>| {
        for effect in effects {
            match effect {
                Effect::Local(l) => local.push_back(l),
                Effect::Bucket(request) => {
                    let (bucket, grant, permits) = (bucket.clone(), grant.clone(), permits.clone());
                    let spill = spill.clone();
                    in_flight.spawn_on(
                        async move {
                            // The semaphore is never closed, so a permit
                            // always comes.
                            let _permit = permits.acquire_owned().await;
                            perform(bucket, grant, request, spill).await
                        },
                        runtime,
                    );
                }
            }
        }
    };
    dispatch(round.start(), &mut local, &mut in_flight);
    loop {
        if let Some(effect) = local.pop_front() {
            let event = {
                let mut s = lock_store(store)?;
                perform_local(&mut s, effect).map_err(SyncError::from)?
            };
            if let Some(event) = event {
                dispatch(round.handle(event), &mut local, &mut in_flight);
            }
            continue;
        }
        match runtime.block_on(in_flight.join_next()) {
            Some(Ok(event)) => dispatch(round.handle(event), &mut local, &mut in_flight),
            Some(Err(e)) => return Err(RunnerError::Task(e.to_string())),
            None => break,
        }
    }
    Ok(round.finish())
}
