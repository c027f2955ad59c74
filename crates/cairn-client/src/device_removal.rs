//! Removing one of the account's devices (a lost or sold one), the same
//! way from the CLI's `cairn devices remove` and the app's "Remove…".
//!
//! The personal key is rotated first ([`rotate_personal_key`]), the device
//! revoked after. The order is what makes a wrong passphrase harmless: the
//! rotation opens the account's envelope with the secret before it changes
//! anything, so a wrong one stops with nothing revoked and nothing rotated.
//! It is safe the other way round too: until the revoke, the device still
//! syncs, but everything written from then on is sealed with a key it does
//! not hold (it cannot open the new envelope without the passphrase), so it
//! reads nothing new and publishes nothing (its own sync stops at the new
//! epoch). A revoke that fails after the rotation is resumed with
//! [`finish_removal`]: the rotation need not be done twice, and its
//! recovery key (for an account without a passphrase, the only secret
//! that opens the new key on the other devices) comes back with the error
//! so it is shown all the same.

use std::path::Path;

use cairn_core::crypto::{CryptoError, KdfParams};
use cairn_protocol::DeviceId;

use crate::encryption::{rotate_personal_key, KeyError, Rotated};
use crate::{ClientError, ServiceClient};

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error("that is this device: sign out here instead, or remove it from another device")]
    ThisDevice,
    #[error("this account has no such device (it may have been removed from another device)")]
    NoSuchDevice,
    #[error("{name} was already removed from your account")]
    AlreadyRemoved { name: String },
    #[error("that passphrase does not open this account's notes: nothing was removed")]
    WrongSecret,
    #[error("this account has a passphrase: removing a device needs the passphrase, not the recovery key; nothing was removed")]
    PassphraseNeeded,
    #[error("your notes could not get their new key, so nothing was removed ({0})")]
    Rotation(#[source] KeyError),
    #[error("the account's devices could not be read: {0}")]
    Devices(#[source] ClientError),
    /// The rotation is done: its recovery key must still reach the user,
    /// and [`finish_removal`] resumes.
    #[error("your notes have their new key, but {name} is not removed yet: try again")]
    NotRevoked {
        name: String,
        rotated: Rotated,
        #[source]
        source: RevokeError,
    },
}

/// What stopped [`finish_removal`].
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("the service did not remove the device: {0}")]
    Service(#[from] ClientError),
    #[error("this device could not drop its old storage grant: {0}")]
    Grant(#[from] std::io::Error),
}

/// A device removed, and the key the account's notes have now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The removed device's name, as the account's list had it.
    pub name: String,
    pub rotated: Rotated,
}

/// Removes device `id` from the account signed in on `data_dir` (not this
/// device, `this_device`): rotates the personal key with `secret` (the
/// passphrase, or the recovery key of an account without one), then
/// revokes the device. A wrong secret changes nothing.
pub async fn remove_device(
    client: &ServiceClient,
    access_token: &str,
    data_dir: &Path,
    this_device: Option<&DeviceId>,
    id: &DeviceId,
    secret: &str,
    params: KdfParams,
) -> Result<Removed, RemoveError> {
    if this_device == Some(id) {
        return Err(RemoveError::ThisDevice);
    }
    let devices = client
        .devices(access_token)
        .await
        .map_err(RemoveError::Devices)?;
    let target = devices
        .iter()
        .find(|d| d.id == *id)
        .ok_or(RemoveError::NoSuchDevice)?;
    let name = target.name.to_string();
    if target.is_revoked() {
        return Err(RemoveError::AlreadyRemoved { name });
    }
    let rotated = match rotate_personal_key(client, access_token, data_dir, secret, params).await {
        Ok(rotated) => rotated,
        Err(KeyError::Crypto(CryptoError::WrongSecret)) => return Err(RemoveError::WrongSecret),
        Err(KeyError::PassphraseNeeded) => return Err(RemoveError::PassphraseNeeded),
        Err(e) => return Err(RemoveError::Rotation(e)),
    };
    match finish_removal(client, access_token, data_dir, id).await {
        Ok(()) => Ok(Removed { name, rotated }),
        Err(source) => Err(RemoveError::NotRevoked {
            name,
            rotated,
            source,
        }),
    }
}

/// The second half of [`remove_device`], once the key is rotated: revokes
/// the device and drops the grant this device keeps (it lists the removed
/// device as a peer). Also what resumes a removal whose revoke failed.
pub async fn finish_removal(
    client: &ServiceClient,
    access_token: &str,
    data_dir: &Path,
    id: &DeviceId,
) -> Result<(), RevokeError> {
    client.revoke_device(access_token, id).await?;
    crate::forget_grant(data_dir)?;
    Ok(())
}
