//! The shell's errors. The UI receives every one as `{code, message}`: the
//! code to branch on, the message to show.

use std::path::PathBuf;

use serde::ser::SerializeStruct;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    // Boxed: CoreError carries a rusqlite error and is large; every command
    // returns this type.
    #[error(transparent)]
    Core(Box<cairn_core::CoreError>),

    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },

    #[error("no data directory: set CAIRN_DATA_DIR or HOME")]
    NoDataDir,

    #[error("cannot read settings from {path}: {reason}")]
    SettingsRead { path: PathBuf, reason: String },

    #[error("cannot save settings to {path}: {source}")]
    SettingsWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("not signed in")]
    NotSignedIn,

    /// Sync needs the service client, which this build does not include yet.
    #[error(
        "Signing in is not available in this build of Cairn yet; your notes stay on this device."
    )]
    SyncUnavailable,

    #[error("the store is unavailable after an earlier failure; restart Cairn")]
    StorePoisoned,

    #[error("a background task failed: {0}")]
    Task(String),

    #[error("the window system failed: {0}")]
    Tauri(#[source] Box<tauri::Error>),
}

impl From<cairn_core::CoreError> for AppError {
    fn from(e: cairn_core::CoreError) -> Self {
        AppError::Core(Box::new(e))
    }
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Core(e) => e.code(),
            AppError::Invalid { .. } => "invalid_input",
            AppError::NoDataDir => "no_data_dir",
            AppError::SettingsRead { .. } => "settings_read",
            AppError::SettingsWrite { .. } => "settings_write",
            AppError::NotSignedIn => "not_signed_in",
            AppError::SyncUnavailable => "sync_unavailable",
            AppError::StorePoisoned => "store_poisoned",
            AppError::Task(_) => "task_failed",
            AppError::Tauri(_) => "tauri",
        }
    }

    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        AppError::Invalid {
            what,
            reason: reason.into(),
        }
    }
}

impl serde::Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("AppError", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn errors_reach_the_ui_as_code_and_message() {
        let e = AppError::from(cairn_core::CoreError::NoteNotFound { id: "n1".into() });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "note_not_found");
        assert_eq!(v["message"], "no note with id n1");
        let v = serde_json::to_value(AppError::invalid("splice", "too long")).unwrap();
        assert_eq!(v["code"], "invalid_input");
        assert_eq!(v["message"], "invalid splice: too long");
    }
}
