//! The registry: accounts, sessions, devices, pending sign-ins and sign-in
//! rate limits. It is the only state that survives a restart, and the only
//! state instances share.
//!
//! One contract, two implementations: [`SqliteRegistry`] for `dev` and
//! small installs (one file, one instance), [`PostgresRegistry`] for
//! several instances on one database. The contract is split by area into
//! the traits below; [`Registry`] is all of them. Both run the same
//! contract tests (`contract_tests.rs`).
//!
//! Secrets are never stored, only their SHA-256 ([`crate::tokens`]).
//! Every check-and-change that must happen once (binding a session to a
//! device, consuming an OAuth state or login code, rotating a refresh
//! token, counting a sign-in) is one conditional statement or one
//! transaction, so two instances racing see one winner.

#[cfg(all(test, unix))]
mod contract_tests;
mod postgres;
mod records;
mod space_rows;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use cairn_protocol::{Device, DeviceId, DeviceName, KeyEnvelopeRecord, Platform, SpaceId, UserId};

use crate::config::Config;
use crate::ServerError;

pub use postgres::PostgresRegistry;
pub use records::{
    Gcra, PendingGithubSignIn, Rotation, SessionRecord, SessionTokens, StoredIdentity,
};
pub use space_rows::{NewRecord, SpaceMembership, SpaceOfUser, Standing};
pub use sqlite::SqliteRegistry;

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates an account that signs in with an account key (stored hashed).
    async fn create_key_account(
        &self,
        user: &UserId,
        account_key_hash: &str,
        now: i64,
    ) -> Result<(), ServerError>;

    /// The account whose key hashes to `account_key_hash`.
    async fn account_by_key_hash(
        &self,
        account_key_hash: &str,
    ) -> Result<Option<UserId>, ServerError>;

    /// Makes sure an account from an external provider exists.
    async fn ensure_provider_account(&self, user: &UserId, now: i64) -> Result<(), ServerError>;
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Creates device `id` and binds session `session_id` to it, in one
    /// transaction, if that live session acts for no device yet. Returns
    /// `None`, storing nothing, when it already does: of concurrent
    /// registrations on one session exactly one wins.
    async fn register_device(
        &self,
        session_id: i64,
        user: &UserId,
        id: &DeviceId,
        name: &DeviceName,
        platform: &Platform,
        now: i64,
    ) -> Result<Option<Device>, ServerError>;

    /// The device a session acts for, read afresh (not from the request's
    /// authentication, which a concurrent registration may have outdated).
    async fn session_device(&self, session_id: i64) -> Result<Option<DeviceId>, ServerError>;

    /// The user's devices, oldest first, revoked ones included.
    async fn devices_of(&self, user: &UserId) -> Result<Vec<Device>, ServerError>;

    /// One of the user's devices; another user's device is not found.
    async fn device_of(&self, user: &UserId, id: &DeviceId) -> Result<Option<Device>, ServerError>;

    async fn rename_device(
        &self,
        user: &UserId,
        id: &DeviceId,
        name: &DeviceName,
    ) -> Result<(), ServerError>;

    /// Marks the device revoked and revokes the sessions acting for it.
    async fn revoke_device(
        &self,
        user: &UserId,
        id: &DeviceId,
        now: i64,
    ) -> Result<(), ServerError>;

    /// Remembers that `id` published `seq` (a lower one than remembered
    /// changes nothing).
    async fn record_published(
        &self,
        user: &UserId,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), ServerError>;

    /// The last sequence each live device of the user reported.
    async fn published_seqs(&self, user: &UserId) -> Result<Vec<(DeviceId, u64)>, ServerError>;
}

#[async_trait]
pub trait KeyEnvelopeStore: Send + Sync {
    async fn key_envelope(&self, user: &UserId) -> Result<Option<KeyEnvelopeRecord>, ServerError>;

    /// Stores `envelope` as generation `generation` if the stored one is
    /// still `expected` (0: none). Returns false when another write won.
    async fn put_key_envelope(
        &self,
        user: &UserId,
        expected: u64,
        generation: u64,
        envelope: &str,
        now: i64,
    ) -> Result<bool, ServerError>;
}

/// An identity's generation as both registries store it (a signed 64-bit
/// integer); one past that is refused.
pub(crate) fn identity_generation(g: u64) -> Result<i64, ServerError> {
    i64::try_from(g).map_err(|_| {
        ServerError::bad_request(
            cairn_protocol::ErrorCode::BadRequest,
            "the identity's generation is out of range",
        )
    })
}

/// Sharing identities: one per account, stored once, replaced only by
/// compare-and-swap on its generation with a successor statement kept.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn sharing_identity(&self, user: &UserId) -> Result<Option<StoredIdentity>, ServerError>;

    /// Stores `identity` if the account has none. Returns false, storing
    /// nothing, when it has one already (the same or another).
    async fn put_sharing_identity(
        &self,
        user: &UserId,
        identity: &StoredIdentity,
        now: i64,
    ) -> Result<bool, ServerError>;

    /// Replaces the account's identity if it is still at `expected`
    /// generation (`identity.generation` is the next one), keeping
    /// `successor` (the statement that vouches for it) in the same
    /// transaction. Returns false, changing nothing, if another
    /// replacement landed first or the account has none.
    async fn replace_sharing_identity(
        &self,
        user: &UserId,
        expected: u64,
        identity: &StoredIdentity,
        successor: &[u8],
        now: i64,
    ) -> Result<bool, ServerError>;

    /// Every successor statement kept for the account, oldest first.
    async fn identity_successors(&self, user: &UserId) -> Result<Vec<Vec<u8>>, ServerError>;
}

/// Pending GitHub sign-ins: the `state` of an authorization request and the
/// one-time login code handed back after it. Both are single use: the row
/// is marked used in the same statement that checks it, so a replay (or a
/// race of two uses, on any instances) finds nothing.
#[async_trait]
pub trait OauthStore: Send + Sync {
    async fn put_oauth_state(
        &self,
        state_hash: &str,
        pending: &PendingGithubSignIn,
        expires_at: i64,
    ) -> Result<(), ServerError>;

    /// Consumes a live state; `None` if unknown, expired or already used.
    async fn take_oauth_state(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<PendingGithubSignIn>, ServerError>;

    async fn put_login_code(
        &self,
        code_hash: &str,
        user: &UserId,
        client_challenge: &str,
        expires_at: i64,
    ) -> Result<(), ServerError>;

    /// Consumes a live login code; returns its user and the client's PKCE
    /// challenge. A wrong verifier still burns the code: whoever holds a
    /// stolen code gets one try, not many.
    async fn take_login_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<Option<(UserId, String)>, ServerError>;
}

/// Sessions: an access token and a refresh token, stored as hashes.
/// Refreshing rotates both; logging out or revoking the session's device
/// revokes it.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(
        &self,
        user: &UserId,
        device: Option<&DeviceId>,
        tokens: &SessionTokens,
        now: i64,
    ) -> Result<i64, ServerError>;

    /// The session an access token belongs to, expired or revoked included
    /// (the caller tells those apart for a precise error).
    async fn session_by_access_hash(
        &self,
        access_hash: &str,
    ) -> Result<Option<SessionRecord>, ServerError>;

    /// [`SessionStore::session_by_access_hash`], with every device of the
    /// session's user (oldest first, revoked ones included), in one read.
    async fn session_with_devices(
        &self,
        access_hash: &str,
    ) -> Result<Option<(SessionRecord, Vec<Device>)>, ServerError>;

    /// The session with this id, expired or revoked included.
    async fn session_by_id(&self, id: i64) -> Result<Option<SessionRecord>, ServerError>;

    /// Swaps a live refresh token for new tokens, the expiries of `new`
    /// capped at the session's end (`max_lifetime` after its sign-in). The
    /// old refresh token stops working and is remembered: presented again,
    /// by the owner after a thief refreshed or by a thief after the owner
    /// did, it revokes the whole session.
    async fn rotate_session(
        &self,
        refresh_hash: &str,
        new: &SessionTokens,
        max_lifetime: i64,
        now: i64,
    ) -> Result<Rotation, ServerError>;

    async fn revoke_session(&self, session_id: i64, now: i64) -> Result<(), ServerError>;
}

/// Sign-in rate limits, counted where every instance counts.
#[async_trait]
pub trait SignInLimitStore: Send + Sync {
    /// Counts one attempt in `bucket` at `now_ms`: `Ok(None)` if allowed,
    /// `Ok(Some(ms))` if refused, with how long until one would be.
    async fn take_sign_in(
        &self,
        bucket: &str,
        quota: Gcra,
        now_ms: i64,
    ) -> Result<Option<u64>, ServerError>;

    /// Drops the buckets that are full again (they hold nothing a missing
    /// row does not say).
    async fn forget_full_sign_in_buckets(&self, now_ms: i64) -> Result<(), ServerError>;
}

/// Shared spaces: their membership records, in order, and each account's
/// standing as the service derived it from the verified chain. A record
/// lands only on the newest one it names (compare-and-swap on the space's
/// newest number and hash), so of two appends racing on one space exactly
/// one is stored.
#[async_trait]
pub trait SpaceStore: Send + Sync {
    /// Creates `space` with its record 0. Returns false, storing nothing,
    /// when a space with that id exists.
    async fn create_space(
        &self,
        space: &SpaceId,
        owner: &UserId,
        record: NewRecord<'_>,
        members: &[SpaceMembership],
        now: i64,
    ) -> Result<bool, ServerError>;

    /// Appends `record` if the space's newest record is still
    /// `record.seq - 1` with hash `record.prev`, and replaces the standings
    /// with `members`, in one transaction. Returns false, storing nothing,
    /// when another record landed first.
    async fn append_space_record(
        &self,
        space: &SpaceId,
        record: NewRecord<'_>,
        members: &[SpaceMembership],
        now: i64,
    ) -> Result<bool, ServerError>;

    /// The records numbered above `after` (all without it) and at most
    /// `through` (no bound without it), in order.
    async fn space_records(
        &self,
        space: &SpaceId,
        after: Option<u64>,
        through: Option<u64>,
    ) -> Result<Vec<(u64, Vec<u8>)>, ServerError>;

    /// Where `user` stands in `space` (`None`: never in it, or no space).
    async fn standing(
        &self,
        space: &SpaceId,
        user: &UserId,
    ) -> Result<Option<Standing>, ServerError>;

    /// Everyone with a standing in the space.
    async fn space_members(&self, space: &SpaceId) -> Result<Vec<SpaceMembership>, ServerError>;

    /// The spaces `user` is a member of or invited to.
    async fn spaces_of(&self, user: &UserId) -> Result<Vec<SpaceOfUser>, ServerError>;

    /// Remembers that `user`'s device `id` published `seq` in `space` (a
    /// lower one than remembered changes nothing).
    async fn record_space_published(
        &self,
        space: &SpaceId,
        user: &UserId,
        id: &DeviceId,
        seq: u64,
    ) -> Result<(), ServerError>;

    /// The newest sequence each device reported in `space`.
    async fn space_published_seqs(
        &self,
        space: &SpaceId,
    ) -> Result<Vec<(DeviceId, u64)>, ServerError>;
}

/// Each space's label: opaque bytes its owner sets (the shared notebook's
/// name sealed for invitees).
#[async_trait]
pub trait SpaceLabelStore: Send + Sync {
    async fn set_space_label(
        &self,
        space: &SpaceId,
        label: &str,
        now: i64,
    ) -> Result<(), ServerError>;

    async fn space_label(&self, space: &SpaceId) -> Result<Option<String>, ServerError>;
}

/// The whole registry.
#[async_trait]
pub trait Registry:
    AccountStore
    + DeviceStore
    + KeyEnvelopeStore
    + IdentityStore
    + OauthStore
    + SessionStore
    + SignInLimitStore
    + SpaceStore
    + SpaceLabelStore
{
    /// Whether the registry answers (for `/readyz`).
    async fn ping(&self) -> Result<(), ServerError>;
}

/// An opened registry, with the PostgreSQL pool when there is one (the
/// event bus listens on the same database).
pub struct Opened {
    pub registry: Arc<dyn Registry>,
    pub postgres: Option<Arc<PostgresRegistry>>,
}

/// Opens the registry the config names (`registry_url`, a PostgreSQL
/// database, else the SQLite file at `registry_path`), running its
/// migrations.
pub async fn open(config: &Config) -> Result<Opened, ServerError> {
    match &config.registry_url {
        None => Ok(Opened {
            registry: Arc::new(SqliteRegistry::open(&config.registry_path)?),
            postgres: None,
        }),
        Some(url) => {
            let pg = Arc::new(
                PostgresRegistry::connect(url, config.effective_registry_pool_size()).await?,
            );
            Ok(Opened {
                registry: pg.clone(),
                postgres: Some(pg),
            })
        }
    }
}
