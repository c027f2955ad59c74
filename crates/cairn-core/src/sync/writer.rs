//! Publishing: this device's new chunks go out as one log segment, then the
//! head that lists it. When the ring would overwrite a live segment, or the
//! log outgrows the snapshot, a full snapshot goes to the free snapshot slot
//! instead and the head starts over with an empty log.
//!
//! A publish is planned with the store (`prepare_publish`), uploaded with
//! no store lock held (typing goes on meanwhile), and recorded
//! (`finish_publish`) only after the head is written. Its sequence number
//! is reserved durably first, so a crash anywhere leaves the old head valid
//! and never reuses a number for different content.
//!
//! Segments carry every chunk this device stored since the last publish,
//! merged ones included. That makes each device's stream causally complete:
//! a reader can apply one peer's segments without waiting for another
//! peer's, and a device's prefix alone holds everything it has seen.

use cairn_protocol::{DeviceKey, LOG_SLOTS};

use crate::error::{CoreError, Result};
use crate::store::Store;
use crate::sync::bundle;
use crate::sync::head::{DeviceHead, ObjectRef};
use crate::sync::object::{self, ObjectKind};
use crate::sync::snapshot_write::WrittenSnapshot;
use crate::sync::transport::Body;

/// The log is folded into a snapshot once it is larger than the snapshot,
/// but never for less than this: a small account should not rewrite its
/// snapshot for every few keystrokes.
pub const COMPACT_MIN_LOG_BYTES: u64 = 256 * 1024;

/// Uploads to make, in order (the head last), and what to record after.
#[derive(Debug, Clone)]
pub struct PublishPlan {
    pub puts: Vec<(DeviceKey, Body)>,
    pub head: DeviceHead,
    pub watermark: i64,
    /// Whether this publish wrote a snapshot.
    pub snapshot: bool,
    /// Whether any note data goes out (false: only the merged map moved).
    pub has_data: bool,
    /// The documents whose changes go out: a space's stream records them
    /// as sent (the first time, whole).
    pub docs: Vec<String>,
}

impl PublishPlan {
    pub fn bytes(&self) -> u64 {
        self.puts.iter().map(|(_, b)| b.len()).sum()
    }
}

fn slot_key(
    result: std::result::Result<DeviceKey, cairn_protocol::ProtocolError>,
) -> Result<DeviceKey> {
    result.map_err(|e| CoreError::Invalid {
        what: "object slot",
        reason: e.to_string(),
    })
}

/// What a publish needs from the stream it publishes: the personal one
/// (the store's own sync state, sealed with the content key) or a shared
/// space's (`crate::sync::space_stream`: its own sync state, only the
/// space's documents, sealed with the epoch key).
pub(crate) trait PublishScope {
    fn store(&mut self) -> &mut Store;
    fn self_state(&mut self, device_id: &str) -> Result<crate::sync::SelfState>;
    /// The chunks to publish after `after`, grouped per document, and the
    /// highest chunk id looked at.
    fn chunks_after(&mut self, after: i64) -> Result<(bundle::Bundle, i64)>;
    fn merged_map(&mut self) -> Result<std::collections::BTreeMap<String, u64>>;
    fn reserve_seq(&mut self, seq: u64) -> Result<()>;
    fn unrecorded_snapshot_slots(&mut self) -> Result<u32>;
    fn mark_snapshot_slot(&mut self, slot: u32) -> Result<()>;
    fn seal(&self, kind: ObjectKind, seq: u64, key: &DeviceKey, payload: &[u8]) -> Vec<u8>;
    /// `seal`, taking the payload's buffer over where the scope can seal in
    /// it (a snapshot is the size of the account).
    fn seal_owned(&self, kind: ObjectKind, seq: u64, key: &DeviceKey, payload: Vec<u8>) -> Vec<u8> {
        self.seal(kind, seq, key, &payload)
    }
    /// Writes a snapshot of every document at `key`. A shared space's is
    /// one sealed message (envelope version 2) without states: its members
    /// read it whole, and load every document.
    fn write_snapshot(&mut self, seq: u64, key: &DeviceKey) -> Result<WrittenSnapshot> {
        let (all, max_chunk) = self.chunks_after(0)?;
        let docs = all.iter().map(|(id, _)| id.clone()).collect();
        let body = self.seal_owned(ObjectKind::Snapshot, seq, key, bundle::encode(&all));
        Ok(WrittenSnapshot {
            body: Body::Bytes(body),
            docs,
            max_chunk,
        })
    }
}

/// The personal stream.
struct Personal<'a> {
    store: &'a mut Store,
    device_id: &'a str,
}

impl PublishScope for Personal<'_> {
    fn store(&mut self) -> &mut Store {
        self.store
    }
    fn self_state(&mut self, device_id: &str) -> Result<crate::sync::SelfState> {
        self.store.sync_self(device_id)
    }
    fn chunks_after(&mut self, after: i64) -> Result<(bundle::Bundle, i64)> {
        self.store.chunks_after(after)
    }
    fn merged_map(&mut self) -> Result<std::collections::BTreeMap<String, u64>> {
        self.store.merged_map()
    }
    fn reserve_seq(&mut self, seq: u64) -> Result<()> {
        self.store.reserve_seq(seq)
    }
    fn unrecorded_snapshot_slots(&mut self) -> Result<u32> {
        self.store.unrecorded_snapshot_slots()
    }
    fn mark_snapshot_slot(&mut self, slot: u32) -> Result<()> {
        self.store.mark_snapshot_slot(slot)
    }
    fn seal(&self, kind: ObjectKind, seq: u64, key: &DeviceKey, payload: &[u8]) -> Vec<u8> {
        self.store
            .personal_keys()
            .seal(kind, seq, self.device_id, &key.relative(), payload)
    }
    fn seal_owned(&self, kind: ObjectKind, seq: u64, key: &DeviceKey, payload: Vec<u8>) -> Vec<u8> {
        self.store
            .personal_keys()
            .seal_owned(kind, seq, self.device_id, &key.relative(), payload)
    }
    /// The personal stream's snapshot is sealed in chunks with each
    /// note's state beside its document, into a file as it is read
    /// (`snapshot_write`): a new device opens and stores it a batch at a
    /// time, loading no document, and neither side holds it whole.
    fn write_snapshot(&mut self, seq: u64, key: &DeviceKey) -> Result<WrittenSnapshot> {
        self.store.write_personal_snapshot(seq, self.device_id, key)
    }
}

impl Store {
    /// Plans the next publish, or None when there is nothing new to say.
    pub fn prepare_publish(&mut self, device_id: &str) -> Result<Option<PublishPlan>> {
        plan_publish(
            &mut Personal {
                store: self,
                device_id,
            },
            device_id,
        )
    }

    /// Records a publish whose uploads all succeeded.
    pub fn finish_publish(&mut self, plan: &PublishPlan) -> Result<()> {
        self.save_published(plan.watermark, &plan.head)
    }
}

/// Plans the next publish of `scope`'s stream, or None when there is
/// nothing new to say.
pub(crate) fn plan_publish(
    scope: &mut dyn PublishScope,
    device_id: &str,
) -> Result<Option<PublishPlan>> {
    let me = scope.self_state(device_id)?;
    let (entries, max_id) = scope.chunks_after(me.watermark)?;
    let merged = scope.merged_map()?;
    let now = scope.store().clock.now_ms();
    let old = me
        .head
        .clone()
        .unwrap_or_else(|| DeviceHead::new(device_id));
    if entries.is_empty() {
        if me.head.is_some() && old.merged == merged {
            return Ok(None);
        }
        // Only what we merged moved (or this is our very first head).
        let mut head = old;
        head.merged = merged;
        head.written_ms = now;
        let body = scope.seal(
            ObjectKind::Head,
            head.seq,
            &DeviceKey::Head,
            &head.to_json(),
        );
        return Ok(Some(PublishPlan {
            puts: vec![(DeviceKey::Head, Body::Bytes(body))],
            head,
            watermark: me.watermark,
            snapshot: false,
            has_data: false,
            docs: Vec::new(),
        }));
    }
    let seq = me.seq + 1;
    scope.reserve_seq(seq)?;
    let mut docs: Vec<String> = entries.iter().map(|(id, _)| id.clone()).collect();
    let segment_len = bundle::encoded_len(&entries);
    let snapshot_seq = old.snapshot.as_ref().map(|s| s.seq);
    let snapshot_len = old.snapshot.as_ref().map(|s| s.len).unwrap_or(0);
    let ring_full = snapshot_seq.is_none_or(|s| seq - s >= u64::from(LOG_SLOTS));
    let log_too_big =
        old.log_bytes() + segment_len as u64 > snapshot_len.max(COMPACT_MIN_LOG_BYTES);
    let mut head = DeviceHead {
        seq,
        merged,
        written_ms: now,
        ..old.clone()
    };
    let mut puts = Vec::new();
    let watermark;
    // The snapshot goes to a slot no head in storage may name: not the
    // recorded head's, and not one an unrecorded publish wrote (its head
    // may have reached storage with its answer lost).
    let pinned = old.snapshot.as_ref().map_or(0, |s| 1u32 << s.slot.min(1))
        | scope.unrecorded_snapshot_slots()?;
    let preferred = match &old.snapshot {
        Some(s) => 1 - s.slot.min(1),
        None => 0,
    };
    let free = [preferred, 1 - preferred]
        .into_iter()
        .find(|slot| pinned & (1 << slot) == 0);
    // No free slot (two unrecorded attempts, or one beside the recorded
    // head): a segment is safe while the ring has room, since log slots
    // follow sequence numbers, which are never reused. A full ring
    // leaves no choice but the slot the recorded head does not name.
    let snapshot = ring_full || (log_too_big && free.is_some());
    if snapshot {
        // Every chunk is read again below: the new ones need not stay in
        // memory beside them (on a first sync they are all of them).
        drop(entries);
        let slot = free.unwrap_or(preferred);
        scope.mark_snapshot_slot(slot)?;
        let key = slot_key(DeviceKey::snapshot(slot))?;
        let written = scope.write_snapshot(seq, &key)?;
        docs = written.docs;
        let body = written.body;
        let snapshot_ref = ObjectRef {
            seq,
            slot,
            hash: object::encoded_hash_hex(body.prefix()),
            len: body.len(),
        };
        // A digest beside the snapshot is what writers before version 3
        // made; the states now travel inside it.
        head.digest = None;
        head.snapshot = Some(snapshot_ref);
        head.segments.clear();
        puts.push((key, body));
        watermark = written.max_chunk.max(max_id);
    } else {
        let slot = (seq % u64::from(LOG_SLOTS)) as u32;
        let key = slot_key(DeviceKey::log(slot))?;
        let segment = bundle::encode(&entries);
        drop(entries);
        let body = scope.seal_owned(ObjectKind::Segment, seq, &key, segment);
        head.segments.push(ObjectRef {
            seq,
            slot,
            hash: object::encoded_hash_hex(&body),
            len: body.len() as u64,
        });
        puts.push((key, Body::Bytes(body)));
        watermark = max_id;
    }
    let head_body = scope.seal(ObjectKind::Head, seq, &DeviceKey::Head, &head.to_json());
    puts.push((DeviceKey::Head, Body::Bytes(head_body)));
    Ok(Some(PublishPlan {
        puts,
        head,
        watermark,
        snapshot,
        has_data: true,
        docs,
    }))
}
