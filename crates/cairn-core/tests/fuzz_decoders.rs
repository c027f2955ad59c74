//! Fuzzing, on the stable toolchain, of every decoder that reads bytes
//! from the bucket or a peer: the object envelope (with its hash check and
//! seal), a peer's head (envelope, seal, JSON, the checks on it), the
//! bundle inside snapshots and segments, and the Automerge chunk checker
//! with the document load behind it; and the attachment layer's: a sealed
//! chunk as it comes out of a slot, an attachment record from a peer's
//! note and a chunk location from the blob index; a shared space's
//! membership record from the bucket or the service; and a shared space's
//! head, signed by its member, whole and as the signed form inside the
//! seal; the personal space's objects after a device was removed (epoch
//! keys), the account's key envelope and the keys inside it; when a
//! removed device's sharing identity is rotated, the successor statement
//! the old key signs, the rekey record (target `membership_record`) and
//! the identity sealed under a personal epoch's key; and a snapshot's
//! digest (its payload, matched against a snapshot of its own notes); a
//! shared space's sealed chunk as it comes out of a member's slot; and a
//! snapshot sealed in chunks (envelope version 3, opened a chunk at a
//! time as from a download) and the entries inside it.
//!
//! A mutator starts from a kept corpus of real objects
//! (`tests/fuzz/corpus/<target>/`, written by `write_corpus` below) and
//! flips bits, overwrites bytes with edge values, truncates, extends,
//! repeats slices, rewrites length fields and splices two inputs. Every
//! input must give a clear error or a value that encodes back to the same
//! bytes; a panic is a crash. A crash is saved under `tests/fuzz/crashes/`
//! and the test fails naming the file and the seed; once fixed, the input
//! moves to `tests/fuzz/fixtures/<target>/`, replayed by every run.
//!
//! Each run uses a new seed (printed on failure). `CAIRN_FUZZ_ITERATIONS`
//! sets the iterations per target (default 1,500; a long local run:
//! `CAIRN_FUZZ_ITERATIONS=200000 cargo test -p cairn-core --release --test
//! fuzz_decoders`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cairn_core::account_keys::AccountKeys;
use cairn_core::blob::{seal, AttachmentRecord, BlobKeys, ChunkId, ChunkLocation};
use cairn_core::crypto::{ContentKey, KeyEnvelope, Wrap};
use cairn_core::note_doc::{check_chunks, NoteDoc};
use cairn_core::space::blob_keys::SpaceBlobKeys;
use cairn_core::space::blob_seal as space_blob_seal;
use cairn_core::space::chain::{SpaceState, Verifier};
use cairn_core::space::epoch::{Epoch, EpochKey, SpaceId};
use cairn_core::space::identity::SharingIdentity;
use cairn_core::space::object_ad::{self, ObjectPlace};
use cairn_core::space::record::{Action, Record, Role};
use cairn_core::space::successor::Successor;
use cairn_core::space::wrap::KeyWrap;
use cairn_core::sync::bundle;
use cairn_core::sync::digest::Digest;
use cairn_core::sync::head::{DeviceHead, ObjectRef};
use cairn_core::sync::memory::MemoryStorage;
use cairn_core::sync::object::{self, ObjectKind};
use cairn_core::sync::opener::{Opener, PeerAccess, SpacePeer, SpaceSync};
use cairn_core::sync::personal_object::PersonalKeys;
use cairn_core::sync::reader;
use cairn_core::sync::run_round;
use cairn_core::sync::signed_head::{self, HeadPlace, Signer};
use cairn_protocol::DeviceKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TARGETS: [&str; 17] = [
    "object",
    "head",
    "bundle",
    "chunks",
    "sealed_chunk",
    "attachment_record",
    "chunk_location",
    "membership_record",
    "signed_head",
    "key_envelope",
    "account_keys",
    "identity_successor",
    "sealed_identity",
    "digest",
    "space_chunk",
    "stream_object",
    "snapshot_entries",
];

/// The recovery key the fuzzed envelopes are opened with (their passphrase
/// wraps are left out: Argon2 with parameters the input picks would make
/// the run a benchmark of Argon2).
const CORPUS_RECOVERY: &str = "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA";

/// The personal space's keys of the corpus: the corpus content key and
/// one epoch key.
fn corpus_personal() -> PersonalKeys {
    PersonalKeys {
        content: Some(corpus_key()),
        epochs: BTreeMap::from([(Epoch::FIRST, EpochKey::from_bytes(&[8; 32]).unwrap())]),
    }
}

/// The same keys as an account holds them (what a sealed identity of
/// version 2 opens with).
fn corpus_account_keys() -> AccountKeys {
    let p = corpus_personal();
    AccountKeys::from_parts(corpus_key(), p.epochs).unwrap()
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// A fixed key for the sealed part of the corpus, so the kept objects open.
fn corpus_key() -> ContentKey {
    ContentKey::from_bytes(&[7u8; 32]).unwrap()
}

/// The space, epoch key and member of the kept space heads.
fn corpus_space() -> (SpaceId, EpochKey, SharingIdentity) {
    let alice = SharingIdentity::from_secrets(
        cairn_protocol::UserId::new("key", "alice").unwrap(),
        [9; 32],
        [11; 32],
    );
    (
        SpaceId::from_bytes([5; 16]),
        EpochKey::from_bytes(&[6; 32]).unwrap(),
        alice,
    )
}

/// A reader of the corpus space in which `dev0` is alice's device.
fn corpus_space_opener() -> Opener {
    let (space, key, alice) = corpus_space();
    let user = alice.account().clone();
    Opener::Space(Box::new(SpaceSync {
        space,
        user: cairn_protocol::UserId::new("key", "reader").unwrap(),
        device: cairn_protocol::DeviceId::parse("dev9").unwrap(),
        notebook: String::new(),
        writing: None,
        keys: BTreeMap::from([(Epoch::FIRST, key)]),
        peers: BTreeMap::from([(
            "dev0".to_owned(),
            SpacePeer {
                user: user.clone(),
                access: PeerAccess::Writer,
            },
        )]),
        signers: BTreeMap::from([(
            user,
            Signer {
                identity: alice.public(),
                viewer: false,
            },
        )]),
    }))
}

/// Runs `f` at the place of the kept signed head (alice's device dev0,
/// epoch 1, sequence 2), with alice.
fn on_corpus_place<R>(f: impl FnOnce(&HeadPlace<'_>, &SharingIdentity) -> R) -> R {
    let (space, _, alice) = corpus_space();
    let device = cairn_protocol::DeviceId::parse("dev0").unwrap();
    let place = HeadPlace {
        space,
        user: alice.account(),
        device: &device,
        epoch: Epoch::FIRST,
        seq: 2,
    };
    f(&place, &alice)
}

/// What a reader of the corpus space knows of its signers: alice only.
fn corpus_signer(
    alice: &SharingIdentity,
) -> impl Fn(&cairn_protocol::UserId) -> Option<Signer> + '_ {
    move |who| {
        (who == alice.account()).then(|| Signer {
            identity: alice.public(),
            viewer: false,
        })
    }
}

/// Runs one decoder on `input`. Ok: a clear error, or a value consistent
/// with the bytes. Err: what was wrong (a panic is caught by the caller).
fn run_target(target: &str, input: &[u8]) -> Result<(), String> {
    match target {
        "object" => {
            if let Ok(obj) = object::decode(input) {
                if obj.encode() != input {
                    return Err("decoded object does not encode back to its bytes".into());
                }
                // The full reader path, as for a peer's segment.
                let r = ObjectRef {
                    seq: obj.seq,
                    slot: 1,
                    hash: obj.hash_hex(),
                    len: input.len() as u64,
                };
                for key in [None, Some(corpus_key())] {
                    let opened = reader::open_object(
                        "dev0",
                        "log/01",
                        &r,
                        ObjectKind::Segment,
                        input,
                        key.as_ref(),
                    );
                    if let Ok(Some(b)) = opened {
                        for (id, _) in &b {
                            if id.is_empty() {
                                return Err("bundle entry with an empty id".into());
                            }
                        }
                    }
                }
                // With the personal space's epoch keys too.
                let personal = Opener::Personal(corpus_personal());
                let opened = reader::open_object_with(
                    "dev0",
                    "log/01",
                    &r,
                    ObjectKind::Segment,
                    input,
                    &personal,
                );
                if opened.is_ok() && obj.space.is_some_and(|b| b.epoch != Epoch::FIRST) {
                    return Err("a personal object opened at an epoch the reader lacks".into());
                }
            }
            Ok(())
        }
        "head" => {
            for key in [None, Some(corpus_key())] {
                if let Ok(head) = reader::decode_head("dev0", input, key.as_ref()) {
                    if head.device != "dev0" {
                        return Err("a head of another device was accepted".into());
                    }
                }
            }
            // As a shared space's head: opened with the epoch key, then
            // its signature checked with the member's key.
            let personal = Opener::Personal(corpus_personal());
            if let Ok(head) = reader::decode_head_with("dev0", input, &personal) {
                if head.device != "dev0" {
                    return Err("a personal head of another device was accepted".into());
                }
            }
            if let Ok(head) = reader::decode_head_with("dev0", input, &corpus_space_opener()) {
                if head.device != "dev0" {
                    return Err("a space head of another device was accepted".into());
                }
            }
            if let Ok(head) = DeviceHead::from_json(input) {
                let again = DeviceHead::from_json(&head.to_json())
                    .map_err(|e| format!("a decoded head does not decode again: {e}"))?;
                if again != head {
                    return Err("head JSON does not round-trip".into());
                }
            }
            Ok(())
        }
        "bundle" => {
            if let Ok(b) = bundle::decode(input) {
                if bundle::encode(&b) != input {
                    return Err("decoded bundle does not encode back to its bytes".into());
                }
            }
            Ok(())
        }
        "chunks" => {
            if check_chunks(input).is_ok() && !input.is_empty() {
                // Checked chunks must load, or fail with an error.
                let loaded = NoteDoc::load(
                    "00000000-0000-4000-8000-000000000000",
                    &[1; 16],
                    &[input.to_vec()],
                );
                if let Ok(doc) = loaded {
                    doc.body()
                        .map_err(|e| format!("loaded but unreadable: {e}"))?;
                }
            }
            Ok(())
        }
        // Input: chunk id (32 bytes) | plaintext length (u32 LE) | sealed bytes.
        "sealed_chunk" => {
            if input.len() < 36 {
                return Ok(());
            }
            let keys = BlobKeys::derive(Some(&corpus_key()));
            let id = ChunkId::parse(&hex::encode(&input[..32])).unwrap();
            let len = u32::from_le_bytes(input[32..36].try_into().unwrap()) as usize;
            if let Ok(plain) = seal::open(&keys, &id, len, &input[36..]) {
                if plain.len() != len || ChunkId::of(&keys, &plain) != id {
                    return Err("a chunk opened that is not the one named".into());
                }
            }
            Ok(())
        }
        // Input: chunk id (32 bytes) | plaintext length (u32 LE) | sealed
        // bytes, of the corpus space at epochs 1 and 2.
        "space_chunk" => {
            if input.len() < 36 {
                return Ok(());
            }
            let id = ChunkId::parse(&hex::encode(&input[..32])).unwrap();
            let len = u32::from_le_bytes(input[32..36].try_into().unwrap()) as usize;
            if let Ok(plain) =
                space_blob_seal::open(&corpus_space_blob_keys(), &id, len, &input[36..])
            {
                if plain.len() != len {
                    return Err("a space's chunk opened to another length".into());
                }
                // The same epoch keys in another space open none of it.
                let elsewhere =
                    SpaceBlobKeys::derive(&SpaceId::from_bytes([4; 16]), &corpus_space_epochs());
                if space_blob_seal::open(&elsewhere, &id, len, &input[36..]).is_ok() {
                    return Err("a space's chunk opened in another space".into());
                }
            }
            Ok(())
        }
        // Input: record key | NUL | JSON value.
        "attachment_record" => {
            let text = String::from_utf8_lossy(input);
            let (key, value) = text.split_once('\0').unwrap_or((&text, ""));
            if let Ok(r) = AttachmentRecord::decode(key, value) {
                let again = AttachmentRecord::decode(&r.key(), &r.encode())
                    .map_err(|e| format!("a decoded record does not decode again: {e}"))?;
                if again != r {
                    return Err("record does not round-trip".into());
                }
                let total: u64 = r.chunks.iter().map(|c| u64::from(c.len)).sum();
                if total != r.size {
                    return Err("a record whose chunks do not add up was accepted".into());
                }
            }
            Ok(())
        }
        "chunk_location" => {
            let text = String::from_utf8_lossy(input);
            if let Ok(l) = ChunkLocation::decode(&text) {
                if l.encode() != text {
                    return Err("a decoded location does not encode back to its text".into());
                }
            }
            Ok(())
        }
        "membership_record" => {
            if let Ok(r) = Record::decode(input) {
                if r.encode() != input {
                    return Err("a decoded record does not encode back to its bytes".into());
                }
                // Verified as a space's first record: a clear error, or a
                // space owned by whoever signed it.
                if let Ok(st) =
                    SpaceState::verify(r.body.space, std::slice::from_ref(&r), Verifier::default())
                {
                    if st.owner != r.body.signer || st.last.seq != 0 {
                        return Err("a genesis record verified for someone else".into());
                    }
                }
            }
            Ok(())
        }
        // The signed form inside a space head's seal, for alice's device
        // dev0 at epoch 1, sequence 2.
        "signed_head" => on_corpus_place(|place, alice| {
            let known = corpus_signer(alice);
            if let Ok(parsed) = signed_head::parse(input) {
                let again = signed_head::sign(alice, place, parsed.head_json);
                // Ed25519 signing is deterministic: a form that verifies
                // is exactly what alice signs for these bytes.
                if signed_head::verify(input, place, &known).is_ok() && again != input {
                    return Err("a signed head verified that alice did not sign".into());
                }
            }
            if let Ok(json) = signed_head::verify(input, place, &known) {
                // Only alice's own signed heads verify, and she signs
                // sound ones.
                DeviceHead::from_json(json)
                    .map_err(|e| format!("a verified signed head does not decode: {e}"))?;
            }
            Ok(())
        }),
        "key_envelope" => {
            if let Ok(envelope) = serde_json::from_slice::<KeyEnvelope>(input) {
                let text = serde_json::to_string(&envelope).map_err(|e| e.to_string())?;
                if serde_json::from_str::<KeyEnvelope>(&text).ok().as_ref() != Some(&envelope) {
                    return Err("an envelope does not round-trip".into());
                }
                let recovery_only = KeyEnvelope {
                    wraps: envelope
                        .wraps
                        .iter()
                        .filter(|w| matches!(w, Wrap::RecoveryKey { .. }))
                        .cloned()
                        .collect(),
                    ..envelope.clone()
                };
                if let Ok(keys) = recovery_only.open_keys(CORPUS_RECOVERY) {
                    if keys.epoch().0 != envelope.epoch {
                        return Err("an envelope opened to keys of another epoch".into());
                    }
                }
            }
            Ok(())
        }
        // Input: the envelope's epoch (first byte) | the keys it wraps.
        "account_keys" => {
            let Some((epoch, bytes)) = input.split_first() else {
                return Ok(());
            };
            if let Ok(keys) = AccountKeys::decode(bytes, u64::from(*epoch)) {
                if keys.encode() != bytes || keys.epoch().0 != u64::from(*epoch) {
                    return Err("decoded keys do not encode back to their bytes".into());
                }
            }
            Ok(())
        }
        "identity_successor" => {
            let Ok(st) = Successor::decode(input) else {
                return Ok(());
            };
            if st.encode() != input {
                return Err("a decoded statement does not encode back to its bytes".into());
            }
            // Ed25519 signing is deterministic: a statement that verifies
            // as alice's is exactly what alice signs for it.
            let (_, _, alice) = corpus_space();
            if st.verify().is_ok()
                && st.previous == alice.public()
                && Successor::sign(&alice, &st.next, st.generation).encode() != input
            {
                return Err("a statement verified that alice did not sign".into());
            }
            Ok(())
        }
        "sealed_identity" => {
            let (_, _, alice) = corpus_space();
            let keys = corpus_account_keys();
            if let Ok(id) = SharingIdentity::open_with(alice.account().clone(), &keys, input) {
                // The seal authenticates: only what was sealed opens.
                if id.public() != alice.public() {
                    return Err("a sealed identity opened as someone never sealed".into());
                }
            }
            Ok(())
        }
        "digest" => {
            let Ok(d) = Digest::decode(input) else {
                return Ok(());
            };
            if Digest::decode(&d.encode()).as_ref() != Ok(&d) {
                return Err("a decoded digest does not decode the same again".into());
            }
            // It must match a snapshot of its own notes, in its order.
            let snapshot: bundle::Bundle = d
                .notes
                .iter()
                .map(|e| (e.id.clone(), Default::default()))
                .collect();
            let r = ObjectRef {
                seq: d.seq,
                slot: 0,
                hash: d.snapshot_hash.clone(),
                len: 0,
            };
            let known = d.notes.iter().filter(|e| e.state.is_some()).count();
            match d.states_for(&snapshot, &r) {
                Ok(states) if states.iter().flatten().count() == known => Ok(()),
                Ok(_) => Err("states went missing matching the digest's own notes".into()),
                Err(e) => Err(format!("a digest does not match its own notes: {e}")),
            }
        }
        "stream_object" => {
            use cairn_core::sync::stream_object::{Opened, Place, StreamHeader, STREAM_HEADER_LEN};
            let Ok(header) = StreamHeader::parse(input) else {
                return Ok(());
            };
            let personal = corpus_personal();
            let key = match header.epoch.0 {
                0 => personal.content.clone(),
                _ => personal
                    .epochs
                    .get(&header.epoch)
                    .map(|k| k.cipher().clone()),
            };
            let place = Place {
                device: "dev0",
                object_key: "snapshot/0",
            };
            let Ok(mut opened) = Opened::new(
                &input[STREAM_HEADER_LEN..],
                header.clone(),
                place,
                key.as_ref(),
            ) else {
                return Ok(());
            };
            let mut plain = Vec::new();
            loop {
                match opened.next_bytes() {
                    Ok(Some(b)) => plain.extend_from_slice(b),
                    Ok(None) => break,
                    Err(_) => return Ok(()),
                }
            }
            // Opened to the end: the whole object decodes, and encodes
            // back to its bytes.
            match object::decode(input) {
                Ok(obj) if obj.encode() == input => Ok(()),
                Ok(_) => Err("a stream object does not encode back to its bytes".into()),
                Err(e) => Err(format!("a stream that opens does not decode whole: {e}")),
            }
        }
        "snapshot_entries" => {
            use cairn_core::sync::snapshot_entries::{self, EntryReader};
            let Ok(mut r) = EntryReader::new(input, input.len()) else {
                return Ok(());
            };
            let mut entries = Vec::new();
            loop {
                match r.next_entry() {
                    Ok(Some(e)) => entries.push(e),
                    Ok(None) => break,
                    Err(_) => return Ok(()),
                }
            }
            // What was read encodes to entries that read the same again.
            let docs: Vec<(String, Vec<u8>)> = entries
                .iter()
                .map(|e| (e.id.clone(), e.doc.clone()))
                .collect();
            let states: Vec<_> = entries.iter().map(|e| e.state.clone()).collect();
            let again = snapshot_entries::encode(&docs, &states);
            let mut r = EntryReader::new(&again[..], again.len()).map_err(|e| e.to_string())?;
            for e in &entries {
                match r.next_entry() {
                    Ok(Some(back)) if back == *e => {}
                    other => return Err(format!("an entry read back differently: {other:?}")),
                }
            }
            Ok(())
        }
        other => Err(format!("no target {other}")),
    }
}

fn read_dir(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .map(|p| {
                    let bytes = std::fs::read(&p).unwrap();
                    (p, bytes)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = rng.gen_range(1..=4);
    for _ in 0..rounds {
        match rng.gen_range(0..8) {
            0 if !out.is_empty() => {
                let i = rng.gen_range(0..out.len());
                out[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if !out.is_empty() => {
                let i = rng.gen_range(0..out.len());
                out[i] = [0x00, 0xff, 0x7f, 0x80, 0x01, b'"', b'{'][rng.gen_range(0..7)];
            }
            2 if !out.is_empty() => {
                let n = rng.gen_range(0..out.len());
                out.truncate(n);
            }
            3 => {
                let n = rng.gen_range(1..64);
                out.extend((0..n).map(|_| rng.gen::<u8>()));
            }
            4 if out.len() > 2 => {
                let a = rng.gen_range(0..out.len());
                let b = rng.gen_range(a..out.len().min(a + 256));
                let slice = out[a..b].to_vec();
                let at = rng.gen_range(0..out.len());
                out.splice(at..at, slice);
            }
            5 if out.len() >= 4 => {
                // A length field (u32 or u16 LE) set to an edge value.
                let at = rng.gen_range(0..out.len() - 3);
                let v: u32 =
                    [0, 1, u32::MAX, 0x7fff_ffff, 0xffff, out.len() as u32][rng.gen_range(0..6)];
                out[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            6 if !other.is_empty() => {
                let cut = rng.gen_range(0..=out.len());
                let from = rng.gen_range(0..other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ => {
                if !out.is_empty() {
                    let i = rng.gen_range(0..out.len());
                    out.remove(i);
                }
            }
        }
    }
    out
}

fn catch(target: &str, input: &[u8]) -> Result<(), String> {
    match std::panic::catch_unwind(|| run_target(target, input)) {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        )),
    }
}

fn save_crash(target: &str, input: &[u8]) -> PathBuf {
    let dir = fuzz_dir().join("crashes");
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("{target}-{}.bin", &hex::encode(object::sha256(input))[..16]);
    let path = dir.join(name);
    std::fs::write(&path, input).unwrap();
    path
}

#[test]
fn kept_fixtures_and_corpus_decode_cleanly() {
    for target in TARGETS {
        let mut seen = 0;
        for sub in ["corpus", "fixtures"] {
            for (path, bytes) in read_dir(&fuzz_dir().join(sub).join(target)) {
                if let Err(e) = catch(target, &bytes) {
                    panic!("{}: {e}", path.display());
                }
                seen += 1;
            }
        }
        assert!(seen > 0, "no corpus for {target}");
    }
}

/// The kept signed head is a real one: it opens and verifies, so the
/// mutants start from inputs that reach the signature check and past it.
#[test]
fn the_kept_space_head_opens_and_verifies() {
    let dir = fuzz_dir().join("corpus");
    let head = std::fs::read(dir.join("head/space-head.bin")).unwrap();
    let opened = reader::decode_head_with("dev0", &head, &corpus_space_opener()).unwrap();
    assert_eq!((opened.device.as_str(), opened.seq), ("dev0", 2));
    let signed = std::fs::read(dir.join("signed_head/signed.bin")).unwrap();
    let json = on_corpus_place(|place, alice| {
        signed_head::verify(&signed, place, corpus_signer(alice)).map(<[u8]>::to_vec)
    })
    .unwrap();
    assert_eq!(DeviceHead::from_json(&json).unwrap(), opened);
}

/// The kept personal head of epoch 1 and the kept envelope are real: they
/// open, so the mutants start past the seal.
#[test]
fn the_kept_personal_objects_open() {
    let dir = fuzz_dir().join("corpus");
    let head = std::fs::read(dir.join("head/personal-head.bin")).unwrap();
    let opened =
        reader::decode_head_with("dev0", &head, &Opener::Personal(corpus_personal())).unwrap();
    assert_eq!((opened.device.as_str(), opened.seq), ("dev0", 3));
    let envelope: KeyEnvelope =
        serde_json::from_slice(&std::fs::read(dir.join("key_envelope/epoch2.bin")).unwrap())
            .unwrap();
    assert_eq!(
        envelope.open_keys(CORPUS_RECOVERY).unwrap().epoch(),
        Epoch(2)
    );
}

#[test]
fn mutated_inputs_never_crash_a_decoder() {
    let iterations: usize = std::env::var("CAIRN_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500);
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    for target in TARGETS {
        let mut inputs: Vec<Vec<u8>> = read_dir(&fuzz_dir().join("corpus").join(target))
            .into_iter()
            .chain(read_dir(&fuzz_dir().join("fixtures").join(target)))
            .map(|(_, b)| b)
            .collect();
        assert!(!inputs.is_empty(), "no corpus for {target}");
        for _ in 0..iterations {
            let a = rng.gen_range(0..inputs.len());
            let b = rng.gen_range(0..inputs.len());
            let input = mutate(&mut rng, &inputs[a], &inputs[b]);
            if let Err(e) = catch(target, &input) {
                let path = save_crash(target, &input);
                panic!(
                    "{target}: {e}\n  input saved to {}\n  seed {seed}",
                    path.display()
                );
            }
            // Keep some mutants around as parents: deeper mutations.
            if inputs.len() < 256 && rng.gen_ratio(1, 16) {
                inputs.push(input);
            }
        }
    }
}

/// Writes the corpus from real objects: a run of two devices, plain and
/// sealed. Run by hand when the object format changes:
/// `cargo test -p cairn-core --test fuzz_decoders -- --ignored write_corpus`
#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_corpus() {
    for (label, key) in [("plain", None), ("sealed", Some(corpus_key()))] {
        let storage = MemoryStorage::default();
        let dir = tempfile::tempdir().unwrap();
        let store = cairn_core::testing::open_scratch(dir.path()).unwrap();
        let store = Mutex::new(store);
        store.lock().unwrap().set_content_key(key.clone());
        let id = store
            .lock()
            .unwrap()
            .create_note("# Groceries\n\n- milk\n- bread")
            .unwrap();
        store
            .lock()
            .unwrap()
            .tag(&id, &["home".into()], &[])
            .unwrap();
        run_round(
            &store,
            &mut storage.device("dev0"),
            "dev0",
            &["dev1".into()],
        )
        .unwrap();
        store
            .lock()
            .unwrap()
            .splice(&id, 11, 0, " for Sunday")
            .unwrap();
        store.lock().unwrap().create_note("second note").unwrap();
        run_round(
            &store,
            &mut storage.device("dev0"),
            "dev0",
            &["dev1".into()],
        )
        .unwrap();
        let write = |target: &str, name: &str, bytes: &[u8]| {
            let d = fuzz_dir().join("corpus").join(target);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("{label}-{name}.bin")), bytes).unwrap();
        };
        let head = storage.object("dev0", DeviceKey::Head).unwrap();
        write("head", "head", &head);
        write("object", "head", &head);
        for (name, k) in [
            ("snapshot0", DeviceKey::snapshot(0).unwrap()),
            ("log02", DeviceKey::log(2).unwrap()),
        ] {
            if let Some(obj) = storage.object("dev0", k) {
                write("object", name, &obj);
                if key.is_none() {
                    let decoded = object::decode(&obj).unwrap();
                    write("bundle", name, &decoded.payload);
                    for (i, (_, chunks)) in
                        bundle::decode(&decoded.payload).unwrap().iter().enumerate()
                    {
                        write("chunks", &format!("{name}-{i}"), chunks);
                    }
                }
            }
        }
        if key.is_none() {
            let decoded = object::decode(&head).unwrap();
            write("head", "head-json", &decoded.payload);
        }
    }
}

/// Writes the attachment layer's corpus: sealed chunks of a few sizes, a
/// record and a location as a store writes them. Run by hand when those
/// formats change:
/// `cargo test -p cairn-core --test fuzz_decoders -- --ignored write_blob_corpus`
#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_blob_corpus() {
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let d = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{name}.bin")), bytes).unwrap();
    };
    let keys = BlobKeys::derive(Some(&corpus_key()));
    for len in [0usize, 100, 70_000, 140_000] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let id = ChunkId::of(&keys, &plain);
        let mut input = id.as_bytes().to_vec();
        input.extend_from_slice(&(len as u32).to_le_bytes());
        input.extend_from_slice(&seal::seal(&keys, &id, &plain));
        write("sealed_chunk", &format!("sealed-{len}"), &input);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = cairn_core::testing::open_scratch(dir.path()).unwrap();
    store.set_content_key(Some(corpus_key()));
    let note = store.create_note("receipts").unwrap();
    let file = dir.path().join("scan.png");
    std::fs::write(&file, b"not really a png").unwrap();
    let r = store.attach_file(&note, &file, u64::MAX).unwrap();
    write(
        "attachment_record",
        "record",
        format!("{}\0{}", r.key(), r.encode()).as_bytes(),
    );
    let plan = store.plan_blob_upload().unwrap().unwrap();
    store.record_blob_upload("dev0", &plan).unwrap();
    let l = ChunkLocation {
        device: "dev0".into(),
        slot: plan.slot,
        generation: plan.generation,
        offset: 0,
        len: plan.sealed_size(),
    };
    write("chunk_location", "location", l.encode().as_bytes());
}

/// The corpus space's epoch keys, for its sealed chunks.
fn corpus_space_epochs() -> BTreeMap<Epoch, EpochKey> {
    let (_, key, _) = corpus_space();
    BTreeMap::from([
        (Epoch(1), key),
        (Epoch(2), EpochKey::from_bytes(&[12; 32]).unwrap()),
    ])
}

fn corpus_space_blob_keys() -> SpaceBlobKeys {
    let (space, _, _) = corpus_space();
    SpaceBlobKeys::derive(&space, &corpus_space_epochs())
}

/// Writes a shared space's sealed chunks of a few sizes, at both epochs
/// of the corpus space. Run by hand when the format changes:
/// `cargo test -p cairn-core --test fuzz_decoders -- --ignored write_space_chunk_corpus`
#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_space_chunk_corpus() {
    let d = fuzz_dir().join("corpus").join("space_chunk");
    std::fs::create_dir_all(&d).unwrap();
    let keys = corpus_space_blob_keys();
    for (len, epoch) in [(0usize, 2), (100, 1), (70_000, 2), (140_000, 2)] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
        let id = ChunkId::of(&BlobKeys::derive(Some(&corpus_key())), &plain);
        let mut input = id.as_bytes().to_vec();
        input.extend_from_slice(&(len as u32).to_le_bytes());
        let sealing = keys.clone().sealing_at(Epoch(epoch));
        input.extend_from_slice(&space_blob_seal::seal(&sealing, &id, &plain).unwrap());
        std::fs::write(d.join(format!("space-sealed-{len}-e{epoch}.bin")), &input).unwrap();
    }
}

/// The kept chunks of the space are real: each opens, so the mutants start
/// from inputs that reach the seal.
#[test]
fn the_kept_space_chunks_open() {
    let mut opened = 0;
    for (path, input) in read_dir(&fuzz_dir().join("corpus").join("space_chunk")) {
        let id = ChunkId::parse(&hex::encode(&input[..32])).unwrap();
        let len = u32::from_le_bytes(input[32..36].try_into().unwrap()) as usize;
        space_blob_seal::open(&corpus_space_blob_keys(), &id, len, &input[36..])
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        opened += 1;
    }
    assert!(opened >= 4);
}

/// Writes the membership records' corpus: a space created, an invitation
/// and its acceptance. Run by hand when the record format changes:
/// `cargo test -p cairn-core --test fuzz_decoders -- --ignored write_space_corpus`
#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_space_corpus() {
    let d = fuzz_dir().join("corpus").join("membership_record");
    std::fs::create_dir_all(&d).unwrap();
    let alice = SharingIdentity::generate(cairn_protocol::UserId::new("key", "alice").unwrap());
    let bob = SharingIdentity::generate(cairn_protocol::UserId::new("key", "bob").unwrap());
    let space = SpaceId::generate();
    let key = EpochKey::generate();
    let wrap = KeyWrap::create(&alice, &alice.public(), space, Epoch::FIRST, &key).unwrap();
    let create = Record::sign(
        &alice,
        space,
        0,
        [0; 32],
        Action::Create {
            owner: alice.public(),
            wrap,
        },
    );
    let wrap = KeyWrap::create(&alice, &bob.public(), space, Epoch::FIRST, &key).unwrap();
    let invite = Record::sign(
        &alice,
        space,
        1,
        create.hash(),
        Action::Invite {
            invitee: bob.public(),
            role: Role::Editor,
            wrap,
        },
    );
    let accept = Record::sign(
        &bob,
        space,
        2,
        invite.hash(),
        Action::Accept { invitation: 1 },
    );
    for (name, r) in [
        ("create", &create),
        ("invite", &invite),
        ("accept", &accept),
    ] {
        std::fs::write(d.join(format!("{name}.bin")), r.encode()).unwrap();
    }
    // A space's object (envelope version 2) for the envelope's target.
    let place = ObjectPlace {
        space,
        user: alice.account().clone(),
        device: cairn_protocol::DeviceId::parse("dev0").unwrap(),
        key: "log/01".into(),
    };
    let obj = object_ad::seal(
        ObjectKind::Segment,
        1,
        &place,
        Epoch::FIRST,
        &key,
        b"shared",
    );
    let d = fuzz_dir().join("corpus").join("object");
    std::fs::write(d.join("space-log01.bin"), obj).unwrap();
}

/// The kept corpus of a rotated identity is what it claims: the statement
/// verifies as alice's, the rekey record carries it, and both sealed forms
/// open as alice with the corpus keys (the second only with epoch 1's).
#[test]
fn the_kept_identity_corpus_opens_and_verifies() {
    let (_, _, alice) = corpus_space();
    let corpus = fuzz_dir().join("corpus");
    let statement = Successor::decode(
        &std::fs::read(corpus.join("identity_successor/generation1.bin")).unwrap(),
    )
    .unwrap();
    assert_eq!(statement.verify(), Ok(()));
    assert_eq!(statement.previous, alice.public());
    let rekey = Record::decode(&std::fs::read(corpus.join("membership_record/rekey.bin")).unwrap())
        .unwrap();
    assert!(rekey.signed_by(&alice.public()));
    assert!(
        matches!(&rekey.body.action, Action::Rekey { successor, .. } if *successor == statement.encode())
    );
    let keys = corpus_account_keys();
    for name in ["v1", "v2-epoch1"] {
        let sealed = std::fs::read(corpus.join(format!("sealed_identity/{name}.bin"))).unwrap();
        let id = SharingIdentity::open_with(alice.account().clone(), &keys, &sealed).unwrap();
        assert_eq!(id.public(), alice.public(), "{name}");
    }
    let v2 = std::fs::read(corpus.join("sealed_identity/v2-epoch1.bin")).unwrap();
    assert!(SharingIdentity::open_with(
        alice.account().clone(),
        &AccountKeys::new(corpus_key()),
        &v2
    )
    .is_err());
}

/// Writes the corpus of a rotated sharing identity: alice's successor
/// statement, the rekey record that carries it, and her identity sealed
/// with the content key (version 1) and under personal epoch 1 (version
/// 2). Run by hand when a format changes:
/// `cargo test -p cairn-core --test fuzz_decoders -- --ignored write_identity_corpus`
#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_identity_corpus() {
    let (space, key, alice) = corpus_space();
    let next = SharingIdentity::from_secrets(alice.account().clone(), [12; 32], [13; 32]);
    let statement = Successor::sign(&alice, &next.public(), 1);
    let wrap = KeyWrap::create(&alice, &alice.public(), space, Epoch::FIRST, &key).unwrap();
    let create = Record::sign(
        &alice,
        space,
        0,
        [0; 32],
        Action::Create {
            owner: alice.public(),
            wrap,
        },
    );
    let rekey = Record::sign(
        &alice,
        space,
        1,
        create.hash(),
        Action::Rekey {
            identity: next.public(),
            successor: statement.encode(),
        },
    );
    let keys = corpus_account_keys();
    for (target, name, bytes) in [
        ("identity_successor", "generation1", statement.encode()),
        ("membership_record", "rekey", rekey.encode()),
        ("sealed_identity", "v1", alice.seal(&corpus_key())),
        ("sealed_identity", "v2-epoch1", alice.seal_with(&keys)),
    ] {
        let d = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{name}.bin")), bytes).unwrap();
    }
}

/// Writes a shared space's signed head to the corpus: the whole object
/// (target `head`) and the signed form inside its seal (`signed_head`).
/// Run by hand when the signed form changes:
/// `cargo test -p cairn-core --test fuzz_decoders -- --ignored write_signed_head_corpus`
#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_signed_head_corpus() {
    let (space, key, alice) = corpus_space();
    let device = cairn_protocol::DeviceId::parse("dev0").unwrap();
    let mut head = corpus_head(2, 2);
    head.merged.insert("dev1".into(), 4);
    let json = head.to_json();
    let at = HeadPlace {
        space,
        user: alice.account(),
        device: &device,
        epoch: Epoch::FIRST,
        seq: 2,
    };
    let signed = signed_head::sign(&alice, &at, &json);
    let place = ObjectPlace {
        space,
        user: alice.account().clone(),
        device,
        key: "head".into(),
    };
    let obj = object_ad::seal(ObjectKind::Head, 2, &place, Epoch::FIRST, &key, &signed);
    for (target, name, bytes) in [
        ("head", "space-head", &obj),
        ("signed_head", "signed", &signed),
    ] {
        let d = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{name}.bin")), bytes).unwrap();
    }
}

/// Writes the corpus of the personal space's epochs: an object and a head
/// sealed with the corpus epoch key, an envelope of epoch 2 that opens
/// with [`CORPUS_RECOVERY`] (written by hand: `KeyEnvelope::wrapping`
/// draws its recovery key at random), and the keys inside it.
/// `cargo test -p cairn-core --test fuzz_decoders -- --ignored write_personal_corpus`
#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_personal_corpus() {
    let personal = corpus_personal();
    let head = corpus_head(3, 1);
    let log = personal.seal(
        ObjectKind::Segment,
        3,
        "dev0",
        "log/01",
        &bundle::encode::<Vec<u8>>(&Vec::new()),
    );
    let head = personal.seal(ObjectKind::Head, 3, "dev0", "head", &head.to_json());
    let keys = AccountKeys::new(corpus_key())
        .rotated()
        .unwrap()
        .rotated()
        .unwrap();
    let recovery = cairn_core::crypto::parse_recovery_key(CORPUS_RECOVERY).unwrap();
    let sealed = ContentKey::from_bytes(&recovery)
        .unwrap()
        .seal(b"cairn-account-keys/v2\x002", &keys.encode());
    let envelope = KeyEnvelope {
        version: 2,
        generation: 3,
        epoch: 2,
        wraps: vec![Wrap::RecoveryKey {
            sealed: hex::encode(sealed),
        }],
    };
    assert_eq!(envelope.open_keys(CORPUS_RECOVERY).unwrap(), keys);
    let envelope = serde_json::to_vec(&envelope).unwrap();
    let mut key_bytes = vec![2u8];
    key_bytes.extend_from_slice(&keys.encode());
    for (target, name, bytes) in [
        ("object", "personal-log01", &log),
        ("head", "personal-head", &head),
        ("key_envelope", "epoch2", &envelope),
        ("account_keys", "epoch2", &key_bytes),
    ] {
        let d = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{name}.bin")), bytes).unwrap();
    }
}

/// Writes the digest corpus: the payload of a real snapshot's digest, of
/// notes with every field a digest carries. Run by hand when the format
/// changes:
/// `cargo test -p cairn-core --test fuzz_decoders -- --ignored write_digest_corpus`
#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_digest_corpus() {
    let storage = MemoryStorage::default();
    let dir = tempfile::tempdir().unwrap();
    let store = cairn_core::testing::open_scratch(dir.path()).unwrap();
    let store = Mutex::new(store);
    {
        let mut s = store.lock().unwrap();
        let target = s.create_note("Target\nlinked to").unwrap();
        let id = s
            .create_note_with(cairn_core::NewNote {
                body: "# Groceries\n\n- milk #home\n- see [[Target]]".into(),
                tags: vec!["errands".into()],
                pinned: true,
                ..cairn_core::NewNote::default()
            })
            .unwrap();
        let nb = s.create_notebook("Kitchen", None).unwrap();
        s.move_note(&id, Some(&nb)).unwrap();
        s.trash(&target).unwrap();
        let gone = s.create_note("deleted").unwrap();
        s.delete(&gone).unwrap();
    }
    run_round(&store, &mut storage.device("dev0"), "dev0", &[]).unwrap();
    // Snapshots carry their states since envelope version 3: the digest
    // an older writer put beside one is made here from those states.
    let obj = storage
        .object("dev0", DeviceKey::snapshot(0).unwrap())
        .expect("the first publish wrote a snapshot");
    let snapshot = object::decode(&obj).unwrap();
    let plain = PersonalKeys::content(None)
        .open(&snapshot, "dev0", "snapshot/0")
        .unwrap();
    let mut r =
        cairn_core::sync::snapshot_entries::EntryReader::new(&plain[..], plain.len()).unwrap();
    let (mut docs, mut states): (bundle::Bundle, Vec<_>) = (Vec::new(), Vec::new());
    while let Some(e) = r.next_entry().unwrap() {
        docs.push((e.id, e.doc.into()));
        states.push(e.state);
    }
    let snapshot_ref = ObjectRef {
        seq: snapshot.seq,
        slot: 0,
        hash: snapshot.hash_hex(),
        len: obj.len() as u64,
    };
    let payload = cairn_core::sync::digest::of_snapshot(&docs, &states, &snapshot_ref).encode();
    Digest::decode(&payload).unwrap();
    let d = fuzz_dir().join("corpus").join("digest");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("plain-snapshot0.bin"), &payload).unwrap();
}

#[test]
#[ignore = "writes tests/fuzz/corpus; run by hand when the format changes"]
fn write_stream_corpus() {
    use cairn_core::sync::stream_object::{self, Place, MIN_CHUNK_LEN};
    let dir = tempfile::tempdir().unwrap();
    let mut s = cairn_core::testing::open_scratch(dir.path()).unwrap();
    for i in 0..6 {
        s.create_note(&format!("Note {i}\n{}", "some words of it ".repeat(60)))
            .unwrap();
    }
    drop(s);
    let storage = MemoryStorage::default();
    let store = Mutex::new(cairn_core::testing::open_scratch(dir.path()).unwrap());
    run_round(&store, &mut storage.device("dev0"), "dev0", &[]).unwrap();
    let obj = storage
        .object("dev0", DeviceKey::snapshot(0).unwrap())
        .unwrap();
    let snapshot = object::decode(&obj).unwrap();
    let plain = PersonalKeys::content(None)
        .open(&snapshot, "dev0", "snapshot/0")
        .unwrap();
    let entries_dir = fuzz_dir().join("corpus").join("snapshot_entries");
    std::fs::create_dir_all(&entries_dir).unwrap();
    std::fs::write(entries_dir.join("six-notes.bin"), &plain).unwrap();
    // Sealed in small chunks, so the corpus spans several: with the
    // content key (epoch 0), with the corpus epoch key, and unsealed.
    let place = Place {
        device: "dev0",
        object_key: "snapshot/0",
    };
    let personal = corpus_personal();
    let (epoch, epoch_key) = personal.epochs.iter().next().unwrap();
    let d = fuzz_dir().join("corpus").join("stream_object");
    std::fs::create_dir_all(&d).unwrap();
    let sealed = [
        ("content-key.bin", Epoch(0), personal.content.clone()),
        ("epoch-key.bin", *epoch, Some(epoch_key.cipher().clone())),
        ("unsealed.bin", Epoch(0), None),
    ];
    for (name, epoch, key) in sealed {
        let body = stream_object::seal(
            ObjectKind::Snapshot,
            3,
            place,
            epoch,
            key.as_ref(),
            MIN_CHUNK_LEN,
            &plain,
        );
        std::fs::write(d.join(name), &body).unwrap();
    }
}

/// dev0's head at `seq`, listing one segment of that number in `slot`.
fn corpus_head(seq: u64, slot: u32) -> DeviceHead {
    let mut head = DeviceHead::new("dev0");
    head.seq = seq;
    head.segments = vec![ObjectRef {
        seq,
        slot,
        hash: hex::encode([3u8; 32]),
        len: 120,
    }];
    head
}
