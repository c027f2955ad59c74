//! The sync task: one `SyncAgent` watch loop per signed-in session.
//!
//! It starts after sign-in and at startup when credentials exist, and stops
//! at sign-out. Local writes wake it through `local_changes` (the agent
//! waits for them to settle before publishing). After every round the
//! store's events, which now include the peers' changes merged with origin
//! `Merged`, go to the event batcher so the open editor applies them, and
//! the round's outcome goes to the UI as a `sync-status` event.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::blob_progress::BlobProgress;
use cairn_client::{
    AgentError, ClientError, Session, SignInReason, SyncAgent, SyncProblem, SyncState, WatchEvent,
    WatchOptions,
};
use cairn_core::Store;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter};
use tokio::sync::Notify;

use crate::error::{AppError, AppResult};
use crate::events::Notifier;

pub const SYNC_STATUS: &str = "sync-status";
/// Bytes of attachments still to move, while transfers run and when they stop.
pub const ATTACHMENT_PROGRESS: &str = "attachment-progress";
/// A shared notebook's membership may have changed, or an invitation
/// arrived: the window reads its invitations and marks again.
pub const SHARING_CHANGED: &str = "sharing-changed";

/// Tests set a short settle (e.g. 100 ms) so they need not wait 2 s.
const SETTLE_ENV: &str = "CAIRN_SYNC_SETTLE_MS";

pub struct SyncTask {
    handle: Mutex<Option<JoinHandle<()>>>,
    status: Arc<Mutex<SyncState>>,
    pub local_changes: Arc<Notify>,
}

impl SyncTask {
    pub fn new() -> SyncTask {
        SyncTask {
            handle: Mutex::new(None),
            status: Arc::new(Mutex::new(not_signed_in())),
            local_changes: Arc::new(Notify::new()),
        }
    }

    /// Whether a watch loop runs (signed in).
    pub fn is_running(&self) -> bool {
        self.handle.lock().map(|h| h.is_some()).unwrap_or(false)
    }

    pub fn status(&self) -> SyncState {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| not_signed_in())
    }

    /// What the indicator says when there is no session to sync.
    pub fn show_failure(&self, app: &AppHandle, e: &AppError) {
        let state = match e {
            AppError::NotSignedIn => SyncState::from_error(&AgentError::NotSignedIn),
            // A keychain that cannot be read, say: the indicator says so.
            AppError::Service(c)
                if matches!(
                    **c,
                    ClientError::KeychainUnreadable { .. } | ClientError::CredentialStore(_)
                ) =>
            {
                SyncState::Error {
                    problem: SyncProblem::Keychain,
                    detail: e.to_string(),
                }
            }
            other => SyncState::Error {
                problem: SyncProblem::Local,
                detail: other.to_string(),
            },
        };
        set_status(app, &self.status, state);
    }

    /// (Re)starts the watch loop for `session`; attachments up to
    /// `background_limit` bytes download without being asked.
    pub fn start(
        &self,
        app: &AppHandle,
        data_dir: &Path,
        session: Arc<Session>,
        store: Arc<Mutex<Store>>,
        notifier: Notifier,
        background_limit: u64,
    ) -> AppResult<()> {
        self.stop(app);
        let mut agent = match SyncAgent::new(data_dir, session, store.clone()) {
            Ok(agent) => agent,
            Err(e) => {
                // The indicator says why (a keychain that cannot be
                // read, no content key), not just "not signed in".
                set_status(app, &self.status, SyncState::from_error(&e));
                return Err(AppError::Sync(Box::new(e)));
            }
        };
        agent.set_background_limit(background_limit);
        forward_progress(app, agent.blob_progress());
        let options = watch_options();
        let local_changes = self.local_changes.clone();
        let status = self.status.clone();
        let app = app.clone();
        set_status(&app, &status, SyncState::Syncing);
        let handle = tauri::async_runtime::spawn(async move {
            let peers_app = app.clone();
            let peers_status = status.clone();
            let result = agent
                .watch(options, local_changes, |event| {
                    let outcome = match event {
                        WatchEvent::Round(outcome) => outcome,
                        // A peer's live changes: the views hear of them;
                        // the sync state stays as the last round left it.
                        WatchEvent::LiveMerged { .. } => {
                            if let Ok(mut s) = store.lock() {
                                notifier.send(s.take_events());
                            }
                            return;
                        }
                        // A shared notebook synced on its own: its
                        // notes as for live changes; after a membership
                        // record, and after a reconnect (which may have
                        // missed one), the window reads invitations and
                        // members again. A member's publish alone does
                        // not ask for that (the service would hear of
                        // every pause in their typing).
                        WatchEvent::SpaceSynced { membership } => {
                            if let Ok(mut s) = store.lock() {
                                notifier.send(s.take_events());
                            }
                            if membership {
                                sharing_changed(&peers_app);
                            }
                            return;
                        }
                        WatchEvent::Connected => {
                            sharing_changed(&peers_app);
                            return;
                        }
                    };
                    let (events, sync_status) = match store.lock() {
                        Ok(mut s) => {
                            let peers: Vec<String> = outcome
                                .as_ref()
                                .map(|r| r.peers.iter().map(|p| p.device.clone()).collect())
                                .unwrap_or_default();
                            (s.take_events(), s.sync_status(&peers).ok())
                        }
                        Err(_) => (Vec::new(), None),
                    };
                    notifier.send(events);
                    let state = SyncState::from_outcome(outcome, sync_status.as_ref());
                    set_status(&peers_app, &peers_status, state);
                })
                .await;
            if let Err(e) = result {
                set_status(&app, &status, SyncState::from_outcome(&Err(e), None));
            }
        });
        if let Ok(mut h) = self.handle.lock() {
            *h = Some(handle);
        }
        Ok(())
    }

    /// Stops the watch loop; the status says sign-in is needed.
    pub fn stop(&self, app: &AppHandle) {
        if let Some(h) = self.handle.lock().ok().and_then(|mut h| h.take()) {
            h.abort();
        }
        set_status(app, &self.status, not_signed_in());
    }
}

/// Sends the agent's attachment progress to the UI until the agent is
/// gone (sign-out or a restart drops it, which ends this task too).
fn forward_progress(app: &AppHandle, mut progress: tokio::sync::watch::Receiver<BlobProgress>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while progress.changed().await.is_ok() {
            let now = *progress.borrow_and_update();
            if let Err(e) = app.emit(ATTACHMENT_PROGRESS, now) {
                eprintln!("cairn-desktop: could not emit {ATTACHMENT_PROGRESS}: {e}");
            }
        }
    });
}

/// Tells the window to read its invitations and shared notebooks again.
fn sharing_changed(app: &AppHandle) {
    if let Err(e) = app.emit(SHARING_CHANGED, ()) {
        eprintln!("cairn-desktop: could not emit {SHARING_CHANGED}: {e}");
    }
}

fn not_signed_in() -> SyncState {
    SyncState::NeedsSignIn {
        reason: SignInReason::NotSignedIn,
    }
}

fn watch_options() -> WatchOptions {
    let mut options = WatchOptions::default();
    if let Some(ms) = std::env::var(SETTLE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        options.settle = Duration::from_millis(ms);
    }
    options
}

fn set_status(app: &AppHandle, status: &Mutex<SyncState>, state: SyncState) {
    if let Ok(mut s) = status.lock() {
        // The log keeps what went wrong as it came (the UI shows a
        // sentence); once per change, not once per retry.
        if *s != state {
            match &state {
                SyncState::Error { problem, detail } => {
                    eprintln!("cairn-desktop: sync: {problem:?}: {detail}")
                }
                SyncState::Offline { detail } => eprintln!("cairn-desktop: sync offline: {detail}"),
                _ => {}
            }
        }
        s.clone_from(&state);
    }
    if let Err(e) = app.emit(SYNC_STATUS, state) {
        eprintln!("cairn-desktop: could not emit {SYNC_STATUS}: {e}");
    }
}
