//! Service configuration: a TOML file, then `CAIRN_*` environment variables
//! on top (so secrets need not live in the file), then validation, which
//! names any required setting still missing and the variable that sets it.
//! `cairn-server.example.toml` lists every setting with its variable.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! public_url = "https://sync.example.com"
//! registry_path = "/var/lib/cairn/registry.sqlite3"
//! # or, for several instances on one database:
//! # registry_url = "postgres://cairn@db.internal/cairn"
//! grant_lifetime_secs = 604800        # at most 7 days (the SigV4 limit)
//!
//! [s3]
//! endpoint = "https://<account>.r2.cloudflarestorage.com"
//! region = "auto"
//! bucket = "cairn"
//! path_style = true
//! access_key_id = "..."              # or CAIRN_S3_ACCESS_KEY_ID
//! secret_access_key = "..."          # or CAIRN_S3_SECRET_ACCESS_KEY
//!
//! [providers.account_keys]
//! enabled = true
//!
//! [providers.github]
//! client_id = "..."                  # or CAIRN_GITHUB_CLIENT_ID
//! client_secret = "..."              # or CAIRN_GITHUB_CLIENT_SECRET
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ServerError;

/// SigV4 presigned URLs cannot live longer than this.
pub const MAX_GRANT_LIFETIME_SECS: u64 = 7 * 24 * 60 * 60;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// How clients reach the service; defaults to `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The SQLite registry, when `registry_url` is not set.
    #[serde(default = "default_registry_path")]
    pub registry_path: PathBuf,
    /// A PostgreSQL registry (`postgres://user:password@host/db`), which
    /// several instances can share; replaces `registry_path`.
    #[serde(default)]
    pub registry_url: Option<String>,
    /// Connections each instance keeps to the PostgreSQL registry; by
    /// default twice the cores. Queries are short, so more connections
    /// than the database has cores mostly wait on each other.
    #[serde(default)]
    pub registry_pool_size: Option<u32>,
    /// How long presigned URLs stay valid. Never more than 7 days.
    #[serde(default = "default_grant_lifetime")]
    pub grant_lifetime_secs: u64,
    /// Grants issued within the same window share their issue time, so
    /// their URLs can be presigned once and reused (presigning ~400 URLs per
    /// grant is the service's main cost). Capped at a tenth of the lifetime.
    #[serde(default = "default_grant_reuse")]
    pub grant_reuse_secs: u64,
    #[serde(default = "default_access_ttl")]
    pub access_token_ttl_secs: u64,
    #[serde(default = "default_refresh_ttl")]
    pub refresh_token_ttl_secs: u64,
    /// How long a session lasts from its sign-in, however often it is
    /// refreshed; then the user signs in again. Bounds what a stolen
    /// refresh token that is kept fresh can do.
    #[serde(default = "default_session_max_lifetime")]
    pub session_max_lifetime_secs: u64,
    /// Largest accepted request body.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Reuse grants, and their presigned URLs, within the reuse window
    /// (see `grant_reuse_secs`). Off, every grant is presigned afresh: only
    /// for measuring what presigning costs.
    #[serde(default = "default_cache_grants")]
    pub cache_grants: bool,
    /// Reverse proxies in front of the service (addresses or networks).
    /// Only a request that arrives from one of them has its client address
    /// read from `X-Forwarded-For`; from anywhere else the header is
    /// ignored, since a client could write anything there.
    #[serde(default, deserialize_with = "networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub s3: S3Config,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub providers: ProvidersConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub bucket: String,
    #[serde(default)]
    pub path_style: bool,
    /// The credentials may come from the environment instead; empty means
    /// not set, which validation refuses.
    #[serde(default)]
    pub access_key_id: String,
    #[serde(default)]
    pub secret_access_key: String,
}

/// A token bucket per client address on the sign-in endpoints.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Attempts allowed at once.
    pub sign_in_burst: u32,
    /// Attempts regained per minute.
    pub sign_in_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            sign_in_burst: 20,
            sign_in_per_minute: 20,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersConfig {
    #[serde(default)]
    pub account_keys: AccountKeysConfig,
    #[serde(default)]
    pub github: Option<GithubConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountKeysConfig {
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// Either may come from the environment instead; empty means not set,
    /// which validation refuses.
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(default = "default_github_authorize")]
    pub authorize_url: String,
    #[serde(default = "default_github_token")]
    pub token_url: String,
    #[serde(default = "default_github_user")]
    pub user_url: String,
    /// Scopes to ask for; reading the account id needs none.
    #[serde(default)]
    pub scope: String,
}

impl GithubConfig {
    /// GitHub's real endpoints, with the given app credentials.
    pub fn github_com(client_id: String, client_secret: String) -> Self {
        GithubConfig {
            client_id,
            client_secret,
            authorize_url: default_github_authorize(),
            token_url: default_github_token(),
            user_url: default_github_user(),
            scope: String::new(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_registry_path() -> PathBuf {
    PathBuf::from("cairn-registry.sqlite3")
}
fn default_grant_lifetime() -> u64 {
    MAX_GRANT_LIFETIME_SECS
}
fn default_grant_reuse() -> u64 {
    300
}
fn default_access_ttl() -> u64 {
    15 * 60
}
fn default_refresh_ttl() -> u64 {
    30 * 24 * 60 * 60
}
fn default_session_max_lifetime() -> u64 {
    90 * 24 * 60 * 60
}
fn default_max_body() -> usize {
    64 * 1024
}
fn default_cache_grants() -> bool {
    true
}
fn default_region() -> String {
    "us-east-1".to_owned()
}
fn default_github_authorize() -> String {
    "https://github.com/login/oauth/authorize".to_owned()
}
fn default_github_token() -> String {
    "https://github.com/login/oauth/access_token".to_owned()
}
fn default_github_user() -> String {
    "https://api.github.com/user".to_owned()
}

impl Config {
    /// Reads a TOML file, applies the process environment, validates.
    pub fn load(path: &Path) -> Result<Config, ServerError> {
        Config::load_with_env(path, std::env::vars())
    }

    /// [`Config::load`] with the environment given as a list.
    pub fn load_with_env(
        path: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::io(path, e))?;
        let mut config = Config::from_toml(&text)?;
        config.apply_env(vars)?;
        config.validate()?;
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Config, ServerError> {
        toml::from_str(text).map_err(|e| ServerError::Config(e.to_string()))
    }

    /// A config for the embedded dev setup; the caller fills in the store.
    pub fn dev(registry_path: PathBuf, listen: SocketAddr, s3: S3Config) -> Config {
        Config {
            listen,
            public_url: None,
            registry_path,
            registry_url: None,
            registry_pool_size: None,
            grant_lifetime_secs: default_grant_lifetime(),
            grant_reuse_secs: default_grant_reuse(),
            access_token_ttl_secs: default_access_ttl(),
            refresh_token_ttl_secs: default_refresh_ttl(),
            session_max_lifetime_secs: default_session_max_lifetime(),
            max_body_bytes: default_max_body(),
            cache_grants: default_cache_grants(),
            trusted_proxies: Vec::new(),
            s3,
            rate_limit: RateLimitConfig::default(),
            providers: ProvidersConfig {
                account_keys: AccountKeysConfig { enabled: true },
                github: None,
            },
        }
    }

    /// Applies `CAIRN_*` overrides from `vars` (the environment, or a list
    /// in tests).
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ServerError> {
        for (name, value) in vars {
            let Some(name) = name.strip_prefix("CAIRN_") else {
                continue;
            };
            match name {
                "LISTEN" => self.listen = parse(name, &value)?,
                "PUBLIC_URL" => self.public_url = Some(value),
                "REGISTRY_PATH" => self.registry_path = PathBuf::from(value),
                "REGISTRY_URL" => self.registry_url = Some(value).filter(|v| !v.is_empty()),
                "REGISTRY_POOL_SIZE" => self.registry_pool_size = Some(parse(name, &value)?),
                "GRANT_LIFETIME_SECS" => self.grant_lifetime_secs = parse(name, &value)?,
                "GRANT_REUSE_SECS" => self.grant_reuse_secs = parse(name, &value)?,
                "ACCESS_TOKEN_TTL_SECS" => self.access_token_ttl_secs = parse(name, &value)?,
                "REFRESH_TOKEN_TTL_SECS" => self.refresh_token_ttl_secs = parse(name, &value)?,
                "SESSION_MAX_LIFETIME_SECS" => {
                    self.session_max_lifetime_secs = parse(name, &value)?
                }
                "MAX_BODY_BYTES" => self.max_body_bytes = parse(name, &value)?,
                "CACHE_GRANTS" => self.cache_grants = parse(name, &value)?,
                "TRUSTED_PROXIES" => {
                    self.trusted_proxies = value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| parse_network(name, v))
                        .collect::<Result<_, _>>()?;
                }
                "S3_ENDPOINT" => self.s3.endpoint = value,
                "S3_REGION" => self.s3.region = value,
                "S3_BUCKET" => self.s3.bucket = value,
                "S3_PATH_STYLE" => self.s3.path_style = parse(name, &value)?,
                "S3_ACCESS_KEY_ID" => self.s3.access_key_id = value,
                "S3_SECRET_ACCESS_KEY" => self.s3.secret_access_key = value,
                "SIGN_IN_BURST" => self.rate_limit.sign_in_burst = parse(name, &value)?,
                "SIGN_IN_PER_MINUTE" => self.rate_limit.sign_in_per_minute = parse(name, &value)?,
                "ACCOUNT_KEYS_ENABLED" => {
                    self.providers.account_keys.enabled = parse(name, &value)?
                }
                "GITHUB_CLIENT_ID" => self.github_mut().client_id = value,
                "GITHUB_CLIENT_SECRET" => self.github_mut().client_secret = value,
                "GITHUB_AUTHORIZE_URL" => self.github_mut().authorize_url = value,
                "GITHUB_TOKEN_URL" => self.github_mut().token_url = value,
                "GITHUB_USER_URL" => self.github_mut().user_url = value,
                // Other CAIRN_ variables belong to other programs (the app).
                _ => {}
            }
        }
        Ok(())
    }

    fn github_mut(&mut self) -> &mut GithubConfig {
        self.providers
            .github
            .get_or_insert_with(|| GithubConfig::github_com(String::new(), String::new()))
    }

    /// Refuses settings the service cannot honour.
    pub fn validate(&self) -> Result<(), ServerError> {
        let fail = |m: String| Err(ServerError::Config(m));
        if self.grant_lifetime_secs == 0 || self.grant_lifetime_secs > MAX_GRANT_LIFETIME_SECS {
            return fail(format!(
                "grant_lifetime_secs must be 1..={MAX_GRANT_LIFETIME_SECS}, got {}",
                self.grant_lifetime_secs
            ));
        }
        if self.access_token_ttl_secs == 0
            || self.refresh_token_ttl_secs == 0
            || self.session_max_lifetime_secs == 0
        {
            return fail("token lifetimes must be positive".to_owned());
        }
        if self.max_body_bytes < 1024 {
            return fail("max_body_bytes must be at least 1024".to_owned());
        }
        if self.rate_limit.sign_in_burst == 0 {
            return fail("rate_limit.sign_in_burst must be positive".to_owned());
        }
        if self.registry_pool_size == Some(0) {
            return fail("registry_pool_size must be positive".to_owned());
        }
        if let Some(registry) = &self.registry_url {
            // Not the URL itself in the message: it may hold a password.
            let scheme = registry.split_once("://").map(|(s, _)| s);
            if !matches!(scheme, Some("postgres" | "postgresql")) {
                return fail(
                    "registry_url must be a postgres:// URL (leave it out for SQLite at registry_path)"
                        .to_owned(),
                );
            }
        }
        if let Err(e) = url::Url::parse(&self.s3.endpoint) {
            return fail(format!("s3.endpoint {:?}: {e}", self.s3.endpoint));
        }
        let missing = |setting, env| Err(ServerError::MissingSetting { setting, env });
        if self.s3.bucket.is_empty() {
            return missing("s3.bucket", "CAIRN_S3_BUCKET");
        }
        if self.s3.access_key_id.is_empty() {
            return missing("s3.access_key_id", "CAIRN_S3_ACCESS_KEY_ID");
        }
        if self.s3.secret_access_key.is_empty() {
            return missing("s3.secret_access_key", "CAIRN_S3_SECRET_ACCESS_KEY");
        }
        if let Some(gh) = &self.providers.github {
            if gh.client_id.is_empty() {
                return missing("providers.github.client_id", "CAIRN_GITHUB_CLIENT_ID");
            }
            if gh.client_secret.is_empty() {
                return missing(
                    "providers.github.client_secret",
                    "CAIRN_GITHUB_CLIENT_SECRET",
                );
            }
            for u in [&gh.authorize_url, &gh.token_url, &gh.user_url] {
                if let Err(e) = url::Url::parse(u) {
                    return fail(format!("providers.github url {u:?}: {e}"));
                }
            }
        }
        Ok(())
    }

    /// How many connections to keep to a PostgreSQL registry.
    pub fn effective_registry_pool_size(&self) -> u32 {
        self.registry_pool_size.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            u32::try_from(cores * 2).unwrap_or(u32::MAX)
        })
    }

    /// The window within which grants share an issue time (see
    /// `grant_reuse_secs`), at least 1 s and at most a tenth of the lifetime.
    pub fn effective_grant_reuse_secs(&self) -> u64 {
        self.grant_reuse_secs
            .min(self.grant_lifetime_secs / 10)
            .max(1)
    }
}

/// An address (`192.0.2.7`, `::1`) or a network (`10.0.0.0/8`).
fn network(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or network"))
}

fn parse_network(name: &str, value: &str) -> Result<ipnet::IpNet, ServerError> {
    network(value).map_err(|e| ServerError::Config(format!("CAIRN_{name}: {e}")))
}

fn networks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let texts: Vec<String> = serde::Deserialize::deserialize(d)?;
    texts
        .iter()
        .map(|t| network(t).map_err(serde::de::Error::custom))
        .collect()
}

fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ServerError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| ServerError::Config(format!("CAIRN_{name}={value:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [s3]
        endpoint = "http://127.0.0.1:9000"
        bucket = "cairn"
        access_key_id = "ak"
        secret_access_key = "sk"
    "#;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A value for every override `apply_env` knows, none of them a default.
    const EVERY_OVERRIDE: &[(&str, &str)] = &[
        ("CAIRN_LISTEN", "0.0.0.0:9999"),
        ("CAIRN_PUBLIC_URL", "https://sync.example.org"),
        ("CAIRN_REGISTRY_PATH", "/srv/cairn/registry.sqlite3"),
        ("CAIRN_REGISTRY_URL", "postgres://cairn@db.internal/cairn"),
        ("CAIRN_REGISTRY_POOL_SIZE", "12"),
        ("CAIRN_GRANT_LIFETIME_SECS", "3600"),
        ("CAIRN_GRANT_REUSE_SECS", "60"),
        ("CAIRN_ACCESS_TOKEN_TTL_SECS", "120"),
        ("CAIRN_REFRESH_TOKEN_TTL_SECS", "7200"),
        ("CAIRN_SESSION_MAX_LIFETIME_SECS", "86400"),
        ("CAIRN_MAX_BODY_BYTES", "2048"),
        ("CAIRN_CACHE_GRANTS", "false"),
        ("CAIRN_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
        ("CAIRN_S3_ENDPOINT", "https://s3.example.org"),
        ("CAIRN_S3_REGION", "eu-west-3"),
        ("CAIRN_S3_BUCKET", "notes"),
        ("CAIRN_S3_PATH_STYLE", "true"),
        ("CAIRN_S3_ACCESS_KEY_ID", "env-ak"),
        ("CAIRN_S3_SECRET_ACCESS_KEY", "env-sk"),
        ("CAIRN_SIGN_IN_BURST", "7"),
        ("CAIRN_SIGN_IN_PER_MINUTE", "3"),
        ("CAIRN_ACCOUNT_KEYS_ENABLED", "true"),
        ("CAIRN_GITHUB_CLIENT_ID", "env-id"),
        ("CAIRN_GITHUB_CLIENT_SECRET", "env-secret"),
        ("CAIRN_GITHUB_AUTHORIZE_URL", "http://127.0.0.1:1/authorize"),
        ("CAIRN_GITHUB_TOKEN_URL", "http://127.0.0.1:1/token"),
        ("CAIRN_GITHUB_USER_URL", "http://127.0.0.1:1/user"),
    ];

    #[test]
    fn every_env_override_is_applied() {
        let mut c = Config::from_toml(MINIMAL).expect("parse");
        assert_eq!(c.grant_lifetime_secs, MAX_GRANT_LIFETIME_SECS);
        assert!(!c.providers.account_keys.enabled && c.providers.github.is_none());
        let mut env = vars(EVERY_OVERRIDE);
        // Variables of other programs are left alone.
        env.extend(vars(&[("HOME", "/x"), ("CAIRN_DATA_DIR", "/y")]));
        c.apply_env(env).expect("env");
        c.validate().expect("valid");

        assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], 9999)));
        assert_eq!(c.public_url.as_deref(), Some("https://sync.example.org"));
        assert_eq!(c.registry_path, Path::new("/srv/cairn/registry.sqlite3"));
        assert_eq!(
            c.registry_url.as_deref(),
            Some("postgres://cairn@db.internal/cairn")
        );
        assert_eq!(c.effective_registry_pool_size(), 12);
        assert_eq!(c.grant_lifetime_secs, 3600);
        assert_eq!(c.grant_reuse_secs, 60);
        assert_eq!(c.effective_grant_reuse_secs(), 60);
        assert_eq!(c.access_token_ttl_secs, 120);
        assert_eq!(c.refresh_token_ttl_secs, 7200);
        assert_eq!(c.session_max_lifetime_secs, 86400);
        assert_eq!(c.max_body_bytes, 2048);
        assert!(!c.cache_grants);
        let proxies: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.0.2.7/32"]);
        let s3 = &c.s3;
        assert_eq!(s3.endpoint, "https://s3.example.org");
        assert_eq!(s3.region, "eu-west-3");
        assert_eq!(s3.bucket, "notes");
        assert!(s3.path_style);
        assert_eq!(s3.access_key_id, "env-ak");
        assert_eq!(s3.secret_access_key, "env-sk");
        assert_eq!(c.rate_limit.sign_in_burst, 7);
        assert_eq!(c.rate_limit.sign_in_per_minute, 3);
        assert!(c.providers.account_keys.enabled);
        let gh = c.providers.github.as_ref().expect("github from env alone");
        assert_eq!(gh.client_id, "env-id");
        assert_eq!(gh.client_secret, "env-secret");
        assert_eq!(gh.authorize_url, "http://127.0.0.1:1/authorize");
        assert_eq!(gh.token_url, "http://127.0.0.1:1/token");
        assert_eq!(gh.user_url, "http://127.0.0.1:1/user");
    }

    /// Names the `"NAME" =>` arms of `apply_env` match, read from this file.
    fn handled_overrides() -> std::collections::BTreeSet<String> {
        let source = include_str!("config.rs");
        let body = source
            .split("fn apply_env(")
            .nth(1)
            .and_then(|rest| rest.split("fn github_mut(").next())
            .expect("apply_env in config.rs");
        body.lines()
            .filter_map(|line| {
                let name = line.trim().strip_prefix('"')?.split('"').next()?;
                line.contains("=>").then(|| format!("CAIRN_{name}"))
            })
            .collect()
    }

    #[test]
    fn the_override_test_and_the_example_cover_every_variable() {
        let handled = handled_overrides();
        assert!(handled.len() > 20, "{handled:?}");
        let tested: std::collections::BTreeSet<String> = EVERY_OVERRIDE
            .iter()
            .map(|(k, _)| (*k).to_owned())
            .collect();
        assert_eq!(tested, handled, "EVERY_OVERRIDE vs apply_env");
        let example = include_str!("../cairn-server.example.toml");
        let documented: std::collections::BTreeSet<String> = example
            .split('[')
            .filter_map(|part| part.split(']').next())
            .filter(|name| name.starts_with("CAIRN_"))
            .map(str::to_owned)
            .collect();
        assert_eq!(documented, handled, "example config vs apply_env");
    }

    #[test]
    fn secrets_may_come_from_the_environment_alone() {
        let file = r#"
            [s3]
            endpoint = "http://127.0.0.1:9000"
            bucket = "cairn"

            [providers.github]
            client_id = "id"
        "#;
        let mut c = Config::from_toml(file).expect("secrets are optional in the file");
        c.apply_env(vars(&[
            ("CAIRN_S3_ACCESS_KEY_ID", "ak"),
            ("CAIRN_S3_SECRET_ACCESS_KEY", "sk"),
            ("CAIRN_GITHUB_CLIENT_SECRET", "gh-secret"),
        ]))
        .expect("env");
        c.validate()
            .expect("complete once the environment is applied");
        assert_eq!(c.s3.secret_access_key, "sk");
        assert_eq!(
            c.providers.github.map(|g| g.client_secret),
            Some("gh-secret".to_owned())
        );
    }

    #[test]
    fn a_missing_secret_names_the_setting_and_its_variable() {
        let no_secret = MINIMAL.replace(r#"secret_access_key = "sk""#, "");
        let c = Config::from_toml(&no_secret).expect("parse");
        let err = c.validate().expect_err("no S3 secret");
        assert!(
            matches!(
                err,
                ServerError::MissingSetting {
                    setting: "s3.secret_access_key",
                    env: "CAIRN_S3_SECRET_ACCESS_KEY"
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("s3.secret_access_key")
                && message.contains("CAIRN_S3_SECRET_ACCESS_KEY"),
            "{message}"
        );

        let mut c = Config::from_toml(MINIMAL).expect("parse");
        c.apply_env(vars(&[("CAIRN_GITHUB_CLIENT_ID", "id")]))
            .expect("env");
        let err = c.validate().expect_err("no GitHub secret");
        assert!(
            matches!(
                err,
                ServerError::MissingSetting {
                    setting: "providers.github.client_secret",
                    env: "CAIRN_GITHUB_CLIENT_SECRET"
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("CAIRN_GITHUB_CLIENT_SECRET"));
    }

    #[test]
    fn load_reads_the_file_then_the_environment_then_validates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cairn-server.toml");
        let no_secret = MINIMAL.replace(r#"secret_access_key = "sk""#, "");
        std::fs::write(&path, no_secret).expect("write");
        let err = Config::load_with_env(&path, vars(&[])).expect_err("secret missing");
        assert!(matches!(err, ServerError::MissingSetting { .. }), "{err:?}");
        let c = Config::load_with_env(
            &path,
            vars(&[
                ("CAIRN_S3_SECRET_ACCESS_KEY", "from-env"),
                ("CAIRN_GRANT_LIFETIME_SECS", "60"),
            ]),
        )
        .expect("loads");
        assert_eq!(c.s3.secret_access_key, "from-env");
        assert_eq!(c.grant_lifetime_secs, 60);
        // The environment is applied before validation, which still runs.
        let err = Config::load_with_env(
            &path,
            vars(&[
                ("CAIRN_S3_SECRET_ACCESS_KEY", "from-env"),
                ("CAIRN_GRANT_LIFETIME_SECS", "0"),
            ]),
        )
        .expect_err("invalid lifetime");
        assert!(err.to_string().contains("grant_lifetime_secs"), "{err}");
    }

    #[test]
    fn grant_lifetime_is_capped_at_seven_days() {
        let mut c = Config::from_toml(MINIMAL).expect("parse");
        c.grant_lifetime_secs = MAX_GRANT_LIFETIME_SECS + 1;
        assert!(c.validate().is_err());
        c.grant_lifetime_secs = 5;
        c.validate().expect("short lifetimes are fine");
        assert_eq!(c.effective_grant_reuse_secs(), 1);
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../cairn-server.example.toml");
        let c = Config::from_toml(text).expect("example parses");
        c.validate().expect("example is valid");
        assert!(c.providers.github.is_some());
    }

    #[test]
    fn a_registry_url_must_be_postgres() {
        let mut c = Config::from_toml(MINIMAL).expect("parse");
        c.registry_url = Some("mysql://secret@db/cairn".to_owned());
        let err = c.validate().expect_err("not postgres");
        assert!(!err.to_string().contains("secret"), "{err}");
        c.registry_url = Some("postgresql://cairn@db/cairn".to_owned());
        c.validate().expect("postgres is fine");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::from_toml(&format!("{MINIMAL}\nlisten_adress = \"x\"")).is_err());
    }
}
