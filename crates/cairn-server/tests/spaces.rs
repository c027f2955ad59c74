//! Shared spaces against the real service and embedded S3 store: members'
//! grants scoped to the space, viewers without PUTs, strangers and removed
//! members refused at once, events only to current members, and every
//! forged, replayed or racing membership record refused with its own code.
//!
//! The records are made with the core's space functions, as a device
//! makes them; the routes are driven over plain HTTP. With
//! `CAIRN_TEST_REGISTRY=postgres` the same tests run on PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use cairn_core::space::chain::{SpaceState, Verifier};
use cairn_core::space::epoch::{Epoch, EpochKey, SpaceId as ChainSpaceId};
use cairn_core::space::identity::SharingIdentity;
use cairn_core::space::record::{Action, Fence, HeadFence, Record, Role};
use cairn_core::space::rotation::remove_member;
use cairn_core::space::wrap::KeyWrap;
use cairn_protocol::{DeviceKey, RecordBytes, ServiceEvent, SpaceGrant, SpaceId, UserId};
use harness::{get, next_event, put, subscribe, Harness, SignedInDevice};
use serde_json::{json, Value};

/// One person: their sharing identity and two signed-in devices.
struct Person {
    id: SharingIdentity,
    laptop: SignedInDevice,
    phone: SignedInDevice,
}

impl Person {
    fn user(&self) -> &UserId {
        &self.laptop.session.user_id
    }
}

async fn person(h: &Harness) -> Person {
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let phone = h.new_device(&key, "phone").await;
    Person {
        id: SharingIdentity::generate(laptop.session.user_id.clone()),
        laptop,
        phone,
    }
}

/// A request to the service as `device`: status and JSON body.
async fn call(
    h: &Harness,
    device: &SignedInDevice,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = h
        .http
        .request(method, h.url(path))
        .bearer_auth(device.token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// A key prefix as a presigned URL spells it (the `:` of a user id
/// percent-encoded).
fn in_url(prefix: &str) -> String {
    prefix.replace(':', "%3A")
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

/// A new space: its id, record 0 and the first epoch's key.
struct Space {
    id: ChainSpaceId,
    key: EpochKey,
    records: Vec<Record>,
}

impl Space {
    fn wire_id(&self) -> SpaceId {
        SpaceId::parse(&self.id.to_string()).unwrap()
    }

    fn path(&self, rest: &str) -> String {
        format!("/v1/spaces/{}{rest}", self.id)
    }

    fn last(&self) -> &Record {
        self.records.last().unwrap()
    }

    fn next(&self, signer: &SharingIdentity, action: Action) -> Record {
        let last = self.last();
        Record::sign(signer, self.id, last.body.seq + 1, last.hash(), action)
    }

    fn invite(&self, owner: &Person, invitee: &Person, role: Role) -> Record {
        let wrap = KeyWrap::create(
            &owner.id,
            &invitee.id.public(),
            self.id,
            Epoch::FIRST,
            &self.key,
        )
        .unwrap();
        self.next(
            &owner.id,
            Action::Invite {
                invitee: invitee.id.public(),
                role,
                wrap,
            },
        )
    }

    fn state(&self) -> SpaceState {
        SpaceState::verify(self.id, &self.records, Verifier::default()).unwrap()
    }
}

fn append_body(r: &Record) -> Value {
    json!({
        "seq": r.body.seq,
        "prev": hex::encode(r.body.prev),
        "record": RecordBytes::encode(&r.encode()).0,
    })
}

async fn append(h: &Harness, by: &SignedInDevice, space: &Space, r: &Record) -> (u16, Value) {
    call(
        h,
        by,
        reqwest::Method::POST,
        &space.path("/records"),
        Some(append_body(r)),
    )
    .await
}

/// Appends `r` and expects it to land.
async fn land(h: &Harness, by: &SignedInDevice, space: &mut Space, r: Record) {
    let (status, body) = append(h, by, space, &r).await;
    assert_eq!(status, 201, "record {} refused: {body}", r.body.seq);
    assert_eq!(body["seq"], r.body.seq);
    assert_eq!(body["hash"], hex::encode(r.hash()));
    space.records.push(r);
}

/// Record 0 of space `id` with first key `key`, signed by `owner`.
fn genesis(owner: &SharingIdentity, id: ChainSpaceId, key: &EpochKey) -> Record {
    let wrap = KeyWrap::create(owner, &owner.public(), id, Epoch::FIRST, key).unwrap();
    Record::sign(
        owner,
        id,
        0,
        [0; 32],
        Action::Create {
            owner: owner.public(),
            wrap,
        },
    )
}

async fn create_space(h: &Harness, owner: &Person) -> Space {
    let id = ChainSpaceId::generate();
    let key = EpochKey::generate();
    let genesis = genesis(&owner.id, id, &key);
    let (status, body) = call(
        h,
        &owner.laptop,
        reqwest::Method::POST,
        "/v1/spaces",
        Some(json!({
            "space_id": id.to_string(),
            "record": RecordBytes::encode(&genesis.encode()).0,
        })),
    )
    .await;
    assert_eq!(status, 201, "create refused: {body}");
    assert_eq!(body["seq"], 0);
    Space {
        id,
        key,
        records: vec![genesis],
    }
}

/// Owner creates a space, invites `member` with `role`, who accepts.
async fn shared_with(h: &Harness, owner: &Person, member: &Person, role: Role) -> Space {
    let mut space = create_space(h, owner).await;
    let invite = space.invite(owner, member, role);
    land(h, &owner.laptop, &mut space, invite).await;
    let invitation = space.last().body.seq;
    let accept = space.next(&member.id, Action::Accept { invitation });
    land(h, &member.laptop, &mut space, accept).await;
    space
}

/// The owner's record removing `member`, with no fence.
fn unfenced_removal(
    space: &Space,
    owner: &Person,
    member: &Person,
) -> cairn_core::space::rotation::NewEpoch {
    remove_member(
        &space.state(),
        &owner.id,
        &space.key,
        member.user(),
        Fence::new(),
        HeadFence::new(),
    )
    .unwrap()
}

async fn space_grant(h: &Harness, device: &SignedInDevice, space: &Space) -> (u16, Value) {
    let path = space.path(&format!("/devices/{}/grant", device.device.id));
    call(h, device, reqwest::Method::POST, &path, None).await
}

async fn granted(h: &Harness, device: &SignedInDevice, space: &Space) -> SpaceGrant {
    let (status, body) = space_grant(h, device, space).await;
    assert_eq!(status, 200, "grant refused: {body}");
    serde_json::from_value(body).unwrap()
}

async fn publish(h: &Harness, device: &SignedInDevice, space: &Space, seq: u64) -> (u16, Value) {
    let path = space.path(&format!("/devices/{}/published", device.device.id));
    call(
        h,
        device,
        reqwest::Method::POST,
        &path,
        Some(json!({ "seq": seq })),
    )
    .await
}

#[tokio::test]
async fn members_get_grants_scoped_to_the_space_and_a_viewer_gets_no_puts() {
    let h = Harness::start().await;
    let (alice, bob, carol, dave) = (
        person(&h).await,
        person(&h).await,
        person(&h).await,
        person(&h).await,
    );
    let mut space = create_space(&h, &alice).await;
    let invite_bob = space.invite(&alice, &bob, Role::Editor);
    land(&h, &alice.laptop, &mut space, invite_bob).await;
    let invite_carol = space.invite(&alice, &carol, Role::Viewer);
    land(&h, &alice.laptop, &mut space, invite_carol).await;

    // Bob sees the invitation, and is no member yet.
    let (status, mine) = call(&h, &bob.phone, reqwest::Method::GET, "/v1/spaces", None).await;
    assert_eq!(status, 200);
    assert_eq!(mine["spaces"], json!([]));
    assert_eq!(
        mine["invitations"],
        json!([{
            "space_id": space.id.to_string(),
            "seq": 1,
            "from": alice.user().as_str(),
            "role": "editor",
        }])
    );
    let (status, body) = space_grant(&h, &bob.laptop, &space).await;
    assert_eq!((status, code(&body)), (403, "not_space_member"));

    let bob_accepts = space.next(&bob.id, Action::Accept { invitation: 1 });
    land(&h, &bob.laptop, &mut space, bob_accepts).await;
    let carol_accepts = space.next(&carol.id, Action::Accept { invitation: 2 });
    land(&h, &carol.phone, &mut space, carol_accepts).await;
    let (_, mine) = call(&h, &bob.phone, reqwest::Method::GET, "/v1/spaces", None).await;
    assert_eq!(mine["invitations"], json!([]));
    assert_eq!(mine["spaces"][0]["role"], "editor");
    assert_eq!(mine["spaces"][0]["last_seq"], 4);
    let (_, alices) = call(&h, &alice.phone, reqwest::Method::GET, "/v1/spaces", None).await;
    assert_eq!(alices["spaces"][0]["role"], "owner");

    // The owner's grant: PUTs for its own prefix in the space, GETs for
    // every other member device there, nothing outside the space.
    let alice_grant = granted(&h, &alice.laptop, &space).await;
    let in_space = format!("spaces/{}/", space.id);
    assert_eq!(
        alice_grant.prefix,
        format!(
            "{in_space}users/{}/devices/{}/",
            alice.user(),
            alice.laptop.device.id
        )
    );
    assert_eq!(
        alice_grant.peers.len(),
        5,
        "alice's phone, bob's and carol's devices"
    );
    for peer in &alice_grant.peers {
        assert!(peer.prefix.starts_with(&in_space), "{}", peer.prefix);
        assert!(
            peer.get.head.contains(&in_url(&peer.prefix)),
            "{}",
            peer.get.head
        );
        assert!(!peer.departed);
    }
    let put_urls = alice_grant.put.as_ref().expect("the owner writes");
    assert!(put_urls.head.contains(&in_url(&alice_grant.prefix)));
    assert_eq!(put(&h.http, &put_urls.head, b"alice's head").await, 200);

    // Bob, an editor, writes his own prefix and reads Alice's.
    let bob_grant = granted(&h, &bob.laptop, &space).await;
    let from_alice = bob_grant
        .peers
        .iter()
        .find(|p| p.device_id == alice.laptop.device.id)
        .expect("alice's laptop is a peer");
    let (status, body) = get(&h.http, &from_alice.get.head).await;
    assert_eq!((status, body.as_slice()), (200, &b"alice's head"[..]));
    let bob_put = bob_grant.put.as_ref().expect("an editor writes");
    assert_eq!(put(&h.http, &bob_put.head, b"bob's head").await, 200);
    assert_eq!(publish(&h, &bob.laptop, &space, 1).await.0, 204);

    // Bob tampers with his presigned PUT to write Alice's prefix: the S3
    // server refuses it (the signature covers the key), and her head stays.
    let tampered = bob_put
        .head
        .replace(&in_url(&bob_grant.prefix), &in_url(&alice_grant.prefix));
    assert_ne!(tampered, bob_put.head);
    assert_eq!(put(&h.http, &tampered, b"bob was here").await, 403);
    let (_, body) = get(&h.http, &alice_grant.get.head).await;
    assert_eq!(body, b"alice's head");
    // Nor does his space grant reach anyone's personal prefix.
    let personal = h.grant(&alice.laptop).await;
    let into_personal = bob_put
        .head
        .replace(&in_url(&bob_grant.prefix), &in_url(&personal.prefix));
    assert_ne!(into_personal, bob_put.head);
    assert_eq!(put(&h.http, &into_personal, b"bob was here").await, 403);

    // Carol, a viewer, reads but gets no PUTs, and may not publish.
    let carol_grant = granted(&h, &carol.laptop, &space).await;
    assert!(carol_grant.put.is_none() && carol_grant.blob_put.is_none());
    let from_bob = carol_grant
        .peers
        .iter()
        .find(|p| p.device_id == bob.laptop.device.id)
        .unwrap();
    let (status, body) = get(&h.http, from_bob.get.url(DeviceKey::Head).unwrap()).await;
    assert_eq!((status, body.as_slice()), (200, &b"bob's head"[..]));
    let (status, body) = publish(&h, &carol.laptop, &space, 1).await;
    assert_eq!((status, code(&body)), (403, "read_only_member"));

    // Dave is in no way part of it: grant, records and publish refused,
    // and a space that does not exist is refused the same way.
    let (status, body) = space_grant(&h, &dave.laptop, &space).await;
    assert_eq!((status, code(&body)), (403, "not_space_member"));
    let (status, body) = call(
        &h,
        &dave.laptop,
        reqwest::Method::GET,
        &space.path("/records"),
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (403, "not_space_member"));
    assert_eq!(publish(&h, &dave.laptop, &space, 1).await.0, 403);
    let nowhere = Space {
        id: ChainSpaceId::generate(),
        key: EpochKey::generate(),
        records: Vec::new(),
    };
    let (status, body) = space_grant(&h, &dave.laptop, &nowhere).await;
    assert_eq!((status, code(&body)), (403, "not_space_member"));
    // A member asking for another user's device gets nothing either.
    let path = space.path(&format!("/devices/{}/grant", alice.laptop.device.id));
    let (status, _) = call(&h, &bob.laptop, reqwest::Method::POST, &path, None).await;
    assert_eq!(status, 404);

    // Records after N, in order, exactly as signed.
    let (status, body) = call(
        &h,
        &bob.phone,
        reqwest::Method::GET,
        &space.path("/records?after=2"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let records = body["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    for (stored, mine) in records.iter().zip(&space.records[3..]) {
        assert_eq!(stored["seq"], mine.body.seq);
        let bytes = RecordBytes(stored["record"].as_str().unwrap().to_owned())
            .decode()
            .unwrap();
        assert_eq!(Record::decode(&bytes).unwrap(), *mine);
    }
    assert_eq!(space.wire_id().as_str(), space.id.to_string());
    h.shutdown().await;
}

#[tokio::test]
async fn a_removed_member_is_refused_at_once_and_hears_nothing_more() {
    let h = Harness::start().await;
    let (alice, bob) = (person(&h).await, person(&h).await);
    let mut space = shared_with(&h, &alice, &bob, Role::Editor).await;
    let mut bob_events = subscribe(&h, &bob.laptop).await;
    let mut alice_phone_events = subscribe(&h, &alice.phone).await;

    // While a member, Bob hears Alice's publishes in the space.
    assert_eq!(publish(&h, &alice.laptop, &space, 1).await.0, 204);
    let heard = ServiceEvent::SpacePublished {
        space_id: space.wire_id(),
        user_id: alice.user().clone(),
        device_id: alice.laptop.device.id.clone(),
        seq: 1,
    };
    assert_eq!(next_event(&mut bob_events).await, heard);
    assert_eq!(next_event(&mut alice_phone_events).await, heard);
    // A grant from before the removal.
    let before = granted(&h, &bob.laptop, &space).await;
    assert!(before.put.is_some());

    // Bob publishes; the service remembers it, and the owner's grant names
    // it: that is the fence of his removal.
    assert_eq!(publish(&h, &bob.laptop, &space, 3).await.0, 204);
    assert!(matches!(
        next_event(&mut alice_phone_events).await,
        ServiceEvent::SpacePublished { seq: 3, .. }
    ));
    assert_eq!(publish(&h, &bob.laptop, &space, 2).await.0, 204);
    assert!(matches!(
        next_event(&mut alice_phone_events).await,
        ServiceEvent::SpacePublished { seq: 2, .. }
    ));
    let owners = granted(&h, &alice.laptop, &space).await;
    let fence: Fence = owners
        .peers
        .iter()
        .filter(|p| p.user_id == *bob.user())
        .filter_map(|p| Some((p.device_id.clone(), p.published_seq?)))
        .collect();
    assert_eq!(
        fence,
        [(bob.laptop.device.id.clone(), 3)].into(),
        "the newest sequence, not the last reported"
    );
    let removal = remove_member(
        &space.state(),
        &alice.id,
        &space.key,
        bob.user(),
        fence,
        HeadFence::new(),
    )
    .unwrap();
    land(&h, &alice.laptop, &mut space, removal.record).await;
    let removal_seq = space.last().body.seq;
    let removal_event = ServiceEvent::SpaceRecord {
        space_id: space.wire_id(),
        seq: removal_seq,
    };
    assert_eq!(next_event(&mut alice_phone_events).await, removal_event);
    // Bob hears of the record that removed him (his devices read it and
    // say so), and of nothing in the space after it.
    assert_eq!(next_event(&mut bob_events).await, removal_event);

    // Refused at once: a new grant, a publish, and a record.
    for device in [&bob.laptop, &bob.phone] {
        let (status, body) = space_grant(&h, device, &space).await;
        assert_eq!((status, code(&body)), (403, "not_space_member"));
    }
    let (status, body) = publish(&h, &bob.laptop, &space, 2).await;
    assert_eq!((status, code(&body)), (403, "not_space_member"));
    let leave = space.next(
        &bob.id,
        Action::Leave {
            fence: Fence::new(),
        },
    );
    let (status, body) = append(&h, &bob.laptop, &space, &leave).await;
    assert_eq!((status, code(&body)), (403, "not_space_member"));
    let (_, mine) = call(&h, &bob.phone, reqwest::Method::GET, "/v1/spaces", None).await;
    assert_eq!(mine, json!({"spaces": [], "invitations": []}));
    // He may read the records up to his removal, which tell him why.
    let (status, body) = call(
        &h,
        &bob.phone,
        reqwest::Method::GET,
        &space.path("/records"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["records"].as_array().unwrap().len() as u64,
        removal_seq + 1
    );

    // Alice publishes again: her phone hears it, Bob's laptop does not.
    // Bob's phone then publishes in his personal space; that is the next
    // thing his laptop hears, so nothing of the space came before it.
    assert_eq!(publish(&h, &alice.laptop, &space, 2).await.0, 204);
    assert!(matches!(
        next_event(&mut alice_phone_events).await,
        ServiceEvent::SpacePublished { seq: 2, .. }
    ));
    h.client
        .report_published(bob.phone.token(), &bob.phone.device.id, 7)
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut bob_events).await,
        ServiceEvent::Published {
            device_id: bob.phone.device.id.clone(),
            seq: 7
        }
    );
    // Alice's grant no longer names Bob as a member, only as departed.
    let after = granted(&h, &alice.laptop, &space).await;
    let bobs: Vec<_> = after
        .peers
        .iter()
        .filter(|p| p.user_id == *bob.user())
        .collect();
    assert_eq!(bobs.len(), 2);
    assert!(bobs.iter().all(|p| p.departed));
    h.shutdown().await;
}

#[tokio::test]
async fn forged_replayed_and_racing_records_are_refused() {
    let h = Harness::start().await;
    let (alice, bob, carol) = (person(&h).await, person(&h).await, person(&h).await);
    let mut space = create_space(&h, &alice).await;

    // Forged: signed with a key that claims Alice's account but is not hers.
    let impostor = SharingIdentity::generate(alice.user().clone());
    let wrap = KeyWrap::create(
        &impostor,
        &bob.id.public(),
        space.id,
        Epoch::FIRST,
        &space.key,
    )
    .unwrap();
    let forged = space.next(
        &impostor,
        Action::Invite {
            invitee: bob.id.public(),
            role: Role::Editor,
            wrap,
        },
    );
    let (status, body) = append(&h, &alice.laptop, &space, &forged).await;
    assert_eq!((status, code(&body)), (400, "invalid_record"), "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("signature"),
        "{body}"
    );

    // A record signed by someone else cannot be pushed by the caller.
    let invite_bob = space.invite(&alice, &bob, Role::Editor);
    land(&h, &alice.laptop, &mut space, invite_bob).await;
    let accept = space.next(&bob.id, Action::Accept { invitation: 1 });
    let (status, body) = append(&h, &alice.phone, &space, &accept).await;
    assert_eq!((status, code(&body)), (400, "invalid_record"), "{body}");
    // The invitee may not do what only the owner may.
    let wrap = KeyWrap::create(
        &bob.id,
        &carol.id.public(),
        space.id,
        Epoch::FIRST,
        &space.key,
    )
    .unwrap();
    let bob_invites = space.next(
        &bob.id,
        Action::Invite {
            invitee: carol.id.public(),
            role: Role::Editor,
            wrap,
        },
    );
    let (status, body) = append(&h, &bob.laptop, &space, &bob_invites).await;
    assert_eq!((status, code(&body)), (400, "invalid_record"), "{body}");
    land(&h, &bob.laptop, &mut space, accept).await;

    // Replayed: a stored record sent again, as itself or as the next one.
    let replayed = space.records[1].clone();
    let (status, body) = append(&h, &alice.laptop, &space, &replayed).await;
    assert_eq!((status, code(&body)), (400, "invalid_record"), "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("replayed"),
        "{body}"
    );
    let mut as_next = append_body(&replayed);
    as_next["seq"] = json!(space.last().body.seq + 1);
    as_next["prev"] = json!(hex::encode(space.last().hash()));
    let (status, body) = call(
        &h,
        &alice.laptop,
        reqwest::Method::POST,
        &space.path("/records"),
        Some(as_next),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "invalid_record"), "{body}");

    // Racing: two records for the same place; exactly one lands.
    let first = space.invite(&alice, &carol, Role::Viewer);
    let second = space.invite(&alice, &carol, Role::Editor);
    let ((s1, b1), (s2, b2)) = tokio::join!(
        append(&h, &alice.laptop, &space, &first),
        append(&h, &alice.phone, &space, &second),
    );
    let mut statuses = [s1, s2];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{b1} {b2}");
    let lost = if s1 == 409 { &b1 } else { &b2 };
    assert_eq!(code(lost), "record_conflict");
    let won = if s1 == 201 { first } else { second };
    // The loser builds on the new record and lands.
    space.records.push(won);
    let (status, body) = call(
        &h,
        &bob.laptop,
        reqwest::Method::GET,
        &space.path(&format!("/records?after={}", space.last().body.seq - 1)),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let bytes = RecordBytes(body["records"][0]["record"].as_str().unwrap().to_owned())
        .decode()
        .unwrap();
    assert_eq!(Record::decode(&bytes).unwrap(), *space.last());
    let (_, mine) = call(&h, &carol.laptop, reqwest::Method::GET, "/v1/spaces", None).await;
    assert_eq!(mine["invitations"].as_array().unwrap().len(), 1);

    // The same space id again, and a record 0 signed for someone else.
    let (status, body) = call(
        &h,
        &alice.laptop,
        reqwest::Method::POST,
        "/v1/spaces",
        Some(json!({
            "space_id": space.id.to_string(),
            "record": RecordBytes::encode(&space.records[0].encode()).0,
        })),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "space_exists"));
    let other = ChainSpaceId::generate();
    let key = EpochKey::generate();
    let genesis = genesis(&alice.id, other, &key);
    let (status, body) = call(
        &h,
        &bob.laptop,
        reqwest::Method::POST,
        "/v1/spaces",
        Some(json!({
            "space_id": other.to_string(),
            "record": RecordBytes::encode(&genesis.encode()).0,
        })),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "invalid_record"), "{body}");
    h.shutdown().await;
}

#[tokio::test]
async fn the_client_drives_a_space_from_creation_to_removal() {
    use cairn_protocol::{ErrorCode, SpaceRole};
    let h = Harness::start().await;
    let (alice, bob) = (person(&h).await, person(&h).await);
    let c = &h.client;
    let id = ChainSpaceId::generate();
    let key = EpochKey::generate();
    let genesis = genesis(&alice.id, id, &key);
    let created = c
        .create_space(alice.laptop.token(), &genesis)
        .await
        .unwrap();
    assert_eq!(
        (created.seq, created.hash),
        (0, hex::encode(genesis.hash()))
    );
    let mut space = Space {
        id,
        key,
        records: vec![genesis],
    };
    let wire = space.wire_id();

    let invite = space.invite(&alice, &bob, Role::Viewer);
    c.append_record(alice.phone.token(), &invite).await.unwrap();
    space.records.push(invite);
    let invitations = c.my_spaces(bob.laptop.token()).await.unwrap().invitations;
    assert_eq!(invitations.len(), 1);
    assert_eq!(
        (
            invitations[0].seq,
            invitations[0].role,
            &invitations[0].from
        ),
        (1, SpaceRole::Viewer, alice.user())
    );
    // Bob reads the chain as the service holds it and verifies it himself.
    let chain = c
        .space_records(bob.laptop.token(), &wire, None)
        .await
        .unwrap();
    assert_eq!(chain, space.records);
    let me = bob.id.public();
    let verified = SpaceState::verify(
        space.id,
        &chain,
        Verifier {
            me: Some(&me),
            ..Verifier::default()
        },
    )
    .unwrap();
    assert!(verified.invitations.contains_key(bob.user()));

    let accept = space.next(&bob.id, Action::Accept { invitation: 1 });
    c.append_record(bob.laptop.token(), &accept).await.unwrap();
    space.records.push(accept.clone());
    // The same record again: refused, not stored twice.
    let again = c
        .append_record(bob.laptop.token(), &accept)
        .await
        .unwrap_err();
    assert_eq!(again.api_code(), Some(ErrorCode::InvalidRecord));
    let newer = c
        .space_records(alice.laptop.token(), &wire, Some(1))
        .await
        .unwrap();
    assert_eq!(newer, vec![accept]);

    let grant = c
        .space_grant(bob.phone.token(), &wire, &bob.phone.device.id)
        .await
        .unwrap();
    assert_eq!(grant.role, SpaceRole::Viewer);
    assert!(grant.put.is_none());
    let refused = c
        .report_space_published(bob.phone.token(), &wire, &bob.phone.device.id, 1)
        .await
        .unwrap_err();
    assert_eq!(refused.api_code(), Some(ErrorCode::ReadOnlyMember));
    c.report_space_published(alice.laptop.token(), &wire, &alice.laptop.device.id, 1)
        .await
        .unwrap();

    let removal = unfenced_removal(&space, &alice, &bob);
    c.append_record(alice.laptop.token(), &removal.record)
        .await
        .unwrap();
    let refused = c
        .space_grant(bob.phone.token(), &wire, &bob.phone.device.id)
        .await
        .unwrap_err();
    assert_eq!(
        (refused.status(), refused.api_code()),
        (Some(403), Some(ErrorCode::NotSpaceMember))
    );
    h.shutdown().await;
}

/// The next space live frame `events` hears, as (user, device, sealed);
/// other events in between are skipped.
async fn next_space_live(events: &mut cairn_client::EventSubscription) -> (UserId, String, String) {
    loop {
        if let ServiceEvent::SpaceLive {
            user_id,
            device_id,
            sealed,
            ..
        } = next_event(events).await
        {
            return (user_id, device_id.as_str().to_owned(), sealed);
        }
    }
}

/// Waits until `from`'s socket has handled everything it sent before:
/// a personal live message it sends after reaches `to`, a device of the
/// same account (one socket handles its messages in order). Returns the
/// space frames `to` heard before it.
async fn flushed(
    from: &cairn_client::EventSubscription,
    to: &mut cairn_client::EventSubscription,
) -> Vec<ServiceEvent> {
    assert!(from.send_live("Zmx1c2g=".into()));
    let mut frames = Vec::new();
    loop {
        match next_event(to).await {
            ServiceEvent::Live { sealed, .. } if sealed == "Zmx1c2g=" => return frames,
            e @ ServiceEvent::SpaceLive { .. } => frames.push(e),
            _ => {}
        }
    }
}

#[tokio::test]
async fn live_frames_reach_the_other_members_from_writers_only() {
    let h = Harness::start().await;
    let (alice, bob, carol, dave) = (
        person(&h).await,
        person(&h).await,
        person(&h).await,
        person(&h).await,
    );
    let mut space = shared_with(&h, &alice, &bob, Role::Editor).await;
    let invite = space.invite(&alice, &carol, Role::Viewer);
    land(&h, &alice.laptop, &mut space, invite).await;
    let invitation = space.last().body.seq;
    let accept = space.next(&carol.id, Action::Accept { invitation });
    land(&h, &carol.laptop, &mut space, accept).await;
    let wire = space.wire_id();
    let alice_laptop = subscribe(&h, &alice.laptop).await;
    let mut alice_phone = subscribe(&h, &alice.phone).await;
    let mut bob_laptop = subscribe(&h, &bob.laptop).await;
    let mut bob_phone = subscribe(&h, &bob.phone).await;
    let carol_laptop = subscribe(&h, &carol.laptop).await;
    let mut carol_phone = subscribe(&h, &carol.phone).await;
    let dave_laptop = subscribe(&h, &dave.laptop).await;
    let mut dave_phone = subscribe(&h, &dave.phone).await;

    // An owner's frame reaches every other member's devices, the viewer's
    // too, as the bytes it sent.
    assert!(alice_laptop.send_space_live(wire.clone(), "AAEC".into()));
    let from_alice = (
        alice.user().clone(),
        alice.laptop.device.id.as_str().to_owned(),
        "AAEC".to_owned(),
    );
    for events in [&mut bob_laptop, &mut bob_phone, &mut carol_phone] {
        assert_eq!(next_space_live(events).await, from_alice);
    }
    // Not to the sender's own account (its personal lane carries the
    // changes there): the next frame Alice's phone hears is Bob's.
    assert!(bob_laptop.send_space_live(wire.clone(), "AAED".into()));
    let from_bob = (
        bob.user().clone(),
        bob.laptop.device.id.as_str().to_owned(),
        "AAED".to_owned(),
    );
    assert_eq!(next_space_live(&mut alice_phone).await, from_bob);

    // A viewer's frame, and a stranger's, are relayed to nobody: once
    // their sockets handled them, the next frame Bob hears is Alice's.
    assert!(carol_laptop.send_space_live(wire.clone(), "Q0FST0w=".into()));
    // (Carol's phone heard Bob's frame meanwhile, nothing of her own.)
    let heard = flushed(&carol_laptop, &mut carol_phone).await;
    assert!(
        heard
            .iter()
            .all(|e| matches!(e, ServiceEvent::SpaceLive { user_id, .. } if user_id == bob.user())),
        "{heard:?}"
    );
    assert!(dave_laptop.send_space_live(wire.clone(), "REFWRQ==".into()));
    flushed(&dave_laptop, &mut dave_phone).await;
    assert!(alice_laptop.send_space_live(wire.clone(), "AAEE".into()));
    assert_eq!(next_space_live(&mut bob_phone).await.2, "AAEE");
    assert_eq!(next_space_live(&mut carol_phone).await.2, "AAEE");

    // Bob removed: his frames are relayed no more, and he hears none.
    let removal = unfenced_removal(&space, &alice, &bob);
    land(&h, &alice.laptop, &mut space, removal.record).await;
    assert!(bob_laptop.send_space_live(wire.clone(), "TEFURQ==".into()));
    flushed(&bob_laptop, &mut bob_phone).await;
    assert!(alice_laptop.send_space_live(wire.clone(), "AAEF".into()));
    // What Carol hears next is Alice's, not Bob's.
    assert_eq!(next_space_live(&mut carol_phone).await.2, "AAEF");
    // Once Alice's socket handled it, Bob's phone has heard nothing of
    // the space before its own account's next message.
    flushed(&alice_laptop, &mut alice_phone).await;
    assert_eq!(flushed(&bob_laptop, &mut bob_phone).await, vec![]);
    h.shutdown().await;
}
