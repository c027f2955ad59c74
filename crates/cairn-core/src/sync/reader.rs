//! Reading a peer: one conditional GET of its head per round (a 304 ends
//! it), then only the objects not yet applied: the segments after what we
//! have, or the snapshot first when we have fallen behind the ring. Every
//! object is checked against the hash its head lists; a mismatch means the
//! slot was reused since the head was read, so the head is read again.
//!
//! Fetching happens without the store; applying takes it once, for one
//! transaction holding all the merges and the new peer state.

use crate::error::Result;
use crate::store::Store;
use crate::sync::bundle::{self, Bundle};
use crate::sync::digest::Digest;
use crate::sync::head::{DeviceHead, ObjectRef};
use crate::sync::object::{self, ObjectError, ObjectKind};
use crate::sync::opener::Opener;
use crate::sync::personal_object::PersonalKeys;
use crate::sync::signed_head::HeadRefusal;
use crate::sync::state::PeerState;

/// Which objects a reader needs, given what it has applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    pub snapshot: Option<ObjectRef>,
    pub segments: Vec<ObjectRef>,
}

impl ReadPlan {
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.segments.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("head of device {device} is not usable: {source}")]
    BadHead {
        device: String,
        #[source]
        source: ObjectError,
    },
    #[error("head at {key} names device {found}, not {expected}")]
    WrongDevice {
        key: String,
        expected: String,
        found: String,
    },
    #[error("device {device} went back from publish {seen} to {found}: refusing a replayed or rolled-back head")]
    WentBack {
        device: String,
        seen: u64,
        found: u64,
    },
    #[error("object {key} of device {device} is not usable: {source}")]
    BadObject {
        device: String,
        key: String,
        #[source]
        source: ObjectError,
    },
    #[error("changes from device {device} could not be applied (nothing was changed): {reason}")]
    BadChanges { device: String, reason: String },
    /// A shared notebook's head whose signature does not make it the
    /// member's own: ignored, as a viewer's head is.
    #[error("device {device} in a shared notebook was not read: {reason}")]
    RefusedHead {
        device: String,
        #[source]
        reason: HeadRefusal,
    },
}

/// Decodes and checks a peer's head.
pub fn decode_head(
    device: &str,
    bytes: &[u8],
    key: Option<&crate::crypto::ContentKey>,
) -> std::result::Result<DeviceHead, ReadError> {
    decode_head_with(
        device,
        bytes,
        &Opener::Personal(PersonalKeys::content(key.cloned())),
    )
}

/// Decodes and checks a peer's head, opened by `opener`; in a space, only
/// a head its prefix's member signed (else [`ReadError::RefusedHead`]).
pub fn decode_head_with(
    device: &str,
    bytes: &[u8],
    opener: &Opener,
) -> std::result::Result<DeviceHead, ReadError> {
    let bad = |source| ReadError::BadHead {
        device: device.to_string(),
        source,
    };
    let obj = object::decode_kind(bytes, ObjectKind::Head).map_err(bad)?;
    let payload = opener.open(&obj, device, "head").map_err(bad)?;
    let json = match opener {
        Opener::Personal(_) => payload.as_slice(),
        Opener::Space(s) => {
            s.check_head(device, &obj, &payload)
                .map_err(|reason| ReadError::RefusedHead {
                    device: device.to_string(),
                    reason,
                })?
        }
    };
    let head = DeviceHead::from_json(json).map_err(bad)?;
    if head.device != device {
        return Err(ReadError::WrongDevice {
            key: format!("{device}/head"),
            expected: device.to_string(),
            found: head.device,
        });
    }
    if head.seq != obj.seq {
        return Err(bad(ObjectError::Malformed(
            "head sequence number disagrees with its envelope".into(),
        )));
    }
    Ok(head)
}

/// What to fetch to catch up with `head` from `state`.
pub fn plan_read(state: &PeerState, head: &DeviceHead) -> std::result::Result<ReadPlan, ReadError> {
    if head.seq < state.applied_seq {
        return Err(ReadError::WentBack {
            device: head.device.clone(),
            seen: state.applied_seq,
            found: head.seq,
        });
    }
    let behind_snapshot = head
        .snapshot
        .as_ref()
        .is_some_and(|s| s.seq > state.applied_seq);
    if behind_snapshot {
        return Ok(ReadPlan {
            snapshot: head.snapshot.clone(),
            segments: head.segments.clone(),
        });
    }
    Ok(ReadPlan {
        snapshot: None,
        segments: head
            .segments
            .iter()
            .filter(|s| s.seq > state.applied_seq)
            .cloned()
            .collect(),
    })
}

/// Checks a fetched object against its reference and decodes its bundle.
/// `Ok(None)` means the hash differs: the slot was rewritten meanwhile.
pub fn open_object(
    device: &str,
    key: &str,
    r: &ObjectRef,
    kind: ObjectKind,
    bytes: &[u8],
    content_key: Option<&crate::crypto::ContentKey>,
) -> std::result::Result<Option<Bundle>, ReadError> {
    let opener = Opener::Personal(PersonalKeys::content(content_key.cloned()));
    open_object_with(device, key, r, kind, bytes, &opener)
}

/// As [`open_object`], opened by `opener`.
pub fn open_object_with(
    device: &str,
    key: &str,
    r: &ObjectRef,
    kind: ObjectKind,
    bytes: &[u8],
    opener: &Opener,
) -> std::result::Result<Option<Bundle>, ReadError> {
    open_object_owned(device, key, r, kind, bytes.to_vec(), opener)
}

/// As [`open_object_with`], taking the fetched bytes over: they are
/// checked, decrypted and split into the bundle's entries in the one
/// buffer, so a snapshot is in memory once while it is opened.
pub fn open_object_owned(
    device: &str,
    key: &str,
    r: &ObjectRef,
    kind: ObjectKind,
    bytes: Vec<u8>,
    opener: &Opener,
) -> std::result::Result<Option<Bundle>, ReadError> {
    let bad = |source| ReadError::BadObject {
        device: device.to_string(),
        key: key.to_string(),
        source,
    };
    let obj = match object::decode_owned(bytes) {
        Ok(o) => o,
        // Could be a half-rewritten slot as well as damage: the caller
        // re-reads the head once before calling it bad.
        Err(ObjectError::HashMismatch) => return Ok(None),
        Err(e) => return Err(bad(e)),
    };
    if obj.hash_hex() != r.hash {
        return Ok(None);
    }
    if obj.kind != kind {
        return Err(bad(ObjectError::WrongKind {
            expected: kind,
            found: obj.kind,
        }));
    }
    if obj.seq != r.seq {
        return Err(bad(ObjectError::Malformed(
            "sequence number disagrees with the head".into(),
        )));
    }
    let chunked = obj.chunks.is_some();
    let payload = opener.open_owned(obj, device, key).map_err(bad)?;
    if chunked {
        // Sealed in chunks: a snapshot's entries, each with its state,
        // which a reader of the whole object does without.
        return crate::sync::snapshot_entries::into_bundle(&payload)
            .map(Some)
            .map_err(bad);
    }
    bundle::decode_owned(payload).map(Some).map_err(bad)
}

impl Store {
    /// Applies everything fetched from one peer and records the new peer
    /// state, in one transaction: all or nothing.
    pub fn apply_peer(
        &mut self,
        state: &PeerState,
        head: &DeviceHead,
        etag: Option<String>,
        bundles: Vec<Bundle>,
        me: &str,
    ) -> Result<usize> {
        self.apply_peer_with_digest(state, head, etag, bundles, None, me)
    }

    /// `apply_peer`, with the digest of the snapshot `bundles` starts
    /// with (the engine fetches a digest only with its snapshot). A digest
    /// that is not the snapshot's is left unused, with a line in the log:
    /// the snapshot's documents are loaded as without one.
    pub fn apply_peer_with_digest(
        &mut self,
        state: &PeerState,
        head: &DeviceHead,
        etag: Option<String>,
        bundles: Vec<Bundle>,
        digest: Option<Digest>,
        me: &str,
    ) -> Result<usize> {
        let new_state = state.after_read(head, etag, me, self.clock.now_ms());
        let known = match (digest, bundles.first(), &head.snapshot) {
            (Some(d), Some(snapshot), Some(r)) => d.states_for(snapshot, r).unwrap_or_else(|why| {
                eprintln!(
                    "the digest of device {}'s snapshot was not used ({why}): loading its notes",
                    head.device
                );
                Vec::new()
            }),
            _ => Vec::new(),
        };
        let entries: Vec<(&str, &[u8])> = bundles
            .iter()
            .flat_map(|b| b.iter().map(|(id, bytes)| (id.as_str(), &bytes[..])))
            .collect();
        self.merge_batch_with(&entries, &known, |s| s.save_peer(&new_state))
    }
}
