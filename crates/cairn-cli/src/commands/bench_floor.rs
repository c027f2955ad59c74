//! The floor under a bootstrap: on the same objects a new device reads,
//! the time to fetch, open (hash, decrypt) and load every document in
//! memory, with nothing written. `bootstrap_s` minus this is what the
//! store costs (SQLite, the derived tables); the floor itself is what the
//! network, the cipher and Automerge cost.
//!
//! It bounds a bootstrap that loads every document. A bootstrap from the
//! states a snapshot carries (`cairn_core::sync::snapshot_entries`) loads
//! none of the notes and can be faster than this floor; `bench sync`
//! reports `bootstrap_docs_loaded` beside it to show which path was taken.

use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use cairn_client::HttpTransport;
use cairn_core::crypto::ContentKey;
use cairn_core::sync::object::ObjectKind;
use cairn_core::sync::opener::Opener;
use cairn_core::sync::personal_object::PersonalKeys;
use cairn_core::sync::reader;
use cairn_core::sync::state::PeerState;
use cairn_core::sync::{Fetched, Transport};
use cairn_core::NoteDoc;
use cairn_protocol::{DeviceKey, Grant};

/// Seconds to read everything `peer` published, and how many documents
/// that was. Call from a blocking thread (the transport blocks on
/// `runtime`).
pub fn bootstrap_floor(
    grant: Grant,
    peer: &str,
    content_key: Option<&ContentKey>,
    runtime: tokio::runtime::Handle,
) -> Result<(f64, usize)> {
    let mut transport = HttpTransport::new(grant, runtime)?;
    let t = Instant::now();
    let mut fetch = |key: DeviceKey| -> Result<Vec<u8>> {
        match transport.get(peer, key, None)? {
            Fetched::Found { body, .. } => Ok(body),
            _ => bail!("{peer}/{} is missing", key.relative()),
        }
    };
    let head = reader::decode_head(peer, &fetch(DeviceKey::Head)?, content_key)?;
    let plan = reader::plan_read(&PeerState::default(), &head)?;
    let objects = plan
        .snapshot
        .iter()
        .map(|r| (r, ObjectKind::Snapshot, DeviceKey::snapshot(r.slot)))
        .chain(
            plan.segments
                .iter()
                .map(|r| (r, ObjectKind::Segment, DeviceKey::log(r.slot))),
        );
    let mut docs = 0;
    for (r, kind, key) in objects {
        let key = key?;
        let bytes = fetch(key)?;
        let opener = Opener::Personal(PersonalKeys::content(content_key.cloned()));
        let bundle = reader::open_object_owned(peer, &key.relative(), r, kind, bytes, &opener)?
            .ok_or_else(|| anyhow!("{peer}/{} was replaced meanwhile", key.relative()))?;
        docs += load_all(&bundle)?;
    }
    Ok((t.elapsed().as_secs_f64(), docs))
}

/// Loads every document of a bundle, on as many threads as a bootstrap
/// uses (the store loads on worker threads while it writes).
fn load_all(bundle: &cairn_core::sync::bundle::Bundle) -> Result<usize> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let per = bundle.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = bundle
            .chunks(per)
            .map(|part| {
                scope.spawn(move || -> Result<usize> {
                    for (id, data) in part {
                        NoteDoc::load(id, b"floor", std::slice::from_ref(data))?;
                    }
                    Ok(part.len())
                })
            })
            .collect();
        handles.into_iter().try_fold(0, |sum, h| {
            let n = h
                .join()
                .map_err(|_| anyhow!("a loading thread panicked"))??;
            Ok(sum + n)
        })
    })
}
