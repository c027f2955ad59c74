//! Moves a shared space's attachment chunks between this device and the
//! space's slots in the bucket, through the space's grant only
//! (docs/sharing.md, "Attachments in a space"). The store decides what to
//! move (`cairn_core::space::blob_store`); this performs it, holding the
//! store's lock only to plan and to record.
//!
//! - [`upload`] runs before the space's round publishes: the chunks that
//!   the space's notes name and its index lacks are sealed with the
//!   space's keys, one slot per PUT, and only once storage took a slot are
//!   its locations recorded in the space's index, which the round then
//!   publishes with the notes that name them. A failed PUT records
//!   nothing; the next round packs the same chunks again.
//! - [`download`] runs after the round merged the members' changes: the
//!   chunks the space's index locates that this device wants are fetched
//!   with Range GETs (adjacent chunks of one slot in one request), each
//!   opened under the space's keys, and recorded as here only once its
//!   file is durable. A chunk that does not open (altered, or copied from
//!   another space or epoch) is refused, never stored, and its attachment
//!   says why.

use std::sync::{Arc, Mutex};

use cairn_core::blob::local_files::ChunkFiles;
use cairn_core::blob::BlobError;
use cairn_core::space::blob_keys::SpaceBlobKeys;
use cairn_core::space::blob_store::{
    chunk_digest, open_space_chunk, seal_space_slot, space_blob_keys,
};
use cairn_core::sync::opener::SpaceSync;
use cairn_core::sync::{lock_store, SyncError};
use cairn_core::Store;
use cairn_protocol::SpaceGrant;

use crate::blob_runner::{group, BlobOptions, BlobReport, RangeGet};
use crate::bucket::Bucket;

fn task_err(e: tokio::task::JoinError) -> SyncError {
    SyncError::Core(cairn_core::CoreError::Invalid {
        what: "shared attachment transfer",
        reason: e.to_string(),
    })
}

/// Uploads every chunk the space's notes name that its index lacks
/// (nothing for a viewer).
pub async fn upload(
    store: &Arc<Mutex<Store>>,
    bucket: &Bucket,
    grant: &SpaceGrant,
    sync: &SpaceSync,
    report: &mut BlobReport,
) -> Result<(), SyncError> {
    let keys = space_blob_keys(sync);
    loop {
        let planned = {
            let mut s = lock_store(store)?;
            match s.plan_space_blob_upload(sync) {
                Ok(p) => p.map(|p| (p, s.chunk_files())),
                Err(e) => {
                    report.errors.push(e.to_string());
                    return Ok(());
                }
            }
        };
        let Some((plan, files)) = planned else {
            return Ok(());
        };
        let (sealing, k) = (plan.clone(), keys.clone());
        let body = tokio::task::spawn_blocking(move || seal_space_slot(&k, &files, &sealing))
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
        if let Err(e) = bucket.put_space_blob(grant, plan.slot, body).await {
            report.failed(&e);
            return Ok(());
        }
        report.slots_uploaded += 1;
        report.bytes_up += len;
        lock_store(store)?.record_space_blob_upload(sync, &plan)?;
    }
}

/// What opening one fetched range came to, chunk by chunk.
type Opened = Vec<(
    cairn_core::blob::transfer::ChunkDownload,
    Result<[u8; 32], BlobError>,
)>;

fn open_and_write(
    keys: &SpaceBlobKeys,
    files: &ChunkFiles,
    range: &RangeGet,
    sealed: &[u8],
) -> Result<Opened, SyncError> {
    let base = range.offset();
    let mut batch = files.batch();
    let mut out = Vec::with_capacity(range.chunks.len());
    for c in &range.chunks {
        let at = (c.location.offset - base) as usize;
        let part = &sealed[at..at + c.location.len as usize];
        match open_space_chunk(keys, c, part) {
            Ok(plain) => {
                batch
                    .write(&c.id, &plain)
                    .map_err(|e| SyncError::Core(e.into()))?;
                out.push((c.clone(), Ok(chunk_digest(&plain))));
            }
            Err(e) => out.push((c.clone(), Err(e))),
        }
    }
    batch.finish().map_err(|e| SyncError::Core(e.into()))?;
    Ok(out)
}

/// Downloads the chunks this device wants that the space's index locates.
pub async fn download(
    store: &Arc<Mutex<Store>>,
    bucket: &Bucket,
    grant: &SpaceGrant,
    sync: &SpaceSync,
    options: BlobOptions,
    report: &mut BlobReport,
) -> Result<(), SyncError> {
    let keys = space_blob_keys(sync);
    let (wanted, files) = {
        let mut s = lock_store(store)?;
        (
            s.wanted_space_chunks(&sync.space, options.background_limit)?,
            s.chunk_files(),
        )
    };
    for range in group(wanted) {
        let first = range.chunks[0].location.clone();
        report.requests += 1;
        let sealed = match bucket
            .get_space_blob_range(
                grant,
                &first.device,
                first.slot,
                range.offset(),
                range.len(),
            )
            .await
        {
            Ok(b) => b,
            Err(e) => {
                report.failed(&e);
                continue;
            }
        };
        report.bytes_down += sealed.len() as u64;
        let (k, f) = (keys.clone(), files.clone());
        let opened = tokio::task::spawn_blocking(move || open_and_write(&k, &f, &range, &sealed))
            .await
            .map_err(task_err)??;
        let here: Vec<_> = opened
            .iter()
            .filter_map(|(c, r)| r.as_ref().ok().map(|d| (c.id, c.len, *d)))
            .collect();
        let mut s = lock_store(store)?;
        s.record_space_chunks(&here)?;
        report.chunks_downloaded += here.len();
        for (chunk, result) in opened {
            if let Err(e) = result {
                let text = e.to_string();
                s.set_chunk_error(&chunk.id, &text)?;
                report.errors.push(format!(
                    "an attachment in a shared notebook from device {} was refused: {text}",
                    chunk.location.device
                ));
            }
        }
    }
    Ok(())
}
