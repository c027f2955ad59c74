//! The account's sharing identity, for a device: fetch it from the
//! service and open it with the content key, or (the first device that
//! needs one) make it and store it sealed. Two devices racing to make one
//! both end up with the same: the service keeps the first and refuses the
//! second (`identity_exists`), whose device then fetches the first.
//!
//! Other accounts' public identities come back parsed and checked, but not
//! trusted: the caller pins them (`cairn_core::space::pins`) before use,
//! following the successor statements that come with them.
//!
//! The identity is sealed under the account's newest personal key: the
//! content key until a device is first removed, then that epoch's key
//! (sealed form version 2). [`rotate_sharing_identity`] replaces it when a
//! device is removed, after [`crate::encryption::rotate_personal_key`].

use base64::Engine as _;
use cairn_core::account_keys::AccountKeys;
use cairn_core::space::identity::{IdentityError, PublicIdentity, SharingIdentity};
use cairn_core::space::successor::{Successor, SuccessorError};
use cairn_protocol::{
    ErrorCode, MySharingIdentity, PutSharingIdentity, ReplaceSharingIdentity, UserId,
};
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
    #[error("{0}")]
    Successor(#[from] SuccessorError),
    #[error("this account's sharing key kept changing meanwhile; try again")]
    KeepsChanging,
}

/// How many times a replacement is tried again after another device's
/// landed first.
const REPLACE_ATTEMPTS: usize = 3;

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

    /// Replaces this account's identity (`conflict` if it is no longer at
    /// `request.expected_generation`).
    pub async fn replace_sharing_identity(
        &self,
        access_token: &str,
        request: &ReplaceSharingIdentity,
    ) -> Result<MySharingIdentity, ClientError> {
        self.call(
            Method::POST,
            "v1/identity/successor",
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
        Ok(self.public_identity_vouched(access_token, account).await?.0)
    }

    /// As [`ServiceClient::public_identity`], with the successor
    /// statements by which each earlier key vouched for the next (decoded,
    /// not yet verified: following them from a pin verifies each).
    pub async fn public_identity_vouched(
        &self,
        access_token: &str,
        account: &UserId,
    ) -> Result<(PublicIdentity, Vec<Successor>), IdentityFetchError> {
        let found: cairn_protocol::PublicSharingIdentity = self
            .call(
                Method::GET,
                &format!("v1/accounts/{account}/identity"),
                Some(access_token),
                None::<&()>,
            )
            .await?;
        let id = public_of(account, &found.account, &found.wrap_key, &found.sign_key)?;
        Ok((id, successors_of(account, &found.successors)?))
    }
}

fn successors_of(
    account: &UserId,
    encoded: &[String],
) -> Result<Vec<Successor>, IdentityFetchError> {
    encoded
        .iter()
        .map(|e| {
            let bytes = B64
                .decode(e.as_bytes())
                .map_err(|_| damaged(account, "a successor statement is not base64url"))?;
            Ok(Successor::decode(&bytes)?)
        })
        .collect()
}

fn open_mine(
    account: &UserId,
    keys: &AccountKeys,
    found: &MySharingIdentity,
) -> Result<SharingIdentity, IdentityFetchError> {
    let sealed = B64
        .decode(found.sealed.as_bytes())
        .map_err(|_| damaged(account, "the sealed identity is not base64url"))?;
    let id = SharingIdentity::open_with(account.clone(), keys, &sealed)?;
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

/// The identity a device replaced, with the statement that vouches for
/// its successor: what the account's devices sign each shared notebook's
/// rekey record with.
#[derive(Debug, Clone)]
pub struct Handover {
    pub previous: SharingIdentity,
    pub successor: Successor,
}

/// This account's identity, and the handover from the one before, if it
/// was replaced and this device can open the previous one.
#[derive(Debug, Clone)]
pub struct MyIdentity {
    pub current: SharingIdentity,
    pub handover: Option<Handover>,
}

fn handover_of(
    account: &UserId,
    keys: &AccountKeys,
    found: &MySharingIdentity,
    current: &SharingIdentity,
) -> Result<Option<Handover>, IdentityFetchError> {
    let Some(previous) = &found.previous_sealed else {
        return Ok(None);
    };
    let sealed = B64
        .decode(previous.as_bytes())
        .map_err(|_| damaged(account, "the previous sealed identity is not base64url"))?;
    let previous = SharingIdentity::open_with(account.clone(), keys, &sealed)?;
    let statements = successors_of(account, &found.successors)?;
    let successor = statements
        .into_iter()
        .find(|s| s.previous == previous.public() && s.next == current.public());
    let Some(successor) = successor else {
        return Err(damaged(
            account,
            "no successor statement leads from the previous identity to this one",
        ));
    };
    successor.verify()?;
    Ok(Some(Handover {
        previous,
        successor,
    }))
}

/// This account's sharing identity: fetched and opened, or made, sealed
/// under the newest of `keys` and stored by this device if the account
/// has none.
pub async fn ensure_sharing_identity(
    session: &Session,
    keys: &AccountKeys,
) -> Result<SharingIdentity, IdentityFetchError> {
    Ok(my_identity(session, keys).await?.current)
}

/// As [`ensure_sharing_identity`], with the handover from a replaced
/// identity.
pub async fn my_identity(
    session: &Session,
    keys: &AccountKeys,
) -> Result<MyIdentity, IdentityFetchError> {
    let account = session.credentials().user_id;
    let token = session.access_token().await?;
    let client = session.client();
    if let Some(found) = client.my_sharing_identity(&token).await? {
        let current = open_mine(&account, keys, &found)?;
        let handover = handover_of(&account, keys, &found, &current)?;
        return Ok(MyIdentity { current, handover });
    }
    let made = SharingIdentity::generate(account.clone());
    let public = made.public();
    let request = PutSharingIdentity {
        sealed: B64.encode(made.seal_with(keys)),
        wrap_key: hex::encode(public.wrap_key),
        sign_key: hex::encode(public.sign_key),
    };
    match client.put_sharing_identity(&token, &request).await {
        Ok(_) => Ok(MyIdentity {
            current: made,
            handover: None,
        }),
        // Another device of ours stored one first: use that one.
        Err(e) if e.api_code() == Some(ErrorCode::IdentityExists) => {
            match client.my_sharing_identity(&token).await? {
                Some(found) => {
                    let current = open_mine(&account, keys, &found)?;
                    let handover = handover_of(&account, keys, &found, &current)?;
                    Ok(MyIdentity { current, handover })
                }
                None => Err(damaged(
                    &account,
                    "it was refused as existing, then missing",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// What [`rotate_sharing_identity`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRotated {
    /// The account never made an identity: the first one will be sealed
    /// under the new key anyway.
    NoIdentity,
    /// The identity was sealed under the newest personal key already (this
    /// device or another rotated it, or it was made after the removal).
    AlreadyCurrent,
    /// Replaced by this device: the new public identity.
    Replaced(PublicIdentity),
}

/// After [`crate::encryption::rotate_personal_key`]: replaces the
/// account's sharing identity, which the removed device holds, by a new
/// one sealed under the new personal epoch, vouched for by a successor
/// statement that the old key signs. Two devices doing it at once do not
/// fork it: the service swaps on the generation, and the device that
/// loses finds the identity current and keeps the winner's. The shared
/// notebooks are handed over next ([`crate::sharing::Sharing::refresh`]
/// appends each one's rekey record).
pub async fn rotate_sharing_identity(
    session: &Session,
    keys: &AccountKeys,
) -> Result<IdentityRotated, IdentityFetchError> {
    let account = session.credentials().user_id;
    let token = session.access_token().await?;
    let client = session.client();
    for _ in 0..REPLACE_ATTEMPTS {
        let Some(found) = client.my_sharing_identity(&token).await? else {
            return Ok(IdentityRotated::NoIdentity);
        };
        let sealed = B64
            .decode(found.sealed.as_bytes())
            .map_err(|_| damaged(&account, "the sealed identity is not base64url"))?;
        let sealed_at = SharingIdentity::sealed_epoch(&sealed)
            .ok_or_else(|| damaged(&account, "the sealed identity's format is unknown"))?;
        if sealed_at >= keys.epoch() {
            return Ok(IdentityRotated::AlreadyCurrent);
        }
        let old = open_mine(&account, keys, &found)?;
        let new = SharingIdentity::generate(account.clone());
        let public = new.public();
        let statement = Successor::sign(&old, &public, found.generation + 1);
        let request = ReplaceSharingIdentity {
            expected_generation: found.generation,
            sealed: B64.encode(new.seal_with(keys)),
            wrap_key: hex::encode(public.wrap_key),
            sign_key: hex::encode(public.sign_key),
            successor: B64.encode(statement.encode()),
        };
        match client.replace_sharing_identity(&token, &request).await {
            Ok(_) => return Ok(IdentityRotated::Replaced(public)),
            // Another device of ours replaced it first: read it again.
            Err(e) if e.api_code() == Some(ErrorCode::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(IdentityFetchError::KeepsChanging)
}
