//! What the commands share: the store (one SQLite connection, behind a
//! mutex), the event notifier and the settings.
//!
//! Store calls run on the blocking thread pool: a write waits for an fsync,
//! and the UI thread must never wait for one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cairn_core::Store;

use crate::error::{AppError, AppResult};
use crate::events::Notifier;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    store: Mutex<Store>,
    notifier: Notifier,
    data_dir: PathBuf,
    settings: Mutex<Settings>,
}

impl AppState {
    pub fn open(dir: &Path, notifier: Notifier) -> AppResult<AppState> {
        let store = Store::open(dir)?;
        let settings = Settings::load(dir)?;
        Ok(AppState(Arc::new(Shared {
            store: Mutex::new(store),
            notifier,
            data_dir: dir.to_path_buf(),
            settings: Mutex::new(settings),
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
            shared.notifier.send(events);
            result
        })
        .await
        .map_err(|e| AppError::Task(e.to_string()))?
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
}
