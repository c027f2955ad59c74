//! Shared notebooks between accounts, over loopback against the real
//! service and the real S3 server, every device with its own data dir and
//! driven through the real `cairn` binary (`identity`, `share`,
//! `invitations`, `accept`, `members`, `unshare`, `sync`):
//!
//! - two people with two devices each share a notebook, type into one
//!   note at once and end with the same text, interleaved by character;
//!   nothing of its text, the notebook's name, the title or a tag is in
//!   the bucket or the service's database, nor of a file attached to it;
//! - a file attached to a note in a shared notebook, or on a note moved
//!   into one, opens on every member's devices with its bytes; one added
//!   after a member's removal opens with nothing they hold, and a chunk
//!   copied from another shared notebook's storage is refused, in words,
//!   with nothing of theirs lost;
//! - a viewer's edits are applied by nobody;
//! - a removed member's grant is refused, what is written afterwards does
//!   not open with any key they hold, and what they upload later with a
//!   presigned URL still valid is ignored (the fence);
//! - a member offline during the rotation catches up, and a member who
//!   joins late reads the whole history;
//! - a head sealed with the epoch key into another member's prefix, by an
//!   editor or a viewer, is ignored for its signature;
//! - a share cut off after the service made the space is finished by the
//!   next sync or share, into that same space;
//! - a shared notebook's own notebooks (made before it was shared, or by
//!   a member), their renames, concurrent moves and the shared notebook's
//!   name reach every member's devices, with no loop; a viewer's rename
//!   is refused on their device.
//!
//! With `CAIRN_TEST_REGISTRY=postgres` the service keeps its registry in
//! PostgreSQL, whose files are searched as well.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use cairn_client::sharing::Sharing;
use cairn_core::space::epoch::{Epoch, SpaceId};
use cairn_core::space::identity::SharingIdentity;
use cairn_core::space::label::{self, Label};
use cairn_core::space::local::Standing;
use cairn_core::space::object_ad::{self, ObjectPlace};
use cairn_core::space::pins::PinError;
use cairn_core::sync::object;
use cairn_protocol::{DeviceId, UserId};
use cairn_scenarios::cloud::Cloud;
use cairn_scenarios::device::Device;
use cairn_scenarios::stored_bytes::{all_bytes, contains};
use cairn_scenarios::watching::{watch, Watching};

const NOTEBOOK: &str = "Kilimanjaro expedition";
const SECRET: &str = "Quixotic-Marmalade-Telescope";
const TAG: &str = "basecampplans";
/// A line of the attachment of the first scenario.
const MAP_TEXT: &str = "Route-Map-Waypoint-Uhuru-Peak";

/// One person: an account and two signed-in devices.
struct Person {
    laptop: Device,
    phone: Device,
    account: String,
    fingerprint: String,
}

fn person(cloud: &Cloud, name: &str) -> Person {
    let laptop = Device::new(&format!("{name}-laptop"));
    let phone = Device::new(&format!("{name}-phone"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(cloud, &key);
    phone.login(cloud, &key);
    let me: serde_json::Value = serde_json::from_str(&laptop.ok(&["identity", "--json"])).unwrap();
    Person {
        account: me["account"].as_str().unwrap().to_owned(),
        fingerprint: me["fingerprint"].as_str().unwrap().to_owned(),
        laptop,
        phone,
    }
}

fn last_line(out: &str) -> String {
    out.trim().lines().last().unwrap().trim().to_owned()
}

/// Makes notebook `name` on `d` with one note in it; returns the note's id.
fn notebook_with_note(d: &Device, name: &str, text: &str) -> String {
    d.ok(&["notebook", "create", name]);
    last_line(&d.ok(&["new", "--notebook", name, text]))
}

fn body(d: &Device, id: &str) -> String {
    d.store().get(id).unwrap().body
}

/// Shares `notebook` of `owner` with `invitee` as `role`, and the invitee
/// accepts; returns the invitation (the space's) id.
fn share(owner: &Person, invitee: &Person, notebook: &str, role: &str) -> String {
    let out = owner.laptop.ok(&[
        "share",
        notebook,
        "--with",
        &invitee.account,
        "--role",
        role,
        "--fingerprint",
        &invitee.fingerprint,
    ]);
    let id = last_line(&out);
    let pending: serde_json::Value =
        serde_json::from_str(&invitee.laptop.ok(&["invitations", "--json"])).unwrap();
    let mine = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap_or_else(|| panic!("no invitation {id} in {pending}"));
    assert_eq!(mine["from"], owner.account.as_str());
    assert_eq!(mine["role"], role);
    invitee.laptop.ok(&["accept", &id]);
    id
}

/// Alice's notebook `notebook`, with one note saying `text`, shared with
/// Bob as an editor and Carol as a viewer: the three, the note and the
/// space.
fn three_in(
    cloud: &Cloud,
    notebook: &str,
    text: &str,
) -> (Person, Person, Person, String, SpaceId) {
    let alice = person(cloud, "alice");
    let bob = person(cloud, "bob");
    let carol = person(cloud, "carol");
    let note = notebook_with_note(&alice.laptop, notebook, text);
    let space = SpaceId::parse(&share(&alice, &bob, notebook, "editor")).unwrap();
    share(&alice, &carol, notebook, "viewer");
    (alice, bob, carol, note, space)
}

fn sync_all(devices: &[&Device]) {
    for d in devices {
        d.sync_ok();
    }
}

/// Syncs everyone until `done` holds, a few passes at most.
fn sync_until(devices: &[&Device], what: &str, done: impl Fn() -> bool) {
    let mut said = String::new();
    for _ in 0..6 {
        if done() {
            return;
        }
        said.clear();
        for d in devices {
            let run = d.sync_ok();
            said.push_str(&run.stdout);
            said.push_str(&run.stderr);
        }
    }
    assert!(
        done(),
        "{what}: not reached after six passes of sync:\n{said}"
    );
}

#[test]
fn two_people_share_a_notebook_type_into_one_note_and_converge_by_character() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    alice.laptop.ok(&["notebook", "create", NOTEBOOK]);
    let note = last_line(&alice.laptop.ok(&[
        "new",
        "--notebook",
        NOTEBOOK,
        &format!("Summit plan\n0123456789\nThe code is {SECRET}.\n"),
    ]));
    alice.laptop.ok(&["tag", &note, &format!("+{TAG}")]);
    let mine = last_line(&alice.laptop.ok(&["new", "alice's own diary"]));
    // A wrong fingerprint stops the share.
    let wrong = alice.laptop.run(&[
        "share",
        NOTEBOOK,
        "--with",
        &bob.account,
        "--fingerprint",
        "11111 11111 11111 11111 11111 11111",
    ]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("safety number"));
    let invitation = share(&alice, &bob, NOTEBOOK, "editor");
    // Shared, the notebook has the id its space derives, on every device.
    let notebook = label::notebook_id(&SpaceId::parse(&invitation).unwrap());
    assert_eq!(
        alice.laptop.store().find_notebook(NOTEBOOK).unwrap(),
        notebook
    );
    let members: serde_json::Value =
        serde_json::from_str(&alice.laptop.ok(&["members", NOTEBOOK, "--json"])).unwrap();
    let roles: Vec<(&str, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["account"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        vec![
            (alice.account.as_str(), "owner"),
            (bob.account.as_str(), "editor")
        ]
    );

    let everyone = [&alice.laptop, &alice.phone, &bob.laptop, &bob.phone];
    sync_until(&everyone, "the shared note reaches bob", || {
        bob.phone.store().get(&note).is_ok() && bob.laptop.store().get(&note).is_ok()
    });
    assert!(
        bob.laptop.store().get(&mine).is_err(),
        "alice's own notes stay hers"
    );
    let places = bob
        .laptop
        .store()
        .places(std::slice::from_ref(&note))
        .unwrap();
    assert_eq!(places[0].1.as_deref(), Some(notebook.as_str()));

    // Apart, alice types a letter after every even digit on her laptop,
    // bob one after every odd digit on his phone, key by key.
    {
        let mut s = alice.laptop.store();
        for (k, digit) in (0..10).step_by(2).enumerate() {
            let at = "Summit plan\n".len() + digit + 1 + k;
            s.splice(&note, at, 0, &((b'a' + k as u8) as char).to_string())
                .unwrap();
        }
    }
    {
        let mut s = bob.phone.store();
        for (k, digit) in (1..10).step_by(2).enumerate() {
            let at = "Summit plan\n".len() + digit + 1 + k;
            s.splice(&note, at, 0, &((b'V' + k as u8) as char).to_string())
                .unwrap();
        }
    }
    // And alice attaches a route map to the note.
    let map = format!("{MAP_TEXT}\n").repeat(2_000).into_bytes();
    let map_id = attach(&alice.laptop, &note, "route-map.txt", &map);
    let want = format!("Summit plan\n0a1V2b3W4c5X6d7Y8e9Z\nThe code is {SECRET}.\n");
    sync_until(&everyone, "both edits and the map everywhere", || {
        everyone.iter().all(|d| {
            // The attachment's reference follows the text.
            let b = body(d, &note);
            b.starts_with(&want)
                && b == body(&alice.laptop, &note)
                && has_attachment(d, &map_id, &map)
        })
    });

    // Nothing readable in the bucket or the service's database, of the
    // notes or of the attachment. (On PostgreSQL, its tables and
    // write-ahead log.)
    nothing_readable(&cloud, &[SECRET, NOTEBOOK, "Summit plan", TAG, MAP_TEXT]);
}

/// None of `needles` is anywhere in the bucket or the service's data, and
/// space objects were stored there.
fn nothing_readable(cloud: &Cloud, needles: &[&str]) {
    let stored: Vec<(String, Vec<u8>)> = cloud
        .stored_dirs()
        .iter()
        .flat_map(|d| all_bytes(d))
        .collect();
    assert!(
        stored.iter().any(|(p, _)| p.contains("/spaces/")),
        "space objects were stored"
    );
    for (path, bytes) in stored {
        for needle in needles {
            assert!(!contains(&bytes, needle), "{needle:?} readable in {path}");
        }
    }
}

/// The space `invitation` names, and how `d` sees it right now: its
/// round's context (the peers, the keys) and the space grant it holds.
fn space_context(
    cloud: &Cloud,
    d: &Device,
    space: &SpaceId,
) -> (
    cairn_core::sync::opener::SpaceSync,
    cairn_protocol::SpaceGrant,
) {
    let session = d.session(cloud);
    let store = Arc::new(Mutex::new(d.store()));
    cloud.runtime().block_on(async {
        let sharing = Sharing::open(d.dir(), session, store).await.unwrap();
        let r = sharing.refresh(space).await.unwrap();
        sharing.round_context(&r).await.unwrap().unwrap()
    })
}

#[test]
fn viewers_removal_fences_rotation_catch_up_and_a_late_joiner() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let carol = person(&cloud, "carol");
    let dave = person(&cloud, "dave");
    let note = notebook_with_note(&alice.laptop, "Team", "Agenda\n");
    let invitation = share(&alice, &bob, "Team", "editor");
    let space = SpaceId::parse(&invitation).unwrap();
    share(&alice, &carol, "Team", "viewer");
    let writers = [&alice.laptop, &bob.laptop];
    let all = [&alice.laptop, &bob.laptop, &carol.laptop];
    sync_until(&all, "the agenda reaches bob and carol", || {
        bob.laptop.store().get(&note).is_ok() && carol.laptop.store().get(&note).is_ok()
    });
    bob.laptop
        .store()
        .splice(&note, "Agenda\n".len(), 0, "1. budget (bob)\n")
        .unwrap();
    sync_until(&writers, "bob's line reaches alice", || {
        body(&alice.laptop, &note).contains("budget (bob)")
    });

    // The viewer types; nobody applies it.
    carol
        .laptop
        .store()
        .splice(&note, 0, 0, "CAROL WAS HERE ")
        .unwrap();
    sync_all(&[&carol.laptop, &alice.laptop, &bob.laptop, &carol.laptop]);
    for d in writers {
        assert!(
            !body(d, &note).contains("CAROL"),
            "a viewer's edit was applied"
        );
    }

    // Before bob is removed he holds a space grant with URLs still valid
    // for hours; dave is still only a person with an account.
    let (bob_sync, bob_grant) = space_context(&cloud, &bob.laptop, &space);
    let bobs_head = std::fs::read(head_path(&cloud, &bob, &bob.laptop, &space)).unwrap();
    alice
        .laptop
        .ok(&["unshare", "Team", "--member", &bob.account]);
    // The removal pins bob's head exactly as it lay in the bucket: its
    // sequence number and the SHA-256 of its bytes.
    let pinned = pinned_heads(&alice.laptop, &space, &bob);
    let bob_device = DeviceId::parse(&bob.laptop.device_id()).unwrap();
    assert_eq!(pinned[&bob_device].head, object::sha256(&bobs_head));
    assert_eq!(
        pinned[&bob_device].seq,
        object::decode(&bobs_head).unwrap().seq
    );
    let bob_session = bob.laptop.session(&cloud);
    let wire = cairn_protocol::SpaceId::parse(&invitation).unwrap();
    let refused = cloud.runtime().block_on(async {
        let token = bob_session.access_token().await.unwrap();
        bob_session
            .client()
            .space_grant(&token, &wire, &bob_device)
            .await
            .unwrap_err()
    });
    assert_eq!(refused.status(), Some(403));
    // Bob's own sync goes on (his personal notes), saying nothing breaks.
    bob.laptop.sync_ok();
    // His device read the record that removed him: it keeps him departed
    // (the app says the notebook is no longer shared), and his copy stays.
    let bobs = bob.laptop.store().local_space(&space).unwrap().unwrap();
    assert_eq!(bobs.standing, Standing::Departed);
    assert!(body(&bob.laptop, &note).contains("budget (bob)"));

    // Alice writes after the removal: sealed under epoch 2, which no key
    // of bob's opens.
    alice
        .laptop
        .store()
        .splice(&note, "Agenda\n".len(), 0, "2. after bob left\n")
        .unwrap();
    alice.laptop.sync_ok();
    let alice_user = UserId::parse(&alice.account).unwrap();
    let alice_device = DeviceId::parse(&alice.laptop.device_id()).unwrap();
    let prefix = format!("spaces/{space}/users/{alice_user}/devices/{alice_device}/head");
    let head_path = cloud.bucket_dir().join(&prefix);
    let head = object::decode(&std::fs::read(&head_path).unwrap()).unwrap();
    assert_eq!(head.space.unwrap().epoch, Epoch(2));
    let bob_keys = bob.laptop.store().epoch_keys(&space).unwrap();
    assert!(!bob_keys.contains_key(&Epoch(2)));
    let place = ObjectPlace {
        space,
        user: alice_user.clone(),
        device: alice_device.clone(),
        key: "head".into(),
    };
    for key in bob_keys.values() {
        let k = key.clone();
        assert!(object_ad::open(&head, &place, |_| Some(k.clone())).is_err());
    }

    // Bob uploads an edit with his old presigned URLs: alice, carol and
    // later dave ignore it (it is past his fence).
    bob.laptop
        .store()
        .splice(&note, 0, 0, "BOB AFTER REMOVAL ")
        .unwrap();
    let bob_store = Arc::new(Mutex::new(bob.laptop.store()));
    let late = cloud
        .runtime()
        .block_on(cairn_client::round_runner::run_space_round(
            bob_store,
            cairn_client::Bucket::new().unwrap(),
            Arc::new(bob_grant),
            bob_sync,
        ))
        .unwrap();
    assert!(
        late.published.is_some(),
        "the old URLs still took the upload"
    );

    // Carol was offline through the rotation: she catches up.
    sync_until(
        &[&alice.laptop, &carol.laptop],
        "carol reads what was written after the rotation",
        || body(&carol.laptop, &note).contains("after bob left"),
    );
    assert!(carol
        .laptop
        .store()
        .epoch_keys(&space)
        .unwrap()
        .contains_key(&Epoch(2)));

    // Dave joins late and reads the whole history, bob's lines up to his
    // removal included, his late upload not.
    share(&alice, &dave, "Team", "editor");
    sync_until(
        &[&alice.laptop, &dave.laptop],
        "dave reads the agenda",
        || {
            dave.laptop
                .store()
                .get(&note)
                .is_ok_and(|n| n.body.contains("after bob left"))
        },
    );
    let text = body(&dave.laptop, &note);
    assert!(text.contains("budget (bob)"), "{text}");
    for d in [&alice.laptop, &carol.laptop, &dave.laptop] {
        let text = body(d, &note);
        assert!(!text.contains("BOB AFTER REMOVAL"), "fence crossed: {text}");
    }
    // The viewer's edit stays on her own device only.
    for d in [&alice.laptop, &dave.laptop] {
        let text = body(d, &note);
        assert!(!text.contains("CAROL"), "viewer's edit applied: {text}");
    }
}

#[test]
fn a_publish_in_the_space_wakes_a_watching_member() {
    use std::time::{Duration, Instant};
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let note = notebook_with_note(&alice.laptop, "Live", "Shopping\n");
    share(&alice, &bob, "Live", "editor");
    sync_until(
        &[&alice.laptop, &bob.laptop],
        "the note reaches bob",
        || bob.laptop.store().get(&note).is_ok(),
    );

    // Bob watches, never polling and never publishing by time: only the
    // service's space_published event can make him read the space.
    let never = Duration::from_secs(3600);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Arc::new(Mutex::new(bob.laptop.store()));
    let mut agent =
        cairn_client::SyncAgent::new(bob.laptop.dir(), bob.laptop.session(&cloud), store.clone())
            .unwrap();
    let (tx, mut connected) = tokio::sync::mpsc::unbounded_channel();
    rt.spawn(async move {
        agent
            .watch(
                cairn_client::WatchOptions {
                    settle: never,
                    poll: never,
                    max_wait: never,
                },
                Arc::new(tokio::sync::Notify::new()),
                move |e| {
                    if matches!(e, cairn_client::WatchEvent::Connected) {
                        tx.send(()).ok();
                    }
                },
            )
            .await
    });
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), connected.recv())
            .await
            .expect("bob's watch connects")
    });

    alice
        .laptop
        .store()
        .splice(&note, "Shopping\n".len(), 0, "- figs\n")
        .unwrap();
    alice.laptop.sync_ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = store.lock().unwrap().get(&note).unwrap().body;
        if body.contains("- figs") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alice's publish did not reach the watching bob: {body:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The owner writes an invitation's label, so a label naming a notebook
/// the invitee already has must not make the invitee's device share it:
/// listing the invitation binds nothing, accepting binds the space to its
/// own notebook, and the invitee's diary never reaches the owner.
#[test]
fn an_invitation_cannot_adopt_a_notebook_of_the_invitees_own() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let diary = last_line(&bob.laptop.ok(&["notebook", "create", "Diary"]));
    let secret = last_line(
        &bob.laptop
            .ok(&["new", "--notebook", "Diary", "bob's secret\n"]),
    );
    alice.laptop.ok(&["notebook", "create", "Bait"]);
    // Without --fingerprint, the invitee's fingerprint and the pair's
    // safety number are shown to compare; the id stays the last line.
    let out = alice.laptop.ok(&["share", "Bait", "--with", &bob.account]);
    let pair = {
        let (a, b) = (alice.fingerprint.clone(), bob.fingerprint.clone());
        if a <= b {
            format!("{a} {b}")
        } else {
            format!("{b} {a}")
        }
    };
    assert!(
        out.contains(&format!("their fingerprint: {}", bob.fingerprint)),
        "{out}"
    );
    assert!(out.contains(&format!("safety number:     {pair}")), "{out}");
    let invitation = last_line(&out);
    let space = SpaceId::parse(&invitation).unwrap();
    let key = alice.laptop.store().epoch_keys(&space).unwrap()[&Epoch::FIRST].clone();
    let sealed = label::seal(
        &space,
        Epoch::FIRST,
        &key,
        &Label {
            notebook: diary.clone(),
            name: "Bait".into(),
        },
    );
    let session = alice.laptop.session(&cloud);
    let wire = cairn_protocol::SpaceId::parse(&invitation).unwrap();
    cloud.runtime().block_on(async {
        let token = session.access_token().await.unwrap();
        session
            .client()
            .put_space_label(&token, &wire, &sealed)
            .await
            .unwrap();
    });

    let pending: serde_json::Value =
        serde_json::from_str(&bob.laptop.ok(&["invitations", "--json"])).unwrap();
    assert!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == invitation.as_str()),
        "the invitation is still listed: {pending}"
    );
    assert_eq!(bob.laptop.store().space_of_notebook(&diary).unwrap(), None);
    // Accepting it is refused, saying why, and binds nothing.
    let refused = bob.laptop.run(&["accept", &invitation]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("names a notebook"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    sync_all(&[&bob.laptop, &bob.phone, &alice.laptop]);
    for d in [&bob.laptop, &bob.phone] {
        let store = d.store();
        assert_eq!(store.space_of_notebook(&diary).unwrap(), None);
        let kept = store.local_space(&space).unwrap();
        assert!(
            kept.as_ref().is_none_or(|k| k.notebook.is_none()),
            "{kept:?}"
        );
    }
    assert_eq!(body(&bob.laptop, &secret), "bob's secret\n");
    assert!(
        alice.laptop.store().get(&secret).is_err(),
        "bob's diary reached the owner"
    );
}

/// Where `d`'s head in `space` lies in the bucket.
fn head_path(cloud: &Cloud, p: &Person, d: &Device, space: &SpaceId) -> std::path::PathBuf {
    let user = UserId::parse(&p.account).unwrap();
    let device = DeviceId::parse(&d.device_id()).unwrap();
    cloud
        .bucket_dir()
        .join(format!("spaces/{space}/users/{user}/devices/{device}/head"))
}

/// The epoch `d`'s head in `space` is sealed with.
fn head_epoch(cloud: &Cloud, p: &Person, d: &Device, space: &SpaceId) -> Epoch {
    let bytes = std::fs::read(head_path(cloud, p, d, space)).unwrap();
    object::decode(&bytes).unwrap().space.unwrap().epoch
}

/// The heads `who`'s writes ended at, as the chain `d` verified pins them.
fn pinned_heads(d: &Device, space: &SpaceId, who: &Person) -> cairn_core::space::record::HeadFence {
    let store = d.store();
    let records = store.local_space_records(space).unwrap();
    let state = cairn_core::space::chain::SpaceState::verify(
        *space,
        &records,
        cairn_core::space::chain::Verifier::default(),
    )
    .unwrap();
    let user = UserId::parse(&who.account).unwrap();
    state.departed[&user].heads.clone().expect("heads pinned")
}

/// Bob types `line` while a rotation is due: his sync publishes nothing
/// (his head in the bucket stays as it was), and once alice (the owner)
/// syncs and starts the next epoch, the line reaches her.
fn bob_waits_for_the_next_epoch(
    alice: &Person,
    bob: &Person,
    bobs_head: &std::path::Path,
    note: &str,
    line: &str,
) {
    let before = std::fs::read(bobs_head).ok();
    bob.laptop
        .store()
        .splice(note, "Minutes\n".len(), 0, &format!("{line}\n"))
        .unwrap();
    bob.laptop.sync_ok();
    assert!(
        std::fs::read(bobs_head).ok() == before,
        "bob published under a key someone who is gone holds"
    );
    sync_until(&[&alice.laptop, &bob.laptop], line, || {
        body(&alice.laptop, note).contains(line)
    });
}

/// Someone who leaves or declines holds the current key: until the owner
/// starts the next epoch, the other writers publish nothing (what they
/// type waits on their device), then it goes out under the new key.
#[test]
fn after_a_leave_or_a_decline_writers_wait_for_the_next_epoch() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let carol = person(&cloud, "carol");
    let dave = person(&cloud, "dave");
    let note = notebook_with_note(&alice.laptop, "Club", "Minutes\n");
    let invitation = share(&alice, &bob, "Club", "editor");
    let space = SpaceId::parse(&invitation).unwrap();
    share(&alice, &carol, "Club", "editor");
    let everyone = [&alice.laptop, &bob.laptop, &carol.laptop];
    sync_until(&everyone, "the minutes reach bob and carol", || {
        bob.laptop.store().get(&note).is_ok() && carol.laptop.store().get(&note).is_ok()
    });
    let bobs_head = head_path(&cloud, &bob, &bob.laptop, &space);

    // Carol leaves; bob types while alice is away.
    carol.laptop.ok(&["leave", &invitation]);
    bob_waits_for_the_next_epoch(&alice, &bob, &bobs_head, &note, "after carol left");
    // The rotate after carol's leave pins her heads as alice read them
    // (her own leave record's fence is not trusted).
    let carols = pinned_heads(&alice.laptop, &space, &carol);
    let carol_device = DeviceId::parse(&carol.laptop.device_id()).unwrap();
    match std::fs::read(head_path(&cloud, &carol, &carol.laptop, &space)) {
        Ok(bytes) => assert_eq!(carols[&carol_device].head, object::sha256(&bytes)),
        Err(_) => assert!(!carols.contains_key(&carol_device)),
    }
    assert_eq!(head_epoch(&cloud, &bob, &bob.laptop, &space), Epoch(2));

    // Dave is invited (the key wrapped to him) and declines: the same.
    alice.laptop.ok(&[
        "share",
        "Club",
        "--with",
        &dave.account,
        "--fingerprint",
        &dave.fingerprint,
    ]);
    dave.laptop.ok(&["decline", &invitation]);
    bob_waits_for_the_next_epoch(&alice, &bob, &bobs_head, &note, "after dave declined");
    assert_eq!(head_epoch(&cloud, &bob, &bob.laptop, &space), Epoch(3));
}

/// One shared notebook that cannot be brought up to date (here bob's
/// device remembers more of its chain than the service shows: a
/// rollback) is reported in a sentence; the others sync all the same.
#[test]
fn one_bad_shared_notebook_does_not_stop_the_others() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    alice.laptop.ok(&["notebook", "create", "One"]);
    alice.laptop.ok(&["notebook", "create", "Two"]);
    let first = last_line(&alice.laptop.ok(&["new", "--notebook", "One", "first\n"]));
    let one = SpaceId::parse(&share(&alice, &bob, "One", "editor")).unwrap();
    share(&alice, &bob, "Two", "editor");
    sync_until(
        &[&alice.laptop, &bob.laptop],
        "the first note reaches bob",
        || bob.laptop.store().get(&first).is_ok(),
    );
    {
        let mut store = bob.laptop.store();
        let mut bad = store.local_space(&one).unwrap().unwrap();
        bad.checkpoint.seq += 1000;
        store.save_local_space(&bad, &[]).unwrap();
    }
    let second = last_line(&alice.laptop.ok(&["new", "--notebook", "Two", "second\n"]));
    alice.laptop.sync_ok();
    let run = bob.laptop.sync_ok();
    assert!(
        bob.laptop.store().get(&second).is_ok(),
        "the good shared notebook did not sync:\n{}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr.contains("a shared notebook did not sync")
            && run.stderr.contains("cannot be trusted"),
        "{}",
        run.stderr
    );
}

/// `d`'s account's sharing identity, as its devices open it.
fn identity_of(cloud: &Cloud, d: &Device) -> cairn_core::space::identity::SharingIdentity {
    let store = Arc::new(Mutex::new(d.store()));
    cloud.runtime().block_on(async {
        let sharing = Sharing::open(d.dir(), d.session(cloud), store)
            .await
            .unwrap();
        sharing.me().clone()
    })
}

/// A copy of `d`'s data folder, whose store a forger may publish from
/// without touching the device's own.
fn copy_of(d: &Device) -> tempfile::TempDir {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(d.dir(), dir.path());
    dir
}

/// Whoever holds the epoch key (an editor, a viewer), with the storage
/// letting them write into another member's prefix (here through that
/// member's own presigned URLs), can seal a head there that lists objects
/// of their own: well formed, at the next sequence number, sealed for
/// that very place. It does not carry that member's signature, so every
/// reader ignores it, says why, and changes nothing; the member's next
/// genuine publish is read as usual.
#[test]
fn a_head_forged_into_another_members_prefix_is_ignored() {
    let cloud = Cloud::start();
    let (alice, bob, carol, note, space) = three_in(&cloud, "Ledger", "Balance: 100\n");
    let readers = [&alice.phone, &bob.laptop, &carol.laptop];
    sync_until(
        &[&alice.laptop, &alice.phone, &bob.laptop, &carol.laptop],
        "the ledger reaches everyone",
        || readers.iter().all(|d| d.store().get(&note).is_ok()),
    );
    let alice_user = UserId::parse(&alice.account).unwrap();

    for (forger, signer, reason) in [
        (&bob, "bob", "not by"),
        (&carol, "carol", "who may only read"),
    ] {
        // Alice's laptop's own context and grant (its PUTs reach its
        // prefix only), but another's signing key, and nothing to read.
        let (mut forged, grant) = space_context(&cloud, &alice.laptop, &space);
        assert_eq!(forged.user, alice_user);
        let writing = forged.writing.as_mut().unwrap();
        writing.identity = identity_of(&cloud, &forger.laptop);
        forged.peers.clear();
        let copy = copy_of(&alice.laptop);
        let mut store = cairn_core::Store::open(copy.path()).unwrap();
        store
            .splice(&note, 0, 0, &format!("FORGED BY {signer} "))
            .unwrap();
        let report = cloud
            .runtime()
            .block_on(cairn_client::round_runner::run_space_round(
                Arc::new(Mutex::new(store)),
                cairn_client::Bucket::new().unwrap(),
                Arc::new(grant),
                forged,
            ))
            .unwrap();
        assert!(report.published.is_some(), "the forged head was written");
        let head = std::fs::read(head_path(&cloud, &alice, &alice.laptop, &space)).unwrap();
        assert!(object::decode(&head).is_ok(), "a well-formed head");

        for d in readers.iter().filter(|d| d.dir() != forger.laptop.dir()) {
            let run = d.sync_ok();
            assert!(
                run.stderr.contains("was not read") && run.stderr.contains(reason),
                "{signer}'s forgery, read by {}: no reason said:\n{}",
                d.dir().display(),
                run.stderr
            );
            assert_eq!(
                body(d, &note),
                "Balance: 100\n",
                "a forged head was applied"
            );
        }
    }

    // Alice's laptop publishes for real again: read by everyone, and
    // nothing forged comes with it.
    alice
        .laptop
        .store()
        .splice(&note, "Balance: ".len(), 3, "250")
        .unwrap();
    alice.laptop.sync_ok();
    sync_until(&readers, "alice's genuine edit after the forgeries", || {
        readers.iter().all(|d| body(d, &note) == "Balance: 250\n")
    });
    let run = alice.phone.sync_ok();
    assert!(!run.stderr.contains("was not read"), "{}", run.stderr);
}

/// `share` makes the space on the service, then keeps it here. Cut off
/// between the two (here: the first step run alone, as a crash or a lost
/// answer leaves it), the space is on the service and only pending here.
/// The next sync, or the next share, finishes it: the notebook takes the
/// space's id, no stray notebook is made, a share afterwards invites into
/// that same space (never a second one), and the invitee gets the notes.
#[test]
fn a_share_cut_off_after_the_service_made_the_space_is_finished_next_time() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let session = alice.laptop.session(&cloud);
    let listed = |session: &Arc<cairn_client::Session>| {
        cloud.runtime().block_on(async {
            let token = session.access_token().await.unwrap();
            let mine = session.client().my_spaces(&token).await.unwrap();
            mine.spaces
                .iter()
                .map(|s| SpaceId::parse(s.space_id.as_str()).unwrap())
                .collect::<Vec<_>>()
        })
    };
    let cut_off = |name: &str| -> SpaceId {
        let id = alice.laptop.store().find_notebook(name).unwrap();
        let store = Arc::new(Mutex::new(alice.laptop.store()));
        cloud.runtime().block_on(async {
            let sharing = Sharing::open(alice.laptop.dir(), session.clone(), store)
                .await
                .unwrap();
            sharing.begin_space(&id).await.unwrap().space()
        })
    };

    for (name, finish) in [("Garden", "sync"), ("Orchard", "share")] {
        let note = notebook_with_note(&alice.laptop, name, "Tomatoes\n");
        let before = alice.laptop.store().find_notebook(name).unwrap();
        let space = cut_off(name);
        // On the service, not kept here: the notebook is not shared yet.
        assert!(listed(&session).contains(&space));
        {
            let store = alice.laptop.store();
            assert!(store.local_space(&space).unwrap().is_none());
            assert_eq!(store.find_notebook(name).unwrap(), before);
            assert_eq!(store.pending_spaces().unwrap().len(), 1);
        }
        if finish == "sync" {
            alice.laptop.sync_ok();
            let store = alice.laptop.store();
            assert!(store.pending_spaces().unwrap().is_empty());
            assert_eq!(
                store.find_notebook(name).unwrap(),
                label::notebook_id(&space),
                "the notebook takes the space's id"
            );
            assert_eq!(
                store
                    .space_of_notebook(&label::notebook_id(&space))
                    .unwrap(),
                Some(space)
            );
            assert!(
                store.find_notebook("Shared notebook").is_err(),
                "no stray notebook for the space"
            );
        }
        let invitation = share(&alice, &bob, name, "editor");
        assert_eq!(
            invitation,
            space.to_string(),
            "the space made before, not another"
        );
        assert!(alice.laptop.store().pending_spaces().unwrap().is_empty());
        let owned = listed(&session);
        assert_eq!(owned.iter().filter(|s| **s == space).count(), 1);
        sync_until(
            &[&alice.laptop, &bob.laptop],
            "the note reaches bob",
            || {
                bob.laptop
                    .store()
                    .get(&note)
                    .is_ok_and(|n| n.body == "Tomatoes\n")
            },
        );
    }
    // Two notebooks, two spaces: nothing made twice.
    assert_eq!(listed(&session).len(), 2);
}

#[test]
fn a_key_other_than_the_pinned_one_is_refused_before_anything_is_sent() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    alice.laptop.ok(&["notebook", "create", "Plans"]);
    let bob_user = UserId::parse(&bob.account).unwrap();
    // Alice's device holds another key for Bob than the one the service
    // hands out now (as if the service swapped it in).
    {
        let mut store = alice.laptop.store();
        let mut pins = store.sharing_pins().unwrap();
        pins.repin(&SharingIdentity::generate(bob_user.clone()).public());
        store.save_sharing_pins(&pins).unwrap();
    }
    let session = alice.laptop.session(&cloud);
    let store = Arc::new(Mutex::new(alice.laptop.store()));
    let (checked, shared) = cloud.runtime().block_on(async {
        let s = Sharing::open(alice.laptop.dir(), session, store)
            .await
            .unwrap();
        let checked = s.check_invitee(&bob_user).await;
        let shared = s
            .share(
                "Plans",
                &bob_user,
                cairn_core::space::record::Role::Editor,
                None,
            )
            .await;
        (checked, shared)
    });
    for outcome in [checked.map(|_| ()), shared.map(|_| ())] {
        let e = outcome.unwrap_err();
        assert!(
            matches!(
                e,
                cairn_client::sharing::ShareError::Pin(PinError::KeyChanged { .. })
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("has changed"), "{e}");
    }
    // The notebook was not shared, and nothing reached Bob.
    assert!(alice.laptop.store().local_spaces().unwrap().is_empty());
    let pending: serde_json::Value =
        serde_json::from_str(&bob.laptop.ok(&["invitations", "--json"])).unwrap();
    assert_eq!(pending, serde_json::json!([]));
}

/// The newest membership record `store` verified in `space`.
fn checkpoint(store: &cairn_core::Store, space: &SpaceId) -> u64 {
    store
        .local_spaces()
        .unwrap()
        .iter()
        .find(|s| s.space == *space)
        .map_or(0, |s| s.checkpoint.seq)
}

/// Waits on `w`'s watch until `done` holds; returns what the watch loop
/// reported meanwhile, the event that came with the change included (the
/// loop reports a merge just after it is stored).
fn watch_until(
    w: &mut Watching,
    rt: &tokio::runtime::Runtime,
    what: &str,
    done: impl Fn(&Watching) -> bool,
) -> Vec<&'static str> {
    let mut seen = Vec::new();
    // Reported since `done` was last seen false.
    let mut fresh = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if done(w) {
            let late = w.drain();
            if late.is_empty() && fresh == 0 {
                seen.push(w.next(rt));
            }
            seen.extend(late);
            return seen;
        }
        let got = w.drain();
        fresh = got.len();
        seen.extend(got);
        assert!(std::time::Instant::now() < deadline, "{what}: {seen:?}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// With the app's default watch settings (a publish waits 2 s for edits to
/// settle), one person's typing in a shared notebook is merged on the other
/// members' devices as it is typed, before the typist's device publishes;
/// a viewer's typing reaches nobody; once removed, a member neither sends
/// nor gets anything live.
#[test]
fn typing_in_a_shared_notebook_reaches_the_others_live_before_any_publish() {
    let cloud = Cloud::start();
    let (alice, bob, carol, note, space) = three_in(&cloud, "Live", "Shopping: ");
    let devices = [&alice.laptop, &bob.laptop, &carol.laptop];
    sync_until(&devices, "the note reaches bob and carol", || {
        bob.laptop.store().get(&note).is_ok() && carol.laptop.store().get(&note).is_ok()
    });

    let rt = tokio::runtime::Runtime::new().unwrap();
    let defaults = cairn_client::WatchOptions::default();
    assert_eq!(defaults.settle, std::time::Duration::from_secs(2));
    let mut a = watch(&rt, &cloud, &alice.laptop, defaults);
    let mut b = watch(&rt, &cloud, &bob.laptop, defaults);
    let mut c = watch(&rt, &cloud, &carol.laptop, defaults);
    // Each: its first round, connected, the round a connection runs.
    for w in [&mut a, &mut b, &mut c] {
        w.wait_for(&rt, "connected");
        w.wait_for(&rt, "round");
    }

    // Alice types, a keystroke at a time; Bob and Carol (a viewer reads)
    // have each keystroke merged from a live frame, before Alice's device
    // ran the round that publishes it (it waits for the typing to settle).
    a.drain();
    let mut typed = String::from("Shopping: ");
    for ch in ["f", "i", "g", "s"] {
        a.type_after(&note, &typed, ch);
        typed.push_str(ch);
        for w in [&mut b, &mut c] {
            let want = typed.clone();
            let seen = watch_until(w, &rt, "a keystroke arrives", |w| {
                w.body(&note).contains(&want)
            });
            assert!(seen.contains(&"live"), "{ch:?} came by {seen:?}");
            assert!(!seen.contains(&"space"), "{ch:?} came by {seen:?}");
        }
    }
    let alices = a.drain();
    assert!(
        !alices.contains(&"round"),
        "Alice published before the others had the typing: {alices:?}"
    );
    assert_eq!(b.body(&note), "Shopping: figs");

    // Bob (an editor) types back: Alice and Carol get it live.
    b.type_after(&note, "figs", " and dates");
    for w in [&mut a, &mut c] {
        watch_until(w, &rt, "bob's typing arrives", |w| {
            w.body(&note).contains("figs and dates")
        });
    }

    // Carol is a viewer: what she types goes to nobody, live or not.
    c.type_after(&note, "Shopping: ", "VIEWER ");
    a.type_after(&note, "dates", "!");
    for w in [&mut b, &mut c] {
        watch_until(w, &rt, "alice's '!' arrives", |w| {
            w.body(&note).contains("dates!")
        });
    }
    assert!(!b.body(&note).contains("VIEWER"), "{}", b.body(&note));
    assert!(!a.body(&note).contains("VIEWER"), "{}", a.body(&note));

    // Alice removes Bob. Once every device has read the record, Alice's
    // typing reaches Carol live, and Bob hears nothing more; what Bob
    // types reaches nobody.
    alice
        .laptop
        .ok(&["unshare", "Live", "--member", &bob.account]);
    let removed = checkpoint(&alice.laptop.store(), &space);
    for w in [&mut a, &mut b, &mut c] {
        watch_until(w, &rt, "the removal is read", |w| {
            checkpoint(&w.store.lock().unwrap(), &space) >= removed
        });
    }
    b.drain();
    b.type_after(&note, "Shopping: ", "BOB-AFTER ");
    a.type_after(&note, "dates!", " after");
    watch_until(&mut c, &rt, "alice's typing after the removal", |w| {
        w.body(&note).contains("dates! after")
    });
    a.type_after(&note, "after", "wards");
    watch_until(&mut c, &rt, "alice's typing after the removal", |w| {
        w.body(&note).contains("afterwards")
    });
    for w in [&a, &c] {
        assert!(!w.body(&note).contains("BOB-AFTER"), "{}", w.body(&note));
    }
    assert!(!b.body(&note).contains("after"), "{}", b.body(&note));
    let bobs = b.drain();
    assert!(!bobs.contains(&"live"), "Bob heard a frame: {bobs:?}");
}

/// (id, path, parent) of every live notebook at or below `root` on `d`;
/// the shared notebook's own place is each member's, so it is left out.
fn inside(d: &Device, root: &str) -> Vec<(String, String, Option<String>)> {
    let all = d.store().notebooks().unwrap();
    let by: HashMap<&str, Option<&str>> = all
        .iter()
        .map(|n| (n.id.as_str(), n.parent.as_deref()))
        .collect();
    let under = |id: &str| {
        let mut seen = HashSet::new();
        let mut at = Some(id);
        while let Some(x) = at {
            if x == root {
                return true;
            }
            assert!(
                seen.insert(x),
                "a loop through {x} on {}",
                d.dir().display()
            );
            at = by.get(x).copied().flatten();
        }
        false
    };
    let root_path = all
        .iter()
        .find(|n| n.id == root)
        .map(|n| n.path.clone())
        .unwrap_or_default();
    let mut out: Vec<_> = all
        .iter()
        .filter(|n| under(&n.id))
        .map(|n| {
            let rel = n.path.strip_prefix(&root_path).unwrap_or(&n.path);
            let parent = n.parent.clone().filter(|_| n.id != root);
            (n.id.clone(), rel.to_owned(), parent)
        })
        .collect();
    out.sort();
    out
}

/// Where note `id` is on `d` (its notebook's path), if anywhere.
fn place(d: &Device, id: &str) -> Option<String> {
    let store = d.store();
    let nb = store.places(&[id.to_owned()]).unwrap().remove(0).1?;
    Some(store.notebook(&nb).ok()?.path)
}

fn path_is(d: &Device, id: &str, want: &str) -> bool {
    d.store().notebook(id).map(|n| n.path).ok().as_deref() == Some(want)
}

#[test]
fn a_shared_notebooks_notebooks_renames_and_moves_reach_every_member() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let carol = person(&cloud, "carol");
    let a = &alice.laptop;
    let family = last_line(&a.ok(&["notebook", "create", "Family"]));
    let trips = last_line(&a.ok(&["notebook", "create", "Trips", "--parent", "Family"]));
    let y2026 = last_line(&a.ok(&["notebook", "create", "2026", "--parent", "Family/Trips"]));
    let n_family = last_line(&a.ok(&["new", "--notebook", "Family", "Grandma's birthday"]));
    let n_trips = last_line(&a.ok(&["new", "--notebook", "Family/Trips", "Packing list"]));
    let n_2026 = last_line(&a.ok(&["new", "--notebook", "Family/Trips/2026", "Lisbon flights"]));
    share(&alice, &bob, "Family", "editor");
    share(&alice, &carol, "Family", "viewer");
    // Shared, the notebook has its space's id; the notebooks in it keep
    // theirs.
    let root = a.store().find_notebook("Family").unwrap();
    assert_ne!(root, family);
    assert!(path_is(a, &y2026, "Family/Trips/2026"));
    assert!(path_is(a, &trips, "Family/Trips"));

    let everyone = [
        &alice.laptop,
        &alice.phone,
        &bob.laptop,
        &bob.phone,
        &carol.laptop,
    ];
    sync_until(&everyone, "the notebooks reach Bob's devices", || {
        [&bob.laptop, &bob.phone, &alice.phone].iter().all(|d| {
            path_is(d, &y2026, "Family/Trips/2026")
                && place(d, &n_family).as_deref() == Some("Family")
                && place(d, &n_trips).as_deref() == Some("Family/Trips")
                && place(d, &n_2026).as_deref() == Some("Family/Trips/2026")
        })
    });
    assert_eq!(inside(&bob.phone, &root), inside(a, &root));

    // Bob renames Trips and makes Family/Recipes with a note.
    bob.laptop
        .ok(&["notebook", "rename", "Family/Trips", "Journeys"]);
    let recipes = last_line(
        &bob.laptop
            .ok(&["notebook", "create", "Recipes", "--parent", "Family"]),
    );
    let n_soup = last_line(
        &bob.laptop
            .ok(&["new", "--notebook", "Family/Recipes", "Minestrone"]),
    );
    sync_until(&everyone, "Bob's changes reach Alice's devices", || {
        [&alice.laptop, &alice.phone, &bob.phone].iter().all(|d| {
            path_is(d, &y2026, "Family/Journeys/2026")
                && path_is(d, &recipes, "Family/Recipes")
                && place(d, &n_soup).as_deref() == Some("Family/Recipes")
        })
    });

    // Concurrent moves that loop once merged: Alice puts Recipes under
    // Journeys on her laptop while Bob puts Journeys under Recipes on
    // his phone; neither has seen the other's.
    alice.laptop.ok(&[
        "notebook",
        "move",
        "Family/Recipes",
        "--parent",
        "Family/Journeys",
    ]);
    bob.phone.ok(&[
        "notebook",
        "move",
        "Family/Journeys",
        "--parent",
        "Family/Recipes",
    ]);
    let four = [&alice.laptop, &alice.phone, &bob.laptop, &bob.phone];
    sync_until(&everyone, "one tree with no loop on all four", || {
        let want = inside(&alice.laptop, &root);
        four.iter().all(|d| inside(d, &root) == want)
    });
    let tree = inside(&alice.laptop, &root);
    assert!(tree.iter().any(|(id, _, _)| *id == recipes));
    assert!(tree.iter().any(|(id, _, _)| *id == trips));

    // Carol, a viewer, cannot rename a notebook of the shared one: her
    // device refuses, and nothing of hers reaches anyone.
    let journeys_path = carol
        .laptop
        .store()
        .notebook(&trips)
        .map(|n| n.path)
        .unwrap();
    let refused = carol
        .laptop
        .run(&["notebook", "rename", &journeys_path, "Carol's"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("can read this shared notebook"), "{said}");
    sync_all(&everyone);
    for d in everyone {
        let all = d.store().notebooks().unwrap();
        assert!(
            all.iter().all(|n| n.name != "Carol's"),
            "{}",
            d.dir().display()
        );
    }

    // Alice renames the shared notebook: Bob sees the new name.
    alice
        .laptop
        .ok(&["notebook", "rename", "Family", "Family 2026"]);
    sync_until(&everyone, "the new name reaches Bob", || {
        [&bob.laptop, &bob.phone, &carol.laptop, &alice.phone]
            .iter()
            .all(|d| {
                d.store().notebook(&root).map(|n| n.name).ok().as_deref() == Some("Family 2026")
            })
    });

    // No notebook name is readable in the bucket or the service's data.
    nothing_readable(
        &cloud,
        &["Journeys", "Recipes", "Minestrone", "Family 2026"],
    );
}

/// Bytes that look like a PNG file: its signature, then `len` bytes
/// made from `seed` (no run of text in them).
fn png(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend((0..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    out
}

/// Writes `data` as `name` in the device's scratch folder and attaches it
/// to `note` (`cairn attach`); returns the attachment's id.
fn attach(d: &Device, note: &str, name: &str, data: &[u8]) -> String {
    let dir = d.dir().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    last_line(&d.ok(&["attach", note, path.to_str().unwrap()]))
}

/// The attachment's bytes as `cairn attachment get` writes them out, or
/// what it said.
fn attachment_bytes(d: &Device, id: &str) -> Result<Vec<u8>, String> {
    let out_path = d.dir().join(format!("out-{id}"));
    let out = d.run(&["attachment", "get", id, out_path.to_str().unwrap()]);
    if out.status.success() {
        Ok(std::fs::read(&out_path).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn has_attachment(d: &Device, id: &str, want: &[u8]) -> bool {
    attachment_bytes(d, id).is_ok_and(|b| b == want)
}

/// The slot object of `location` (a device of `user`) in `space`.
fn space_slot_path(
    cloud: &Cloud,
    space: &SpaceId,
    user: &str,
    location: &cairn_core::blob::ChunkLocation,
) -> std::path::PathBuf {
    let user = UserId::parse(user).unwrap();
    cloud.bucket_dir().join(format!(
        "spaces/{space}/users/{user}/devices/{}/{}",
        location.device,
        location.slot.relative()
    ))
}

#[test]
fn an_attachment_in_a_shared_notebook_opens_on_members_devices_and_not_for_a_removed_one() {
    use cairn_core::space::blob_keys::SpaceBlobKeys;
    use cairn_core::space::blob_seal;
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let note = notebook_with_note(&alice.laptop, "Family", "Holiday\n");
    // A note with an attachment, synced in alice's own notes before it
    // moves into the shared notebook.
    let card_note = last_line(&alice.laptop.ok(&["new", "Recipe card\n"]));
    let card = png(30_000, 1);
    let card_id = attach(&alice.laptop, &card_note, "card.png", &card);
    alice.laptop.sync_ok();
    let space = SpaceId::parse(&share(&alice, &bob, "Family", "editor")).unwrap();
    // Attached to a note already shared, and a note with one moved in.
    let photo = png(300_000, 2);
    let photo_id = attach(&alice.laptop, &note, "beach.png", &photo);
    alice.laptop.ok(&["move", &card_note, "Family"]);
    let everyone = [&alice.laptop, &alice.phone, &bob.laptop, &bob.phone];
    sync_until(&everyone, "alice's attachments reach bob's devices", || {
        [&bob.laptop, &bob.phone]
            .iter()
            .all(|d| has_attachment(d, &photo_id, &photo) && has_attachment(d, &card_id, &card))
    });
    // Bob attaches in turn: it goes up into his own slots in the space,
    // and opens on both of alice's devices.
    let reply = png(5_000, 3);
    let reply_id = attach(&bob.phone, &note, "reply.png", &reply);
    sync_until(&everyone, "bob's attachment reaches alice", || {
        has_attachment(&alice.laptop, &reply_id, &reply)
            && has_attachment(&alice.phone, &reply_id, &reply)
    });
    let slots: Vec<String> = all_bytes(&cloud.bucket_dir())
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.contains(&format!("/spaces/{space}/")) && p.contains("/blob/"))
        .collect();
    for who in [&alice.account, &bob.account] {
        assert!(
            slots.iter().any(|p| p.contains(&format!("/users/{who}/"))),
            "no slot of {who} in the space: {slots:?}"
        );
    }

    // Alice removes bob, then attaches another file: sealed at epoch 2.
    let before = alice.laptop.store().space_blob_locations(&space).unwrap();
    alice
        .laptop
        .ok(&["unshare", "Family", "--member", &bob.account]);
    let late = png(40_000, 4);
    let late_id = attach(&alice.laptop, &note, "after.png", &late);
    alice.laptop.sync_ok();
    let after = alice.laptop.store().space_blob_locations(&space).unwrap();
    let added: Vec<_> = after
        .iter()
        .filter(|(id, _)| !before.contains_key(id))
        .collect();
    assert_eq!(added.len(), 1, "one chunk added: {added:?}");
    let (chunk, location) = added[0];
    let slot = std::fs::read(space_slot_path(&cloud, &space, &alice.account, location)).unwrap();
    let sealed = &slot[location.offset as usize..(location.offset + location.len) as usize];
    assert_eq!(&sealed[..5], b"CBS1\x02");
    let len = late.len();
    // Nothing bob holds opens it: not his keys of the space's epochs...
    let bob_keys = bob.laptop.store().epoch_keys(&space).unwrap();
    assert!(!bob_keys.contains_key(&Epoch(2)));
    let bobs = SpaceBlobKeys::derive(&space, &bob_keys);
    let refused = blob_seal::open(&bobs, chunk, len, sealed).unwrap_err();
    assert!(refused.to_string().contains("epoch 2"), "{refused}");
    // ... nor his own account's attachment keys.
    let own = bob.laptop.store().blob_keys();
    assert!(cairn_core::blob::seal::open(&own, chunk, len, sealed).is_err());
    // Alice's keys do.
    let alices = SpaceBlobKeys::derive(&space, &alice.laptop.store().epoch_keys(&space).unwrap());
    assert_eq!(blob_seal::open(&alices, chunk, len, sealed).unwrap(), late);
    bob.laptop.sync_ok();
    assert!(attachment_bytes(&bob.laptop, &late_id).is_err());
    // What bob had stays readable on his device.
    assert!(has_attachment(&bob.laptop, &photo_id, &photo));
}

#[test]
fn a_chunk_copied_from_another_shared_notebook_is_refused_and_nothing_is_lost() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let family_note = notebook_with_note(&alice.laptop, "Family", "Family note\n");
    let work_note = notebook_with_note(&alice.laptop, "Work", "Work note\n");
    let family = SpaceId::parse(&share(&alice, &bob, "Family", "editor")).unwrap();
    let work = SpaceId::parse(&share(&alice, &bob, "Work", "editor")).unwrap();
    let pair = [&alice.laptop, &bob.laptop];
    sync_until(&pair, "both notes reach bob", || {
        bob.laptop.store().get(&family_note).is_ok() && bob.laptop.store().get(&work_note).is_ok()
    });
    // Two files of one size, one in each shared notebook.
    let (x, y) = (png(20_000, 5), png(20_000, 6));
    let x_id = attach(&alice.laptop, &family_note, "x.png", &x);
    let y_id = attach(&alice.laptop, &work_note, "y.png", &y);
    alice.laptop.sync_ok();
    let in_family = alice.laptop.store().space_blob_locations(&family).unwrap();
    let in_work = alice.laptop.store().space_blob_locations(&work).unwrap();
    let (family_at, work_at) = (
        in_family.values().next().unwrap(),
        in_work.values().next().unwrap(),
    );
    assert_eq!(family_at.len, work_at.len);
    // Someone with the storage copies Family's slot over Work's.
    let work_slot = space_slot_path(&cloud, &work, &alice.account, work_at);
    std::fs::copy(
        space_slot_path(&cloud, &family, &alice.account, family_at),
        &work_slot,
    )
    .unwrap();
    let mut said = String::new();
    sync_until(&pair, "bob reads the family attachment", || {
        has_attachment(&bob.laptop, &x_id, &x)
    });
    for _ in 0..2 {
        said.push_str(&bob.laptop.sync_ok().stderr);
    }
    assert!(
        said.contains("was refused") && said.contains("another shared notebook"),
        "{said}"
    );
    let why = attachment_bytes(&bob.laptop, &y_id).unwrap_err();
    // Asked for, it is fetched again and refused again, in words.
    assert!(why.contains("another shared notebook"), "{why}");
    assert!(!why.contains("http"), "{why}");
    let kept = bob.laptop.store().attachment_error(&y_id).unwrap().unwrap();
    assert!(kept.contains("another shared notebook"), "{kept}");
    // Nothing of bob's is lost: both notes, and the other attachment.
    for n in [&work_note, &family_note] {
        assert_eq!(body(&bob.laptop, n), body(&alice.laptop, n));
    }
    assert!(body(&bob.laptop, &work_note).starts_with("Work note\n"));
    assert!(has_attachment(&bob.laptop, &x_id, &x));
}
