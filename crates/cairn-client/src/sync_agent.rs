//! Runs sync for one signed-in device: keeps the session and the grant
//! fresh, runs rounds through the grant's presigned URLs, and in watch mode
//! reacts to local edits (after they settle), to the service's
//! notifications, and to a slow poll.
//!
//! The grant is kept on disk beside the credentials, so a device goes on
//! syncing through storage for as long as the grant lasts even when the
//! service is down; only an expired or revoked grant stops it, and then it
//! says "sign in again" while local editing goes on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_core::sync::{run_round, RoundReport, SyncError};
use cairn_core::Store;
use cairn_protocol::{DeviceId, ErrorCode, Grant, ServiceEvent};
use serde::Serialize;
use tokio::sync::Notify;

use crate::events::StreamItem;
use crate::http_transport::HttpTransport;
use crate::{ClientError, CredentialStore, ServiceClient, StoredCredentials};

/// Ask for a new grant when the current one has less than this left.
const GRANT_REFRESH_MARGIN_SECS: i64 = 24 * 3600;
/// Refresh the access token a little before it expires.
const TOKEN_REFRESH_MARGIN_SECS: i64 = 60;
const GRANT_FILE: &str = "grant.json";

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("not signed in")]
    NotSignedIn,
    #[error("sign-in needed: {0}")]
    NeedsSignIn(String),
    #[error("offline: {0}")]
    Offline(String),
    #[error(transparent)]
    Service(#[from] ClientError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("sync task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Key(#[from] crate::encryption::KeyError),
}

/// What a UI shows about sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    Offline {
        reason: String,
    },
    Syncing,
    Synced {
        on_all_devices: bool,
        pending_changes: u64,
    },
    NeedsSignIn {
        reason: String,
    },
    Error {
        reason: String,
    },
}

impl SyncState {
    pub fn from_outcome(
        outcome: &Result<RoundReport, AgentError>,
        status: Option<&cairn_core::sync::SyncStatus>,
    ) -> SyncState {
        match outcome {
            Ok(r) if r.needs_sign_in => SyncState::NeedsSignIn {
                reason: "the storage grant expired or was revoked".into(),
            },
            Ok(r) => match r
                .publish_error
                .clone()
                .or_else(|| r.peers.iter().find_map(|p| p.error.clone()))
            {
                Some(reason)
                    if reason.contains("cannot connect") || reason.contains("timed out") =>
                {
                    SyncState::Offline { reason }
                }
                Some(reason) => SyncState::Error { reason },
                None => SyncState::Synced {
                    on_all_devices: status.is_some_and(|s| s.on_all_devices),
                    pending_changes: status.map(|s| s.pending_changes).unwrap_or(0),
                },
            },
            Err(e) => SyncState::from_error(e),
        }
    }

    /// What to show when sync could not run at all.
    pub fn from_error(e: &AgentError) -> SyncState {
        match e {
            AgentError::NeedsSignIn(reason) => SyncState::NeedsSignIn {
                reason: reason.clone(),
            },
            AgentError::NotSignedIn => SyncState::NeedsSignIn {
                reason: "not signed in".into(),
            },
            AgentError::Offline(reason) => SyncState::Offline {
                reason: reason.clone(),
            },
            e => SyncState::Error {
                reason: e.to_string(),
            },
        }
    }
}

/// How watch mode paces itself.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Wait this long after the last local edit before publishing.
    pub settle: Duration,
    /// Poll peers this often even without notifications.
    pub poll: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            settle: Duration::from_secs(2),
            poll: Duration::from_secs(30),
        }
    }
}

pub struct SyncAgent {
    client: ServiceClient,
    credential_store: Box<dyn CredentialStore>,
    credentials: StoredCredentials,
    device_id: DeviceId,
    store: Arc<Mutex<Store>>,
    grant: Option<Grant>,
    grant_path: PathBuf,
    /// The access token the event socket uses on reconnect.
    socket_token: Arc<Mutex<String>>,
    /// Refreshed tokens the credential store refused: the old refresh
    /// token no longer works, so these must reach the store, and until
    /// they do every round says why.
    unsaved: bool,
    encrypted: bool,
    plaintext_allowed: bool,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl SyncAgent {
    /// The agent for the session stored for `data_dir`.
    pub fn new(
        data_dir: &Path,
        credential_store: Box<dyn CredentialStore>,
        store: Arc<Mutex<Store>>,
    ) -> Result<SyncAgent, AgentError> {
        let credentials = credential_store.load()?.ok_or(AgentError::NotSignedIn)?;
        let device_id = credentials
            .device_id
            .clone()
            .ok_or(AgentError::NotSignedIn)?;
        let client = ServiceClient::new(&credentials.server_url)?;
        let grant_path = grant_path(data_dir);
        let grant = std::fs::read(&grant_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Grant>(&b).ok())
            .filter(|g| g.device_id == device_id);
        let socket_token = Arc::new(Mutex::new(credentials.access_token.clone()));
        // Every object is sealed: without the content key this device does
        // not sync at all (it would publish plaintext, and could not read).
        let key = crate::encryption::load_content_key(data_dir)?;
        let encrypted = key.is_some();
        store
            .lock()
            .map_err(|_| AgentError::Task("store lock poisoned".into()))?
            .set_content_key(key);
        Ok(SyncAgent {
            client,
            credential_store,
            credentials,
            device_id,
            store,
            grant,
            grant_path,
            socket_token,
            unsaved: false,
            encrypted,
            plaintext_allowed: false,
        })
    }

    /// Syncs without end-to-end encryption. Only for measuring what
    /// encryption costs (`cairn bench sync`); nothing else calls it.
    pub fn allow_plaintext_for_benchmarks(mut self) -> Self {
        self.plaintext_allowed = true;
        self
    }

    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    pub fn credentials(&self) -> &StoredCredentials {
        &self.credentials
    }

    pub fn grant(&self) -> Option<&Grant> {
        self.grant.as_ref()
    }

    /// The other devices this device reads.
    pub fn peers(&self) -> Vec<String> {
        self.grant
            .as_ref()
            .map(|g| {
                g.peers
                    .iter()
                    .map(|p| p.device_id.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn access_token(&mut self) -> Result<String, ClientError> {
        if self.credentials.access_expires_at > now_secs() + TOKEN_REFRESH_MARGIN_SECS {
            self.save_if_unsaved()?;
            return Ok(self.credentials.access_token.clone());
        }
        self.refresh_session().await
    }

    /// New tokens from the service now, whatever this device's clock says
    /// about the old ones (the service closes the event socket when it
    /// judges them expired).
    async fn refresh_session(&mut self) -> Result<String, ClientError> {
        let session = self.client.refresh(&self.credentials.refresh_token).await?;
        self.credentials.update_tokens(&session);
        if let Ok(mut t) = self.socket_token.lock() {
            t.clone_from(&self.credentials.access_token);
        }
        self.unsaved = true;
        self.save_if_unsaved()?;
        Ok(self.credentials.access_token.clone())
    }

    fn save_if_unsaved(&mut self) -> Result<(), ClientError> {
        if self.unsaved {
            self.credential_store.save(&self.credentials)?;
            self.unsaved = false;
        }
        Ok(())
    }

    /// Asks the service for a new grant and keeps it.
    pub async fn refresh_grant(&mut self) -> Result<(), AgentError> {
        let token = self.access_token().await.map_err(service_error)?;
        let grant = self
            .client
            .grant(&token, &self.device_id)
            .await
            .map_err(service_error)?;
        let bytes = serde_json::to_vec(&grant).map_err(|e| AgentError::Task(e.to_string()))?;
        write_private(&self.grant_path, &bytes)?;
        self.grant = Some(grant);
        Ok(())
    }

    /// A grant good for this round: the kept one while it has time left,
    /// a new one when it runs low (if the service can be reached).
    async fn usable_grant(&mut self) -> Result<Grant, AgentError> {
        let now = now_secs();
        let fresh = self
            .grant
            .as_ref()
            .is_some_and(|g| g.expires_at - now > GRANT_REFRESH_MARGIN_SECS);
        if !fresh {
            match self.refresh_grant().await {
                Ok(()) => {}
                // The service is down but storage may not be: go on with
                // the grant we have while it lasts.
                Err(e) if self.grant.as_ref().is_some_and(|g| g.expires_at > now) => {
                    if matches!(e, AgentError::NeedsSignIn(_)) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.grant.clone().ok_or(AgentError::NotSignedIn)
    }

    /// One full round. The store is locked only while planning and
    /// applying, never during transfers.
    pub async fn round(&mut self) -> Result<RoundReport, AgentError> {
        if !self.encrypted && !self.plaintext_allowed {
            return Err(AgentError::Key(crate::encryption::KeyError::SecretNeeded));
        }
        let grant = self.usable_grant().await?;
        let mut report = self.run_with(grant).await?;
        if report.needs_sign_in {
            // Perhaps only the grant aged out: one new grant, one more try.
            self.refresh_grant().await?;
            let grant = self.grant.clone().ok_or(AgentError::NotSignedIn)?;
            report = self.run_with(grant).await?;
        }
        if let Some(seq) = report.published {
            // Best effort: peers also poll, so a lost notification only
            // delays them.
            if let Ok(token) = self.access_token().await {
                if let Err(e) = self
                    .client
                    .report_published(&token, &self.device_id, seq)
                    .await
                {
                    eprintln!("warning: could not notify other devices: {e}");
                }
            }
        }
        Ok(report)
    }

    async fn run_with(&self, grant: Grant) -> Result<RoundReport, AgentError> {
        let store = self.store.clone();
        let me = self.device_id.as_str().to_owned();
        let peers: Vec<String> = grant
            .peers
            .iter()
            .map(|p| p.device_id.as_str().to_owned())
            .collect();
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut transport =
                HttpTransport::new(grant, handle).map_err(|e| AgentError::Sync(e.into()))?;
            run_round(&store, &mut transport, &me, &peers).map_err(AgentError::from)
        })
        .await
        .map_err(|e| AgentError::Task(e.to_string()))?
    }

    /// Syncs until the task is dropped: after local edits settle, on every
    /// notification from the service, and on a poll.
    pub async fn watch(
        &mut self,
        options: WatchOptions,
        local_changes: Arc<Notify>,
        mut on_round: impl FnMut(&Result<RoundReport, AgentError>),
    ) -> Result<(), AgentError> {
        let token = self.socket_token.clone();
        let mut events = self
            .client
            .subscribe_events(move || token.lock().map(|t| t.clone()).unwrap_or_default())?;
        let first = self.round().await;
        on_round(&first);
        loop {
            let run = tokio::select! {
                item = events.next() => match item {
                    Some(StreamItem::Event(ServiceEvent::Published { device_id, .. })) => device_id != self.device_id,
                    Some(StreamItem::Event(ServiceEvent::DeviceJoined { .. } | ServiceEvent::DeviceRevoked { .. })) => {
                        // New peers (or one fewer): a new grant first.
                        self.grant = None;
                        true
                    }
                    // Reconnected: we may have missed notifications.
                    Some(StreamItem::Connected) => true,
                    Some(StreamItem::Disconnected { token_refused, .. }) => {
                        // The service closes the socket when it judges the
                        // access token expired, and refuses an expired one:
                        // have a fresh one ready for the reconnect, even if
                        // this device's clock disagrees. Refreshing or
                        // saving can fail; then a round says why.
                        let fresh = if token_refused {
                            self.refresh_session().await
                        } else {
                            self.access_token().await
                        };
                        fresh.is_err()
                    }
                    Some(_) => false,
                    None => return Ok(()),
                },
                () = local_changes.notified() => {
                    // Let a burst of edits settle into one publish.
                    loop {
                        tokio::select! {
                            () = local_changes.notified() => continue,
                            () = tokio::time::sleep(options.settle) => break,
                        }
                    }
                    true
                }
                () = tokio::time::sleep(options.poll) => true,
            };
            if run {
                let outcome = self.round().await;
                on_round(&outcome);
            }
        }
    }
}

/// Where a data dir keeps its grant.
pub(crate) fn grant_path(data_dir: &Path) -> PathBuf {
    data_dir.join(GRANT_FILE)
}

fn service_error(e: ClientError) -> AgentError {
    if e.needs_sign_in() {
        // Said for the person at the window, who did not see the request.
        let reason = match e.api_code() {
            Some(ErrorCode::DeviceRevoked) => {
                "this device was removed from your account".to_owned()
            }
            Some(ErrorCode::SessionExpired) => "your session expired".to_owned(),
            _ => "this device's session has ended (signed out, or removed from another device)"
                .to_owned(),
        };
        AgentError::NeedsSignIn(reason)
    } else if matches!(e, ClientError::Http { .. }) {
        AgentError::Offline(e.to_string())
    } else {
        AgentError::Service(e)
    }
}

/// Writes a file only the user can read (a grant is a set of capabilities).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    crate::private_file::write(path, bytes).map_err(|e| {
        AgentError::Service(ClientError::Io {
            path: path.display().to_string(),
            source: e,
        })
    })
}
