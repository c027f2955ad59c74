//! The service's side of GitHub OAuth: building the authorize URL, trading
//! a code for a token (with our PKCE verifier), and reading the account's
//! immutable numeric id. The endpoints come from the config, so tests point
//! them at an OAuth server on loopback.

use serde::Deserialize;

use crate::config::GithubConfig;
use crate::ServerError;

pub struct GithubProvider {
    config: GithubConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl GithubProvider {
    pub fn new(config: GithubConfig) -> Result<GithubProvider, ServerError> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("cairn-server/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(15))
            // A provider has no reason to redirect its API calls.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ServerError::Config(format!("http client: {e}")))?;
        Ok(GithubProvider { config, http })
    }

    /// Where to send the browser.
    pub fn authorize_url(
        &self,
        state: &str,
        code_challenge: &str,
        redirect_uri: &str,
    ) -> Result<String, ServerError> {
        let mut url = url::Url::parse(&self.config.authorize_url)
            .map_err(|e| ServerError::Config(format!("github authorize_url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("scope", &self.config.scope);
        Ok(url.into())
    }

    /// Trades an authorization code for a provider access token.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        redirect_uri: &str,
    ) -> Result<String, ServerError> {
        let response = self
            .http
            .post(&self.config.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", self.config.client_id.as_str()),
                ("code_verifier", pkce_verifier),
            ])
            .send()
            .await
            .map_err(|e| ServerError::OauthProvider(format!("token endpoint: {e}")))?;
        let status = response.status();
        let body: TokenResponse = response.json().await.map_err(|e| {
            ServerError::OauthProvider(format!("token endpoint answered {status}: {e}"))
        })?;
        match (body.access_token, body.error) {
            (Some(token), None) if status.is_success() => Ok(token),
            (_, error) => Err(ServerError::OauthProvider(format!(
                "token endpoint refused the code ({status}): {} {}",
                error.unwrap_or_default(),
                body.error_description.unwrap_or_default()
            ))),
        }
    }

    /// The account's immutable id: GitHub's numeric `id` (never the login,
    /// which users can change). Plain OAuth2/OIDC servers answer `sub`.
    /// With it, the name to show, if the provider gives one (`login`, or
    /// OIDC's `preferred_username`); it identifies nothing.
    pub async fn account(&self, provider_token: &str) -> Result<ProviderAccount, ServerError> {
        let response = self
            .http
            .get(&self.config.user_url)
            .bearer_auth(provider_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| ServerError::OauthProvider(format!("user endpoint: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ServerError::OauthProvider(format!(
                "user endpoint answered {status}"
            )));
        }
        let user: serde_json::Value = response
            .json()
            .await
            .map_err(|e| ServerError::OauthProvider(format!("user endpoint: {e}")))?;
        let id = match user.get("id").or_else(|| user.get("sub")) {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => {
                return Err(ServerError::OauthProvider(
                    "user endpoint gave no account id".to_owned(),
                ))
            }
        };
        let name = ["login", "preferred_username"]
            .iter()
            .find_map(|k| user.get(*k).and_then(|v| v.as_str()))
            .map(str::trim)
            .filter(|n| {
                !n.is_empty() && n.len() <= MAX_ACCOUNT_NAME && !n.chars().any(char::is_control)
            })
            .map(str::to_owned);
        Ok(ProviderAccount { id, name })
    }
}

/// The longest provider name passed on (GitHub's logins are at most 39).
const MAX_ACCOUNT_NAME: usize = 100;

/// Who signed in at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAccount {
    /// Immutable: what the Cairn account is keyed by.
    pub id: String,
    /// For display only.
    pub name: Option<String>,
}
