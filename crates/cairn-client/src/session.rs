//! The signed-in session of one data dir, shared by everything in a
//! process that talks to the service: the sync agent, its event socket,
//! the desktop shell's account commands, the CLI's commands.
//!
//! A refresh rotates both tokens: the old refresh token is dead the
//! moment the service answers. So there is one owner of the tokens, and
//! every caller borrows them from it:
//!
//! 1. [`Session::access_token`] hands out the current access token while
//!    it has more than the refresh margin left by the session's clock.
//! 2. Otherwise the caller takes the refresh lock (an async mutex: only
//!    one refresh is ever in flight). Whoever waited for the lock looks
//!    again first and takes the tokens the refresh before it brought, so
//!    concurrent callers cause one refresh and all get its result.
//! 3. The rotated tokens are saved to the credential store before they
//!    are handed out. If the store refuses them they are kept in memory
//!    (the old ones no longer work) and every later call tries to save
//!    them again, failing with the store's error until one succeeds.
//! 4. When the service refuses a token the caller still holds (it judged
//!    it expired earlier than this clock did),
//!    [`Session::refresh_refused`] refreshes, unless another caller
//!    already replaced that token.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use cairn_protocol::{Clock, DeviceId};

use crate::{ClientError, CredentialStore, ServiceClient, StoredCredentials};

/// Refresh a little before expiry, so a slow request does not cross it.
pub const REFRESH_MARGIN_SECS: i64 = 60;

pub struct Session {
    client: ServiceClient,
    store: Box<dyn CredentialStore>,
    clock: Arc<dyn Clock>,
    margin_secs: i64,
    /// Held across a refresh and the save after it.
    refreshing: tokio::sync::Mutex<()>,
    /// The tokens now; never held across an await.
    current: Mutex<Current>,
}

struct Current {
    credentials: StoredCredentials,
    /// Rotated tokens the credential store refused (see the module docs).
    unsaved: bool,
}

/// What signing out did.
#[derive(Debug)]
pub struct SignedOut {
    pub server_url: String,
    /// Whether the service revoked the session too. The session is
    /// forgotten on this device either way; an unreachable service lets
    /// it expire on its own.
    pub revoked: Result<(), ClientError>,
}

impl Session {
    /// The session kept in `store`, if there is one.
    pub fn load(
        store: Box<dyn CredentialStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Session>, ClientError> {
        match store.load()? {
            Some(credentials) => Session::new(credentials, store, clock).map(Some),
            None => Ok(None),
        }
    }

    /// A session for `credentials`, which `store` keeps.
    pub fn new(
        credentials: StoredCredentials,
        store: Box<dyn CredentialStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Session, ClientError> {
        let client = ServiceClient::new(&credentials.server_url)?;
        Ok(Session {
            client,
            store,
            clock,
            margin_secs: REFRESH_MARGIN_SECS,
            refreshing: tokio::sync::Mutex::new(()),
            current: Mutex::new(Current {
                credentials,
                unsaved: false,
            }),
        })
    }

    /// A client for this session's service.
    pub fn client(&self) -> &ServiceClient {
        &self.client
    }

    /// The clock this session judges expiry by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The session as it stands now.
    pub fn credentials(&self) -> StoredCredentials {
        self.current().credentials.clone()
    }

    pub fn device_id(&self) -> Option<DeviceId> {
        self.current().credentials.device_id.clone()
    }

    /// The access token held now, fresh or not, for code that cannot wait
    /// (the event socket's reconnect); the socket reports a refused token,
    /// and its owner then calls [`Session::refresh_refused`].
    pub fn current_access_token(&self) -> String {
        self.current().credentials.access_token.clone()
    }

    /// An access token with more than the refresh margin left, refreshing
    /// first when needed (one refresh for all concurrent callers).
    pub async fn access_token(&self) -> Result<String, ClientError> {
        if let Some(token) = self.usable_token() {
            return Ok(token);
        }
        let _refreshing = self.refreshing.lock().await;
        // A refresh may have finished while this caller waited.
        if let Some(token) = self.usable_token() {
            return Ok(token);
        }
        if self.current().unsaved {
            self.save_unsaved()?;
            if let Some(token) = self.usable_token() {
                return Ok(token);
            }
        }
        self.refresh_locked().await
    }

    /// New tokens because the service refused `refused`, whatever this
    /// session's clock says about it; if another caller has replaced that
    /// token meanwhile, its replacement.
    pub async fn refresh_refused(&self, refused: &str) -> Result<String, ClientError> {
        let _refreshing = self.refreshing.lock().await;
        if self.current().credentials.access_token != refused {
            self.save_unsaved()?;
            return Ok(self.current_access_token());
        }
        self.refresh_locked().await
    }

    /// Signs out: revokes the session on the service when it can be
    /// reached, and forgets the session, the content key and the grant on
    /// this device either way. The notes stay.
    pub async fn sign_out(
        &self,
        data_dir: &Path,
    ) -> Result<SignedOut, crate::encryption::KeyError> {
        let revoked = match self.access_token().await {
            Ok(token) => self.client.logout(&token).await,
            Err(e) => Err(e),
        };
        self.store.clear()?;
        crate::sign_in::forget_device_secrets(data_dir)?;
        Ok(SignedOut {
            server_url: self.current().credentials.server_url.clone(),
            revoked,
        })
    }

    /// Where the session is kept, for messages.
    pub fn describe_store(&self) -> String {
        self.store.describe()
    }

    fn usable_token(&self) -> Option<String> {
        let current = self.current();
        let left = current.credentials.access_expires_at - self.clock.now_secs();
        (!current.unsaved && left > self.margin_secs)
            .then(|| current.credentials.access_token.clone())
    }

    /// Rotates the tokens; the caller holds `refreshing`.
    async fn refresh_locked(&self) -> Result<String, ClientError> {
        let refresh_token = self.current().credentials.refresh_token.clone();
        let session = self.client.refresh(&refresh_token).await?;
        let token = {
            let mut current = self.current();
            current.credentials.update_tokens(&session);
            current.unsaved = true;
            current.credentials.access_token.clone()
        };
        self.save_unsaved()?;
        Ok(token)
    }

    /// Saves rotated tokens the store has not taken yet.
    fn save_unsaved(&self) -> Result<(), ClientError> {
        let mut current = self.current();
        if current.unsaved {
            self.store.save(&current.credentials)?;
            current.unsaved = false;
        }
        Ok(())
    }

    fn current(&self) -> MutexGuard<'_, Current> {
        // The guarded data is replaced whole under the lock, so a panic
        // elsewhere cannot leave it half-written: go on with it.
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
