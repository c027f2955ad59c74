//! `GET` / `PUT /v1/identity` and `GET /v1/accounts/{account}/identity`:
//! sharing identities (docs/sharing.md). The service keeps each account's
//! identity once: the sealed secrets, which it cannot open and hands only
//! to the account itself, and the public keys, which any signed-in caller
//! may fetch to invite that account. A second, different identity for the
//! same account is refused, so every device of an account ends up with
//! the same one; storing the same one again is a no-op.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use base64::Engine as _;
use cairn_core::space::identity::PublicIdentity;
use cairn_protocol::sharing_identity::is_key_hex;
use cairn_protocol::{
    ErrorCode, MySharingIdentity, PublicSharingIdentity, PutSharingIdentity, UserId,
    SEALED_IDENTITY_MAX_BYTES,
};

use crate::auth::Caller;
use crate::json_body::ApiJson;
use crate::registry::StoredIdentity;
use crate::state::AppState;
use crate::ServerError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn bad(message: &str) -> ServerError {
    ServerError::bad_request(ErrorCode::BadRequest, message)
}

fn key_bytes(hex_key: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(hex_key).ok()?;
    bytes.try_into().ok()
}

/// Checks what a device offers before it is kept for good: bounded sealed
/// bytes and two well-formed keys, the signing one usable (no small-order
/// point that many signatures would verify under).
fn checked(user: &UserId, request: &PutSharingIdentity) -> Result<StoredIdentity, ServerError> {
    let sealed = B64
        .decode(request.sealed.as_bytes())
        .map_err(|_| bad("the sealed identity is not unpadded base64url"))?;
    if sealed.is_empty() || sealed.len() > SEALED_IDENTITY_MAX_BYTES {
        return Err(bad(&format!(
            "a sealed identity is 1 to {SEALED_IDENTITY_MAX_BYTES} bytes"
        )));
    }
    if !is_key_hex(&request.wrap_key) || !is_key_hex(&request.sign_key) {
        return Err(bad("each public key is 64 lowercase hex digits"));
    }
    let public = PublicIdentity {
        account: user.clone(),
        wrap_key: key_bytes(&request.wrap_key).ok_or_else(|| bad("bad key"))?,
        sign_key: key_bytes(&request.sign_key).ok_or_else(|| bad("bad key"))?,
    };
    if !public.keys_are_valid() {
        return Err(bad("the signing key is not usable"));
    }
    Ok(StoredIdentity {
        sealed,
        wrap_key: request.wrap_key.clone(),
        sign_key: request.sign_key.clone(),
    })
}

fn mine_of(user: &UserId, stored: StoredIdentity) -> MySharingIdentity {
    MySharingIdentity {
        account: user.clone(),
        sealed: B64.encode(&stored.sealed),
        wrap_key: stored.wrap_key,
        sign_key: stored.sign_key,
    }
}

/// `GET /v1/identity`: the caller's own identity, sealed.
pub async fn mine(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MySharingIdentity>, ServerError> {
    let stored = state
        .registry
        .sharing_identity(&caller.user_id)
        .await?
        .ok_or_else(|| ServerError::NoIdentity(caller.user_id.clone()))?;
    Ok(Json(mine_of(&caller.user_id, stored)))
}

/// `PUT /v1/identity`: stores the caller's identity, once.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<PutSharingIdentity>,
) -> Result<Json<MySharingIdentity>, ServerError> {
    let offered = checked(&caller.user_id, &request)?;
    let stored = state
        .registry
        .put_sharing_identity(&caller.user_id, &offered, state.clock.now_secs())
        .await?;
    if stored {
        return Ok(Json(mine_of(&caller.user_id, offered)));
    }
    // The same keys again (a retry, or another device sealing the same
    // identity with a fresh nonce) is that identity: the first sealed
    // form stays. Other keys are another identity.
    match state.registry.sharing_identity(&caller.user_id).await? {
        Some(existing)
            if existing.wrap_key == offered.wrap_key && existing.sign_key == offered.sign_key =>
        {
            Ok(Json(mine_of(&caller.user_id, existing)))
        }
        _ => Err(ServerError::IdentityExists),
    }
}

/// `GET /v1/accounts/{account}/identity`: another account's public keys,
/// for any signed-in caller (an invitation needs them). The caller pins
/// them on first use and compares the safety number; the service could
/// swap them, which the pin and the safety number catch.
pub async fn of_account(
    State(state): State<AppState>,
    _caller: Caller,
    account: Result<Path<String>, PathRejection>,
) -> Result<Json<PublicSharingIdentity>, ServerError> {
    let Path(account) =
        account.map_err(|e| ServerError::bad_request(ErrorCode::BadRequest, e.body_text()))?;
    let account = UserId::parse(&account)?;
    let stored = state
        .registry
        .sharing_identity(&account)
        .await?
        .ok_or_else(|| ServerError::NoIdentity(account.clone()))?;
    Ok(Json(PublicSharingIdentity {
        account,
        wrap_key: stored.wrap_key,
        sign_key: stored.sign_key,
    }))
}
