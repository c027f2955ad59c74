//! The device's pins ([`crate::space::pins::PinStore`]) kept in its store,
//! one row per account, so they outlive a restart and a repair (they are
//! not derived from the notes), and every process on the device (the app,
//! the CLI) checks against the same ones.

use rusqlite::params;

use crate::error::{CoreError, Result};
use crate::space::identity::PublicIdentity;
use crate::space::pins::PinStore;
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
            let id: PublicIdentity =
                serde_json::from_str(&json).map_err(|e| CoreError::Invalid {
                    what: "pinned identity",
                    reason: format!("{account}: {e}"),
                })?;
            // Rows were written from a PinStore, one per account.
            pins.repin(&id);
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
            let json = serde_json::to_string(id).map_err(|e| CoreError::Invalid {
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
    }
}
