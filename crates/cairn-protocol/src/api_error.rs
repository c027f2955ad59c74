//! The JSON body of every error response: `{"code": "...", "message": "..."}`.

use serde::{Deserialize, Serialize};

/// Machine-readable error codes. Clients match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    InvalidDeviceId,
    InvalidDeviceName,
    InvalidPlatform,
    Unauthorized,
    SessionExpired,
    InvalidAccountKey,
    InvalidRefreshToken,
    InvalidOauthState,
    InvalidLoginCode,
    OauthProviderError,
    ProviderDisabled,
    Forbidden,
    Conflict,
    DeviceRevoked,
    NotFound,
    MethodNotAllowed,
    RateLimited,
    /// A plain HTTP request to the event socket's WebSocket-only route.
    WebsocketRequired,
    /// A space the caller is not (or no longer) a member of; also for a
    /// space that does not exist, so its existence is not given away.
    NotSpaceMember,
    /// A viewer asked to publish in a space.
    ReadOnlyMember,
    /// Another membership record landed at that number first: read the
    /// new records and build on them.
    RecordConflict,
    /// A membership record the chain verifier refused (forged signer,
    /// replayed, out of order, not allowed...); the message says which.
    InvalidRecord,
    /// A space with that id exists already.
    SpaceExists,
    /// The account has a different sharing identity already: fetch it.
    IdentityExists,
    /// The account has no sharing identity yet (it never shared).
    NoIdentity,
    /// A replacement identity whose successor statement is not the current
    /// key's, for the offered keys and the next generation.
    InvalidSuccessor,
    Internal,
    /// A code this build does not know (a newer service): treat as opaque.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire spelling, for logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::InvalidDeviceId => "invalid_device_id",
            ErrorCode::InvalidDeviceName => "invalid_device_name",
            ErrorCode::InvalidPlatform => "invalid_platform",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::InvalidAccountKey => "invalid_account_key",
            ErrorCode::InvalidRefreshToken => "invalid_refresh_token",
            ErrorCode::InvalidOauthState => "invalid_oauth_state",
            ErrorCode::InvalidLoginCode => "invalid_login_code",
            ErrorCode::OauthProviderError => "oauth_provider_error",
            ErrorCode::ProviderDisabled => "provider_disabled",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Conflict => "conflict",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::WebsocketRequired => "websocket_required",
            ErrorCode::NotSpaceMember => "not_space_member",
            ErrorCode::ReadOnlyMember => "read_only_member",
            ErrorCode::RecordConflict => "record_conflict",
            ErrorCode::InvalidRecord => "invalid_record",
            ErrorCode::SpaceExists => "space_exists",
            ErrorCode::IdentityExists => "identity_exists",
            ErrorCode::NoIdentity => "no_identity",
            ErrorCode::InvalidSuccessor => "invalid_successor",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every 4xx and 5xx response of the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_deserialize() {
        let e: ApiError =
            serde_json::from_str(r#"{"code":"brand_new","message":"m"}"#).expect("parse");
        assert_eq!(e.code, ErrorCode::Unknown);
    }

    #[test]
    fn as_str_matches_serde() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::DeviceRevoked,
            ErrorCode::RateLimited,
            ErrorCode::WebsocketRequired,
            ErrorCode::NotSpaceMember,
            ErrorCode::ReadOnlyMember,
            ErrorCode::RecordConflict,
            ErrorCode::InvalidRecord,
            ErrorCode::SpaceExists,
            ErrorCode::IdentityExists,
            ErrorCode::NoIdentity,
            ErrorCode::InvalidSuccessor,
        ] {
            let json = serde_json::to_string(&code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
