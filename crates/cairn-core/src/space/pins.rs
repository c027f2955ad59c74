//! Trust on first use: the identity first seen for an account is pinned,
//! and a different one later is a distinct error for the app to show
//! loudly, never a silent accept. Only [`PinStore::repin`], after the user
//! has compared the new safety number, replaces a pin.
//!
//! The store is plain data (serde) so the caller keeps it where it keeps
//! the rest of the device's state.

use std::collections::BTreeMap;

use cairn_protocol::UserId;
use serde::{Deserialize, Serialize};

use crate::space::identity::PublicIdentity;
use crate::space::safety_number::fingerprint;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("the sharing key of {account} has changed since you first shared with them: compare the safety number with them before you go on")]
    KeyChanged {
        account: UserId,
        pinned: String,
        offered: String,
    },
}

/// What checking an identity found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOutcome {
    /// Not seen before: now pinned.
    FirstUse,
    /// The pinned identity.
    Known,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinStore {
    pins: BTreeMap<UserId, PublicIdentity>,
}

impl PinStore {
    /// Pins `id` if its account is new; refuses it if the account's pin
    /// holds other keys.
    pub fn check_or_pin(&mut self, id: &PublicIdentity) -> Result<PinOutcome, PinError> {
        if let Some(known) = self.check(id)? {
            return Ok(known);
        }
        self.pins.insert(id.account.clone(), id.clone());
        Ok(PinOutcome::FirstUse)
    }

    /// Checks without pinning: for identities met in a chain that the
    /// user has not yet agreed to (an invitation not yet accepted).
    pub fn check(&self, id: &PublicIdentity) -> Result<Option<PinOutcome>, PinError> {
        match self.pins.get(&id.account) {
            Some(pinned) if pinned == id => Ok(Some(PinOutcome::Known)),
            Some(pinned) => Err(PinError::KeyChanged {
                account: id.account.clone(),
                pinned: fingerprint(pinned),
                offered: fingerprint(id),
            }),
            None => Ok(None),
        }
    }

    /// Replaces a pin, once the user has accepted the new key.
    pub fn repin(&mut self, id: &PublicIdentity) {
        self.pins.insert(id.account.clone(), id.clone());
    }

    pub fn get(&self, account: &UserId) -> Option<&PublicIdentity> {
        self.pins.get(account)
    }

    /// Every pinned identity, by account.
    pub fn iter(&self) -> impl Iterator<Item = &PublicIdentity> {
        self.pins.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::identity::tests::user;
    use crate::space::identity::SharingIdentity;

    #[test]
    fn first_use_pins_and_a_changed_key_is_refused_until_repinned() {
        let mut pins = PinStore::default();
        let bob = SharingIdentity::generate(user("bob")).public();
        assert_eq!(pins.check(&bob), Ok(None));
        assert_eq!(pins.check_or_pin(&bob), Ok(PinOutcome::FirstUse));
        assert_eq!(pins.check_or_pin(&bob), Ok(PinOutcome::Known));
        assert_eq!(pins.check(&bob), Ok(Some(PinOutcome::Known)));

        let swapped = PublicIdentity {
            account: user("bob"),
            ..SharingIdentity::generate(user("bob")).public()
        };
        let err = pins.check_or_pin(&swapped).unwrap_err();
        assert_eq!(
            err,
            PinError::KeyChanged {
                account: user("bob"),
                pinned: fingerprint(&bob),
                offered: fingerprint(&swapped),
            }
        );
        assert_eq!(pins.check(&swapped), Err(err));
        // Refusing did not replace the pin.
        assert_eq!(pins.get(&user("bob")), Some(&bob));
        // Only one key changed is still a change.
        let mut half = bob.clone();
        half.wrap_key = swapped.wrap_key;
        assert!(pins.check_or_pin(&half).is_err());

        pins.repin(&swapped);
        assert_eq!(pins.check_or_pin(&swapped), Ok(PinOutcome::Known));
        assert!(pins.check_or_pin(&bob).is_err());

        // Survives storing.
        let json = serde_json::to_string(&pins).unwrap();
        let back: PinStore = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pins);
    }
}
