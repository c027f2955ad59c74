//! Sessions: sign in, refresh, log out, who am I.
//!
//! Signing in takes an account key or a GitHub login code (plus the PKCE
//! verifier it was bound to) and returns an access token (short-lived) and
//! a refresh token. Both are random, 256-bit, stored as SHA-256. A refresh
//! rotates both; logging out revokes the session.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn_protocol::{DeviceId, RefreshRequest, Session, SignInRequest, UserId, UserInfo};

use crate::auth::Caller;
use crate::client_address::ClientAddress;
use crate::json_body::ApiJson;
use crate::registry::{Rotation, SessionTokens};
use crate::state::AppState;
use crate::tokens::{constant_time_eq, hash_secret, new_secret, pkce_challenge};
use crate::ServerError;

pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<(StatusCode, Json<Session>), ServerError> {
    state.sign_in_limits.address(client).await?;
    let now = state.clock.now_secs();
    let (user, device) = match request {
        SignInRequest::AccountKey {
            account_key,
            device_id,
        } => {
            if !state.config.providers.account_keys.enabled {
                return Err(ServerError::ProviderDisabled("account_keys"));
            }
            let user = state
                .registry
                .account_by_key_hash(&hash_secret(&account_key))
                .await?
                .ok_or(ServerError::InvalidAccountKey)?;
            (user, device_id)
        }
        SignInRequest::LoginCode {
            login_code,
            code_verifier,
            device_id,
        } => {
            let (user, challenge) = state
                .registry
                .take_login_code(&hash_secret(&login_code), now)
                .await?
                .ok_or(ServerError::InvalidLoginCode)?;
            state.sign_in_limits.account(&user).await?;
            if !constant_time_eq(&pkce_challenge(&code_verifier), &challenge) {
                return Err(ServerError::InvalidLoginCode);
            }
            // The login code is spent now, so a device that cannot be
            // resumed (revoked, or unknown to this user) must not fail the
            // sign-in: the session acts for no device and the client
            // registers a new one, as it does after an account-key retry.
            let device = match device_id {
                Some(d) => match check_resumable(&state, &user, &d).await {
                    Ok(()) => Some(d),
                    Err(ServerError::DeviceNotFound(_) | ServerError::DeviceRevoked(_)) => None,
                    // Anything else (the registry failing) is not "gone".
                    Err(e) => return Err(e),
                },
                None => None,
            };
            (user, device)
        }
    };
    if let Some(device) = &device {
        check_resumable(&state, &user, device).await?;
    }
    let session = new_session(&state, user, device, now).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// A session may resume only a live device of its own user.
async fn check_resumable(
    state: &AppState,
    user: &UserId,
    device: &DeviceId,
) -> Result<(), ServerError> {
    match state.registry.device_of(user, device).await? {
        None => Err(ServerError::DeviceNotFound(device.clone())),
        Some(d) if d.is_revoked() => Err(ServerError::DeviceRevoked(device.clone())),
        Some(_) => Ok(()),
    }
}

async fn new_session(
    state: &AppState,
    user: UserId,
    device: Option<DeviceId>,
    now: i64,
) -> Result<Session, ServerError> {
    let (access_token, refresh_token, mut tokens) = fresh_tokens(state, now);
    let ends_at = now.saturating_add(max_lifetime(state));
    tokens.access_expires_at = tokens.access_expires_at.min(ends_at);
    tokens.refresh_expires_at = tokens.refresh_expires_at.min(ends_at);
    state
        .registry
        .create_session(&user, device.as_ref(), &tokens, now)
        .await?;
    Ok(Session {
        user_id: user,
        access_token,
        access_expires_at: tokens.access_expires_at,
        refresh_token,
        refresh_expires_at: tokens.refresh_expires_at,
        device_id: device,
    })
}

fn fresh_tokens(state: &AppState, now: i64) -> (String, String, SessionTokens) {
    let access = new_secret("cairn_at_");
    let refresh = new_secret("cairn_rt_");
    let ttl = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX);
    let tokens = SessionTokens {
        access_hash: hash_secret(&access),
        access_expires_at: now.saturating_add(ttl(state.config.access_token_ttl_secs)),
        refresh_hash: hash_secret(&refresh),
        refresh_expires_at: now.saturating_add(ttl(state.config.refresh_token_ttl_secs)),
    };
    (access, refresh, tokens)
}

pub async fn refresh(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<Session>, ServerError> {
    let now = state.clock.now_secs();
    let (access_token, refresh_token, tokens) = fresh_tokens(&state, now);
    let rotation = state
        .registry
        .rotate_session(
            &hash_secret(&request.refresh_token),
            &tokens,
            max_lifetime(&state),
            now,
        )
        .await?;
    match rotation {
        Rotation::Rotated {
            user_id,
            device_id,
            access_expires_at,
            refresh_expires_at,
        } => Ok(Json(Session {
            user_id,
            access_token,
            access_expires_at,
            refresh_token,
            refresh_expires_at,
            device_id,
        })),
        // Only a refused refresh counts against the address: valid ones
        // are how every device behind it stays signed in.
        Rotation::Refused => {
            state.sign_in_limits.address(client).await?;
            Err(ServerError::InvalidRefreshToken)
        }
        Rotation::Reused {
            session_id,
            user_id,
        } => {
            tracing::warn!(
                session = session_id,
                user = %user_id,
                "a rotated refresh token was presented again; the session is revoked"
            );
            state.bus.end_session(&user_id, session_id).await;
            state.sign_in_limits.address(client).await?;
            Err(ServerError::InvalidRefreshToken)
        }
    }
}

/// A session's absolute lifetime, from its sign-in.
fn max_lifetime(state: &AppState) -> i64 {
    i64::try_from(state.config.session_max_lifetime_secs).unwrap_or(i64::MAX)
}

pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ServerError> {
    state
        .registry
        .revoke_session(caller.session_id, state.clock.now_secs())
        .await?;
    // After the registry, so a socket that subscribes meanwhile and then
    // re-reads the session sees one or the other.
    state
        .bus
        .end_session(&caller.user_id, caller.session_id)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(caller: Caller) -> Json<UserInfo> {
    Json(UserInfo {
        user_id: caller.user_id,
        device_id: caller.device_id,
    })
}
