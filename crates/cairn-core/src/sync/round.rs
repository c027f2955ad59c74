//! One sync round: publish what is new here, then read every peer.
//!
//! The store sits behind a mutex and is locked only to plan and to apply;
//! all transfers happen with it unlocked, so an app keeps editing while a
//! round runs.

use std::sync::Mutex;

use cairn_protocol::DeviceKey;

use crate::error::CoreError;
use crate::store::Store;
use crate::sync::bundle::Bundle;
use crate::sync::head::ObjectRef;
use crate::sync::object::ObjectKind;
use crate::sync::reader::{self, ReadError};
use crate::sync::transport::{Fetched, Transport, TransportError, TransportErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("storage: {0}")]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("the local store is unavailable (a previous operation panicked)")]
    Poisoned,
}

impl SyncError {
    /// Whether signing in again (a new grant) is what it takes.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, SyncError::Transport(t) if t.kind == TransportErrorKind::Unauthorized)
    }
    /// Whether trying again later may work (network, 5xx, timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Transport(t) if t.kind == TransportErrorKind::Unavailable)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerOutcome {
    pub device: String,
    pub changed_notes: usize,
    pub error: Option<String>,
    pub needs_sign_in: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// The sequence number published this round, if any data went out.
    pub published: Option<u64>,
    pub wrote_snapshot: bool,
    pub publish_error: Option<String>,
    pub needs_sign_in: bool,
    pub requests: u64,
    /// Of `requests`, the uploads of the publish.
    pub publish_requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub peers: Vec<PeerOutcome>,
}

impl RoundReport {
    pub fn changed_notes(&self) -> usize {
        self.peers.iter().map(|p| p.changed_notes).sum()
    }
    pub fn ok(&self) -> bool {
        self.publish_error.is_none() && self.peers.iter().all(|p| p.error.is_none())
    }
}

fn lock(store: &Mutex<Store>) -> Result<std::sync::MutexGuard<'_, Store>, SyncError> {
    store.lock().map_err(|_| SyncError::Poisoned)
}

/// Publishes this device's new changes, if any. Returns the plan's seq.
pub fn publish(
    store: &Mutex<Store>,
    t: &mut dyn Transport,
    me: &str,
    report: &mut RoundReport,
) -> Result<(), SyncError> {
    let Some(plan) = lock(store)?.prepare_publish(me)? else {
        return Ok(());
    };
    for (key, body) in &plan.puts {
        report.requests += 1;
        report.publish_requests += 1;
        report.bytes_up += body.len() as u64;
        t.put(*key, body.clone())?;
    }
    lock(store)?.finish_publish(&plan)?;
    if plan.has_data {
        report.published = Some(plan.head.seq);
    }
    report.wrote_snapshot |= plan.snapshot;
    Ok(())
}

fn fetch(
    t: &mut dyn Transport,
    device: &str,
    key: DeviceKey,
    report: &mut RoundReport,
) -> Result<Option<Vec<u8>>, SyncError> {
    report.requests += 1;
    match t.get(device, key, None)? {
        Fetched::Found { body, .. } => {
            report.bytes_down += body.len() as u64;
            Ok(Some(body))
        }
        Fetched::Missing | Fetched::NotModified => Ok(None),
    }
}

/// Reads one peer and applies what is new. Returns notes changed.
pub fn read_peer(
    store: &Mutex<Store>,
    t: &mut dyn Transport,
    me: &str,
    peer: &str,
    report: &mut RoundReport,
) -> Result<usize, SyncError> {
    let (state, content_key) = {
        let s = lock(store)?;
        (s.peer_state(peer)?, s.content_key().cloned())
    };
    let mut etag = state.etag.clone();
    // Up to two tries: the second after a slot turned out rewritten.
    for attempt in 0..2 {
        report.requests += 1;
        let (head_bytes, new_etag) = match t.get(peer, DeviceKey::Head, etag.as_deref())? {
            Fetched::NotModified | Fetched::Missing => {
                // The peer reads cleanly again: an error kept from an
                // earlier round (a dropped connection, say) is over. A bad
                // object would still be there, since its head was never
                // applied and its etag never kept.
                if state.last_error.is_some() {
                    lock(store)?.set_peer_error(peer, None)?;
                }
                return Ok(0);
            }
            Fetched::Found { body, etag } => (body, etag),
        };
        report.bytes_down += head_bytes.len() as u64;
        let head = reader::decode_head(peer, &head_bytes, content_key.as_ref())?;
        let plan = reader::plan_read(&state, &head)?;
        let mut bundles: Vec<Bundle> = Vec::new();
        let mut stale = false;
        let mut wanted: Vec<(DeviceKey, ObjectKind, &ObjectRef)> = Vec::new();
        if let Some(s) = &plan.snapshot {
            let key = DeviceKey::snapshot(s.slot).map_err(|e| bad_ref(peer, e))?;
            wanted.push((key, ObjectKind::Snapshot, s));
        }
        for s in &plan.segments {
            let key = DeviceKey::log(s.slot).map_err(|e| bad_ref(peer, e))?;
            wanted.push((key, ObjectKind::Segment, s));
        }
        for (key, kind, r) in wanted {
            let Some(bytes) = fetch(t, peer, key, report)? else {
                stale = true;
                break;
            };
            match reader::open_object(peer, &key.relative(), r, kind, &bytes, content_key.as_ref())?
            {
                Some(b) => bundles.push(b),
                None => {
                    stale = true;
                    break;
                }
            }
        }
        if stale {
            if attempt == 0 {
                // Read the head again, unconditionally.
                etag = None;
                continue;
            }
            return Err(ReadError::BadObject {
                device: peer.to_string(),
                key: "log".into(),
                source: crate::sync::object::ObjectError::HashMismatch,
            }
            .into());
        }
        let changed = lock(store)?.apply_peer(&state, &head, new_etag, bundles, me)?;
        return Ok(changed);
    }
    Ok(0)
}

fn bad_ref(peer: &str, e: cairn_protocol::ProtocolError) -> SyncError {
    SyncError::Read(ReadError::BadHead {
        device: peer.to_string(),
        source: crate::sync::object::ObjectError::Malformed(e.to_string()),
    })
}

/// A full round: publish, then read each peer. Errors are per part: a
/// failed publish does not stop reading, one bad peer does not stop the
/// others. Each peer's error is also kept in its stored state, so
/// `status` can show it.
pub fn run_round(
    store: &Mutex<Store>,
    t: &mut dyn Transport,
    me: &str,
    peers: &[String],
) -> Result<RoundReport, SyncError> {
    let mut report = RoundReport::default();
    if let Err(e) = publish(store, t, me, &mut report) {
        if matches!(e, SyncError::Core(_) | SyncError::Poisoned) {
            return Err(e);
        }
        report.needs_sign_in |= e.needs_sign_in();
        report.publish_error = Some(e.to_string());
    }
    for peer in peers {
        let mut outcome = PeerOutcome {
            device: peer.clone(),
            ..PeerOutcome::default()
        };
        match read_peer(store, t, me, peer, &mut report) {
            Ok(n) => outcome.changed_notes = n,
            Err(SyncError::Poisoned) => return Err(SyncError::Poisoned),
            Err(e) => {
                outcome.needs_sign_in = e.needs_sign_in();
                report.needs_sign_in |= outcome.needs_sign_in;
                let msg = e.to_string();
                lock(store)?.set_peer_error(peer, Some(&msg))?;
                outcome.error = Some(msg);
            }
        }
        report.peers.push(outcome);
    }
    Ok(report)
}
