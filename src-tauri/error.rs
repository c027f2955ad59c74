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

    #[error("\u{201c}{name}\u{201d} is {}, larger than the {} limit for attachments (see Settings); nothing was added.", megabytes(*.size), megabytes(*.limit))]
    AttachmentTooLarge { name: String, size: u64, limit: u64 },

    /// Boxed like `Core`: the client's errors carry an HTTP error.
    #[error("{}", sign_in_message(.0))]
    SignIn(Box<cairn_client::sign_in::SignInError>),

    #[error("{}", key_message(.0))]
    Key(Box<cairn_client::encryption::KeyError>),

    /// Boxed like `Key`.
    #[error("{}", crate::removal_error::message(.0))]
    Removal(Box<cairn_client::device_removal::RemoveError>),

    #[error("The device is still not removed: {}. Try again; your notes already have their new key.", crate::removal_error::unfinished(.0))]
    RemovalUnfinished(Box<cairn_client::device_removal::RevokeError>),

    #[error("{0}")]
    Sync(Box<cairn_client::AgentError>),

    #[error("{0}")]
    Service(Box<cairn_client::ClientError>),

    /// Boxed like `Service`.
    #[error("{}", crate::share_error::message(.0))]
    Share(Box<cairn_client::sharing::ShareError>),

    #[error("cannot listen for GitHub's answer on 127.0.0.1: {0}")]
    RedirectListener(#[source] std::io::Error),

    #[error("GitHub sign-in was cancelled; nothing was changed")]
    GithubCancelled,

    #[error("GitHub did not answer within five minutes; nothing was changed, try again")]
    GithubTimedOut,

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
            AppError::AttachmentTooLarge { .. } => "attachment_too_large",
            AppError::SignIn(e) => sign_in_code(e),
            AppError::Key(e) => key_code(e),
            AppError::Removal(e) => crate::removal_error::code(e),
            AppError::RemovalUnfinished(_) => "removal_unfinished",
            AppError::Sync(_) => "sync_failed",
            AppError::Service(e) => service_code(e),
            AppError::Share(e) => crate::share_error::code(e),
            AppError::RedirectListener(_) => "redirect_listener",
            AppError::GithubCancelled => "github_cancelled",
            AppError::GithubTimedOut => "github_timed_out",
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
        // What the window shows: never an address or a token, whatever
        // error it came from.
        st.serialize_field(
            "message",
            &cairn_client::shown_text::without_secrets(&self.to_string()),
        )?;
        st.end()
    }
}

/// The service's own words for a refused key are for developers; say what
/// the user can do about it.
fn sign_in_message(e: &cairn_client::sign_in::SignInError) -> String {
    match sign_in_code(e) {
        "wrong_account_key" => {
            "That account key was not accepted. Check it and try again; nothing was changed.".into()
        }
        "wrong_passphrase" => {
            "That passphrase or recovery key does not open this account's notes. Nothing was changed.".into()
        }
        "service_unreachable" => {
            "The sync service cannot be reached. Check its address and this computer's connection, then try again; your notes are safe here.".into()
        }
        "github_refused" => match e {
            cairn_client::sign_in::SignInError::SignIn(cairn_client::ClientError::OauthRedirect(
                why,
            )) => format!("GitHub sign-in did not finish: {why}."),
            _ => e.to_string(),
        },
        _ => e.to_string(),
    }
}

fn sign_in_code(e: &cairn_client::sign_in::SignInError) -> &'static str {
    use cairn_client::encryption::KeyError;
    use cairn_client::sign_in::SignInError;
    use cairn_core::crypto::CryptoError;
    use cairn_protocol::ErrorCode;
    match e {
        SignInError::SignIn(c)
            if matches!(
                c.api_code(),
                Some(ErrorCode::InvalidAccountKey | ErrorCode::Unauthorized)
            ) =>
        {
            "wrong_account_key"
        }
        SignInError::SignIn(cairn_client::ClientError::OauthRedirect(_)) => "github_refused",
        SignInError::SignIn(c) | SignInError::RegisterDevice(c) => service_code(c),
        SignInError::Key(KeyError::SecretNeeded) => "passphrase_needed",
        SignInError::Key(KeyError::Crypto(CryptoError::WrongSecret)) => "wrong_passphrase",
        SignInError::Key(KeyError::Service(c)) => service_code(c),
        SignInError::Key(_) => "key_setup_failed",
        SignInError::CredentialStore(_) => "credential_store",
    }
}

fn key_code(e: &cairn_client::encryption::KeyError) -> &'static str {
    use cairn_client::encryption::KeyError;
    use cairn_core::crypto::CryptoError;
    match e {
        KeyError::Crypto(CryptoError::WrongSecret) => "wrong_passphrase",
        // The new passphrase was refused (too short).
        KeyError::Crypto(CryptoError::Envelope(_)) => "invalid_input",
        KeyError::Service(c) => service_code(c),
        KeyError::NoLocalKey | KeyError::SecretNeeded => "passphrase_needed",
        _ => "key_error",
    }
}

fn key_message(e: &cairn_client::encryption::KeyError) -> String {
    match key_code(e) {
        "wrong_passphrase" => {
            "That is not the current passphrase or recovery key. Nothing was changed.".into()
        }
        _ => e.to_string(),
    }
}

pub(crate) fn service_code(e: &cairn_client::ClientError) -> &'static str {
    match e {
        cairn_client::ClientError::Http { .. } => "service_unreachable",
        cairn_client::ClientError::InvalidUrl { .. } => "invalid_input",
        _ => "service_error",
    }
}

/// A size as people read it: "2.5 MB", "1 MB", "0.3 MB".
fn megabytes(bytes: u64) -> String {
    let tenths = (bytes + 50_000) / 100_000;
    if tenths.is_multiple_of(10) {
        format!("{} MB", tenths / 10)
    } else {
        format!("{}.{} MB", tenths / 10, tenths % 10)
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
