//! What the commands share: the store (one SQLite connection, behind a
//! mutex, shared with the sync task), the signed-in session (shared with
//! the sync task too, so a refresh by either is seen by both), the event
//! notifier, the settings and the sync task.
//!
//! Store calls run on the blocking thread pool: a write waits for an fsync,
//! and the UI thread must never wait for one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cairn_client::{clock_from_env, default_credential_store, Session};
use cairn_core::{Origin, Store};
use tauri::AppHandle;

use crate::error::{AppError, AppResult};
use crate::events::Notifier;
use crate::github_attempts::GithubAttempts;
use crate::settings::Settings;
use crate::sync::SyncTask;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    store: Arc<Mutex<Store>>,
    /// The stored session, loaded on first use and after each sign-in.
    session: Mutex<Option<Arc<Session>>>,
    notifier: Notifier,
    app: AppHandle,
    sync: SyncTask,
    data_dir: PathBuf,
    settings: Mutex<Settings>,
    github: GithubAttempts,
}

impl AppState {
    pub fn open(dir: &Path, notifier: Notifier, app: AppHandle) -> AppResult<AppState> {
        let store = Store::open(dir)?;
        let settings = Settings::load(dir)?;
        Ok(AppState(Arc::new(Shared {
            store: Arc::new(Mutex::new(store)),
            session: Mutex::new(None),
            notifier,
            app,
            sync: SyncTask::new(),
            data_dir: dir.to_path_buf(),
            settings: Mutex::new(settings),
            github: GithubAttempts::default(),
        })))
    }

    pub fn data_dir(&self) -> &Path {
        &self.0.data_dir
    }

    /// Runs `f` with the store on the blocking pool, then hands whatever the
    /// store reported to the notifier (also after a failure: part of a
    /// multi-step command may have been written).
    pub async fn with_store<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut Store) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let shared = Arc::clone(&self.0);
        tauri::async_runtime::spawn_blocking(move || {
            let mut store = shared.store.lock().map_err(|_| AppError::StorePoisoned)?;
            let result = f(&mut store);
            let events = store.take_events();
            drop(store);
            // Wake the sync task for our own edits only: merged changes
            // are the peers', publishing them back would be wasted work.
            if events.iter().any(|e| e.origin == Origin::Local) {
                shared.sync.local_changes.notify_one();
            }
            shared.notifier.send(events);
            result
        })
        .await
        .map_err(|e| AppError::Task(e.to_string()))?
    }

    /// The store itself, for the client operations that take it whole
    /// (sharing); what they write reaches the window through
    /// [`AppState::flush_store_events`].
    pub fn store_handle(&self) -> Arc<Mutex<Store>> {
        Arc::clone(&self.0.store)
    }

    /// Hands the store's events from work done outside
    /// [`AppState::with_store`] to the notifier, waking the sync task for
    /// local ones as `with_store` does.
    pub fn flush_store_events(&self) {
        let events = match self.0.store.lock() {
            Ok(mut store) => store.take_events(),
            Err(_) => return,
        };
        if events.iter().any(|e| e.origin == Origin::Local) {
            self.0.sync.local_changes.notify_one();
        }
        self.0.notifier.send(events);
    }

    pub fn sync(&self) -> &SyncTask {
        &self.0.sync
    }

    /// Starts (or restarts) syncing the stored session, read afresh from
    /// the credential store (a sign-in has just saved a new one).
    pub fn start_sync(&self) -> AppResult<()> {
        let background_limit = self.settings()?.attachments.background_bytes();
        let session = self.load_session();
        let session = match session {
            Ok(session) => session,
            Err(e) => {
                self.0.sync.show_failure(&self.0.app, &e);
                return Err(e);
            }
        };
        self.0.sync.start(
            &self.0.app,
            &self.0.data_dir,
            session,
            Arc::clone(&self.0.store),
            self.0.notifier.clone(),
            background_limit,
        )
    }

    pub fn stop_sync(&self) {
        self.0.sync.stop(&self.0.app);
    }

    /// The signed-in session the sync task also uses.
    pub fn session(&self) -> AppResult<Arc<Session>> {
        let cached = self
            .0
            .session
            .lock()
            .map_err(|_| AppError::StorePoisoned)?
            .clone();
        match cached {
            Some(session) => Ok(session),
            None => self.load_session(),
        }
    }

    /// Forgets the session held in memory (after signing out); the next
    /// use reads the credential store again.
    pub fn drop_session(&self) -> AppResult<Option<Arc<Session>>> {
        Ok(self
            .0
            .session
            .lock()
            .map_err(|_| AppError::StorePoisoned)?
            .take())
    }

    fn load_session(&self) -> AppResult<Arc<Session>> {
        let store = default_credential_store(&self.0.data_dir);
        let session = Session::load(store, clock_from_env())
            .map_err(|e| AppError::Service(Box::new(e)))?
            .map(Arc::new)
            .ok_or(AppError::NotSignedIn)?;
        *self.0.session.lock().map_err(|_| AppError::StorePoisoned)? = Some(session.clone());
        Ok(session)
    }

    pub fn settings(&self) -> AppResult<Settings> {
        self.0
            .settings
            .lock()
            .map(|s| s.clone())
            .map_err(|_| AppError::StorePoisoned)
    }

    pub fn save_settings(&self, new: Settings) -> AppResult<Settings> {
        let mut current = self
            .0
            .settings
            .lock()
            .map_err(|_| AppError::StorePoisoned)?;
        new.save(&self.0.data_dir)?;
        *current = new.clone();
        Ok(new)
    }

    /// The service a sign-in used becomes the one the form offers next time
    /// (there is no second place to type it).
    pub fn remember_service_url(&self, url: &str) -> AppResult<()> {
        let mut settings = self.settings()?;
        if settings.service_url != url {
            settings.service_url = url.to_owned();
            self.save_settings(settings)?;
        }
        Ok(())
    }

    /// The GitHub sign-in under way, if any.
    pub fn github(&self) -> &GithubAttempts {
        &self.0.github
    }
}
