//! Moves attachment chunks between this device and the bucket, through
//! the grant's presigned slot URLs only (no request to the service per
//! file). The store decides what to move (`cairn_core::blob::transfer`);
//! this performs it, holding the store's lock only to plan and to record,
//! never during a transfer.
//!
//! - Uploads go one slot at a time: the chunks a slot holds are read,
//!   sealed and sent as one PUT (at most about 32 MiB in memory, whatever
//!   the files' sizes). Only after storage accepted it are the chunks'
//!   locations recorded; a failed or interrupted PUT is simply packed and
//!   sent again next time.
//! - Downloads are Range GETs, [`DOWNLOADS_IN_FLIGHT`] at a time, each of
//!   a run of chunks that lie next to each other in one slot (up to
//!   [`RANGE_MAX`] bytes: many small files in one request, a large file in
//!   a few). A fetched range is opened and written by one of
//!   [`WRITES_IN_FLIGHT`] blocking tasks while the next GETs run: chunk by
//!   chunk, each checked, written and fsynced, the range's folders fsynced
//!   once at its end; only then are its chunks recorded as here, in one
//!   commit. So an interrupted download resumes with the chunks still
//!   missing, and a chunk recorded as here is on disk. A chunk that does
//!   not open is refused (never stored or shown) and its attachment says
//!   why.
//! - Garbage collection runs after: slots whose chunks no note needs any
//!   more, and that every peer has caught up on, are emptied.

use std::sync::{Arc, Mutex};

use cairn_core::blob::local_files::ChunkFiles;
use cairn_core::blob::transfer::{seal_slot, ChunkDownload};
use cairn_core::blob::BlobError;
use cairn_core::sync::{lock_store, SyncError, TransportError, TransportErrorKind};
use cairn_core::Store;
use cairn_protocol::Grant;
use tokio::task::JoinSet;

use crate::blob_progress::ProgressSender;
use crate::bucket::Bucket;

/// Range GETs in flight (or fetched, waiting for a writer) at once; the
/// network is seldom what a download waits for, so a few are enough.
pub const DOWNLOADS_IN_FLIGHT: usize = 3;
/// Fetched ranges being opened and written at once: one decrypts while
/// another waits for the disk to confirm its writes.
pub const WRITES_IN_FLIGHT: usize = 2;
/// The most bytes one Range GET asks for: one full chunk sealed (4 MiB and
/// its tags), or many small ones. Memory is about this times the GETs and
/// writes in flight, plus one chunk opened per write; larger ranges were
/// measured to add little speed and much memory (each writer's buffers).
pub const RANGE_MAX: u64 = cairn_core::blob::CHUNK_SIZE as u64 + 64 * 1024;

/// Adjacent chunks of one slot, fetched with one Range GET.
#[derive(Debug, Clone)]
pub(crate) struct RangeGet {
    pub(crate) chunks: Vec<ChunkDownload>,
}

impl RangeGet {
    pub(crate) fn offset(&self) -> u64 {
        self.chunks.first().map_or(0, |c| c.location.offset)
    }

    pub(crate) fn len(&self) -> u64 {
        self.chunks.iter().map(|c| c.location.len).sum()
    }
}

/// Groups `wanted` (sorted by device, slot and offset) into runs of
/// adjacent chunks of one slot generation, each at most `RANGE_MAX` bytes.
pub(crate) fn group(wanted: Vec<ChunkDownload>) -> Vec<RangeGet> {
    let mut out: Vec<RangeGet> = Vec::new();
    for c in wanted {
        if let Some(last) = out.last_mut() {
            if let Some(prev) = last.chunks.last() {
                let adjacent = prev.location.device == c.location.device
                    && prev.location.slot == c.location.slot
                    && prev.location.generation == c.location.generation
                    && prev.location.offset + prev.location.len == c.location.offset;
                if adjacent && last.len() + c.location.len <= RANGE_MAX {
                    last.chunks.push(c);
                    continue;
                }
            }
        }
        out.push(RangeGet { chunks: vec![c] });
    }
    out
}

/// What one pass moved, and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobReport {
    pub slots_uploaded: usize,
    pub bytes_up: u64,
    pub chunks_downloaded: usize,
    pub bytes_down: u64,
    pub requests: u64,
    pub slots_emptied: usize,
    /// Bytes still to move when the pass ended.
    pub bytes_remaining: u64,
    /// In words, one per failure.
    pub errors: Vec<String>,
    /// Whether a transfer failed because the grant no longer works.
    pub needs_sign_in: bool,
}

impl BlobReport {
    pub(crate) fn failed(&mut self, e: &TransportError) {
        if e.kind == TransportErrorKind::Unauthorized {
            self.needs_sign_in = true;
        }
        self.errors.push(e.to_string());
    }
}

/// What to download without being asked.
#[derive(Debug, Clone, Copy)]
pub struct BlobOptions {
    pub background_limit: u64,
}

impl Default for BlobOptions {
    fn default() -> Self {
        BlobOptions {
            background_limit: cairn_core::blob::transfer::DEFAULT_BACKGROUND_LIMIT,
        }
    }
}

/// A transfer task that panicked or was cancelled.
fn task_err(e: tokio::task::JoinError) -> SyncError {
    SyncError::Core(cairn_core::CoreError::Invalid {
        what: "attachment transfer",
        reason: e.to_string(),
    })
}

/// Uploads every chunk no device has uploaded yet. Run before a round's
/// publish, so the locations go out with it.
pub async fn upload(
    store: Arc<Mutex<Store>>,
    bucket: Bucket,
    grant: Arc<Grant>,
    progress: &ProgressSender,
    report: &mut BlobReport,
) -> Result<(), SyncError> {
    let me = grant.device_id.as_str().to_owned();
    loop {
        let planned = {
            let mut s = lock_store(&store)?;
            match s.plan_blob_upload() {
                Ok(p) => p.map(|p| (p, s.blob_keys(), s.chunk_files())),
                Err(e) => {
                    report.errors.push(e.to_string());
                    return Ok(());
                }
            }
        };
        let Some((plan, keys, files)) = planned else {
            return Ok(());
        };
        let sealing = plan.clone();
        let body = tokio::task::spawn_blocking(move || seal_slot(&keys, &files, &sealing))
            .await
            .map_err(task_err)?;
        let body = match body {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => {
                report.errors.push(e.to_string());
                return Ok(());
            }
        };
        let len = body.len() as u64;
        report.requests += 1;
        if let Err(e) = bucket.put_blob(&grant, plan.slot, body).await {
            report.failed(&e);
            return Ok(());
        }
        report.slots_uploaded += 1;
        report.bytes_up += len;
        lock_store(&store)?.record_blob_upload(&me, &plan)?;
        progress.moved(plan.chunks.iter().map(|(_, len)| u64::from(*len)).sum());
    }
}

/// Downloads the chunks this device wants (see `Store::wanted_chunks`),
/// then collects garbage.
pub async fn download_and_collect(
    store: Arc<Mutex<Store>>,
    bucket: Bucket,
    grant: Arc<Grant>,
    options: BlobOptions,
    progress: &ProgressSender,
    report: &mut BlobReport,
) -> Result<(), SyncError> {
    let (wanted, keys, files) = {
        let s = lock_store(&store)?;
        (
            s.wanted_chunks(options.background_limit)?,
            s.blob_keys(),
            s.chunk_files(),
        )
    };
    let mut queue = group(wanted).into_iter();
    let mut gets: JoinSet<(RangeGet, Result<bytes::Bytes, TransportError>)> = JoinSet::new();
    let mut stores: JoinSet<Result<Stored, SyncError>> = JoinSet::new();
    let start = |r: RangeGet, set: &mut JoinSet<_>| {
        let (bucket, grant) = (bucket.clone(), grant.clone());
        set.spawn(async move {
            let first = &r.chunks[0].location;
            let got = bucket
                .get_blob_range(&grant, &first.device, first.slot, r.offset(), r.len())
                .await;
            (r, got)
        });
    };
    for r in queue.by_ref().take(DOWNLOADS_IN_FLIGHT) {
        start(r, &mut gets);
    }
    // Two stages: GETs, and opening + writing what they fetched (CPU, then
    // the disk's fsyncs), each stage with a few in flight so the network,
    // the cores and the disk work at once. A fetched range waits for a
    // writer to be free, which bounds memory: DOWNLOADS_IN_FLIGHT ranges
    // fetched or fetching, WRITES_IN_FLIGHT being written.
    loop {
        tokio::select! {
            Some(done) = gets.join_next(), if stores.len() < WRITES_IN_FLIGHT => {
                let (range, got) = done.map_err(task_err)?;
                if let Some(next) = queue.next() {
                    start(next, &mut gets);
                }
                report.requests += 1;
                match got {
                    Ok(sealed) => {
                        report.bytes_down += sealed.len() as u64;
                        let (keys, files) = (keys.clone(), files.clone());
                        // Off the runtime's workers and off the store's lock.
                        stores.spawn_blocking(move || open_and_write(&keys, &files, &range, &sealed));
                    }
                    Err(e) => report.failed(&e),
                }
            }
            Some(done) = stores.join_next() => {
                let stored = done.map_err(task_err)??;
                record(&store, stored, progress, report)?;
            }
            else => break,
        }
    }
    collect(&store, &bucket, &grant, report).await?;
    report.bytes_remaining = lock_store(&store)?.blob_bytes_remaining(options.background_limit)?;
    Ok(())
}

/// What writing one fetched range came to: each chunk, and whether it
/// opened (and is now durable here) or was refused, with why.
type Stored = Vec<(ChunkDownload, Result<(), BlobError>)>;

/// Opens each chunk of a fetched range and writes those that open, one at
/// a time (a range's plaintext is never held whole), with their files
/// durable when this returns. A chunk that does not open is refused; one
/// that cannot be written fails the pass.
fn open_and_write(
    keys: &cairn_core::blob::BlobKeys,
    files: &ChunkFiles,
    range: &RangeGet,
    sealed: &[u8],
) -> Result<Stored, SyncError> {
    let base = range.offset();
    let mut batch = files.batch();
    let mut out = Vec::with_capacity(range.chunks.len());
    for c in &range.chunks {
        let at = (c.location.offset - base) as usize;
        let part = &sealed[at..at + c.location.len as usize];
        match c.open(keys, part) {
            Ok(plain) => {
                batch
                    .write(&c.id, &plain)
                    .map_err(|e| SyncError::Core(e.into()))?;
                out.push((c.clone(), Ok(())));
            }
            Err(e) => out.push((c.clone(), Err(e))),
        }
    }
    batch.finish().map_err(|e| SyncError::Core(e.into()))?;
    Ok(out)
}

/// Records a written range: its chunks as here, in one commit, and why
/// any was refused, for its attachment's placeholder.
fn record(
    store: &Arc<Mutex<Store>>,
    stored: Stored,
    progress: &ProgressSender,
    report: &mut BlobReport,
) -> Result<(), SyncError> {
    let here: Vec<_> = stored
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(c, _)| (c.id, c.len))
        .collect();
    let mut s = lock_store(store)?;
    s.record_downloaded_chunks(&here)?;
    report.chunks_downloaded += here.len();
    progress.moved(here.iter().map(|(_, len)| u64::from(*len)).sum());
    for (chunk, result) in stored {
        if let Err(e) = result {
            let text = e.to_string();
            s.set_chunk_error(&chunk.id, &text)?;
            report.errors.push(format!(
                "an attachment from device {} was refused: {text}",
                chunk.location.device
            ));
        }
    }
    Ok(())
}

async fn collect(
    store: &Arc<Mutex<Store>>,
    bucket: &Bucket,
    grant: &Arc<Grant>,
    report: &mut BlobReport,
) -> Result<(), SyncError> {
    let collected = lock_store(store)?.collect_blobs(grant.device_id.as_str())?;
    for slot in collected.slots_to_empty {
        report.requests += 1;
        match bucket.put_blob(grant, slot, bytes::Bytes::new()).await {
            Ok(()) => {
                lock_store(store)?.record_slot_emptied(slot)?;
                report.slots_emptied += 1;
            }
            Err(e) => report.failed(&e),
        }
    }
    Ok(())
}
