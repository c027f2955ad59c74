//! `GET` / `PUT /v1/identity` and `GET /v1/accounts/{account}/identity`:
//! sharing identities (docs/sharing.md). The service keeps each account's
//! identity once: the sealed secrets, which it cannot open and hands only
//! to the account itself, and the public keys, which any signed-in caller
//! may fetch to invite that account. A second, different identity for the
//! same account is refused, so every device of an account ends up with
//! the same one; storing the same one again is a no-op.
//!
//! `POST /v1/identity/successor` replaces it, after a device was removed:
//! only with a successor statement that the current public key signed,
//! naming the current keys, the offered ones and the next generation, and
//! only if the identity is still at the generation the device read
//! (compare-and-swap: of two devices rotating at once one lands; the other
//! reads the new identity and uses it). The statements are kept and handed
//! out with the keys, so whoever pinned an earlier key can follow.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use base64::Engine as _;
use cairn_core::space::identity::PublicIdentity;
use cairn_core::space::successor::Successor;
use cairn_protocol::sharing_identity::is_key_hex;
use cairn_protocol::{
    ErrorCode, MySharingIdentity, PublicSharingIdentity, PutSharingIdentity,
    ReplaceSharingIdentity, UserId, SEALED_IDENTITY_MAX_BYTES,
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
        generation: 0,
        previous_sealed: None,
    })
}

fn public_of(user: &UserId, stored: &StoredIdentity) -> Option<PublicIdentity> {
    Some(PublicIdentity {
        account: user.clone(),
        wrap_key: key_bytes(&stored.wrap_key)?,
        sign_key: key_bytes(&stored.sign_key)?,
    })
}

fn mine_of(user: &UserId, stored: StoredIdentity, successors: &[Vec<u8>]) -> MySharingIdentity {
    MySharingIdentity {
        account: user.clone(),
        sealed: B64.encode(&stored.sealed),
        wrap_key: stored.wrap_key,
        sign_key: stored.sign_key,
        generation: stored.generation,
        previous_sealed: stored.previous_sealed.map(|p| B64.encode(p)),
        successors: successors.iter().map(|s| B64.encode(s)).collect(),
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
    let successors = state.registry.identity_successors(&caller.user_id).await?;
    Ok(Json(mine_of(&caller.user_id, stored, &successors)))
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
        return Ok(Json(mine_of(&caller.user_id, offered, &[])));
    }
    // The same keys again (a retry, or another device sealing the same
    // identity with a fresh nonce) is that identity: the first sealed
    // form stays. Other keys are another identity.
    match state.registry.sharing_identity(&caller.user_id).await? {
        Some(existing)
            if existing.wrap_key == offered.wrap_key && existing.sign_key == offered.sign_key =>
        {
            let successors = state.registry.identity_successors(&caller.user_id).await?;
            Ok(Json(mine_of(&caller.user_id, existing, &successors)))
        }
        _ => Err(ServerError::IdentityExists),
    }
}

fn refused(message: &str) -> ServerError {
    ServerError::bad_request(ErrorCode::InvalidSuccessor, message)
}

/// `POST /v1/identity/successor`: replaces the caller's identity with one
/// its current key vouched for.
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ReplaceSharingIdentity>,
) -> Result<Json<MySharingIdentity>, ServerError> {
    let user = &caller.user_id;
    let put = PutSharingIdentity {
        sealed: request.sealed.clone(),
        wrap_key: request.wrap_key.clone(),
        sign_key: request.sign_key.clone(),
    };
    let mut offered = checked(user, &put)?;
    let statement_bytes = B64
        .decode(request.successor.as_bytes())
        .map_err(|_| bad("the successor statement is not unpadded base64url"))?;
    let statement = Successor::decode(&statement_bytes)
        .map_err(|e| refused(&format!("the successor statement is not valid: {e}")))?;
    let current = state
        .registry
        .sharing_identity(user)
        .await?
        .ok_or_else(|| ServerError::NoIdentity(user.clone()))?;
    if current.generation != request.expected_generation {
        return Err(ServerError::IdentityChanged);
    }
    let held = public_of(user, &current)
        .ok_or_else(|| refused("the stored identity's keys are unreadable"))?;
    let new = public_of(user, &offered).ok_or_else(|| bad("bad key"))?;
    // The statement must be the current key's, for exactly the offered
    // keys, one generation on: a statement signed by any other key, for
    // other keys, or an older one sent again, replaces nothing.
    if statement.previous != held {
        return Err(refused(
            "the successor statement is not from the account's current sharing key",
        ));
    }
    if statement.next != new {
        return Err(refused("the successor statement names other keys"));
    }
    if statement.generation != current.generation + 1 {
        return Err(refused(
            "the successor statement is not for the next generation",
        ));
    }
    statement.verify().map_err(|e| refused(&e.to_string()))?;
    offered.generation = statement.generation;
    offered.previous_sealed = Some(current.sealed.clone());
    let landed = state
        .registry
        .replace_sharing_identity(
            user,
            current.generation,
            &offered,
            &statement_bytes,
            state.clock.now_secs(),
        )
        .await?;
    if !landed {
        return Err(ServerError::IdentityChanged);
    }
    let successors = state.registry.identity_successors(user).await?;
    Ok(Json(mine_of(user, offered, &successors)))
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
    let successors = state.registry.identity_successors(&account).await?;
    Ok(Json(PublicSharingIdentity {
        account,
        wrap_key: stored.wrap_key,
        sign_key: stored.sign_key,
        successors: successors.iter().map(|s| B64.encode(s)).collect(),
    }))
}
