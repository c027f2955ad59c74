//! Trust on first use: the identity first seen for an account is pinned,
//! and a different one later is a distinct error for the app to show
//! loudly, never a silent accept. Only [`PinStore::repin`], after the user
//! has compared the new safety number, replaces a pin, or
//! [`PinStore::follow`] / [`PinStore::repin_vouched`] when the pinned key
//! itself vouched for its successor (a device of theirs was removed and
//! their identity rotated): that change is kept beside the pin, for the
//! app to say in a sentence.
//!
//! The store is plain data (serde) so the caller keeps it where it keeps
//! the rest of the device's state.

use std::collections::BTreeMap;

use cairn_protocol::UserId;
use serde::{Deserialize, Serialize};

use crate::space::identity::PublicIdentity;
use crate::space::safety_number::fingerprint;
use crate::space::successor::{self, Successor};

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
    /// The pinned identity vouched for this one: now pinned instead.
    Vouched,
}

/// A pin moved because the previous key vouched for the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    /// The fingerprint of the key pinned before.
    pub previous_fingerprint: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinStore {
    pins: BTreeMap<UserId, PublicIdentity>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    changes: BTreeMap<UserId, KeyChange>,
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
        self.changes.remove(&id.account);
    }

    /// Replaces the pin `previous` by `id`, which `previous` vouched for
    /// (a verified successor statement or rekey record): no warning, but
    /// the change is kept to be shown. A pin that is not `previous` is
    /// left alone and refused as any changed key is.
    pub fn repin_vouched(
        &mut self,
        id: &PublicIdentity,
        previous: &PublicIdentity,
    ) -> Result<PinOutcome, PinError> {
        match self.check(id) {
            Ok(Some(known)) => return Ok(known),
            Ok(None) => {
                self.pins.insert(id.account.clone(), id.clone());
                return Ok(PinOutcome::FirstUse);
            }
            Err(e) if self.pins.get(&id.account) != Some(previous) => return Err(e),
            Err(_) => {}
        }
        self.pins.insert(id.account.clone(), id.clone());
        self.changes.insert(
            id.account.clone(),
            KeyChange {
                previous_fingerprint: fingerprint(previous),
            },
        );
        Ok(PinOutcome::Vouched)
    }

    /// Checks `current`, the identity the service hands for an account,
    /// following `statements` from the pinned key: reached through
    /// statements each signed by the key before, it is pinned instead
    /// ([`PinOutcome::Vouched`]); otherwise a changed key is
    /// [`PinError::KeyChanged`] and the pin stays. A statement that does
    /// not verify is refused the same way.
    pub fn follow(
        &mut self,
        current: &PublicIdentity,
        statements: &[Successor],
    ) -> Result<PinOutcome, PinError> {
        let refused = self.check(current);
        let Err(changed) = refused else {
            return self.check_or_pin(current);
        };
        let Some(pinned) = self.pins.get(&current.account).cloned() else {
            return Err(changed);
        };
        let ours: Vec<Successor> = statements
            .iter()
            .filter(|s| *s.account() == current.account)
            .cloned()
            .collect();
        match successor::follow(&pinned, &ours) {
            Ok((reached, steps)) if steps > 0 && reached == *current => {
                self.pins.insert(current.account.clone(), current.clone());
                self.changes.insert(
                    current.account.clone(),
                    KeyChange {
                        previous_fingerprint: fingerprint(&pinned),
                    },
                );
                Ok(PinOutcome::Vouched)
            }
            _ => Err(changed),
        }
    }

    /// How `account`'s pin last moved, if a previous key vouched for it.
    pub fn change_of(&self, account: &UserId) -> Option<&KeyChange> {
        self.changes.get(account)
    }

    /// Keeps a vouched change read back from storage.
    pub fn note_change(&mut self, account: &UserId, change: KeyChange) {
        self.changes.insert(account.clone(), change);
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

    #[test]
    fn a_key_the_pinned_one_vouched_for_moves_the_pin_and_nothing_else_does() {
        let k0 = SharingIdentity::generate(user("alice"));
        let k1 = SharingIdentity::generate(user("alice"));
        let k2 = SharingIdentity::generate(user("alice"));
        let s1 = Successor::sign(&k0, &k1.public(), 1);
        let s2 = Successor::sign(&k1, &k2.public(), 2);
        let mut pins = PinStore::default();
        pins.check_or_pin(&k0.public()).unwrap();

        // A key with no statement, or one signed by another key: refused.
        let mallory = SharingIdentity::generate(user("alice"));
        let forged = Successor {
            previous: k0.public(),
            ..Successor::sign(&mallory, &mallory.public(), 1)
        };
        for statements in [vec![], vec![forged]] {
            assert!(matches!(
                pins.follow(&mallory.public(), &statements),
                Err(PinError::KeyChanged { .. })
            ));
            assert_eq!(pins.get(&user("alice")), Some(&k0.public()));
        }
        // Two steps at once, each signed by the key before.
        assert_eq!(
            pins.follow(&k2.public(), &[s1.clone(), s2.clone()]),
            Ok(PinOutcome::Vouched)
        );
        assert_eq!(pins.get(&user("alice")), Some(&k2.public()));
        assert_eq!(
            pins.change_of(&user("alice")).unwrap().previous_fingerprint,
            fingerprint(&k0.public())
        );
        // The older key served again (a replay): refused, the pin stays.
        assert!(pins.follow(&k1.public(), &[s1, s2]).is_err());
        assert_eq!(pins.get(&user("alice")), Some(&k2.public()));
        assert_eq!(pins.follow(&k2.public(), &[]), Ok(PinOutcome::Known));

        // A rekey record's vouching moves only the pin it names.
        let mut other = PinStore::default();
        other.check_or_pin(&k0.public()).unwrap();
        assert!(other.repin_vouched(&k2.public(), &k1.public()).is_err());
        assert_eq!(
            other.repin_vouched(&k1.public(), &k0.public()),
            Ok(PinOutcome::Vouched)
        );
        // A repin the user confirmed clears the note.
        other.repin(&k2.public());
        assert!(other.change_of(&user("alice")).is_none());
    }
}
