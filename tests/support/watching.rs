//! A device's sync agent watching in the background, as the app runs it,
//! for the live tests: the store it shares with the test, the nudge the
//! app gives after each edit, and what the watch loop reports.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::{SyncAgent, WatchEvent, WatchOptions};
use cairn_core::Store;
use tokio::sync::{mpsc, Notify};

use crate::cloud::Cloud;
use crate::device::Device;

pub struct Watching {
    pub store: Arc<Mutex<Store>>,
    typed: Arc<Notify>,
    events: mpsc::UnboundedReceiver<&'static str>,
}

/// Starts `device`'s watch with `options` on `rt`. What it reports comes
/// as "round", "failed round", "live", "connected" and "space".
pub fn watch(
    rt: &tokio::runtime::Runtime,
    cloud: &Cloud,
    device: &Device,
    options: WatchOptions,
) -> Watching {
    let store = Arc::new(Mutex::new(device.store()));
    let typed = Arc::new(Notify::new());
    let (tx, events) = mpsc::unbounded_channel();
    let mut agent =
        SyncAgent::new(device.dir(), device.session(cloud), store.clone()).expect("an agent");
    let notify = typed.clone();
    rt.spawn(async move {
        agent
            .watch(options, notify, move |e| {
                let what = match e {
                    WatchEvent::Round(Ok(_)) => "round",
                    WatchEvent::Round(Err(_)) => "failed round",
                    WatchEvent::LiveMerged { .. } => "live",
                    WatchEvent::Connected => "connected",
                    WatchEvent::SpaceSynced { .. } => "space",
                };
                // The test may have stopped listening; the loop goes on.
                tx.send(what).ok();
            })
            .await
    });
    Watching {
        store,
        typed,
        events,
    }
}

impl Watching {
    /// Waits for `what` from the watch loop; a failed round fails the test.
    pub fn wait_for(&mut self, rt: &tokio::runtime::Runtime, what: &str) {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    let got = self.events.recv().await.expect("the watch ended");
                    assert_ne!(got, "failed round");
                    if got == what {
                        return;
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("no {what} within 20 s"))
        })
    }

    /// The next thing the watch loop reports.
    pub fn next(&mut self, rt: &tokio::runtime::Runtime) -> &'static str {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(20), self.events.recv())
                .await
                .expect("an event within 20 s")
                .expect("the watch ended")
        })
    }

    /// What the watch loop reported so far and the test did not wait for.
    pub fn drain(&mut self) -> Vec<&'static str> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.push(e);
        }
        out
    }

    pub fn body(&self, id: &str) -> String {
        self.store
            .lock()
            .expect("store")
            .get(id)
            .expect("the note")
            .body
    }

    /// Types `text` right after `anchor` in the note, as the app does: a
    /// store edit, then a nudge to the sync task.
    pub fn type_after(&self, id: &str, anchor: &str, text: &str) {
        let mut s = self.store.lock().expect("store");
        let body = s.get(id).expect("the note").body;
        let at = body.find(anchor).expect("the anchor") + anchor.len();
        let utf16 = body[..at].encode_utf16().count();
        s.splice(id, utf16, 0, text).expect("typed");
        drop(s);
        self.typed.notify_one();
    }
}
