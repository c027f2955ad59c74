//! Sign-in bodies: account keys, GitHub OAuth, sessions.
//!
//! Account key:
//! 1. `POST /v1/accounts` → [`AccountCreated`]; the key is shown once.
//! 2. `POST /v1/sessions` with [`SignInRequest::AccountKey`] → [`Session`].
//!
//! GitHub (authorization code with `state` and PKCE, redirect to loopback):
//! 1. The client makes its own PKCE pair and a loopback `redirect_uri`, and
//!    sends `POST /v1/auth/github/start` ([`GithubStartRequest`]). The
//!    service keeps a fresh `state` and its own PKCE verifier for GitHub,
//!    and answers with the authorize URL ([`GithubStartResponse`]).
//! 2. The browser signs in at GitHub and is redirected to the loopback
//!    `redirect_uri` with `code` and `state`.
//! 3. The client sends both to `POST /v1/auth/github/exchange`
//!    ([`GithubExchangeRequest`]). The service consumes the state (a replay
//!    is refused), trades the code plus its verifier for a GitHub token,
//!    reads the immutable account id, and returns a one-time
//!    [`GithubLoginCode`].
//! 4. The client trades that code plus its own PKCE verifier for a session
//!    (`POST /v1/sessions`, [`SignInRequest::LoginCode`]). The code is only
//!    useful together with the verifier, which never left the client.
//!
//! A client whose loopback listener answers the browser with a redirect
//! (the desktop app's does) sends it on to [`GITHUB_DONE_PATH`], a plain
//! page saying to return to the app.
//!
//! Sessions: a short-lived access token (`Authorization: Bearer`) and a
//! refresh token (`POST /v1/sessions/refresh`, rotated on every use).
//! `POST /v1/sessions/logout` revokes both.

use serde::{Deserialize, Serialize};

use crate::{DeviceId, UserId};

/// The service's "return to the app" page, relative to its root.
pub const GITHUB_DONE_PATH: &str = "v1/auth/github/done";

/// Answer to `POST /v1/accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCreated {
    pub user_id: UserId,
    /// Shown once; the service keeps only its hash.
    pub account_key: String,
}

/// Body of `POST /v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum SignInRequest {
    AccountKey {
        account_key: String,
        /// Resume as this already registered device (its own grant and
        /// notifications), instead of registering a new one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_id: Option<DeviceId>,
    },
    LoginCode {
        login_code: String,
        code_verifier: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_id: Option<DeviceId>,
    },
}

/// A signed-in session. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: UserId,
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: String,
    pub refresh_expires_at: i64,
    /// The device this session acts for, once it has registered or resumed one.
    pub device_id: Option<DeviceId>,
}

/// Body of `POST /v1/sessions/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Answer to `GET /v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
}

/// Body of `POST /v1/auth/github/start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubStartRequest {
    /// Where the browser goes after GitHub: `http://127.0.0.1:{port}/...`.
    pub redirect_uri: String,
    /// `BASE64URL(SHA256(code_verifier))` of the client's own verifier.
    pub code_challenge: String,
}

/// Answer to `POST /v1/auth/github/start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubStartResponse {
    /// Open this in the browser.
    pub authorize_url: String,
    /// Expect it back on the redirect; anything else is not ours.
    pub state: String,
}

/// Body of `POST /v1/auth/github/exchange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubExchangeRequest {
    pub code: String,
    pub state: String,
}

/// Answer to `POST /v1/auth/github/exchange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubLoginCode {
    pub login_code: String,
    pub expires_at: i64,
    /// The account's name at the provider (GitHub's `login`), for the
    /// app to show: a person knows "octocat", not a numeric id. Absent
    /// when the provider gave none (and from older services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
}
