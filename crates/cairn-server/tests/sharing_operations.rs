//! The client's sharing operations (`cairn_client::sharing`) against the
//! real service, each person with their own store and content key: share
//! (the space made on first use, the invitee pinned, a wrong fingerprint
//! refused), invitations with the notebook's name opened from the sealed
//! label, accept and decline, members, unshare (a new epoch the removed
//! member has no key for, their grant refused) and leave (the owner's
//! next look at the space starts the new epoch). With
//! `CAIRN_TEST_REGISTRY=postgres` the same tests run on PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use std::sync::{Arc, Mutex};

use cairn_client::sharing::{ShareError, Sharing};
use cairn_client::{FileCredentialStore, Session, StoredCredentials};
use cairn_core::crypto::ContentKey;
use cairn_core::space::epoch::{Epoch, SpaceId};
use cairn_core::space::label;
use cairn_core::space::local::Standing;
use cairn_core::space::record::Role;
use cairn_core::Store;
use cairn_protocol::{ErrorCode, SystemClock, UserId};
use harness::{Harness, SignedInDevice};

/// One device of one person: its own store, content key and session.
struct Device {
    dir: tempfile::TempDir,
    session: Arc<Session>,
    store: Arc<Mutex<Store>>,
    sharing: Sharing,
    signed_in: SignedInDevice,
}

impl Device {
    fn user(&self) -> &UserId {
        &self.signed_in.session.user_id
    }
}

async fn device(h: &Harness, account_key: &str, name: &str, key: &ContentKey) -> Device {
    let signed_in = h.new_device(account_key, name).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        cairn_client::encryption::key_path(dir.path()),
        hex::encode(key.as_bytes()),
    )
    .unwrap();
    let mut credentials = StoredCredentials::from_session(h.dev.url(), &signed_in.session);
    credentials.device_id = Some(signed_in.device.id.clone());
    let session = Arc::new(
        Session::new(
            credentials,
            Box::new(FileCredentialStore::new(
                dir.path().join("credentials.json"),
            )),
            Arc::new(SystemClock),
        )
        .unwrap(),
    );
    let store = Arc::new(Mutex::new(Store::open(&dir.path().join("store")).unwrap()));
    let sharing = Sharing::open(dir.path(), session.clone(), store.clone())
        .await
        .unwrap();
    Device {
        dir,
        session,
        store,
        sharing,
        signed_in,
    }
}

/// A new account and its first device.
async fn person(h: &Harness, name: &str) -> (String, ContentKey, Device) {
    let account_key = h.new_account().await;
    let key = ContentKey::generate();
    let d = device(h, &account_key, name, &key).await;
    (account_key, key, d)
}

#[tokio::test]
async fn share_accept_members_unshare_and_leave() {
    let h = Harness::start().await;
    let (alice_key, alice_content, alice) = person(&h, "alice-laptop").await;
    let (_, _, bob) = person(&h, "bob-laptop").await;
    let (_, _, carol) = person(&h, "carol-laptop").await;
    // A second device of alice's opens the same identity.
    let alice_phone = device(&h, &alice_key, "alice-phone", &alice_content).await;
    assert_eq!(alice_phone.sharing.identity(), alice.sharing.identity());
    assert_eq!(alice.sharing.identity().account, *alice.user());
    assert_eq!(alice.sharing.identity().fingerprint.len(), 35);

    let trips = alice
        .store
        .lock()
        .unwrap()
        .create_notebook("Trips to Rome", None)
        .unwrap();
    // A wrong fingerprint: nothing is invited.
    let err = alice
        .sharing
        .share(
            &trips,
            bob.user(),
            Role::Editor,
            Some("00000 00000 00000 00000 00000 00000"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ShareError::FingerprintMismatch { .. }),
        "{err}"
    );
    let bob_fp = bob.sharing.identity().fingerprint;
    let invitation = alice
        .sharing
        .share("Trips to Rome", bob.user(), Role::Editor, Some(&bob_fp))
        .await
        .unwrap();
    assert_eq!(invitation.fingerprint, bob_fp);
    assert_eq!(
        invitation.safety_number,
        cairn_core::space::safety_number::safety_number(
            &alice.sharing.me().public(),
            &bob.sharing.me().public()
        )
    );
    let invitation = invitation.id;
    let space = SpaceId::parse(&invitation).unwrap();
    // Shared, the notebook takes the id its space derives.
    assert!(alice.store.lock().unwrap().notebook(&trips).is_err());
    let trips = label::notebook_id(&space);
    assert_eq!(
        alice.store.lock().unwrap().notebook(&trips).unwrap().name,
        "Trips to Rome"
    );
    assert!(alice
        .store
        .lock()
        .unwrap()
        .sharing_pins()
        .unwrap()
        .get(bob.user())
        .is_some());

    // Bob sees the invitation with the notebook's name, and accepts.
    let pending = bob.sharing.invitations().await.unwrap().pending;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, invitation);
    assert_eq!(pending[0].notebook.as_deref(), Some("Trips to Rome"));
    assert_eq!(pending[0].from, *alice.user());
    assert_eq!(pending[0].role, Role::Editor);
    assert_eq!(
        pending[0].from_fingerprint,
        alice.sharing.identity().fingerprint
    );
    let joined = bob.sharing.accept(&invitation).await.unwrap();
    assert_eq!(joined.local.standing, Standing::Member);
    assert_eq!(joined.local.notebook.as_deref(), Some(trips.as_str()));
    assert!(bob.sharing.invitations().await.unwrap().pending.is_empty());
    let bob_keys = bob.store.lock().unwrap().epoch_keys(&space).unwrap();
    let alice_keys = alice.store.lock().unwrap().epoch_keys(&space).unwrap();
    assert_eq!(bob_keys[&Epoch::FIRST], alice_keys[&Epoch::FIRST]);

    // Carol is invited as a viewer and declines.
    alice
        .sharing
        .share(&trips, carol.user(), Role::Viewer, None)
        .await
        .unwrap();
    let members = alice.sharing.members(&trips).await.unwrap();
    let seen: Vec<(&UserId, Role, bool)> = members
        .iter()
        .map(|m| (&m.account, m.role, m.pending))
        .collect();
    assert_eq!(
        seen,
        vec![
            (alice.user(), Role::Owner, false),
            (bob.user(), Role::Editor, false),
            (carol.user(), Role::Viewer, true),
        ]
    );
    carol.sharing.decline(&invitation).await.unwrap();
    let err = carol.sharing.accept(&invitation).await.unwrap_err();
    assert!(matches!(err, ShareError::NoInvitation(_)), "{err}");
    assert_eq!(alice.sharing.members(&trips).await.unwrap().len(), 2);
    // Only the owner shares; a notebook inside a shared one is not shared
    // by itself.
    let rome = alice
        .store
        .lock()
        .unwrap()
        .create_notebook("Day one", Some(&trips))
        .unwrap();
    let err = alice
        .sharing
        .share(&rome, carol.user(), Role::Viewer, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ShareError::InsideShared), "{err}");

    // Carol held the first epoch's key, from her invitation: her decline
    // made the owner's next look start epoch 2.
    let alice_keys = alice.store.lock().unwrap().epoch_keys(&space).unwrap();
    assert!(alice_keys.contains_key(&Epoch(2)));

    // Bob is removed: a new epoch only alice holds, bob's grant refused.
    alice.sharing.unshare(&trips, bob.user()).await.unwrap();
    let alice_keys = alice.store.lock().unwrap().epoch_keys(&space).unwrap();
    assert!(alice_keys.contains_key(&Epoch(3)));
    let wire = cairn_protocol::SpaceId::parse(&invitation).unwrap();
    let refused = h
        .client
        .space_grant(bob.signed_in.token(), &wire, &bob.signed_in.device.id)
        .await
        .unwrap_err();
    assert_eq!(refused.api_code(), Some(ErrorCode::NotSpaceMember));
    let after = bob.sharing.refresh(&space).await.unwrap();
    assert_eq!(after.local.standing, Standing::Departed);
    let bob_keys = bob.store.lock().unwrap().epoch_keys(&space).unwrap();
    assert!(
        !bob_keys.contains_key(&Epoch(3)),
        "the removed member has no new key"
    );
    assert!(bob_keys.contains_key(&Epoch::FIRST), "what they had stays");

    // Carol joins after all, then leaves: the owner's next look rotates.
    alice
        .sharing
        .share(&trips, carol.user(), Role::Editor, None)
        .await
        .unwrap();
    carol.sharing.accept(&invitation).await.unwrap();
    let carol_space = carol
        .store
        .lock()
        .unwrap()
        .local_space(&space)
        .unwrap()
        .unwrap();
    assert_eq!(carol_space.notebook.as_deref(), Some(trips.as_str()));
    assert!(carol
        .store
        .lock()
        .unwrap()
        .epoch_keys(&space)
        .unwrap()
        .contains_key(&Epoch(3)));
    // The notebook itself arrives by sync; until then she names the
    // shared notebook by its invitation's id.
    carol.sharing.leave(&invitation).await.unwrap();
    let members = alice.sharing.members(&trips).await.unwrap();
    assert_eq!(members.len(), 1, "{members:?}");
    let alice_keys = alice.store.lock().unwrap().epoch_keys(&space).unwrap();
    assert!(
        alice_keys.contains_key(&Epoch(4)),
        "the owner started a new epoch"
    );
    let after = carol.sharing.refresh(&space).await.unwrap();
    assert_eq!(after.local.standing, Standing::Departed);
    assert!(!carol
        .store
        .lock()
        .unwrap()
        .epoch_keys(&space)
        .unwrap()
        .contains_key(&Epoch(4)));
    h.shutdown().await;
}

impl Device {
    fn agent(&self) -> cairn_client::SyncAgent {
        cairn_client::SyncAgent::new(self.dir.path(), self.session.clone(), self.store.clone())
            .unwrap()
    }

    fn body(&self, id: &str) -> Option<String> {
        self.store.lock().unwrap().get(id).ok().map(|n| n.body)
    }
}

#[tokio::test]
async fn a_shared_notebook_syncs_between_two_accounts_through_their_agents() {
    let h = Harness::start().await;
    let (_, _, alice) = person(&h, "alice-laptop").await;
    let (bob_key, bob_content, bob) = person(&h, "bob-laptop").await;
    let bob_phone = device(&h, &bob_key, "bob-phone", &bob_content).await;
    let (trips, note, diary) = {
        let mut s = alice.store.lock().unwrap();
        let trips = s.create_notebook("Trips", None).unwrap();
        let note = s.create_note("Rome in May").unwrap();
        s.move_note(&note, Some(&trips)).unwrap();
        (trips, note, s.create_note("dear diary").unwrap())
    };
    let invitation = alice
        .sharing
        .share(&trips, bob.user(), Role::Editor, None)
        .await
        .unwrap()
        .id;
    bob.sharing.accept(&invitation).await.unwrap();
    let trips = label::notebook_id(&SpaceId::parse(&invitation).unwrap());
    let (mut a, mut b, mut p) = (alice.agent(), bob.agent(), bob_phone.agent());
    a.round().await.unwrap();
    assert_eq!(a.space_rounds().len(), 1);
    assert!(a.space_rounds()[0]
        .result
        .as_ref()
        .unwrap()
        .published
        .is_some());
    b.round().await.unwrap();
    let report = b.space_rounds()[0].result.as_ref().unwrap();
    // The note, and the space's notebook tree (the shared notebook's name
    // and sub-notebooks travel in it).
    assert_eq!(
        report.peers.iter().map(|p| p.changed_notes).sum::<usize>(),
        2,
        "{report:?}"
    );
    assert_eq!(bob.body(&note).as_deref(), Some("Rome in May"));
    assert_eq!(bob.body(&diary), None, "alice's own notes stay hers");
    let place = bob
        .store
        .lock()
        .unwrap()
        .places(std::slice::from_ref(&note))
        .unwrap();
    assert_eq!(place[0].1.as_deref(), Some(trips.as_str()));

    // Bob edits on his phone, which learns of the space by itself.
    p.round().await.unwrap();
    assert_eq!(bob_phone.body(&note).as_deref(), Some("Rome in May"));
    bob_phone
        .store
        .lock()
        .unwrap()
        .splice(&note, 11, 0, ", with Bob")
        .unwrap();
    p.round().await.unwrap();
    a.round().await.unwrap();
    assert_eq!(alice.body(&note).as_deref(), Some("Rome in May, with Bob"));
    h.shutdown().await;
}
