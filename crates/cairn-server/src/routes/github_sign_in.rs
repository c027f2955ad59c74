//! GitHub sign-in, the service's half (see `cairn_protocol::auth` for the
//! whole walk-through).
//!
//! `start`: check the loopback redirect and the client's PKCE challenge,
//! make a `state` and our own PKCE verifier, remember them (hashed state,
//! ten minutes), answer with the authorize URL.
//!
//! `exchange`: consume the state (unknown, expired or replayed → 400), trade
//! the code at the token endpoint with our verifier and the same redirect,
//! read the immutable account id, and answer with a one-time login code
//! bound to the client's challenge. The client redeems it at
//! `POST /v1/sessions` with its verifier.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use cairn_protocol::{
    ErrorCode, GithubExchangeRequest, GithubLoginCode, GithubStartRequest, GithubStartResponse,
    UserId,
};

use crate::client_address::ClientAddress;
use crate::github::GithubProvider;
use crate::json_body::ApiJson;
use crate::registry::PendingGithubSignIn;
use crate::state::AppState;
use crate::tokens::{hash_secret, new_secret, pkce_challenge};
use crate::ServerError;

/// How long the browser may take to come back.
const STATE_TTL_SECS: i64 = 10 * 60;
/// How long the client may take to redeem its login code.
const LOGIN_CODE_TTL_SECS: i64 = 2 * 60;

fn provider(state: &AppState) -> Result<&Arc<GithubProvider>, ServerError> {
    state
        .github
        .as_ref()
        .ok_or(ServerError::ProviderDisabled("github"))
}

pub async fn start(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(request): ApiJson<GithubStartRequest>,
) -> Result<Json<GithubStartResponse>, ServerError> {
    let github = provider(&state)?;
    state.sign_in_limits.address(client).await?;
    check_loopback_redirect(&request.redirect_uri)?;
    check_challenge(&request.code_challenge)?;

    let oauth_state = new_secret("");
    let pkce_verifier = new_secret("");
    let authorize_url = github.authorize_url(
        &oauth_state,
        &pkce_challenge(&pkce_verifier),
        &request.redirect_uri,
    )?;
    state
        .registry
        .put_oauth_state(
            &hash_secret(&oauth_state),
            &PendingGithubSignIn {
                pkce_verifier,
                redirect_uri: request.redirect_uri,
                client_challenge: request.code_challenge,
            },
            state.clock.now_secs() + STATE_TTL_SECS,
        )
        .await?;
    Ok(Json(GithubStartResponse {
        authorize_url,
        state: oauth_state,
    }))
}

pub async fn exchange(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(request): ApiJson<GithubExchangeRequest>,
) -> Result<Json<GithubLoginCode>, ServerError> {
    let github = provider(&state)?;
    state.sign_in_limits.address(client).await?;
    let pending = state
        .registry
        .take_oauth_state(&hash_secret(&request.state), state.clock.now_secs())
        .await?
        .ok_or(ServerError::InvalidOauthState)?;
    let token = github
        .exchange_code(&request.code, &pending.pkce_verifier, &pending.redirect_uri)
        .await?;
    let account = github.account(&token).await?;
    let user = UserId::new("github", &account.id)
        .map_err(|e| ServerError::OauthProvider(format!("unusable account id: {e}")))?;

    let now = state.clock.now_secs();
    state.registry.ensure_provider_account(&user, now).await?;
    let login_code = new_secret("cairn_lc_");
    let expires_at = now + LOGIN_CODE_TTL_SECS;
    state
        .registry
        .put_login_code(
            &hash_secret(&login_code),
            &user,
            &pending.client_challenge,
            expires_at,
        )
        .await?;
    tracing::info!(user = %user, "github sign-in");
    Ok(Json(GithubLoginCode {
        login_code,
        expires_at,
        account_name: account.name,
    }))
}

/// The redirect must come back to this machine: `http://127.0.0.1`,
/// `http://[::1]` or `http://localhost`, any port.
fn check_loopback_redirect(redirect_uri: &str) -> Result<(), ServerError> {
    let bad = || {
        ServerError::bad_request(
            ErrorCode::BadRequest,
            "redirect_uri must be an http loopback URL",
        )
    };
    let url = url::Url::parse(redirect_uri).map_err(|_| bad())?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if url.scheme() == "http" && loopback && url.username().is_empty() && url.fragment().is_none() {
        Ok(())
    } else {
        Err(bad())
    }
}

/// An S256 challenge is 43 base64url characters.
fn check_challenge(challenge: &str) -> Result<(), ServerError> {
    let ok = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ServerError::bad_request(
            ErrorCode::BadRequest,
            "code_challenge must be a base64url SHA-256 (43 characters)",
        ))
    }
}

/// Where the app's loopback listener sends the browser once it has caught
/// the redirect, so the tab ends on a page that says what happens next
/// instead of an empty loopback answer. It shows nothing of the sign-in.
pub async fn done() -> axum::response::Html<&'static str> {
    axum::response::Html(
        "<!doctype html><meta charset=utf-8><title>Cairn</title>\
         <p>GitHub has answered. Return to Cairn to finish signing in; you can close this tab.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects() {
        assert!(check_loopback_redirect("http://127.0.0.1:4567/callback").is_ok());
        assert!(check_loopback_redirect("http://localhost:1/").is_ok());
        assert!(check_loopback_redirect("http://[::1]:80/cb").is_ok());
        for bad in [
            "https://evil.example/cb",
            "http://127.0.0.1.evil.example/",
            "http://user@127.0.0.1/",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(check_loopback_redirect(bad).is_err(), "{bad}");
        }
    }
}
