//! Hostile input from a peer, through the real service and S3 server: a
//! device of the same user (its own grant, its own keys) writes objects
//! that are truncated, corrupt, of an unknown format version, or carry an
//! Automerge chunk that does not load. The reader refuses each with a
//! clear error in `cairn sync` and `cairn status` (text and JSON), its
//! notes stay exactly as they were, and sync recovers once the peer
//! publishes something sound again.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::crypto::ContentKey;
use cairn_core::sync::head::{DeviceHead, ObjectRef};
use cairn_core::sync::object::{self, ObjectKind};
use cairn_core::sync::{bundle, reader, Fetched, Transport};
use cairn_protocol::{DeviceKey, LOG_SLOTS};
use cairn_scenarios::cloud::Cloud;
use cairn_scenarios::device::{assert_converged, settle, Device};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The objects a hostile publish writes: (key, bytes), the head last.
type Publish = Vec<(DeviceKey, Vec<u8>)>;

/// Objects sealed with the account's content key, as the peer's own
/// writer seals them: the hostile peer is a device of the same user.
struct Sealer<'a> {
    device: &'a str,
    key: &'a ContentKey,
}

impl Sealer<'_> {
    fn seal(&self, kind: ObjectKind, seq: u64, at: DeviceKey, payload: &[u8]) -> Vec<u8> {
        object::encode_for(
            kind,
            seq,
            self.device,
            &at.relative(),
            Some(self.key),
            payload,
        )
    }

    fn head(&self, head: &DeviceHead) -> Vec<u8> {
        self.seal(ObjectKind::Head, head.seq, DeviceKey::Head, &head.to_json())
    }
}

/// A publish of one more segment holding `payload`, as a sound device
/// would write it; `spoil` then damages the segment's bytes.
fn segment_publish(
    sealer: &Sealer,
    current: &DeviceHead,
    payload: &[u8],
    spoil: impl Fn(&mut Vec<u8>),
) -> Publish {
    let seq = current.seq + 1;
    let slot = (seq % u64::from(LOG_SLOTS)) as u32;
    let at = DeviceKey::log(slot).expect("slot");
    let mut segment = sealer.seal(ObjectKind::Segment, seq, at, payload);
    let mut head = current.clone();
    head.seq = seq;
    head.segments.push(ObjectRef {
        seq,
        slot,
        hash: object::encoded_hash_hex(&segment),
        len: segment.len() as u64,
    });
    spoil(&mut segment);
    vec![(at, segment), (DeviceKey::Head, sealer.head(&head))]
}

#[test]
fn hostile_peer_objects_are_refused_and_local_data_stays() {
    let cloud = Cloud::start();
    let mut rng = StdRng::seed_from_u64(9);
    let (laptop, peer) = (Device::new("laptop"), Device::new("peer"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(&cloud, &key);
    peer.login(&cloud, &key);
    laptop.ok(&["new", "mine, from the laptop"]);
    let shared = peer.ok(&["new", "shared, from the peer"]);
    let shared = shared.lines().last().expect("id").trim().to_owned();
    settle(&[&laptop, &peer], &mut rng, 6);
    let before = laptop.notes();
    assert_eq!(before.len(), 2);

    let peer_id = peer.device_id();
    let mut t = peer.transport(&cloud);
    let Fetched::Found {
        body: sound_head, ..
    } = t.get(&peer_id, DeviceKey::Head, None).expect("head")
    else {
        panic!("the peer has a head");
    };
    let content_key = peer.content_key();
    let sealer = Sealer {
        device: &peer_id,
        key: &content_key,
    };
    let current =
        reader::decode_head(&peer_id, &sound_head, Some(&content_key)).expect("sound head");

    let mut unknown_version = sound_head.clone();
    unknown_version[4] = 9;
    // A note's data that is not Automerge at all, in a sound envelope.
    let garbage = bundle::encode(&[(shared.clone(), b"\x85\x6f\x4a\x83 not automerge".to_vec())]);
    let fine = bundle::encode::<Vec<u8>>(&[]);
    let refused_chunk = format!("changes for note {shared} could not be applied");
    let cases: Vec<(&str, Publish, &str)> = vec![
        (
            "truncated head",
            vec![(DeviceKey::Head, sound_head[..sound_head.len() / 2].to_vec())],
            "object length does not match its header",
        ),
        (
            "unknown format version",
            vec![(DeviceKey::Head, unknown_version)],
            "a device of yours runs a newer Cairn (object format 9)",
        ),
        (
            "truncated segment",
            segment_publish(&sealer, &current, &fine, |s| s.truncate(s.len() - 3)),
            "object length does not match its header",
        ),
        (
            "corrupt segment",
            segment_publish(&sealer, &current, &fine, |s| {
                let last = s.len() - 1;
                s[last] ^= 0x55;
            }),
            "does not match its checksum",
        ),
        (
            "automerge chunk that fails to load",
            segment_publish(&sealer, &current, &garbage, |_| {}),
            &refused_chunk,
        ),
    ];

    for (what, publish, expected) in cases {
        for (key, bytes) in publish {
            t.put(key, bytes.into())
                .expect("the peer may write its own keys");
        }
        let run = laptop.sync();
        assert!(!run.success, "{what}: sync must fail: {run:?}");
        assert!(
            run.stderr.contains(&format!("device {peer_id}")) && run.stderr.contains(expected),
            "{what}: unclear error: {}",
            run.stderr
        );

        let status = laptop.status();
        let device = &status["devices"][0];
        assert_eq!(device["device_id"], peer_id.as_str());
        let error = device["error"]["detail"].as_str().unwrap_or_default();
        assert!(error.contains(expected), "{what}: status --json: {status}");
        // The code is kept with the words, and the state is decided from it.
        let code = if what == "unknown format version" {
            "newer_format"
        } else {
            "bad_object"
        };
        assert_eq!(device["error"]["code"], code, "{what}: {status}");
        assert_eq!(status["state"]["state"], "error", "{what}: {status}");
        assert_eq!(status["state"]["problem"], code, "{what}: {status}");
        let text = laptop.ok(&["status"]);
        assert!(
            text.contains("ERROR:") && text.contains(expected),
            "{what}: {text}"
        );

        assert_eq!(laptop.notes(), before, "{what}: local data changed");
        eprintln!("{what}: refused with: {error}");
    }

    // The peer publishes soundly again (over the hostile head): sync
    // recovers and the error clears.
    peer.ok(&["tag", &shared, "+recovered"]);
    peer.sync_ok();
    settle(&[&laptop, &peer], &mut rng, 6);
    let view = assert_converged(&[&laptop, &peer]);
    assert_eq!(view[&shared].tags, vec!["recovered".to_owned()]);
    assert!(laptop.status()["devices"][0]["error"].is_null());
}
