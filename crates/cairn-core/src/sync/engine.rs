//! One sync round as a state machine: it takes events and returns effects,
//! and never touches the network, the store or the clock itself.
//!
//! A round, seen from device A with peers B and C:
//!
//! 1. `start` asks for a publish plan ([`LocalEffect::PreparePublish`]) and, at
//!    the same time, for B's and C's heads ([`BucketRequest::Get`] with the ETag
//!    kept from the last read). Peers are read concurrently, and reading
//!    does not wait for the publish.
//! 2. **Publish.** With a plan, the data object (a log segment or a
//!    snapshot) is uploaded first, then the head, the commit point. Only
//!    when the head is written is the publish recorded
//!    ([`LocalEffect::RecordPublish`]); a failed upload leaves the old head
//!    valid and the changes unpublished for the next round.
//! 3. **Read.** A 304 (or no head yet) ends a peer. Otherwise the engine
//!    checks the head and asks for every object it lacks at once: the
//!    segments after the last one applied, or the snapshot first when it
//!    fell behind the ring. Each object is checked against the hash its
//!    head lists; a mismatch or a missing object means the peer reused the
//!    slot meanwhile, so the head is read again, once, unconditionally.
//!    When all objects are in, they are applied in one transaction
//!    ([`LocalEffect::ApplyPeer`]).
//! 4. **Acknowledge.** If anything was applied, a second publish follows
//!    once the first is done: it carries the merged changes on (each
//!    device's stream is causally complete) and the head's `merged` map, so
//!    the peers learn at once that A has their changes.
//!
//! Answers may come in any order; an answer the engine no longer waits for
//! (repeated, or for an attempt since abandoned) is ignored. A failed
//! request fails its part of the round (the publish, or one peer) and
//! nothing else.
//!
//! ```
//! use cairn_core::sync::engine::Round;
//! use cairn_core::sync::effect::{BucketRequest, Effect, Event, LocalEffect};
//! use cairn_core::sync::Fetched;
//!
//! // A device with one peer, nothing to publish, and a peer whose head is
//! // unchanged since the last round.
//! let mut round = Round::new("A", vec![Default::default()], None);
//! let mut effects = round.start();
//! let mut events = Vec::new();
//! for e in effects.drain(..) {
//!     match e {
//!         Effect::Local(LocalEffect::PreparePublish) => events.push(Event::PublishPlanned(None)),
//!         Effect::Bucket(BucketRequest::Get { request, .. }) => events.push(Event::GetDone {
//!             request,
//!             result: Ok(Fetched::NotModified),
//!         }),
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! for ev in events {
//!     assert!(round.handle(ev).is_empty());
//! }
//! assert!(round.is_done());
//! let report = round.finish();
//! assert!(report.ok());
//! assert_eq!(report.requests, 1);
//! ```

use std::collections::BTreeMap;

use cairn_protocol::DeviceKey;

use crate::crypto::ContentKey;
use crate::sync::bundle::Bundle;
use crate::sync::digest::{self, Digest};
use crate::sync::effect::{BucketRequest, Effect, Event, LocalEffect, PeerApply, RequestId};
use crate::sync::failure::{PeerError, SyncFailure};
use crate::sync::head::{DeviceHead, ObjectRef};
use crate::sync::object::{ObjectError, ObjectKind};
use crate::sync::opener::{Opener, SpaceSync};
use crate::sync::outcome::{PeerOutcome, RoundReport};
use crate::sync::personal_object::PersonalKeys;
use crate::sync::reader::{self, ReadError, ReadPlan};
use crate::sync::snapshot_apply::{self, Precheck, RawSnapshot, SnapshotBody};
use crate::sync::state::PeerState;
use crate::sync::transport::Fetched;
use crate::sync::writer::PublishPlan;

/// How many times a peer's head is read in one round: the second read
/// after one of its objects turned out rewritten.
const HEAD_ATTEMPTS: u8 = 2;

#[derive(Debug)]
enum PublishPhase {
    /// Waiting for the store's plan.
    Planning,
    /// Uploading the plan's objects: the data first, the head last.
    Uploading {
        plan: Box<PublishPlan>,
        /// Index into `plan.puts` of the upload in flight.
        next: usize,
        request: RequestId,
    },
    /// Nothing (more) to publish, or the publish failed.
    Idle,
}

#[derive(Debug)]
enum PeerPhase {
    FetchingHead {
        request: RequestId,
        attempt: u8,
    },
    FetchingObjects {
        attempt: u8,
        head: Box<DeviceHead>,
        etag: Option<String>,
        /// Outstanding requests: position in the apply order, key, kind, ref.
        wanted: BTreeMap<RequestId, Wanted>,
        got: BTreeMap<usize, Bundle>,
        /// Whether a snapshot is among the objects.
        snapshot: bool,
        /// The snapshot's digest, once fetched and opened.
        digest: Option<Digest>,
        /// The personal stream's snapshot when the store opens it as it
        /// applies it (`snapshot_apply`): its header checked here.
        raw_snapshot: Option<RawSnapshot>,
    },
    /// Its head is read and it has a snapshot to fetch, but another peer's
    /// snapshot is being fetched or applied: it waits for that one.
    Queued {
        attempt: u8,
        head: Box<DeviceHead>,
        etag: Option<String>,
        plan: ReadPlan,
    },
    Applying {
        snapshot: bool,
    },
    Done,
}

#[derive(Debug)]
struct Wanted {
    order: usize,
    key: DeviceKey,
    kind: ObjectKind,
    r: ObjectRef,
}

#[derive(Debug)]
struct PeerRead {
    state: PeerState,
    phase: PeerPhase,
    outcome: PeerOutcome,
}

/// One round of one device. Create it with what the store knows, call
/// [`Round::start`], feed every answer to [`Round::handle`], and take the
/// report with [`Round::finish`] once [`Round::is_done`].
#[derive(Debug)]
pub struct Round {
    me: String,
    opener: Opener,
    publish: PublishPhase,
    /// Whether a publish has been asked for since the last apply.
    publishes_planned: u8,
    /// A peer's changes were applied: acknowledge them with one more
    /// publish once the current one is done.
    follow_up: bool,
    /// The publish failed: do not try again this round.
    publish_failed: bool,
    peers: Vec<PeerRead>,
    next_request: u64,
    report: RoundReport,
}

impl Round {
    /// `peers`: the stored state of every peer to read this round.
    pub fn new(me: &str, peers: Vec<PeerState>, content_key: Option<ContentKey>) -> Round {
        Round::personal(me, peers, PersonalKeys::content(content_key))
    }

    /// A round of the personal stream once the account has epoch keys
    /// (after a device was removed): objects of every epoch held open.
    pub fn personal(me: &str, peers: Vec<PeerState>, keys: PersonalKeys) -> Round {
        Round::opening(me, peers, Opener::Personal(keys))
    }

    /// A round of a shared space's stream: objects open with the space's
    /// epoch keys, and only the peers the chain lets write are read (a
    /// departed one up to its fence).
    pub fn for_space(me: &str, peers: Vec<PeerState>, space: SpaceSync) -> Round {
        Round::opening(me, peers, Opener::Space(Box::new(space)))
    }

    fn opening(me: &str, peers: Vec<PeerState>, opener: Opener) -> Round {
        let peers = peers
            .into_iter()
            .map(|state| PeerRead {
                outcome: PeerOutcome {
                    device: state.device_id.clone(),
                    ..PeerOutcome::default()
                },
                state,
                phase: PeerPhase::Done,
            })
            .collect();
        Round {
            me: me.to_string(),
            opener,
            publish: PublishPhase::Idle,
            publishes_planned: 0,
            follow_up: false,
            publish_failed: false,
            peers,
            next_request: 0,
            report: RoundReport::default(),
        }
    }

    /// Reads only the peers in `read` this round; the others are skipped
    /// (reported as such, their stored state untouched). A notification
    /// says which peer published: reading the silent ones too would cost a
    /// request each for nothing, on every keystroke's publish. The poll
    /// still reads them all.
    pub fn read_only(mut self, read: &[String]) -> Round {
        for p in &mut self.peers {
            p.outcome.skipped = !read.contains(&p.state.device_id);
        }
        self
    }

    /// The first effects: a publish plan, and every peer's head.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut out = vec![self.plan_publish()];
        for i in 0..self.peers.len() {
            if self.peers[i].outcome.skipped {
                continue;
            }
            let etag = self.peers[i].state.etag.clone();
            out.push(self.get_head(i, 0, etag));
        }
        out
    }

    /// Whether nothing is outstanding: the report is final.
    pub fn is_done(&self) -> bool {
        matches!(self.publish, PublishPhase::Idle)
            && self
                .peers
                .iter()
                .all(|p| matches!(p.phase, PeerPhase::Done))
    }

    pub fn finish(mut self) -> RoundReport {
        self.report.peers = self.peers.into_iter().map(|p| p.outcome).collect();
        self.report
    }

    /// Takes one answer and returns what to do next.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut out = Vec::new();
        match event {
            Event::PublishPlanned(plan) => self.on_plan(plan, &mut out),
            Event::PutDone { request, result } => self.on_put(request, result, &mut out),
            Event::GetDone { request, result } => self.on_get(request, result, &mut out),
            Event::PeerApplied { peer, result } => self.on_applied(&peer, result, &mut out),
        }
        out
    }

    fn request(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    fn plan_publish(&mut self) -> Effect {
        self.publish = PublishPhase::Planning;
        self.publishes_planned += 1;
        Effect::Local(LocalEffect::PreparePublish)
    }

    fn get_head(&mut self, peer: usize, attempt: u8, etag: Option<String>) -> Effect {
        let request = self.request();
        self.report.requests += 1;
        let p = &mut self.peers[peer];
        p.phase = PeerPhase::FetchingHead { request, attempt };
        Effect::Bucket(BucketRequest::Get {
            request,
            device: p.state.device_id.clone(),
            key: DeviceKey::Head,
            if_none_match: etag,
        })
    }

    // ------------------------------------------------------------ publish

    fn on_plan(&mut self, plan: Option<Box<PublishPlan>>, out: &mut Vec<Effect>) {
        if !matches!(self.publish, PublishPhase::Planning) {
            return;
        }
        match plan {
            Some(plan) if !plan.puts.is_empty() => self.put_next(plan, 0, out),
            _ => {
                self.publish = PublishPhase::Idle;
                self.maybe_follow_up(out);
            }
        }
    }

    fn put_next(&mut self, plan: Box<PublishPlan>, next: usize, out: &mut Vec<Effect>) {
        let request = self.request();
        let (key, body) = plan.puts[next].clone();
        self.report.requests += 1;
        self.report.publish_requests += 1;
        self.report.bytes_up += body.len();
        out.push(Effect::Bucket(BucketRequest::Put { request, key, body }));
        self.publish = PublishPhase::Uploading {
            plan,
            next,
            request,
        };
    }

    fn on_put(
        &mut self,
        request: RequestId,
        result: Result<(), crate::sync::TransportError>,
        out: &mut Vec<Effect>,
    ) {
        let PublishPhase::Uploading {
            request: expected, ..
        } = &self.publish
        else {
            return;
        };
        if *expected != request {
            return;
        }
        let PublishPhase::Uploading { plan, next, .. } =
            std::mem::replace(&mut self.publish, PublishPhase::Idle)
        else {
            return;
        };
        if let Err(e) = result {
            // The old head is still the one readers see; the changes stay
            // above the watermark and go out next round.
            self.publish_failed = true;
            self.report.publish_error = Some(SyncFailure::Storage(e));
            return;
        }
        if next + 1 < plan.puts.len() {
            self.put_next(plan, next + 1, out);
            return;
        }
        if plan.has_data {
            self.report.published = Some(plan.head.seq);
        }
        self.report.wrote_snapshot |= plan.snapshot;
        out.push(Effect::Local(LocalEffect::RecordPublish(plan)));
        self.maybe_follow_up(out);
    }

    /// Plans the acknowledging publish once the first one is over and
    /// every peer has been read (so it carries all of this round's merges).
    fn maybe_follow_up(&mut self, out: &mut Vec<Effect>) {
        let reading = self
            .peers
            .iter()
            .any(|p| !matches!(p.phase, PeerPhase::Done));
        if self.follow_up
            && !reading
            && !self.publish_failed
            && matches!(self.publish, PublishPhase::Idle)
            && self.publishes_planned < 2
        {
            self.follow_up = false;
            out.push(self.plan_publish());
        }
    }

    // --------------------------------------------------------------- read

    fn peer_waiting_on(&self, request: RequestId) -> Option<usize> {
        self.peers.iter().position(|p| match &p.phase {
            PeerPhase::FetchingHead { request: r, .. } => *r == request,
            PeerPhase::FetchingObjects { wanted, .. } => wanted.contains_key(&request),
            _ => false,
        })
    }

    fn on_get(
        &mut self,
        request: RequestId,
        result: Result<Fetched, crate::sync::TransportError>,
        out: &mut Vec<Effect>,
    ) {
        let Some(i) = self.peer_waiting_on(request) else {
            return;
        };
        let for_digest = matches!(&self.peers[i].phase, PeerPhase::FetchingObjects { wanted, .. }
            if wanted.get(&request).is_some_and(|w| w.kind == ObjectKind::Digest));
        let fetched = match result {
            Ok(f) => f,
            // A digest that could not be fetched is one the peer is read
            // without.
            Err(_) if for_digest => Fetched::Missing,
            Err(e) => {
                self.fail_peer(i, SyncFailure::Storage(e), out);
                return;
            }
        };
        match &fetched {
            Fetched::Found { body, .. } => self.report.bytes_down += body.len() as u64,
            Fetched::Spilled { body, .. } => self.report.bytes_down += body.len(),
            Fetched::Missing | Fetched::NotModified => {}
        }
        match &self.peers[i].phase {
            PeerPhase::FetchingHead { attempt, .. } => {
                let attempt = *attempt;
                self.on_head(i, attempt, fetched, out);
            }
            PeerPhase::FetchingObjects { .. } => self.on_object(i, request, fetched, out),
            _ => {}
        }
    }

    fn on_head(&mut self, i: usize, attempt: u8, fetched: Fetched, out: &mut Vec<Effect>) {
        let (bytes, etag) = match fetched {
            Fetched::NotModified | Fetched::Missing => {
                // The peer reads cleanly again: an error kept from an
                // earlier round (a dropped connection, say) is over. A bad
                // object would still be there, since its head was never
                // applied and its etag never kept.
                let p = &mut self.peers[i];
                if p.state.last_error.is_some() {
                    out.push(Effect::Local(LocalEffect::SetPeerError {
                        peer: p.state.device_id.clone(),
                        error: None,
                    }));
                }
                self.peer_done(i, out);
                return;
            }
            Fetched::Found { body, etag } => (body, etag),
            // Only snapshots are spilled; a head in a file is read from
            // its first bytes, which hold any head of a sane size.
            Fetched::Spilled { body, etag } => (body.prefix().to_vec(), etag),
        };
        let peer = self.peers[i].state.device_id.clone();
        let head = match reader::decode_head_with(&peer, &bytes, &self.opener) {
            Ok(head) => head,
            Err(ReadError::RefusedHead { reason, .. }) => {
                // Not the member's own head: ignored as a viewer's is,
                // with why for the log. The peer's state stays as it was,
                // so its next genuine head is read in full.
                self.peers[i].outcome.skipped = true;
                self.peers[i].outcome.refused = Some(reason);
                self.peer_done(i, out);
                return;
            }
            Err(e) => {
                self.fail_peer(i, SyncFailure::Read(e), out);
                return;
            }
        };
        let Some(head) = self.opener.admit(&peer, head, &bytes) else {
            // A viewer's head, or of someone with no right to write here:
            // not read, whatever it says.
            self.peers[i].outcome.skipped = true;
            self.peer_done(i, out);
            return;
        };
        let head = match reader::plan_read(&self.peers[i].state, &head) {
            Ok(plan) => (head, plan),
            Err(e) => {
                self.fail_peer(i, SyncFailure::Read(e), out);
                return;
            }
        };
        let (head, plan) = head;
        if plan.snapshot.is_some() && self.holding_snapshot() {
            self.peers[i].phase = PeerPhase::Queued {
                attempt,
                head: Box::new(head),
                etag,
                plan,
            };
            return;
        }
        self.fetch_objects(i, attempt, head, etag, plan, out);
    }

    /// Whether a peer's snapshot is being fetched or waits to be applied.
    ///
    /// A snapshot holds every note, so on a new device each peer's is as
    /// large as the account: fetched side by side, three devices' would be
    /// in memory at once. One at a time, the peak is one snapshot however
    /// many devices there are; the later ones are mostly notes merged
    /// already, which cost little to apply.
    fn holding_snapshot(&self) -> bool {
        self.peers.iter().any(|p| {
            matches!(
                p.phase,
                PeerPhase::FetchingObjects { snapshot: true, .. }
                    | PeerPhase::Applying { snapshot: true }
            )
        })
    }

    /// Asks for the objects `plan` lists.
    fn fetch_objects(
        &mut self,
        i: usize,
        attempt: u8,
        head: DeviceHead,
        etag: Option<String>,
        plan: ReadPlan,
        out: &mut Vec<Effect>,
    ) {
        let peer = self.peers[i].state.device_id.clone();
        let mut refs: Vec<(DeviceKey, ObjectKind, ObjectRef)> = Vec::new();
        let slot_error = |e: cairn_protocol::ProtocolError| ReadError::BadHead {
            device: peer.clone(),
            source: ObjectError::Malformed(e.to_string()),
        };
        if let Some(s) = &plan.snapshot {
            match DeviceKey::snapshot(s.slot) {
                Ok(key) => refs.push((key, ObjectKind::Snapshot, s.clone())),
                Err(e) => return self.fail_peer(i, SyncFailure::Read(slot_error(e)), out),
            }
        }
        for s in &plan.segments {
            match DeviceKey::log(s.slot) {
                Ok(key) => refs.push((key, ObjectKind::Segment, s.clone())),
                Err(e) => return self.fail_peer(i, SyncFailure::Read(slot_error(e)), out),
            }
        }
        // With the snapshot, its digest: the notes new here are then stored
        // without loading their documents. Only the personal stream's: a
        // shared notebook's members do not vouch for each other's digests.
        if let (Some(_), Some(d), Opener::Personal(_)) =
            (&plan.snapshot, head.snapshot_digest(), &self.opener)
        {
            if let Ok(key) = DeviceKey::digest(d.slot) {
                refs.push((key, ObjectKind::Digest, d.clone()));
            }
        }
        let mut wanted = BTreeMap::new();
        for (order, (key, kind, r)) in refs.into_iter().enumerate() {
            let request = self.request();
            self.report.requests += 1;
            out.push(Effect::Bucket(BucketRequest::Get {
                request,
                device: peer.clone(),
                key,
                if_none_match: None,
            }));
            wanted.insert(
                request,
                Wanted {
                    order,
                    key,
                    kind,
                    r,
                },
            );
        }
        self.peers[i].phase = PeerPhase::FetchingObjects {
            attempt,
            head: Box::new(head),
            etag,
            wanted,
            got: BTreeMap::new(),
            snapshot: plan.snapshot.is_some(),
            digest: None,
            raw_snapshot: None,
        };
        self.maybe_apply(i, out);
    }

    fn on_object(&mut self, i: usize, request: RequestId, fetched: Fetched, out: &mut Vec<Effect>) {
        let peer = self.peers[i].state.device_id.clone();
        let opener = &self.opener;
        let PeerPhase::FetchingObjects {
            attempt,
            wanted,
            got,
            digest,
            raw_snapshot,
            ..
        } = &mut self.peers[i].phase
        else {
            return;
        };
        let attempt = *attempt;
        let Some(w) = wanted.remove(&request) else {
            return;
        };
        if w.kind == ObjectKind::Digest {
            // A digest only saves work: whatever is wrong with it, the
            // snapshot is loaded as without one, and the peer is read.
            let opened = match fetched {
                Fetched::Found { body, .. } => {
                    digest::open_digest(&peer, &w.key.relative(), &w.r, &body, opener)
                        .map_err(|e| e.to_string())
                }
                Fetched::Spilled { .. } => Err("it was not kept in memory".into()),
                Fetched::Missing | Fetched::NotModified => Err("it is missing".into()),
            };
            match opened {
                Ok(d) => *digest = Some(d),
                Err(why) => eprintln!(
                    "the digest of device {peer}'s snapshot is not usable ({why}): loading its notes"
                ),
            }
            self.maybe_apply(i, out);
            return;
        }
        // The personal stream's snapshot in chunks, or in a file: its
        // header is checked here, and the store opens the rest as it
        // applies it, a batch at a time.
        let personal_snapshot =
            w.kind == ObjectKind::Snapshot && matches!(opener, Opener::Personal(_));
        let (fetched, deferred) = match fetched {
            Fetched::Spilled { body, .. } if personal_snapshot => {
                (Fetched::Missing, Some(SnapshotBody::Spilled(body)))
            }
            Fetched::Found { body, .. }
                if personal_snapshot
                    && body.get(4) == Some(&crate::sync::stream_object::STREAM_FORMAT_VERSION) =>
            {
                (Fetched::Missing, Some(SnapshotBody::Memory(body)))
            }
            other => (other, None),
        };
        if let Some(body) = deferred {
            match snapshot_apply::precheck(body.prefix(), &w.r) {
                Ok(Precheck::Matches) => {
                    *raw_snapshot = Some(RawSnapshot {
                        key: w.key,
                        r: w.r,
                        body,
                    });
                    self.maybe_apply(i, out);
                }
                Ok(Precheck::Rewritten) if attempt + 1 < HEAD_ATTEMPTS => {
                    out.push(self.get_head(i, attempt + 1, None));
                }
                Ok(Precheck::Rewritten) => {
                    let failure = SyncFailure::Read(ReadError::BadObject {
                        device: peer,
                        key: w.key.relative(),
                        source: ObjectError::HashMismatch,
                    });
                    self.fail_peer(i, failure, out);
                }
                Err(source) => {
                    let failure = SyncFailure::Read(ReadError::BadObject {
                        device: peer,
                        key: w.key.relative(),
                        source,
                    });
                    self.fail_peer(i, failure, out);
                }
            }
            return;
        }
        let opened = match fetched {
            Fetched::Found { body, .. } => {
                reader::open_object_owned(&peer, &w.key.relative(), &w.r, w.kind, body, opener)
            }
            // Only the personal stream's snapshots are spilled.
            Fetched::Spilled { .. } => Err(ReadError::BadObject {
                device: peer.clone(),
                key: w.key.relative(),
                source: ObjectError::Malformed(
                    "it was written to a file, not kept in memory".into(),
                ),
            }),
            // Gone since the head was read: the peer rewrote its ring.
            Fetched::Missing | Fetched::NotModified => Ok(None),
        };
        match opened {
            Ok(Some(bundle)) => {
                got.insert(w.order, bundle);
                self.maybe_apply(i, out);
            }
            Ok(None) if attempt + 1 < HEAD_ATTEMPTS => {
                // Read the head again, unconditionally; answers still on
                // their way for this attempt are ignored.
                out.push(self.get_head(i, attempt + 1, None));
            }
            Ok(None) => {
                let failure = SyncFailure::Read(ReadError::BadObject {
                    device: peer,
                    key: w.key.relative(),
                    source: ObjectError::HashMismatch,
                });
                self.fail_peer(i, failure, out);
            }
            Err(e) => self.fail_peer(i, SyncFailure::Read(e), out),
        }
    }

    fn maybe_apply(&mut self, i: usize, out: &mut Vec<Effect>) {
        let p = &mut self.peers[i];
        let PeerPhase::FetchingObjects { wanted, .. } = &p.phase else {
            return;
        };
        if !wanted.is_empty() {
            return;
        }
        let snapshot = matches!(p.phase, PeerPhase::FetchingObjects { snapshot: true, .. });
        let PeerPhase::FetchingObjects {
            head,
            etag,
            got,
            digest,
            raw_snapshot,
            ..
        } = std::mem::replace(&mut p.phase, PeerPhase::Applying { snapshot })
        else {
            return;
        };
        out.push(Effect::Local(LocalEffect::ApplyPeer(Box::new(PeerApply {
            peer: p.state.device_id.clone(),
            state: p.state.clone(),
            head: *head,
            etag,
            bundles: got.into_values().collect(),
            digest,
            snapshot: raw_snapshot,
        }))));
    }

    fn on_applied(&mut self, peer: &str, result: Result<usize, ReadError>, out: &mut Vec<Effect>) {
        let Some(i) = self.peers.iter().position(|p| {
            p.state.device_id == peer && matches!(p.phase, PeerPhase::Applying { .. })
        }) else {
            return;
        };
        match result {
            Ok(changed) => {
                self.peers[i].outcome.changed_notes = changed;
                self.follow_up = true;
                self.peer_done(i, out);
            }
            Err(e) => self.fail_peer(i, SyncFailure::Read(e), out),
        }
    }

    fn fail_peer(&mut self, i: usize, failure: SyncFailure, out: &mut Vec<Effect>) {
        let p = &mut self.peers[i];
        out.push(Effect::Local(LocalEffect::SetPeerError {
            peer: p.state.device_id.clone(),
            error: Some(PeerError::from(&failure)),
        }));
        p.outcome.error = Some(failure);
        self.peer_done(i, out);
    }

    fn peer_done(&mut self, i: usize, out: &mut Vec<Effect>) {
        self.peers[i].phase = PeerPhase::Done;
        self.resume_queued(out);
        self.maybe_follow_up(out);
    }

    /// Once no snapshot is held, the first peer queued for one fetches it.
    fn resume_queued(&mut self, out: &mut Vec<Effect>) {
        if self.holding_snapshot() {
            return;
        }
        let Some(i) = self
            .peers
            .iter()
            .position(|p| matches!(p.phase, PeerPhase::Queued { .. }))
        else {
            return;
        };
        if let PeerPhase::Queued {
            attempt,
            head,
            etag,
            plan,
        } = std::mem::replace(&mut self.peers[i].phase, PeerPhase::Done)
        {
            self.fetch_objects(i, attempt, *head, etag, plan, out);
        }
    }

    /// This device's id, as the round was created with.
    pub fn device(&self) -> &str {
        &self.me
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::transport::{TransportError, TransportErrorKind};

    fn peer(id: &str) -> PeerState {
        PeerState {
            device_id: id.into(),
            ..PeerState::default()
        }
    }

    #[test]
    fn heads_of_all_peers_are_asked_for_at_once() {
        let mut round = Round::new("A", vec![peer("B"), peer("C"), peer("D")], None);
        let effects = round.start();
        let heads = effects
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Effect::Bucket(BucketRequest::Get {
                        key: DeviceKey::Head,
                        ..
                    })
                )
            })
            .count();
        assert_eq!(heads, 3);
        assert!(matches!(
            effects[0],
            Effect::Local(LocalEffect::PreparePublish)
        ));
    }

    #[test]
    fn a_failed_peer_does_not_stop_the_others_and_repeats_are_ignored() {
        let mut round = Round::new("A", vec![peer("B"), peer("C")], None);
        let gets = get_requests(&round.start());
        assert!(round.handle(Event::PublishPlanned(None)).is_empty());
        let failed = round.handle(Event::GetDone {
            request: gets[0],
            result: Err(TransportError::new(TransportErrorKind::Offline, "down")),
        });
        assert!(matches!(
            failed.as_slice(),
            [Effect::Local(LocalEffect::SetPeerError {
                error: Some(_),
                ..
            })]
        ));
        // The same answer again, and an answer nobody asked for: nothing.
        assert!(round
            .handle(Event::GetDone {
                request: gets[0],
                result: Ok(Fetched::NotModified),
            })
            .is_empty());
        assert!(round
            .handle(Event::GetDone {
                request: RequestId(999),
                result: Ok(Fetched::NotModified),
            })
            .is_empty());
        assert!(!round.is_done());
        round.handle(Event::GetDone {
            request: gets[1],
            result: Ok(Fetched::NotModified),
        });
        assert!(round.is_done());
        let report = round.finish();
        assert_eq!(
            report.peers[0].error.as_ref().map(SyncFailure::code),
            Some(crate::sync::FailureCode::Offline)
        );
        assert!(report.peers[1].error.is_none());
    }

    /// A peer's head with a snapshot, and the snapshot, as stored.
    fn published(device: &str, note: &str) -> (Vec<u8>, Vec<u8>) {
        use crate::sync::{bundle, object};
        let snapshot = object::encode(
            ObjectKind::Snapshot,
            1,
            false,
            &bundle::encode(&[(note.to_string(), b"doc".to_vec())]),
        );
        let mut head = DeviceHead::new(device);
        head.seq = 1;
        head.snapshot = Some(ObjectRef {
            seq: 1,
            slot: 0,
            hash: object::encoded_hash_hex(&snapshot),
            len: snapshot.len() as u64,
        });
        let head = object::encode(ObjectKind::Head, 1, false, &head.to_json());
        (head, snapshot)
    }

    /// The requests of every GET among `effects`, in order.
    fn get_requests(effects: &[Effect]) -> Vec<RequestId> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Bucket(BucketRequest::Get { request, .. }) => Some(*request),
                _ => None,
            })
            .collect()
    }

    fn found(body: Vec<u8>) -> Result<Fetched, TransportError> {
        Ok(Fetched::Found { body, etag: None })
    }

    fn snapshot_gets(effects: &[Effect]) -> Vec<(RequestId, String)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Bucket(BucketRequest::Get {
                    request,
                    device,
                    key: DeviceKey::Snapshot(_),
                    ..
                }) => Some((*request, device.clone())),
                _ => None,
            })
            .collect()
    }

    fn applies(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Local(LocalEffect::ApplyPeer(a)) => Some(a.peer.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_peers_snapshot_is_in_memory_at_a_time() {
        let note = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
        let (b_head, b_snap) = published("B", note);
        let (c_head, c_snap) = published("C", note);
        let mut round = Round::new("A", vec![peer("B"), peer("C")], None);
        let heads = get_requests(&round.start());
        round.handle(Event::PublishPlanned(None));
        let after_b = round.handle(Event::GetDone {
            request: heads[0],
            result: found(b_head),
        });
        let b_get = snapshot_gets(&after_b);
        assert_eq!(b_get.len(), 1);
        // C's head says it has a snapshot too: it waits.
        let after_c = round.handle(Event::GetDone {
            request: heads[1],
            result: found(c_head),
        });
        assert!(snapshot_gets(&after_c).is_empty(), "{after_c:?}");
        let opened = round.handle(Event::GetDone {
            request: b_get[0].0,
            result: found(b_snap),
        });
        assert_eq!(applies(&opened), ["B"]);
        // Still held until B's is applied.
        assert!(snapshot_gets(&opened).is_empty());
        let applied = round.handle(Event::PeerApplied {
            peer: "B".into(),
            result: Ok(1),
        });
        let c_get = snapshot_gets(&applied);
        assert_eq!(
            c_get.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>(),
            ["C"]
        );
        let opened = round.handle(Event::GetDone {
            request: c_get[0].0,
            result: found(c_snap),
        });
        assert_eq!(applies(&opened), ["C"]);
        round.handle(Event::PeerApplied {
            peer: "C".into(),
            result: Ok(0),
        });
        let report = round.finish();
        assert!(report.peers.iter().all(|p| p.error.is_none()));
        assert_eq!(report.peers[0].changed_notes, 1);
    }

    #[test]
    fn a_failed_snapshot_lets_the_next_peer_fetch_its_own() {
        let note = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
        let (b_head, _) = published("B", note);
        let (c_head, _) = published("C", note);
        let mut round = Round::new("A", vec![peer("B"), peer("C")], None);
        let heads = get_requests(&round.start());
        round.handle(Event::PublishPlanned(None));
        let b_get = snapshot_gets(&round.handle(Event::GetDone {
            request: heads[0],
            result: found(b_head),
        }));
        round.handle(Event::GetDone {
            request: heads[1],
            result: found(c_head),
        });
        let after = round.handle(Event::GetDone {
            request: b_get[0].0,
            result: Err(TransportError::new(TransportErrorKind::Offline, "down")),
        });
        assert_eq!(
            snapshot_gets(&after)
                .iter()
                .map(|(_, d)| d.as_str())
                .collect::<Vec<_>>(),
            ["C"]
        );
    }
}
