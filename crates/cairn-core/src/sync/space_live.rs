//! The live lane of a shared space: a member's newest changes to notes of
//! the shared notebook, sealed with the space's current epoch key, relayed
//! by the service's socket to the other members' devices, so one person's
//! typing shows on another person's screen as it happens instead of after
//! the next publish.
//!
//! As on the personal lane (`crate::sync::live`), this is only a shortcut:
//! the same changes go out with the device's next publish in the space,
//! and merging is idempotent, so a frame lost, late or repeated costs
//! nothing but time.
//!
//! A frame is an object of kind [`ObjectKind::Live`] in envelope version 2
//! (`crate::space::object_ad`): its associated data names the space, the
//! sending user and device, the key [`LIVE_OBJECT_KEY`], the epoch, the
//! kind and a sequence. It carries changes to notes inside the shared
//! notebook only. It is sent only while this account writes in the space
//! and no rotation is due (the same rule as publishing: `writing` is
//! `None` otherwise), and opened only from a device the verified chain
//! lets write there now: a viewer's frames, a departed member's, or a
//! frame relabelled with another member, device or space do not open.
//! What opens is merged, as a space round's reads are, only into notes
//! that are inside the shared notebook on this device.

use std::collections::BTreeSet;

use cairn_protocol::UserId;

use crate::error::Result;
use crate::space::object_ad::{self, ObjectPlace};
use crate::store::Store;
use crate::sync::bundle::{self, Bundle};
use crate::sync::live::{LaneMark, LIVE_OBJECT_KEY};
use crate::sync::object::{self, ObjectError, ObjectKind};
use crate::sync::opener::{PeerAccess, SpaceSync};

/// What this device has sent on one space's lane so far.
pub struct SpaceLiveLane {
    sent: LaneMark,
}

impl SpaceLiveLane {
    /// A lane that starts from what is stored now: earlier changes go out
    /// with the publish.
    pub fn start(store: &Store) -> Result<SpaceLiveLane> {
        Ok(SpaceLiveLane {
            sent: LaneMark::start(store)?,
        })
    }

    /// The next frame for `sync`'s space: the local changes to its notes
    /// stored since the last one, sealed. None when there are none, when
    /// they are too big (the publish carries them), or when this account
    /// does not write in the space now (a viewer, or a rotation due).
    pub fn next(&mut self, store: &mut Store, sync: &SpaceSync) -> Result<Option<Vec<u8>>> {
        let inside: BTreeSet<String> = store.space_notes(&sync.notebook)?.into_iter().collect();
        // Taken even when nothing may be sent, so that changes made while
        // a rotation was due are not sent later under the next epoch
        // here: the publish carries them.
        let taken = self.sent.take(store, |n| inside.contains(n))?;
        let (Some((last, payload)), Some(writing)) = (taken, &sync.writing) else {
            return Ok(None);
        };
        let place = sync.own_place(LIVE_OBJECT_KEY);
        Ok(Some(object_ad::seal(
            ObjectKind::Live,
            last as u64,
            &place,
            writing.epoch,
            &writing.key,
            &payload,
        )))
    }
}

/// Why a space's live frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum SpaceLiveError {
    #[error("live changes in a shared notebook: {0}")]
    Object(#[from] ObjectError),
    #[error("live changes from a device that is not a member's in this shared notebook")]
    UnknownDevice,
    #[error("live changes said to come from another member than the device's")]
    WrongMember,
    #[error("live changes from a member who may not write in this shared notebook")]
    NotAWriter,
}

/// Opens a frame from `user`'s device `device` in `sync`'s space and
/// returns what it carries. Only a frame from a device of a current owner
/// or editor, sealed for that very member, device and space with an epoch
/// key this device holds, opens.
pub fn open(
    sync: &SpaceSync,
    user: &UserId,
    device: &str,
    bytes: &[u8],
) -> std::result::Result<Bundle, SpaceLiveError> {
    let peer = sync
        .peers
        .get(device)
        .ok_or(SpaceLiveError::UnknownDevice)?;
    if peer.user != *user {
        return Err(SpaceLiveError::WrongMember);
    }
    if peer.access != PeerAccess::Writer {
        return Err(SpaceLiveError::NotAWriter);
    }
    let obj = object::decode_kind(bytes, ObjectKind::Live)?;
    let place = ObjectPlace {
        space: sync.space,
        user: user.clone(),
        device: cairn_protocol::DeviceId::parse(device)
            .map_err(|e| ObjectError::Malformed(e.to_string()))?,
        key: LIVE_OBJECT_KEY.to_owned(),
    };
    let payload = object_ad::open(&obj, &place, |e| sync.keys.get(&e).cloned())?;
    Ok(bundle::decode(&payload)?)
}

impl Store {
    /// Merges a space's live frame (opened by [`open`]): changes to notes
    /// outside the shared notebook on this device are dropped, as a space
    /// round drops them. How many notes changed; an error when the store
    /// cannot apply them yet (they build on changes not here yet).
    pub fn merge_space_live(&mut self, sync: &SpaceSync, entries: &Bundle) -> Result<usize> {
        let kept = self.admitted_entries(sync, entries.iter())?;
        if kept.is_empty() {
            return Ok(0);
        }
        self.merge_batch(&kept, |_| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::epoch::{Epoch, EpochKey, SpaceId};
    use crate::space::identity::tests::user;
    use crate::sync::memory::MemoryStorage;
    use crate::sync::opener::SpacePeer;
    use crate::sync::space_stream::tests::{body, round, shared_note, space, Member};

    /// alice (owner), bob (editor) and carol (viewer) with a shared note
    /// every one of them holds, and each one's lane started after it.
    fn ready() -> (Vec<Member>, String, String) {
        let notebook = uuid::Uuid::new_v4().to_string();
        let key = EpochKey::generate();
        let m = space(&notebook, &key, SpaceId::generate());
        let storage = MemoryStorage::default();
        let note = shared_note(&m[0], &notebook, "Rome");
        round(&m[0], &storage);
        round(&m[1], &storage);
        round(&m[2], &storage);
        assert_eq!(body(&m[1], &note).as_deref(), Some("Rome"));
        (m, note, notebook)
    }

    fn lane(m: &Member) -> SpaceLiveLane {
        SpaceLiveLane::start(&m.store.lock().unwrap()).unwrap()
    }

    fn type_into(m: &Member, note: &str, at: usize, text: &str) {
        m.store.lock().unwrap().splice(note, at, 0, text).unwrap();
    }

    fn frame(lane: &mut SpaceLiveLane, m: &Member) -> Option<Vec<u8>> {
        lane.next(&mut m.store.lock().unwrap(), &m.sync).unwrap()
    }

    fn deliver(to: &Member, from: &Member, bytes: &[u8]) -> std::result::Result<usize, String> {
        let entries = open(&to.sync, &from.sync.user, from.sync.device.as_str(), bytes)
            .map_err(|e| e.to_string())?;
        to.store
            .lock()
            .unwrap()
            .merge_space_live(&to.sync, &entries)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_members_typing_reaches_the_others_frame_by_frame() {
        let (m, note, _) = ready();
        let (alice, bob, carol) = (&m[0], &m[1], &m[2]);
        let mut lane = lane(alice);
        assert!(frame(&mut lane, alice).is_none(), "nothing typed yet");
        for (i, ch) in " in May".chars().enumerate() {
            type_into(alice, &note, 4 + i, &ch.to_string());
            let bytes = frame(&mut lane, alice).expect("a frame per keystroke");
            assert_eq!(deliver(bob, alice, &bytes), Ok(1));
            // A viewer reads the members' frames too.
            assert_eq!(deliver(carol, alice, &bytes), Ok(1));
        }
        assert_eq!(body(bob, &note).as_deref(), Some("Rome in May"));
        assert_eq!(body(carol, &note).as_deref(), Some("Rome in May"));
    }

    #[test]
    fn only_the_space_notes_travel_and_only_into_the_notebook() {
        let (m, note, _) = ready();
        let (alice, bob) = (&m[0], &m[1]);
        let mut lane = lane(alice);
        // A personal note of alice's: never on the space's lane.
        let diary = alice.store.lock().unwrap().create_note("diary").unwrap();
        type_into(alice, &diary, 5, " of mine");
        assert!(
            frame(&mut lane, alice).is_none(),
            "a personal note stays home"
        );
        // The note moved out of the notebook on bob's device: a frame no
        // longer changes it there.
        bob.store.lock().unwrap().move_note(&note, None).unwrap();
        type_into(alice, &note, 4, "!");
        let bytes = frame(&mut lane, alice).expect("a frame");
        assert_eq!(deliver(bob, alice, &bytes), Ok(0));
        assert_eq!(body(bob, &note).as_deref(), Some("Rome"));
    }

    #[test]
    fn a_viewer_or_a_departed_member_sends_nothing_that_opens() {
        let (m, note, _) = ready();
        let (alice, bob, carol) = (&m[0], &m[1], &m[2]);
        // A viewer's client sends nothing...
        let mut carols = lane(carol);
        type_into(carol, &note, 0, "VIEWER ");
        assert!(frame(&mut carols, carol).is_none());
        // ...and a frame sealed by one changed to send anyway is refused.
        let mut rogue = carol.sync.clone();
        rogue.writing = alice.sync.writing.clone().map(|mut w| {
            w.identity = carol.identity.clone();
            w
        });
        type_into(carol, &note, 0, "V");
        let bytes = carols
            .next(&mut carol.store.lock().unwrap(), &rogue)
            .unwrap()
            .expect("a rogue frame");
        assert!(matches!(
            open(&alice.sync, &carol.sync.user, "c1", &bytes),
            Err(SpaceLiveError::NotAWriter)
        ));
        // A departed member's device is no writer either.
        let mut after = alice.sync.clone();
        after.peers.insert(
            "b1".into(),
            SpacePeer {
                user: user("bob"),
                access: PeerAccess::FencedAt(1),
            },
        );
        let mut bobs = lane(bob);
        type_into(bob, &note, 0, "late ");
        let bytes = frame(&mut bobs, bob).expect("bob's frame");
        assert!(open(&alice.sync, &bob.sync.user, "b1", &bytes).is_ok());
        assert!(matches!(
            open(&after, &bob.sync.user, "b1", &bytes),
            Err(SpaceLiveError::NotAWriter)
        ));
        // While a rotation is due nobody writes: nothing is sent.
        let mut due = bob.sync.clone();
        due.writing = None;
        type_into(bob, &note, 0, "x");
        assert!(bobs
            .next(&mut bob.store.lock().unwrap(), &due)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_frame_opens_only_as_what_it_was_sealed_for() {
        let (m, note, _) = ready();
        let (alice, bob) = (&m[0], &m[1]);
        let mut lane = lane(alice);
        type_into(alice, &note, 4, "!");
        let bytes = frame(&mut lane, alice).expect("a frame");
        // Said to come from another member, or another member's device.
        assert!(matches!(
            open(&bob.sync, &user("bob"), "a1", &bytes),
            Err(SpaceLiveError::WrongMember)
        ));
        assert!(matches!(
            open(&bob.sync, &user("bob"), "nobody", &bytes),
            Err(SpaceLiveError::UnknownDevice)
        ));
        // Relabelled as bob's device (a peer of alice's), it does not open.
        assert!(open(&alice.sync, &user("bob"), "b1", &bytes).is_err());
        // In another space, or with a key of another epoch.
        let mut elsewhere = bob.sync.clone();
        elsewhere.space = SpaceId::generate();
        assert!(open(&elsewhere, &user("alice"), "a1", &bytes).is_err());
        let mut other_key = bob.sync.clone();
        other_key.keys = std::collections::BTreeMap::from([(Epoch::FIRST, EpochKey::generate())]);
        assert!(open(&other_key, &user("alice"), "a1", &bytes).is_err());
        // Altered on the way.
        let mut bent = bytes.clone();
        let last = bent.len() - 1;
        bent[last] ^= 1;
        assert!(open(&bob.sync, &user("alice"), "a1", &bent).is_err());
        // The personal lane's frame is not a space's.
        assert!(open(&bob.sync, &user("alice"), "a1", b"junk").is_err());
        assert_eq!(deliver(bob, alice, &bytes), Ok(1));
    }
}
