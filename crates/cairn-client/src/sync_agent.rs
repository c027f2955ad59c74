//! Runs sync for one signed-in device: keeps the session and the grant
//! fresh, runs rounds through the grant's presigned URLs, and in watch mode
//! reacts to local edits (after they settle), to the service's
//! notifications, and to a slow poll.
//!
//! While it watches, each local edit also goes out at once on the live
//! lane (`cairn_core::sync::live`): sealed changes the service's socket
//! relays to the other devices, which merge them on arrival. The publish
//! to storage still follows, once edits settle or at the latest
//! [`WatchOptions::max_wait`] after the first unpublished one, so storage
//! stays the record and a device that missed a live message catches up.
//!
//! In a shared notebook the same happens between people
//! (`cairn_core::sync::space_live`): each local edit to its notes also goes
//! out sealed with the space's epoch key, for the other members' devices,
//! as long as this account writes there and no rotation is due; frames
//! from the members' devices that may write there are merged on arrival,
//! into the shared notebook only. The space's publish still follows on
//! the same debounce.
//!
//! The grant is kept on disk beside the credentials, so a device goes on
//! syncing through storage for as long as the grant lasts even when the
//! service is down; only an expired or revoked grant stops it, and then it
//! says "sign in again" while local editing goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use cairn_core::space::epoch::SpaceId;
use cairn_core::sync::live::{self, LiveLane};
use cairn_core::sync::space_live::{self, SpaceLiveLane};
use cairn_core::sync::{RoundReport, SyncError};
use cairn_core::Store;
use cairn_protocol::{DeviceId, ErrorCode, Grant, ServiceEvent};
use tokio::sync::Notify;

use crate::blob_progress::{BlobProgress, ProgressSender};
use crate::blob_runner::{self, BlobOptions, BlobReport};
use crate::bucket::Bucket;
use crate::events::{EventSubscription, StreamItem};
use crate::round_runner::{self, RunnerError};
use crate::space_rounds::{SpaceRound, SpaceRounds};
use crate::spaces::wire_space_id;
use crate::sync_state::SignInReason;
use crate::{ClientError, Session, StoredCredentials};

/// Ask for a new grant when the current one has less than this left.
const GRANT_REFRESH_MARGIN_SECS: i64 = 24 * 3600;
const GRANT_FILE: &str = "grant.json";

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("not signed in")]
    NotSignedIn,
    #[error("sign-in needed: {0}")]
    NeedsSignIn(SignInReason),
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

/// How watch mode paces itself.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Wait this long after the last local edit before publishing.
    pub settle: Duration,
    /// Poll peers this often even without notifications.
    pub poll: Duration,
    /// Publish at the latest this long after the first edit not yet
    /// published, even while edits keep coming (someone typing without a
    /// pause): peers get them live, storage at least this often.
    pub max_wait: Duration,
}

/// What [`SyncAgent::watch`] reports as it goes.
#[derive(Debug)]
pub enum WatchEvent<'a> {
    /// A round ended, or failed.
    Round(&'a Result<RoundReport, AgentError>),
    /// Live changes from a peer were merged into the store: `notes` changed.
    LiveMerged { notes: usize },
    /// A shared notebook was synced on its own: its merged notes are in
    /// the store's events. `membership`: a record woke it (an invitation,
    /// a member joining, leaving or removed, this account among them),
    /// not a member's publish.
    SpaceSynced { membership: bool },
    /// The event socket is (again) connected and subscribed: from now on
    /// the peers' live changes reach this device. Counting rounds instead
    /// is a race: a round a peer's publish asks for can come first.
    Connected,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            settle: Duration::from_secs(2),
            poll: Duration::from_secs(30),
            max_wait: Duration::from_secs(30),
        }
    }
}

pub struct SyncAgent {
    /// Shared with everything else in the process that talks to the
    /// service: a refresh by any of them is seen by all.
    session: Arc<Session>,
    device_id: DeviceId,
    store: Arc<Mutex<Store>>,
    grant: Option<Grant>,
    grant_path: PathBuf,
    encrypted: bool,
    plaintext_allowed: bool,
    /// One HTTP client for every round, so connections are reused.
    bucket: Bucket,
    blob_options: BlobOptions,
    /// What the last round moved of attachments.
    last_blobs: BlobReport,
    /// Bytes of attachments still to move, as the transfers run.
    progress: ProgressSender,
    /// The shared notebooks' rounds, after the personal one.
    spaces: SpaceRounds,
    last_spaces: Vec<SpaceRound>,
    data_dir: PathBuf,
    /// The passphrase or recovery key, when the caller has it (the CLI's
    /// `CAIRN_PASSPHRASE`): takes the personal space's new epoch key when
    /// another device removed one (`encryption::catch_up_personal_key`).
    secret: Option<String>,
    /// Whether the next round first asks the service for the personal
    /// space's epoch: every round that reads all peers does, and the
    /// first after a device was removed.
    key_check_due: bool,
}

impl SyncAgent {
    /// The agent for `session`, the one signed in for `data_dir`.
    pub fn new(
        data_dir: &Path,
        session: Arc<Session>,
        store: Arc<Mutex<Store>>,
    ) -> Result<SyncAgent, AgentError> {
        let device_id = session.device_id().ok_or(AgentError::NotSignedIn)?;
        let grant_path = grant_path(data_dir);
        let grant = std::fs::read(&grant_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Grant>(&b).ok())
            .filter(|g| g.device_id == device_id);
        // Every object is sealed: without the content key this device does
        // not sync at all (it would publish plaintext, and could not read).
        let keys = crate::encryption::load_account_keys(data_dir)?;
        let encrypted = keys.is_some();
        {
            let mut store = store
                .lock()
                .map_err(|_| AgentError::Task("store lock poisoned".into()))?;
            store.set_account_keys(keys.as_ref());
            // So other devices' history can say this device made these
            // changes; written once, published with the first round.
            store
                .record_device(device_id.as_str())
                .map_err(SyncError::from)?;
        }
        Ok(SyncAgent {
            session,
            device_id,
            store,
            grant,
            grant_path,
            encrypted,
            plaintext_allowed: false,
            bucket: Bucket::new().map_err(|e| AgentError::Task(e.to_string()))?,
            blob_options: BlobOptions::default(),
            last_blobs: BlobReport::default(),
            progress: ProgressSender::default(),
            spaces: SpaceRounds::new(data_dir.to_path_buf()),
            last_spaces: Vec::new(),
            data_dir: data_dir.to_path_buf(),
            secret: None,
            key_check_due: true,
        })
    }

    /// The passphrase (or recovery key) to take a new epoch key with, when
    /// another device of the account removed one.
    pub fn with_secret(mut self, secret: Option<String>) -> Self {
        self.secret = secret.filter(|s| !s.is_empty());
        self
    }

    /// Asks the service whether the personal space has a newer epoch than
    /// this device holds, and takes its key when it can. Until this device
    /// holds it, nothing is published ([`KeyError::KeyRotated`]); a service
    /// out of reach changes nothing (storage may still be reachable, and
    /// the next round asks again).
    ///
    /// [`KeyError::KeyRotated`]: crate::encryption::KeyError::KeyRotated
    async fn catch_up_key(&mut self) -> Result<(), AgentError> {
        use crate::encryption::{catch_up_personal_key, KeyError};
        let token = match self.session.access_token().await {
            Ok(token) => token,
            Err(e) => return ignore_offline(service_error(e)),
        };
        let caught = catch_up_personal_key(
            self.session.client(),
            &token,
            &self.data_dir,
            self.secret.as_deref(),
        )
        .await;
        match caught {
            Ok(Some(keys)) => {
                self.store
                    .lock()
                    .map_err(|_| AgentError::Task("store lock poisoned".into()))?
                    .set_account_keys(Some(&keys));
                // A device was removed: the kept grant still lists it.
                self.grant = None;
            }
            Ok(None) => {}
            Err(KeyError::Service(e)) => return ignore_offline(service_error(e)),
            Err(e) => return Err(e.into()),
        }
        self.key_check_due = false;
        Ok(())
    }

    /// Syncs without end-to-end encryption. Only for measuring what
    /// encryption costs (`cairn bench sync`); nothing else calls it.
    pub fn allow_plaintext_for_benchmarks(mut self) -> Self {
        self.plaintext_allowed = true;
        self
    }

    /// Attachments up to this many bytes download without being asked.
    pub fn set_background_limit(&mut self, bytes: u64) {
        self.blob_options.background_limit = bytes;
    }

    /// Bytes of attachments still to move, updated while transfers run.
    pub fn blob_progress(&self) -> tokio::sync::watch::Receiver<BlobProgress> {
        self.progress.subscribe()
    }

    /// What the last round moved of attachments, and what failed.
    pub fn blob_report(&self) -> &BlobReport {
        &self.last_blobs
    }

    /// What the last rounds in shared notebooks did.
    pub fn space_rounds(&self) -> &[SpaceRound] {
        &self.last_spaces
    }

    /// A round in each shared notebook (`only`: in that one), after the
    /// personal stream's. Failures are kept for [`SyncAgent::space_rounds`]
    /// and said in the log; they never stop the personal stream.
    async fn run_spaces(&mut self, only: Option<&SpaceId>) {
        match self
            .spaces
            .run(&self.session, &self.store, &self.bucket, only)
            .await
        {
            Ok(rounds) => {
                for r in &rounds {
                    if let Err(e) = &r.result {
                        eprintln!("warning: a shared notebook did not sync: {e}");
                    }
                }
                self.last_spaces = rounds;
            }
            Err(e) => {
                eprintln!("warning: shared notebooks did not sync: {e}");
                self.last_spaces = Vec::new();
            }
        }
    }

    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    /// The session as it stands now.
    pub fn credentials(&self) -> StoredCredentials {
        self.session.credentials()
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

    /// Whether the grant held now reads `device`.
    fn reads(&self, device: &DeviceId) -> bool {
        self.grant
            .as_ref()
            .is_some_and(|g| g.peers.iter().any(|p| &p.device_id == device))
    }

    /// Asks the service for a new grant and keeps it.
    pub async fn refresh_grant(&mut self) -> Result<(), AgentError> {
        let token = self.session.access_token().await.map_err(service_error)?;
        let grant = self
            .session
            .client()
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
        let now = self.session.clock().now_secs();
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
        self.round_reading(None).await
    }

    /// A round that reads only the peers in `read` (`None`: all of them).
    async fn round_reading(
        &mut self,
        read: Option<Vec<String>>,
    ) -> Result<RoundReport, AgentError> {
        if !self.encrypted && !self.plaintext_allowed {
            return Err(AgentError::Key(crate::encryption::KeyError::SecretNeeded));
        }
        if self.encrypted && (read.is_none() || self.key_check_due) {
            if let Err(e) = self.catch_up_key().await {
                // Shared notebooks have keys of their own: they go on.
                self.run_spaces(None).await;
                return Err(e);
            }
        }
        let grant = self.usable_grant().await?;
        let mut report = self.run_with(grant, read.clone()).await?;
        if report.needs_sign_in() {
            // Perhaps only the grant aged out: one new grant, one more try.
            self.refresh_grant().await?;
            let grant = self.grant.clone().ok_or(AgentError::NotSignedIn)?;
            report = self.run_with(grant, read.clone()).await?;
        }
        let moved = self.move_blobs(&mut report, read).await;
        if moved.is_err() {
            // The indicator must not go on saying transfers run.
            self.progress.stop();
        }
        moved?;
        if let Some(seq) = report.published {
            // Best effort: peers also poll, so a lost notification only
            // delays them.
            if let Ok(token) = self.session.access_token().await {
                if let Err(e) = self
                    .session
                    .client()
                    .report_published(&token, &self.device_id, seq)
                    .await
                {
                    eprintln!("warning: could not notify other devices: {e}");
                }
            }
        }
        self.run_spaces(None).await;
        Ok(report)
    }

    /// A round's attachment transfers, after its read: uploads, the publish
    /// that says where they went (reading the round's peers, `read`), then
    /// downloads and garbage collection.
    async fn move_blobs(
        &mut self,
        report: &mut RoundReport,
        read: Option<Vec<String>>,
    ) -> Result<(), AgentError> {
        let grant = Arc::new(self.grant.clone().ok_or(AgentError::NotSignedIn)?);
        // Attachments after the read, so chunks a peer already uploaded
        // (the same file attached there) are not uploaded again; then one
        // more publish carries where the new chunks are.
        let mut blobs = BlobReport::default();
        let to_move = self
            .store
            .lock()
            .map_err(|_| AgentError::Task("store lock poisoned".into()))?
            .blob_bytes_remaining(self.blob_options.background_limit)
            .map_err(|e| AgentError::Sync(SyncError::Core(e)))?;
        self.progress.start(to_move);
        blob_runner::upload(
            self.store.clone(),
            self.bucket.clone(),
            grant.clone(),
            &self.progress,
            &mut blobs,
        )
        .await?;
        if blobs.slots_uploaded > 0 {
            let again = self.run_with(Grant::clone(&grant), read).await?;
            report.published = again.published.or(report.published);
            report.wrote_snapshot |= again.wrote_snapshot;
            report.requests += again.requests;
            report.publish_requests += again.publish_requests;
            report.bytes_up += again.bytes_up;
            report.bytes_down += again.bytes_down;
            if again.publish_error.is_some() {
                report.publish_error = again.publish_error;
            }
        }
        blob_runner::download_and_collect(
            self.store.clone(),
            self.bucket.clone(),
            grant,
            self.blob_options,
            &self.progress,
            &mut blobs,
        )
        .await?;
        self.progress.finish(blobs.bytes_remaining);
        self.last_blobs = blobs;
        Ok(())
    }

    async fn run_with(
        &self,
        grant: Grant,
        read: Option<Vec<String>>,
    ) -> Result<RoundReport, AgentError> {
        round_runner::run_round(
            self.store.clone(),
            self.bucket.clone(),
            Arc::new(grant),
            read,
        )
        .await
        .map_err(|e| match e {
            RunnerError::Sync(e) => AgentError::Sync(e),
            RunnerError::Task(e) => AgentError::Task(e),
        })
    }

    /// Syncs until the task is dropped: after local edits settle, on every
    /// notification from the service, and on a poll. Local edits also go
    /// out on the live lane as they happen, and peers' live changes are
    /// merged as they arrive.
    pub async fn watch(
        &mut self,
        options: WatchOptions,
        local_changes: Arc<Notify>,
        mut on_event: impl FnMut(WatchEvent<'_>),
    ) -> Result<(), AgentError> {
        use tokio::time::Instant;
        // The token the socket last connected with: when the service
        // refuses it, only that one needs replacing (another caller may
        // have replaced it already).
        let socket_token = Arc::new(Mutex::new(String::new()));
        let (session, used) = (self.session.clone(), socket_token.clone());
        let mut events = self.session.client().subscribe_events(move || {
            let token = session.current_access_token();
            if let Ok(mut used) = used.lock() {
                used.clone_from(&token);
            }
            token
        })?;
        let mut lane = self.start_lane()?;
        let mut space_lanes = SpaceLanes::new();
        let mut pending = PendingLive::default();
        let first = self.round().await;
        // Lanes first: an edit made once the round is reported goes out.
        self.follow_spaces(&mut space_lanes);
        on_event(WatchEvent::Round(&first));
        let mut next_poll = Instant::now() + options.poll;
        // When the edits waiting to be published go out: once they settle,
        // and no later than `max_wait` after the first of them.
        let mut settled_at: Option<Instant> = None;
        let mut due_by: Option<Instant> = None;
        loop {
            let publish_at = match (settled_at, due_by) {
                (Some(s), Some(d)) => Some(s.min(d)),
                (s, d) => s.or(d),
            };
            let wake = publish_at.map_or(next_poll, |p| p.min(next_poll));
            let run = tokio::select! {
                item = events.next() => match item {
                    Some(StreamItem::Event(ServiceEvent::Published { device_id, .. })) => {
                        if device_id == self.device_id {
                            Wake::Nothing
                        } else if self.reads(&device_id) {
                            Wake::Peer(device_id.as_str().to_owned())
                        } else {
                            // A device the grant does not know yet.
                            Wake::Full
                        }
                    }
                    Some(StreamItem::Event(ServiceEvent::SpacePublished { space_id, .. })) => {
                        match SpaceId::parse(space_id.as_str()) {
                            Ok(space) => Wake::Space { space, membership: false },
                            Err(_) => Wake::Nothing,
                        }
                    }
                    Some(StreamItem::Event(ServiceEvent::SpaceRecord { space_id, .. })) => {
                        match SpaceId::parse(space_id.as_str()) {
                            Ok(space) => Wake::Space { space, membership: true },
                            Err(_) => Wake::Nothing,
                        }
                    }
                    Some(StreamItem::Event(ServiceEvent::Live { device_id, sealed })) => {
                        if device_id != self.device_id {
                            let notes = self.merge_live(&device_id, &sealed, &mut pending);
                            if notes > 0 {
                                on_event(WatchEvent::LiveMerged { notes });
                            }
                        }
                        Wake::Nothing
                    }
                    Some(StreamItem::Event(ServiceEvent::SpaceLive { space_id, user_id, device_id, sealed })) => {
                        let notes = self.merge_space_live(space_id.as_str(), &user_id, &device_id, &sealed, &mut pending);
                        if notes > 0 {
                            on_event(WatchEvent::LiveMerged { notes });
                        }
                        Wake::Nothing
                    }
                    Some(StreamItem::Event(ServiceEvent::DeviceJoined { .. })) => {
                        // New peers: a new grant first.
                        self.grant = None;
                        Wake::Full
                    }
                    Some(StreamItem::Event(ServiceEvent::DeviceRevoked { .. })) => {
                        // One fewer: a new grant first, and perhaps a new
                        // key (the removing device rotates before it
                        // revokes, so the envelope already says).
                        self.grant = None;
                        self.key_check_due = true;
                        Wake::Full
                    }
                    // Reconnected: we may have missed notifications.
                    Some(StreamItem::Connected) => {
                        on_event(WatchEvent::Connected);
                        Wake::Full
                    }
                    Some(StreamItem::Disconnected { token_refused, .. }) => {
                        // The service closes the socket when it judges the
                        // access token expired, and refuses an expired one:
                        // have a fresh one ready for the reconnect, even if
                        // this device's clock disagrees. Refreshing or
                        // saving can fail; then a round says why.
                        let fresh = if token_refused {
                            let refused = socket_token
                                .lock()
                                .map(|t| t.clone())
                                .unwrap_or_default();
                            self.session.refresh_refused(&refused).await
                        } else {
                            self.session.access_token().await
                        };
                        if fresh.is_err() { Wake::Full } else { Wake::Nothing }
                    }
                    Some(_) => Wake::Nothing,
                    None => return Ok(()),
                },
                () = local_changes.notified() => {
                    self.send_live(&mut lane, &events);
                    self.send_space_live(&mut space_lanes, &events);
                    let now = Instant::now();
                    settled_at = Some(now + options.settle);
                    due_by.get_or_insert(now + options.max_wait);
                    Wake::Nothing
                }
                () = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= next_poll { Wake::Full } else { Wake::Publish }
                }
            };
            let read = match run {
                Wake::Nothing => continue,
                Wake::Space { space, membership } => {
                    // A member published there (or its membership
                    // changed): that space alone is read.
                    self.run_spaces(Some(&space)).await;
                    self.follow_spaces(&mut space_lanes);
                    on_event(WatchEvent::SpaceSynced { membership });
                    let notes = self.retry_pending(&mut pending);
                    if notes > 0 {
                        on_event(WatchEvent::LiveMerged { notes });
                    }
                    continue;
                }
                Wake::Full => None,
                Wake::Peer(device) => Some(vec![device]),
                // The edits settled: out they go; peers tell when they
                // publish, and the poll reads them all.
                Wake::Publish => Some(Vec::new()),
            };
            // Whatever woke it, this round publishes what waited.
            settled_at = None;
            due_by = None;
            let full = read.is_none();
            let outcome = self.round_reading(read).await;
            self.follow_spaces(&mut space_lanes);
            on_event(WatchEvent::Round(&outcome));
            // The round may have brought what waiting live changes build on.
            let notes = self.retry_pending(&mut pending);
            if notes > 0 {
                on_event(WatchEvent::LiveMerged { notes });
            }
            if full {
                // Only a round that read every peer puts the poll off: one
                // peer publishing often must not keep the others unread.
                next_poll = Instant::now() + options.poll;
            }
        }
    }

    /// The live lane, when this device seals what it syncs (a lane without
    /// a key would show the service the words).
    fn start_lane(&self) -> Result<Option<LiveLane>, AgentError> {
        if !self.encrypted {
            return Ok(None);
        }
        let store = self
            .store
            .lock()
            .map_err(|_| AgentError::Task("store lock poisoned".into()))?;
        Ok(LiveLane::start(&store, self.device_id.as_str()).ok())
    }

    /// Sends the local changes made since the last live message. Best
    /// effort: the publish carries them anyway.
    fn send_live(&self, lane: &mut Option<LiveLane>, events: &EventSubscription) {
        let Some(lane) = lane.as_mut() else { return };
        let message = match self.store.lock() {
            Ok(mut store) => lane.next(&mut store),
            Err(_) => return,
        };
        match message {
            Ok(Some(bytes)) => {
                events.send_live(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
            Ok(None) => {}
            Err(e) => eprintln!("warning: live changes not sent: {e}"),
        }
    }

    /// Merges a peer's live changes; how many notes changed. A message
    /// that does not open is dropped (said in the log); one the store
    /// cannot apply yet (it builds on changes not here yet) waits in
    /// `pending`. Either way the publish brings the same changes later.
    fn merge_live(&self, from: &DeviceId, sealed: &str, pending: &mut PendingLive) -> usize {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(sealed) else {
            return 0;
        };
        let Ok(mut store) = self.store.lock() else {
            return 0;
        };
        let entries = match live::open(&store, from.as_str(), &bytes) {
            Ok(entries) => entries,
            Err(e) => {
                eprintln!("warning: live changes from {from} refused: {e}");
                return 0;
            }
        };
        match store.merge_many(&entries) {
            Ok(notes) => {
                drop(store);
                // What waited may build on what just came.
                notes + self.retry_pending(pending)
            }
            Err(_) => {
                pending.keep(None, entries);
                0
            }
        }
    }

    /// A lane for each shared notebook the last rounds ran in, started
    /// when the notebook first shows up (changes before go out with the
    /// publish); a notebook no longer synced loses its lane.
    fn follow_spaces(&self, lanes: &mut SpaceLanes) {
        let live = self.spaces.live();
        lanes.retain(|space, _| live.contains_key(space));
        if !self.encrypted || live.keys().all(|s| lanes.contains_key(s)) {
            return;
        }
        let Ok(store) = self.store.lock() else { return };
        for space in live.keys() {
            if !lanes.contains_key(space) {
                if let Ok(lane) = SpaceLiveLane::start(&store) {
                    lanes.insert(*space, lane);
                }
            }
        }
    }

    /// Sends the local changes to each shared notebook's notes since its
    /// last frame. Best effort, as on the personal lane.
    fn send_space_live(&self, lanes: &mut SpaceLanes, events: &EventSubscription) {
        let Ok(mut store) = self.store.lock() else {
            return;
        };
        for (space, lane) in lanes.iter_mut() {
            let Some(sync) = self.spaces.live().get(space) else {
                continue;
            };
            match lane.next(&mut store, sync) {
                Ok(Some(bytes)) => {
                    if let Ok(wire) = wire_space_id(space) {
                        let sealed = base64::engine::general_purpose::STANDARD.encode(bytes);
                        events.send_space_live(wire, sealed);
                    }
                }
                Ok(None) => {}
                Err(e) => eprintln!("warning: live changes in a shared notebook not sent: {e}"),
            }
        }
    }

    /// Merges a member's live frame in shared notebook `space`; how many
    /// notes changed. Frames of a notebook this device does not sync, of
    /// this account's own devices (the personal lane brings those), or
    /// that do not open (a viewer's, a departed member's) are dropped.
    fn merge_space_live(
        &self,
        space: &str,
        user: &cairn_protocol::UserId,
        from: &DeviceId,
        sealed: &str,
        pending: &mut PendingLive,
    ) -> usize {
        let Ok(space) = SpaceId::parse(space) else {
            return 0;
        };
        let Some(sync) = self.spaces.live().get(&space) else {
            return 0;
        };
        if sync.user == *user {
            return 0;
        }
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(sealed) else {
            return 0;
        };
        let entries = match space_live::open(sync, user, from.as_str(), &bytes) {
            Ok(entries) => entries,
            Err(e) => {
                eprintln!("warning: live changes in a shared notebook from {from} refused: {e}");
                return 0;
            }
        };
        let Ok(mut store) = self.store.lock() else {
            return 0;
        };
        match store.merge_space_live(sync, &entries) {
            Ok(notes) => {
                drop(store);
                notes + self.retry_pending(pending)
            }
            Err(_) => {
                pending.keep(Some(space), entries);
                0
            }
        }
    }

    /// Tries the waiting live changes again, oldest first; how many notes
    /// changed.
    fn retry_pending(&self, pending: &mut PendingLive) -> usize {
        let Ok(mut store) = self.store.lock() else {
            return 0;
        };
        let mut notes = 0;
        // Each success may unblock an earlier refusal: go round until a
        // pass applies nothing.
        loop {
            let before = pending.waiting.len();
            pending.waiting.retain(|(space, entries)| {
                let merged = match space {
                    None => store.merge_many(entries),
                    // A shared notebook no longer synced here: dropped.
                    Some(space) => match self.spaces.live().get(space) {
                        Some(sync) => store.merge_space_live(sync, entries),
                        None => return false,
                    },
                };
                match merged {
                    Ok(n) => {
                        notes += n;
                        false
                    }
                    Err(_) => true,
                }
            });
            if pending.waiting.len() == before || pending.waiting.is_empty() {
                return notes;
            }
        }
    }
}

/// What woke the watch loop, and so what its round reads.
enum Wake {
    /// Nothing to run (a live message, a local edit waiting to settle).
    Nothing,
    /// Every peer: the poll, a reconnect, a change of devices.
    Full,
    /// The one peer that said it published.
    Peer(String),
    /// Local edits are due: publish, read no one.
    Publish,
    /// A shared notebook's member published, or (`membership`) a record
    /// changed who is in it or invited to it.
    Space { space: SpaceId, membership: bool },
}

/// Each shared notebook's live lane.
type SpaceLanes = BTreeMap<SpaceId, SpaceLiveLane>;

/// Live changes the store could not apply yet, kept to try again: the
/// personal lane's (`None`) and each shared notebook's.
#[derive(Default)]
struct PendingLive {
    waiting: Vec<(Option<SpaceId>, cairn_core::sync::bundle::Bundle)>,
}

impl PendingLive {
    /// Enough for a minute of typing; past that the oldest go (the
    /// publish brings them).
    const MAX: usize = 512;

    fn keep(&mut self, space: Option<SpaceId>, entries: cairn_core::sync::bundle::Bundle) {
        if self.waiting.len() >= Self::MAX {
            self.waiting.remove(0);
        }
        self.waiting.push((space, entries));
    }
}

/// Where a data dir keeps its grant.
pub(crate) fn grant_path(data_dir: &Path) -> PathBuf {
    data_dir.join(GRANT_FILE)
}

/// Drops the grant `data_dir` keeps, so the next round asks for a new one
/// (after removing a device, which the kept one still lists as a peer).
pub fn forget_grant(data_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(grant_path(data_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn service_error(e: ClientError) -> AgentError {
    if e.needs_sign_in() {
        let reason = match e.api_code() {
            Some(ErrorCode::DeviceRevoked) => SignInReason::DeviceRemoved,
            Some(ErrorCode::SessionExpired) => SignInReason::SessionExpired,
            _ => SignInReason::SessionEnded,
        };
        AgentError::NeedsSignIn(reason)
    } else if matches!(e, ClientError::Http { .. }) {
        AgentError::Offline(e.to_string())
    } else {
        AgentError::Service(e)
    }
}

/// An error of the service's that need not stop a round: anything short of
/// this device being signed out (offline, or an answer that made no
/// sense), as when the service is down and storage is not.
fn ignore_offline(e: AgentError) -> Result<(), AgentError> {
    match e {
        AgentError::Offline(_) => Ok(()),
        AgentError::Service(e) => {
            eprintln!("warning: could not ask the service for the account's key: {e}");
            Ok(())
        }
        other => Err(other),
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
