//! Rotating the sharing identity when a device is removed, as one call
//! for the CLI (`cairn devices remove`) and the app, made right after
//! [`crate::encryption::rotate_personal_key`] (docs/sharing.md, "Rotating
//! the sharing identity").
//!
//! The removed device holds the account's sharing identity (it was sealed
//! under a key it had), so the identity is replaced by a new one sealed
//! under the new personal epoch and vouched for by the old key; then every
//! shared notebook this account is in is handed over to it (a rekey record
//! signed with the old key) and moves to a new epoch: at once where this
//! account owns it, on the owner's next sync elsewhere. Until then the
//! removed device could still open what is written in those notebooks
//! under their current epoch.

use std::path::Path;
use std::sync::{Arc, Mutex};

use cairn_core::space::epoch::SpaceId;
use cairn_core::space::identity::PublicIdentity;
use cairn_core::space::local::Standing;
use cairn_core::Store;

use crate::encryption::load_account_keys;
use crate::sharing::{ShareError, Sharing};
use crate::sharing_identity::{rotate_sharing_identity, IdentityRotated};
use crate::Session;

/// What [`rotate_identity_after_removal`] did.
#[derive(Debug)]
pub struct IdentityRotation {
    pub identity: IdentityRotated,
    /// The shared notebooks handed over to the new identity (and, those
    /// this account owns, moved to a new epoch).
    pub handed_over: Vec<SpaceId>,
    /// Those that could not be, with why: the next sync tries again.
    pub failed: Vec<(SpaceId, ShareError)>,
}

impl IdentityRotation {
    /// The new public identity, if this call made it.
    pub fn new_identity(&self) -> Option<&PublicIdentity> {
        match &self.identity {
            IdentityRotated::Replaced(id) => Some(id),
            _ => None,
        }
    }
}

/// Replaces the sharing identity and hands every shared notebook over.
/// Safe to call again (after a failure, or on another device): an identity
/// already sealed under the newest key is kept, and a notebook already
/// handed over is left as it is.
pub async fn rotate_identity_after_removal(
    data_dir: &Path,
    session: Arc<Session>,
    store: Arc<Mutex<Store>>,
) -> Result<IdentityRotation, ShareError> {
    let keys = load_account_keys(data_dir)?.ok_or(ShareError::NotEncrypted)?;
    let identity = rotate_sharing_identity(&session, &keys).await?;
    if identity == IdentityRotated::NoIdentity {
        return Ok(IdentityRotation {
            identity,
            handed_over: Vec::new(),
            failed: Vec::new(),
        });
    }
    let sharing = Sharing::open(data_dir, session, store.clone()).await?;
    let spaces: Vec<SpaceId> = store
        .lock()
        .map_err(|_| ShareError::Poisoned)?
        .local_spaces()?
        .into_iter()
        .filter(|s| s.standing != Standing::Departed)
        .map(|s| s.space)
        .collect();
    let (mut handed_over, mut failed) = (Vec::new(), Vec::new());
    for space in spaces {
        match sharing.refresh(&space).await {
            Ok(_) => handed_over.push(space),
            Err(e) => failed.push((space, e)),
        }
    }
    Ok(IdentityRotation {
        identity,
        handed_over,
        failed,
    })
}
