//! HTTP calls to the service, one method per endpoint. Access tokens are
//! passed explicitly: the caller owns the session (and its storage).

use std::time::Duration;

use cairn_protocol::{
    AccountCreated, ApiError, Device, DeviceId, DeviceName, GithubExchangeRequest, GithubLoginCode,
    GithubStartRequest, GithubStartResponse, Grant, Platform, PublishedRequest, RefreshRequest,
    RegisterDeviceRequest, RenameDeviceRequest, Session, SignInRequest, UserInfo,
};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::events::EventSubscription;
use crate::loopback_redirect::LoopbackRedirect;
use crate::pkce::PkcePair;
use crate::ClientError;

/// A client for one service.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    base: url::Url,
    http: reqwest::Client,
}

impl ServiceClient {
    /// `base_url` is the service root, e.g. `https://sync.example.com` or
    /// `http://127.0.0.1:8080`.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        crate::tls::install_crypto_provider();
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: base_url.to_owned(),
            reason,
        };
        let mut base = url::Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("scheme must be http or https".to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ClientError::Http {
                url: base_url.to_owned(),
                source: e,
            })?;
        Ok(ServiceClient { base, http })
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    pub(crate) fn url(&self, path: &str) -> Result<url::Url, ClientError> {
        self.base.join(path).map_err(|e| ClientError::InvalidUrl {
            url: path.to_owned(),
            reason: e.to_string(),
        })
    }

    // --- accounts and sessions ---

    /// Creates an account-key account. Show the key to the user once.
    pub async fn create_account(&self) -> Result<AccountCreated, ClientError> {
        self.call(Method::POST, "v1/accounts", None, None::<&()>)
            .await
    }

    pub async fn sign_in_with_account_key(
        &self,
        account_key: &str,
        device_id: Option<&DeviceId>,
    ) -> Result<Session, ClientError> {
        let body = SignInRequest::AccountKey {
            account_key: account_key.to_owned(),
            device_id: device_id.cloned(),
        };
        self.call(Method::POST, "v1/sessions", None, Some(&body))
            .await
    }

    /// Redeems a GitHub login code with the PKCE verifier it is bound to.
    pub async fn sign_in_with_login_code(
        &self,
        login_code: &str,
        code_verifier: &str,
        device_id: Option<&DeviceId>,
    ) -> Result<Session, ClientError> {
        let body = SignInRequest::LoginCode {
            login_code: login_code.to_owned(),
            code_verifier: code_verifier.to_owned(),
            device_id: device_id.cloned(),
        };
        self.call(Method::POST, "v1/sessions", None, Some(&body))
            .await
    }

    pub async fn github_start(
        &self,
        redirect_uri: &str,
        code_challenge: &str,
    ) -> Result<GithubStartResponse, ClientError> {
        let body = GithubStartRequest {
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: code_challenge.to_owned(),
        };
        self.call(Method::POST, "v1/auth/github/start", None, Some(&body))
            .await
    }

    pub async fn github_exchange(
        &self,
        code: &str,
        state: &str,
    ) -> Result<GithubLoginCode, ClientError> {
        let body = GithubExchangeRequest {
            code: code.to_owned(),
            state: state.to_owned(),
        };
        self.call(Method::POST, "v1/auth/github/exchange", None, Some(&body))
            .await
    }

    /// The whole GitHub sign-in (see `cairn_protocol::auth`): listen on a
    /// loopback port, ask the service for the authorize URL, hand it to
    /// `open_browser`, wait (up to `timeout`) for the redirect, check its
    /// state, trade the code for a login code and that for a session.
    pub async fn sign_in_with_github(
        &self,
        device_id: Option<&DeviceId>,
        timeout: Duration,
        open_browser: impl FnOnce(&str) -> Result<(), ClientError>,
    ) -> Result<Session, ClientError> {
        let redirect = LoopbackRedirect::bind().await?;
        let pkce = PkcePair::generate();
        let started = self
            .github_start(redirect.redirect_uri(), &pkce.challenge)
            .await?;
        open_browser(&started.authorize_url)?;
        let code = redirect.wait_for_code(&started.state, timeout).await?;
        let login = self.github_exchange(&code, &started.state).await?;
        self.sign_in_with_login_code(&login.login_code, &pkce.verifier, device_id)
            .await
    }

    /// Rotates the session's tokens; the old refresh token stops working.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, ClientError> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        self.call(Method::POST, "v1/sessions/refresh", None, Some(&body))
            .await
    }

    /// Revokes the session.
    pub async fn logout(&self, access_token: &str) -> Result<(), ClientError> {
        self.call_no_content(
            Method::POST,
            "v1/sessions/logout",
            access_token,
            None::<&()>,
        )
        .await
    }

    pub async fn me(&self, access_token: &str) -> Result<UserInfo, ClientError> {
        self.call(Method::GET, "v1/me", Some(access_token), None::<&()>)
            .await
    }

    // --- devices ---

    /// Registers this machine; the session then acts for the new device.
    pub async fn register_device(
        &self,
        access_token: &str,
        name: &DeviceName,
        platform: &Platform,
    ) -> Result<Device, ClientError> {
        let body = RegisterDeviceRequest {
            name: name.clone(),
            platform: platform.clone(),
        };
        self.call(Method::POST, "v1/devices", Some(access_token), Some(&body))
            .await
    }

    pub async fn devices(&self, access_token: &str) -> Result<Vec<Device>, ClientError> {
        self.call(Method::GET, "v1/devices", Some(access_token), None::<&()>)
            .await
    }

    pub async fn rename_device(
        &self,
        access_token: &str,
        id: &DeviceId,
        name: &DeviceName,
    ) -> Result<Device, ClientError> {
        let body = RenameDeviceRequest { name: name.clone() };
        self.call(
            Method::PATCH,
            &format!("v1/devices/{id}"),
            Some(access_token),
            Some(&body),
        )
        .await
    }

    pub async fn revoke_device(
        &self,
        access_token: &str,
        id: &DeviceId,
    ) -> Result<(), ClientError> {
        self.call_no_content(
            Method::DELETE,
            &format!("v1/devices/{id}"),
            access_token,
            None::<&()>,
        )
        .await
    }

    /// Presigned URLs for this device's keys and its peers'.
    pub async fn grant(&self, access_token: &str, id: &DeviceId) -> Result<Grant, ClientError> {
        self.call(
            Method::POST,
            &format!("v1/devices/{id}/grant"),
            Some(access_token),
            None::<&()>,
        )
        .await
    }

    /// Tells the user's other devices that this one committed head `seq`.
    pub async fn report_published(
        &self,
        access_token: &str,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), ClientError> {
        self.call_no_content(
            Method::POST,
            &format!("v1/devices/{id}/published"),
            access_token,
            Some(&PublishedRequest { seq }),
        )
        .await
    }

    /// The account's wrapped content key, if end-to-end encryption has
    /// been set up (by any device).
    pub async fn key_envelope(
        &self,
        access_token: &str,
    ) -> Result<Option<cairn_protocol::KeyEnvelopeRecord>, ClientError> {
        match self
            .call(
                Method::GET,
                "v1/key-envelope",
                Some(access_token),
                None::<&()>,
            )
            .await
        {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores a new wrapped content key (compare-and-swap on generation).
    pub async fn put_key_envelope(
        &self,
        access_token: &str,
        request: &cairn_protocol::PutKeyEnvelope,
    ) -> Result<cairn_protocol::KeyEnvelopeRecord, ClientError> {
        self.call(
            Method::PUT,
            "v1/key-envelope",
            Some(access_token),
            Some(request),
        )
        .await
    }

    /// Live notifications, reconnecting with backoff. `access_token` is
    /// asked for on every (re)connect, so it can hand out refreshed tokens.
    pub fn subscribe_events(
        &self,
        access_token: impl Fn() -> String + Send + Sync + 'static,
    ) -> Result<EventSubscription, ClientError> {
        EventSubscription::spawn(self.url("v1/events")?, access_token)
    }

    // --- plumbing ---

    fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> Result<(String, RequestBuilder), ClientError> {
        let url = self.url(path)?;
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Ok((url.to_string(), request))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&impl Serialize>,
    ) -> Result<(String, Response), ClientError> {
        let (url, mut request) = self.request(method, path, token)?;
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| ClientError::Http {
            url: url.clone(),
            source: e,
        })?;
        if response.status().is_success() {
            return Ok((url, response));
        }
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<ApiError>(&text) {
            Ok(error) => Err(ClientError::Api { status, error }),
            Err(_) => Err(ClientError::UnexpectedResponse {
                url,
                message: format!(
                    "status {status}: {}",
                    text.chars().take(200).collect::<String>()
                ),
            }),
        }
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let (url, response) = self.send(method, path, token, body).await?;
        response
            .json()
            .await
            .map_err(|e| ClientError::UnexpectedResponse {
                url,
                message: e.to_string(),
            })
    }

    pub(crate) async fn call_no_content(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&impl Serialize>,
    ) -> Result<(), ClientError> {
        self.send(method, path, Some(token), body).await.map(|_| ())
    }
}
