//! The crate's error type, and how each error becomes an HTTP response with
//! a `{code, message}` JSON body.

use axum::http::header::{CONNECTION, RETRY_AFTER, UPGRADE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn_protocol::{ApiError, DeviceId, ErrorCode, ProtocolError};

/// Everything that can go wrong in the service.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    // --- the caller's fault (4xx) ---
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("missing or malformed access token")]
    Unauthorized,
    #[error("the session has expired or was revoked")]
    SessionExpired,
    #[error("unknown account key")]
    InvalidAccountKey,
    #[error("unknown, expired or revoked refresh token")]
    InvalidRefreshToken,
    #[error("unknown, expired or already used OAuth state")]
    InvalidOauthState,
    #[error("unknown, expired or already used login code, or wrong code verifier")]
    InvalidLoginCode,
    #[error("sign-in provider {0} is disabled")]
    ProviderDisabled(&'static str),
    #[error("device {0} does not belong to this session")]
    NotThisDevice(DeviceId),
    #[error("this session already acts for device {0}")]
    SessionHasDevice(DeviceId),
    #[error("device {0} was revoked")]
    DeviceRevoked(DeviceId),
    #[error("device {0} not found")]
    DeviceNotFound(DeviceId),
    #[error("this account has no key envelope yet")]
    NoKeyEnvelope,
    #[error("you are not a member of this space")]
    NotSpaceMember,
    #[error("viewers cannot publish in this space")]
    ReadOnlyMember,
    #[error("only the owner of this space can do that")]
    NotSpaceOwner,
    #[error("membership record {seq} was taken by another record first; read the new records and build on them")]
    RecordConflict { seq: u64 },
    #[error("the membership record was refused: {0}")]
    InvalidRecord(String),
    #[error("a space with this id exists already")]
    SpaceExists,
    #[error("this account has another sharing identity already; fetch it and use that one")]
    IdentityExists,
    #[error("this account's sharing identity was replaced meanwhile; fetch it and use that one")]
    IdentityChanged,
    #[error("{0} has no sharing identity yet: they need to open Cairn once while signed in")]
    NoIdentity(cairn_protocol::UserId),
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too many sign-in attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A plain request to a WebSocket-only route; the text is axum's reason.
    #[error("this route only speaks WebSocket: {0}")]
    WebSocketRequired(String),

    // --- an upstream's fault (502) ---
    #[error("OAuth provider: {0}")]
    OauthProvider(String),

    // --- ours (500) or startup ---
    #[error("registry: {0}")]
    Registry(#[from] rusqlite::Error),
    #[error("registry (PostgreSQL): {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("the registry has schema version {found}, newer than this release's {supported}; run a newer cairn-server")]
    RegistryTooNew { found: i64, supported: i64 },
    #[error("registry holds an invalid value: {0}")]
    CorruptRegistry(String),
    #[error("presigning {key}: {message}")]
    Presign { key: String, message: String },
    #[error("config: {0}")]
    Config(String),
    #[error("config: {setting} is not set; put it in the config file or set {env}")]
    MissingSetting {
        setting: &'static str,
        env: &'static str,
    },
    #[error("io on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("embedded S3 store: {0}")]
    EmbeddedS3(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl ServerError {
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        ServerError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// The status and wire code this error is answered with.
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use ServerError::*;
        match self {
            BadRequest { code, .. } => (status_for_bad_request(*code), *code),
            Protocol(e) => (StatusCode::BAD_REQUEST, protocol_code(e)),
            Unauthorized => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            SessionExpired => (StatusCode::UNAUTHORIZED, ErrorCode::SessionExpired),
            InvalidAccountKey => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidAccountKey),
            InvalidRefreshToken => (StatusCode::UNAUTHORIZED, ErrorCode::InvalidRefreshToken),
            InvalidOauthState => (StatusCode::BAD_REQUEST, ErrorCode::InvalidOauthState),
            InvalidLoginCode => (StatusCode::BAD_REQUEST, ErrorCode::InvalidLoginCode),
            ProviderDisabled(_) => (StatusCode::FORBIDDEN, ErrorCode::ProviderDisabled),
            NotThisDevice(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            SessionHasDevice(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            DeviceRevoked(_) => (StatusCode::GONE, ErrorCode::DeviceRevoked),
            DeviceNotFound(_) | NoKeyEnvelope | RouteNotFound(_) => {
                (StatusCode::NOT_FOUND, ErrorCode::NotFound)
            }
            NotSpaceMember => (StatusCode::FORBIDDEN, ErrorCode::NotSpaceMember),
            ReadOnlyMember => (StatusCode::FORBIDDEN, ErrorCode::ReadOnlyMember),
            NotSpaceOwner => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            RecordConflict { .. } => (StatusCode::CONFLICT, ErrorCode::RecordConflict),
            InvalidRecord(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidRecord),
            SpaceExists => (StatusCode::CONFLICT, ErrorCode::SpaceExists),
            IdentityExists => (StatusCode::CONFLICT, ErrorCode::IdentityExists),
            IdentityChanged => (StatusCode::CONFLICT, ErrorCode::Conflict),
            NoIdentity(_) => (StatusCode::NOT_FOUND, ErrorCode::NoIdentity),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            WebSocketRequired(_) => (StatusCode::UPGRADE_REQUIRED, ErrorCode::WebsocketRequired),
            OauthProvider(_) => (StatusCode::BAD_GATEWAY, ErrorCode::OauthProviderError),
            Registry(_)
            | Postgres(_)
            | RegistryTooNew { .. }
            | CorruptRegistry(_)
            | Presign { .. }
            | Config(_)
            | MissingSetting { .. }
            | Io { .. }
            | EmbeddedS3(_)
            | Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

fn status_for_bad_request(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn protocol_code(e: &ProtocolError) -> ErrorCode {
    match e {
        ProtocolError::InvalidDeviceId { .. } => ErrorCode::InvalidDeviceId,
        ProtocolError::InvalidDeviceName { .. } => ErrorCode::InvalidDeviceName,
        ProtocolError::InvalidPlatform { .. } => ErrorCode::InvalidPlatform,
        _ => ErrorCode::BadRequest,
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // Internal details (SQL, paths) stay in the log, not in the answer.
        let message = if status.is_server_error() && status != StatusCode::BAD_GATEWAY {
            tracing::error!(error = %self, "request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(ApiError { code, message })).into_response();
        match self {
            ServerError::RateLimited { retry_after_secs } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(RETRY_AFTER, v);
                }
            }
            // A 426 must name the protocol to switch to (RFC 9110, 15.5.22).
            ServerError::WebSocketRequired(_) => {
                let headers = response.headers_mut();
                headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            }
            _ => {}
        }
        response
    }
}
