//! The crate's error type.

use cairn_protocol::{ApiError, ErrorCode, ProtocolError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid service URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach {url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The service answered with an error body.
    #[error("service refused ({status}): {}: {}", error.code, error.message)]
    Api { status: u16, error: ApiError },
    #[error("unexpected answer from {url}: {message}")]
    UnexpectedResponse { url: String, message: String },
    #[error("event socket: {0}")]
    WebSocket(String),
    #[error("sign-in redirect: {0}")]
    OauthRedirect(String),
    #[error("opening the browser: {0}")]
    Browser(String),
    #[error("credential store: {0}")]
    CredentialStore(String),
    /// The session is in the OS keychain, which does not answer now (not
    /// running, locked, or no session bus): nothing is lost, and nothing
    /// works until it answers again.
    #[error("cannot read the OS keychain that holds this sign-in; is it unlocked? ({detail})")]
    KeychainUnreadable { detail: String },
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("io on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ClientError {
    /// The service's error code, if the service answered with one.
    pub fn api_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { error, .. } => Some(error.code),
            _ => None,
        }
    }

    /// The HTTP status of a service error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether signing in again (or refreshing) is the remedy.
    pub fn needs_sign_in(&self) -> bool {
        matches!(
            self.api_code(),
            Some(
                ErrorCode::Unauthorized
                    | ErrorCode::SessionExpired
                    | ErrorCode::InvalidRefreshToken
                    | ErrorCode::DeviceRevoked
            )
        )
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        ClientError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
