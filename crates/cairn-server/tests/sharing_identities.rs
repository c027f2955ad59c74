//! Sharing identities against the real service: stored once per account
//! (a second, different one is 409 `identity_exists`, the same one again
//! is accepted), the sealed form handed only to the account itself, the
//! public keys to anyone signed in, and malformed offers refused. With
//! `CAIRN_TEST_REGISTRY=postgres` the same tests run on PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use base64::Engine as _;
use cairn_core::crypto::ContentKey;
use cairn_core::space::identity::SharingIdentity;
use cairn_protocol::{ErrorCode, PutSharingIdentity};
use harness::Harness;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn offer(id: &SharingIdentity, key: &ContentKey) -> PutSharingIdentity {
    let public = id.public();
    PutSharingIdentity {
        sealed: B64.encode(id.seal(key)),
        wrap_key: hex::encode(public.wrap_key),
        sign_key: hex::encode(public.sign_key),
    }
}

#[tokio::test]
async fn an_identity_is_stored_once_and_only_its_account_gets_the_sealed_form() {
    let h = Harness::start().await;
    let alice_key = h.new_account().await;
    let laptop = h.new_device(&alice_key, "laptop").await;
    let phone = h.new_device(&alice_key, "phone").await;
    let bob = h.new_device(&h.new_account().await, "bob").await;
    let alice = laptop.session.user_id.clone();
    let content_key = ContentKey::generate();

    assert_eq!(
        h.client.my_sharing_identity(laptop.token()).await.unwrap(),
        None
    );
    let err = h
        .client
        .public_identity(bob.token(), &alice)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no sharing identity"), "{err}");

    let id = SharingIdentity::generate(alice.clone());
    let stored = h
        .client
        .put_sharing_identity(laptop.token(), &offer(&id, &content_key))
        .await
        .unwrap();
    assert_eq!(stored.account, alice);
    // The same one again (a retry) is fine.
    h.client
        .put_sharing_identity(phone.token(), &offer(&id, &content_key))
        .await
        .unwrap();
    // Another one is refused: the phone fetches the laptop's instead.
    let other = SharingIdentity::generate(alice.clone());
    let err = h
        .client
        .put_sharing_identity(phone.token(), &offer(&other, &content_key))
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some(ErrorCode::IdentityExists));
    assert_eq!(err.status(), Some(409));

    let mine = h
        .client
        .my_sharing_identity(phone.token())
        .await
        .unwrap()
        .unwrap();
    let sealed = B64.decode(mine.sealed.as_bytes()).unwrap();
    let opened = SharingIdentity::open(alice.clone(), &content_key, &sealed).unwrap();
    assert_eq!(opened.public(), id.public());

    // Bob sees alice's public keys, and nothing sealed.
    assert_eq!(
        h.client.public_identity(bob.token(), &alice).await.unwrap(),
        id.public()
    );
    let (status, body) = {
        let r = h
            .http
            .get(h.url(&format!("/v1/accounts/{alice}/identity")))
            .bearer_auth(bob.token())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(status, 200);
    assert!(!body.contains(&mine.sealed), "{body}");
    // Bob's own identity is his own business: he has none.
    assert_eq!(
        h.client.my_sharing_identity(bob.token()).await.unwrap(),
        None
    );
    // Without a session: nothing.
    let r = h
        .http
        .get(h.url(&format!("/v1/accounts/{alice}/identity")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    h.shutdown().await;
}

#[tokio::test]
async fn malformed_identities_are_refused() {
    let h = Harness::start().await;
    let device = h.new_device(&h.new_account().await, "laptop").await;
    let id = SharingIdentity::generate(device.session.user_id.clone());
    let good = offer(&id, &ContentKey::generate());
    let mut weak = good.clone();
    weak.sign_key = format!("01{}", "00".repeat(31)); // a small-order point
    let mut short = good.clone();
    short.wrap_key = "ab".repeat(16);
    let mut not_b64 = good.clone();
    not_b64.sealed = "not base64!".into();
    let mut huge = good.clone();
    huge.sealed = B64.encode(vec![1u8; 4096]);
    for bad in [weak, short, not_b64, huge] {
        let err = h
            .client
            .put_sharing_identity(device.token(), &bad)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{bad:?}: {err}");
    }
    // None of them was kept.
    assert_eq!(
        h.client.my_sharing_identity(device.token()).await.unwrap(),
        None
    );
    let (status, _) = harness::get(&h.http, &h.url("/v1/accounts/not-a-user-id/identity")).await;
    assert_eq!(status, 401, "unauthenticated before parsing");
    h.shutdown().await;
}
