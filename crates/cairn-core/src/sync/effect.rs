//! What the sync engine asks its runner to do, and what the runner tells it
//! back. The engine never performs IO itself: network requests and store
//! writes are effects, their results are events.
//!
//! Requests carry a [`RequestId`]; an answer to a request the engine no
//! longer waits for (a repeated response, or one to a head that was since
//! read again) is ignored, so a runner may deliver answers in any order,
//! twice, or not at all (as an error).

use cairn_protocol::DeviceKey;

use crate::sync::bundle::Bundle;
use crate::sync::failure::PeerError;
use crate::sync::head::DeviceHead;
use crate::sync::reader::ReadError;
use crate::sync::state::PeerState;
use crate::sync::transport::{Body, Fetched, TransportError};
use crate::sync::writer::PublishPlan;

/// Names one network request of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

#[derive(Debug, Clone)]
pub enum Effect {
    /// A request to object storage; the runner performs these
    /// concurrently.
    Bucket(BucketRequest),
    /// Work on the local store; the runner performs these one at a time,
    /// in the order given, before it asks the engine for more.
    Local(LocalEffect),
}

#[derive(Debug, Clone)]
pub enum BucketRequest {
    /// Upload one of this device's own objects; answer with
    /// [`Event::PutDone`].
    Put {
        request: RequestId,
        key: DeviceKey,
        body: Body,
    },
    /// Download an object of `device`; answer with [`Event::GetDone`].
    Get {
        request: RequestId,
        device: String,
        key: DeviceKey,
        if_none_match: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub enum LocalEffect {
    /// Plan the next publish (`Store::prepare_publish`); answer with
    /// [`Event::PublishPlanned`].
    PreparePublish,
    /// Record a publish whose uploads all succeeded
    /// (`Store::finish_publish`). No answer.
    RecordPublish(Box<PublishPlan>),
    /// Merge what was fetched from one peer and record its new state, in
    /// one transaction (`Store::apply_peer`); answer with
    /// [`Event::PeerApplied`].
    ApplyPeer(Box<PeerApply>),
    /// Keep (or clear) a peer's error in its stored state, for `status`.
    /// No answer.
    SetPeerError {
        peer: String,
        error: Option<PeerError>,
    },
}

/// Everything one peer's read brought, ready to be applied.
#[derive(Debug, Clone)]
pub struct PeerApply {
    pub peer: String,
    pub state: PeerState,
    pub head: DeviceHead,
    pub etag: Option<String>,
    pub bundles: Vec<Bundle>,
    /// The digest of the snapshot `bundles` starts with, when one was
    /// fetched and opened (`crate::sync::digest`).
    pub digest: Option<crate::sync::digest::Digest>,
    /// The personal stream's snapshot, when it is one the store opens as
    /// it applies it (`crate::sync::snapshot_apply`: sealed in chunks, or
    /// spilled to a file by the runner); `bundles` then holds only the
    /// segments after it.
    pub snapshot: Option<crate::sync::snapshot_apply::RawSnapshot>,
}

#[derive(Debug, Clone)]
pub enum Event {
    PublishPlanned(Option<Box<PublishPlan>>),
    PutDone {
        request: RequestId,
        result: Result<(), TransportError>,
    },
    GetDone {
        request: RequestId,
        result: Result<Fetched, TransportError>,
    },
    /// The peer's changes were applied (with the number of notes they
    /// changed), or refused as bad, which changes nothing.
    PeerApplied {
        peer: String,
        result: Result<usize, ReadError>,
    },
}
