//! The account's sharing identity, for a device: fetch it from the
//! service and open it with the content key, or (the first device that
//! needs one) make it and store it sealed. Two devices racing to make one
//! both end up with the same: the service keeps the first and refuses the
//! second (`identity_exists`), whose device then fetches the first.
//!
//! Other accounts' public identities come back parsed and checked, but not
//! trusted: the caller pins them (`cairn_core::space::pins`) before use.

use base64::Engine as _;
use cairn_core::crypto::ContentKey;
use cairn_core::space::identity::{IdentityError, PublicIdentity, SharingIdentity};
use cairn_protocol::{ErrorCode, MySharingIdentity, PutSharingIdentity, UserId};
use reqwest::Method;

use crate::{ClientError, ServiceClient, Session};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, thiserror::Error)]
pub enum IdentityFetchError {
    #[error(transparent)]
    Service(#[from] ClientError),
    #[error("{0}")]
    Identity(#[from] IdentityError),
    #[error("the service answered with a damaged sharing identity for {account}: {reason}")]
    Damaged { account: UserId, reason: String },
}

fn damaged(account: &UserId, reason: impl Into<String>) -> IdentityFetchError {
    IdentityFetchError::Damaged {
        account: account.clone(),
        reason: reason.into(),
    }
}

fn key32(account: &UserId, hex_key: &str) -> Result<[u8; 32], IdentityFetchError> {
    hex::decode(hex_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| damaged(account, "a public key is not 32 bytes of hex"))
}

/// The public identity the service gave for `account`, checked to be for
/// that account and to carry a usable signing key.
fn public_of(
    asked: &UserId,
    account: &UserId,
    wrap_key: &str,
    sign_key: &str,
) -> Result<PublicIdentity, IdentityFetchError> {
    if account != asked {
        return Err(damaged(asked, format!("it names {account}")));
    }
    let id = PublicIdentity {
        account: account.clone(),
        wrap_key: key32(asked, wrap_key)?,
        sign_key: key32(asked, sign_key)?,
    };
    if !id.keys_are_valid() {
        return Err(damaged(asked, "its signing key is not usable"));
    }
    Ok(id)
}

impl ServiceClient {
    /// This account's identity, sealed; `None` if it has none yet.
    pub async fn my_sharing_identity(
        &self,
        access_token: &str,
    ) -> Result<Option<MySharingIdentity>, ClientError> {
        match self
            .call(Method::GET, "v1/identity", Some(access_token), None::<&()>)
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.api_code() == Some(ErrorCode::NoIdentity) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores this account's identity; `identity_exists` (409) if it has
    /// another one already.
    pub async fn put_sharing_identity(
        &self,
        access_token: &str,
        request: &PutSharingIdentity,
    ) -> Result<MySharingIdentity, ClientError> {
        self.call(
            Method::PUT,
            "v1/identity",
            Some(access_token),
            Some(request),
        )
        .await
    }

    /// Another account's public identity (`no_identity` if it never made
    /// one), checked but not pinned.
    pub async fn public_identity(
        &self,
        access_token: &str,
        account: &UserId,
    ) -> Result<PublicIdentity, IdentityFetchError> {
        let found: cairn_protocol::PublicSharingIdentity = self
            .call(
                Method::GET,
                &format!("v1/accounts/{account}/identity"),
                Some(access_token),
                None::<&()>,
            )
            .await?;
        public_of(account, &found.account, &found.wrap_key, &found.sign_key)
    }
}

fn open_mine(
    account: &UserId,
    key: &ContentKey,
    found: &MySharingIdentity,
) -> Result<SharingIdentity, IdentityFetchError> {
    let sealed = B64
        .decode(found.sealed.as_bytes())
        .map_err(|_| damaged(account, "the sealed identity is not base64url"))?;
    let id = SharingIdentity::open(account.clone(), key, &sealed)?;
    // The public keys the service lists for us must be the ones sealed:
    // otherwise others would wrap to and verify against keys we lack.
    let listed = public_of(account, &found.account, &found.wrap_key, &found.sign_key)?;
    if listed != id.public() {
        return Err(damaged(
            account,
            "its public keys do not match the sealed ones",
        ));
    }
    Ok(id)
}

/// This account's sharing identity: fetched and opened, or made, sealed
/// under `key` and stored by this device if the account has none.
pub async fn ensure_sharing_identity(
    session: &Session,
    key: &ContentKey,
) -> Result<SharingIdentity, IdentityFetchError> {
    let account = session.credentials().user_id;
    let token = session.access_token().await?;
    let client = session.client();
    if let Some(found) = client.my_sharing_identity(&token).await? {
        return open_mine(&account, key, &found);
    }
    let made = SharingIdentity::generate(account.clone());
    let public = made.public();
    let request = PutSharingIdentity {
        sealed: B64.encode(made.seal(key)),
        wrap_key: hex::encode(public.wrap_key),
        sign_key: hex::encode(public.sign_key),
    };
    match client.put_sharing_identity(&token, &request).await {
        Ok(_) => Ok(made),
        // Another device of ours stored one first: use that one.
        Err(e) if e.api_code() == Some(ErrorCode::IdentityExists) => {
            match client.my_sharing_identity(&token).await? {
                Some(found) => open_mine(&account, key, &found),
                None => Err(damaged(
                    &account,
                    "it was refused as existing, then missing",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}
