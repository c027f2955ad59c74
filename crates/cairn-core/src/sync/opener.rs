//! How a round opens what it reads: the personal stream's objects with
//! the content key (envelope version 1), or a shared space's with the key
//! of the epoch each object names (version 2), and which of a space's
//! peers count at all.
//!
//! In a space the reader also decides per peer device, from the verified
//! chain: a current owner's or editor's device is read in full; a departed
//! writer's only up to its fence (the last sequence the service saw from
//! it when it left: anything it uploads later, even with a presigned URL
//! still valid, is past the fence and ignored); a viewer's device, or one
//! of someone the chain does not know, is not read at all (its head is
//! ignored whatever it says).
//!
//! Before any of that, a space's head must carry the signature of the
//! member whose prefix it lies in (`crate::sync::signed_head`): the epoch
//! key alone, which viewers and departed members hold too, writes no head
//! anyone reads.

use std::collections::BTreeMap;

use cairn_protocol::{DeviceId, UserId};

use crate::space::epoch::{Epoch, EpochKey, SpaceId};
use crate::space::identity::SharingIdentity;
use crate::space::object_ad::{self, ObjectPlace};
use crate::sync::head::DeviceHead;
use crate::sync::object::{self, Object, ObjectError};
use crate::sync::personal_object::PersonalKeys;
use crate::sync::signed_head::{self, HeadPlace, HeadRefusal, Signer};

/// What a space's reader makes of one peer device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAccess {
    /// An owner's or editor's device: read in full.
    Writer,
    /// A departed writer's device, fenced by a record written before
    /// heads were pinned: read up to this sequence number.
    FencedAt(u64),
    /// A departed writer's device: only the head whose bytes have this
    /// SHA-256 (as the owner read it when their writes ended) is read,
    /// with the objects it lists; any other head is ignored.
    FencedHead { seq: u64, hash: [u8; 32] },
    /// A viewer's device, or one the chain gives no right to write.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpacePeer {
    pub user: UserId,
    pub access: PeerAccess,
}

/// What a device that writes in a space seals and signs with.
#[derive(Debug, Clone)]
pub struct SpaceWriting {
    /// The current epoch and its key.
    pub epoch: Epoch,
    pub key: EpochKey,
    /// This account's sharing identity: it signs every head.
    pub identity: SharingIdentity,
}

/// One device's stream in one space, for a round.
#[derive(Debug, Clone)]
pub struct SpaceSync {
    pub space: SpaceId,
    pub user: UserId,
    pub device: DeviceId,
    /// The shared notebook: only notes inside it go out, and only notes
    /// inside it on this device are changed by what comes in.
    pub notebook: String,
    /// What to seal and sign with; `None` when this account does not
    /// write in the space (a viewer, or departed).
    pub writing: Option<SpaceWriting>,
    /// Every epoch key held, to open with.
    pub keys: BTreeMap<Epoch, EpochKey>,
    /// By device id.
    pub peers: BTreeMap<String, SpacePeer>,
    /// From the verified chain: the keys heads are checked with, of the
    /// members and of those who left (their pinned heads were signed
    /// while they were members).
    pub signers: BTreeMap<UserId, Signer>,
}

impl SpaceSync {
    pub fn access(&self, device: &str) -> PeerAccess {
        self.peers
            .get(device)
            .map_or(PeerAccess::Ignored, |p| p.access)
    }

    fn place(&self, device: &str, key: &str) -> Result<ObjectPlace, ObjectError> {
        let peer = self
            .peers
            .get(device)
            .ok_or_else(|| ObjectError::Malformed(format!("no member has device {device}")))?;
        Ok(ObjectPlace {
            space: self.space,
            user: peer.user.clone(),
            device: DeviceId::parse(device).map_err(|e| ObjectError::Malformed(e.to_string()))?,
            key: key.to_owned(),
        })
    }

    /// The head JSON of `device`'s head `obj`, whose opened payload is
    /// `payload`, if the member owning that device signed it.
    pub fn check_head<'a>(
        &self,
        device: &str,
        obj: &Object,
        payload: &'a [u8],
    ) -> Result<&'a [u8], HeadRefusal> {
        let peer = self
            .peers
            .get(device)
            .ok_or_else(|| HeadRefusal::Malformed(format!("no member has device {device}")))?;
        let device = DeviceId::parse(device).map_err(|e| HeadRefusal::Malformed(e.to_string()))?;
        let epoch = obj
            .space
            .map(|b| b.epoch)
            .ok_or_else(|| HeadRefusal::Malformed("not a shared notebook's object".into()))?;
        let place = HeadPlace {
            space: self.space,
            user: &peer.user,
            device: &device,
            epoch,
            seq: obj.seq,
        };
        signed_head::verify(payload, &place, |who| self.signers.get(who).cloned())
    }

    /// Where this device's own objects go.
    pub fn own_place(&self, key: &str) -> ObjectPlace {
        ObjectPlace {
            space: self.space,
            user: self.user.clone(),
            device: self.device.clone(),
            key: key.to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Opener {
    Personal(PersonalKeys),
    Space(Box<SpaceSync>),
}

impl Opener {
    /// The payload of `obj`, read at `device`'s `key`.
    pub fn open(&self, obj: &Object, device: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
        self.open_owned(obj.clone(), device, key)
    }

    /// `open`, decrypting the payload in place.
    pub fn open_owned(&self, obj: Object, device: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
        match self {
            Opener::Personal(k) => k.open_owned(obj, device, key),
            Opener::Space(s) => {
                let place = s.place(device, key)?;
                object_ad::open_owned(obj, &place, |e| s.keys.get(&e).cloned())
            }
        }
    }

    /// What to make of `device`'s head (`bytes`, as stored): `None` to
    /// ignore it, else the head as far as it may be read (a fenced peer's
    /// pinned head only, or one cut at its fence).
    pub fn admit(&self, device: &str, head: DeviceHead, bytes: &[u8]) -> Option<DeviceHead> {
        match self {
            Opener::Personal(_) => Some(head),
            Opener::Space(s) => match s.access(device) {
                PeerAccess::Writer => Some(head),
                PeerAccess::Ignored => None,
                PeerAccess::FencedAt(fence) => Some(cut_at(head, fence)),
                PeerAccess::FencedHead { seq, hash } => {
                    (head.seq == seq && object::sha256(bytes) == hash).then_some(head)
                }
            },
        }
    }
}

/// A head as it stood at `fence`: nothing published after it. The log
/// segments up to the fence that the ring still holds, and the snapshot
/// if it is not newer.
fn cut_at(mut head: DeviceHead, fence: u64) -> DeviceHead {
    if head.seq <= fence {
        return head;
    }
    head.seq = fence;
    head.segments.retain(|s| s.seq <= fence);
    if head.snapshot.as_ref().is_some_and(|s| s.seq > fence) {
        head.snapshot = None;
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::head::ObjectRef;

    fn r(seq: u64) -> ObjectRef {
        ObjectRef {
            seq,
            slot: (seq % 64) as u32,
            hash: String::new(),
            len: 1,
        }
    }

    #[test]
    fn a_head_past_the_fence_is_cut_back_to_it() {
        let mut head = DeviceHead::new("d1");
        head.seq = 9;
        head.segments = vec![r(6), r(7), r(8), r(9)];
        head.snapshot = Some(r(5));
        let cut = cut_at(head.clone(), 7);
        assert_eq!(cut.seq, 7);
        assert_eq!(cut.segments, vec![r(6), r(7)]);
        assert_eq!(cut.snapshot, Some(r(5)));
        let cut = cut_at(head.clone(), 4);
        assert_eq!((cut.seq, cut.segments.len(), cut.snapshot), (4, 0, None));
        assert_eq!(cut_at(head.clone(), 12), head);
    }

    #[test]
    fn a_pinned_head_is_read_only_as_it_was_pinned() {
        let mut head = DeviceHead::new("d1");
        head.seq = 9;
        let bytes = b"the head as the owner read it".to_vec();
        let mut sync = SpaceSync {
            space: SpaceId::generate(),
            user: crate::space::identity::tests::user("alice"),
            device: DeviceId::parse("a1").unwrap(),
            notebook: String::new(),
            writing: None,
            keys: BTreeMap::new(),
            peers: BTreeMap::new(),
            signers: BTreeMap::new(),
        };
        sync.peers.insert(
            "d1".into(),
            SpacePeer {
                user: crate::space::identity::tests::user("bob"),
                access: PeerAccess::FencedHead {
                    seq: 9,
                    hash: object::sha256(&bytes),
                },
            },
        );
        let opener = Opener::Space(Box::new(sync));
        assert_eq!(opener.admit("d1", head.clone(), &bytes), Some(head.clone()));
        // Rewritten after the fence (other bytes), or naming another
        // sequence: not read at all.
        assert_eq!(opener.admit("d1", head.clone(), b"rewritten"), None);
        let mut later = head.clone();
        later.seq = 8;
        assert_eq!(opener.admit("d1", later, &bytes), None);
    }
}
