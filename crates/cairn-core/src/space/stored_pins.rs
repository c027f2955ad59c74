//! The device's pins ([`crate::space::pins::PinStore`]) kept in its store,
//! one row per account, so they outlive a restart and a repair (they are
//! not derived from the notes), and every process on the device (the app,
//! the CLI) checks against the same ones.
//!
//! A row's JSON is the pinned [`PublicIdentity`], and, when the pin moved
//! because the previous key vouched for the new one, `changed_from` (the
//! previous fingerprint) beside it: a build that predates it reads the
//! identity and ignores the field.

#[derive(serde::Serialize, serde::Deserialize)]
struct Row {
    #[serde(flatten)]
    identity: PublicIdentity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changed_from: Option<String>,
}

use rusqlite::params;

use crate::error::{CoreError, Result};
use crate::space::identity::PublicIdentity;
use crate::space::pins::{KeyChange, PinStore};
use crate::store::{sql_err, Store};

impl Store {
    /// Every pinned identity.
    pub fn sharing_pins(&self) -> Result<PinStore> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT account, identity FROM sharing_pin ORDER BY account")
            .map_err(sql_err("reading pinned identities", &self.path))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(sql_err("reading pinned identities", &self.path))?;
        let mut pins = PinStore::default();
        for (account, json) in rows {
            let row: Row = serde_json::from_str(&json).map_err(|e| CoreError::Invalid {
                what: "pinned identity",
                reason: format!("{account}: {e}"),
            })?;
            // Rows were written from a PinStore, one per account.
            pins.repin(&row.identity);
            if let Some(previous_fingerprint) = row.changed_from {
                pins.note_change(
                    &row.identity.account,
                    KeyChange {
                        previous_fingerprint,
                    },
                );
            }
        }
        Ok(pins)
    }

    /// Writes `pins` back: new pins added, re-pinned ones replaced. A pin
    /// is never dropped here (a device forgets nobody it has met).
    pub fn save_sharing_pins(&mut self, pins: &PinStore) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(sql_err("saving pinned identities", &path))?;
        for id in pins.iter() {
            let row = Row {
                identity: id.clone(),
                changed_from: pins
                    .change_of(&id.account)
                    .map(|c| c.previous_fingerprint.clone()),
            };
            let json = serde_json::to_string(&row).map_err(|e| CoreError::Invalid {
                what: "pinned identity",
                reason: e.to_string(),
            })?;
            tx.execute(
                "INSERT INTO sharing_pin(account, identity) VALUES (?1, ?2)
                 ON CONFLICT(account) DO UPDATE SET identity = excluded.identity",
                params![id.account.as_str(), json],
            )
            .map_err(sql_err("saving pinned identities", &path))?;
        }
        tx.commit()
            .map_err(sql_err("saving pinned identities", &path))
    }
}

#[cfg(test)]
mod tests {
    use crate::space::identity::tests::user;
    use crate::space::identity::SharingIdentity;
    use crate::space::pins::PinOutcome;
    use crate::Store;

    #[test]
    fn pins_survive_reopening_and_a_changed_key_stays_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bob = SharingIdentity::generate(user("bob")).public();
        {
            let mut store = Store::open(dir.path()).unwrap();
            let mut pins = store.sharing_pins().unwrap();
            assert_eq!(pins.check_or_pin(&bob), Ok(PinOutcome::FirstUse));
            store.save_sharing_pins(&pins).unwrap();
        }
        let mut store = Store::open(dir.path()).unwrap();
        let mut pins = store.sharing_pins().unwrap();
        assert_eq!(pins.check_or_pin(&bob), Ok(PinOutcome::Known));
        let swapped = SharingIdentity::generate(user("bob")).public();
        assert!(pins.check_or_pin(&swapped).is_err());
        pins.repin(&swapped);
        store.save_sharing_pins(&pins).unwrap();
        assert_eq!(
            store.sharing_pins().unwrap().get(&user("bob")),
            Some(&swapped)
        );
        // A vouched change is kept with the pin.
        let next = SharingIdentity::generate(user("bob")).public();
        pins.repin_vouched(&next, &swapped).unwrap();
        store.save_sharing_pins(&pins).unwrap();
        let back = store.sharing_pins().unwrap();
        assert_eq!(back, pins);
        assert!(back.change_of(&user("bob")).is_some());
    }
}
