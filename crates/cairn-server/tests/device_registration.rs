//! Registering a device binds the session to it, once: many concurrent
//! registrations on one fresh session make exactly one device, and every
//! other request gets 409 naming the device the session already has.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/harness.rs"]
mod harness;

use cairn_protocol::{DeviceName, ErrorCode, Platform};
use harness::Harness;

const ROUNDS: usize = 20;
const CONCURRENT: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_on_one_session_make_exactly_one_device() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let name = DeviceName::parse("laptop").unwrap();
    let platform = Platform::parse("linux").unwrap();
    for round in 0..ROUNDS {
        let session = h.client.sign_in_with_account_key(&key, None).await.unwrap();
        // All requests start together, so they all pass authentication
        // while the session still has no device.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CONCURRENT));
        let attempts: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let client = h.client.clone();
                let token = session.access_token.clone();
                let (name, platform) = (name.clone(), platform.clone());
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    client.register_device(&token, &name, &platform).await
                })
            })
            .collect();
        let mut created = Vec::new();
        let mut conflicts = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(device) => created.push(device),
                Err(e) => {
                    assert_eq!(e.status(), Some(409), "round {round}: {e}");
                    assert_eq!(e.api_code(), Some(ErrorCode::Conflict));
                    conflicts += 1;
                }
            }
        }
        assert_eq!(created.len(), 1, "round {round}: {created:?}");
        assert_eq!(conflicts, CONCURRENT - 1);
        let me = h.client.me(&session.access_token).await.unwrap();
        assert_eq!(
            me.device_id.as_ref(),
            Some(&created[0].id),
            "bound to the winner"
        );
    }
    // Nothing stray: one device per round, each with its session.
    let laptop = h.new_device(&key, "checker").await;
    let devices = h.client.devices(laptop.token()).await.unwrap();
    assert_eq!(devices.len(), ROUNDS + 1, "{devices:?}");
    let grant = h.grant(&laptop).await;
    assert_eq!(grant.peers.len(), ROUNDS);
    h.shutdown().await;
}

/// A device that never published can be removed like any other, and then
/// no grant names it as a peer.
#[tokio::test]
async fn a_device_that_never_published_can_be_removed() {
    let h = Harness::start().await;
    let key = h.new_account().await;
    let laptop = h.new_device(&key, "laptop").await;
    let idle = h.new_device(&key, "never synced").await;
    assert_eq!(h.grant(&laptop).await.peers.len(), 1);
    h.client
        .revoke_device(laptop.token(), &idle.device.id)
        .await
        .unwrap();
    assert!(h.grant(&laptop).await.peers.is_empty());
    h.shutdown().await;
}
