//! A shared space this device has begun to create (schema 12).
//!
//! Creating a space is two steps in two places: the service stores its
//! record 0, then this device keeps the space and gives the notebook the
//! id the space derives. A crash between them (or an answer lost on the
//! way back) would leave a space on the service that this device does not
//! know. So the record is kept here first, with the notebook it is for;
//! the caller asks the service, keeps the space, and only then drops the
//! row. A row found later is a creation to finish: the record is sent
//! again (the service answers `space_exists` if the first one landed) and
//! the local steps, each of which can run twice, are done.

use rusqlite::params;

use crate::error::{CoreError, Result};
use crate::space::epoch::SpaceId;
use crate::space::record::Record;
use crate::store::{sql_err, Store};

/// A creation begun and not yet kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSpace {
    /// The notebook being shared, by its id before the renumbering.
    pub notebook: String,
    /// Record 0, as signed (its space id is the space's).
    pub genesis: Record,
}

impl PendingSpace {
    pub fn space(&self) -> SpaceId {
        self.genesis.body.space
    }
}

impl Store {
    /// Keeps `pending` before the service is asked to create its space.
    pub fn save_pending_space(&mut self, pending: &PendingSpace) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO space_pending(space_id, notebook, genesis)
                 VALUES (?1, ?2, ?3)",
                params![
                    pending.space().to_string(),
                    pending.notebook,
                    pending.genesis.encode()
                ],
            )
            .map_err(sql_err(
                "keeping a shared notebook being created",
                &self.path,
            ))?;
        Ok(())
    }

    /// Every creation begun and not yet kept, oldest space id first.
    pub fn pending_spaces(&self) -> Result<Vec<PendingSpace>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT notebook, genesis FROM space_pending ORDER BY space_id")
            .map_err(sql_err(
                "reading shared notebooks being created",
                &self.path,
            ))?;
        let rows: Vec<(String, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(sql_err(
                "reading shared notebooks being created",
                &self.path,
            ))?;
        rows.into_iter()
            .map(|(notebook, bytes)| {
                let genesis = Record::decode(&bytes).map_err(|e| CoreError::Invalid {
                    what: "stored record of a shared notebook being created",
                    reason: e.to_string(),
                })?;
                Ok(PendingSpace { notebook, genesis })
            })
            .collect()
    }

    /// The creation of `space` is over: kept, or given up.
    pub fn drop_pending_space(&mut self, space: &SpaceId) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM space_pending WHERE space_id = ?1",
                [space.to_string()],
            )
            .map_err(sql_err(
                "finishing a shared notebook's creation",
                &self.path,
            ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::author;
    use crate::space::identity::tests::user;
    use crate::space::identity::SharingIdentity;

    #[test]
    fn a_pending_creation_is_kept_until_dropped_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let me = SharingIdentity::generate(user("alice"));
        let first = author::create(&me).unwrap().record;
        let second = author::create(&me).unwrap().record;
        {
            let mut store = Store::open(dir.path()).unwrap();
            assert!(store.pending_spaces().unwrap().is_empty());
            for (nb, r) in [("nb-1", &first), ("nb-2", &second)] {
                store
                    .save_pending_space(&PendingSpace {
                        notebook: nb.into(),
                        genesis: r.clone(),
                    })
                    .unwrap();
            }
        }
        let mut store = Store::open(dir.path()).unwrap();
        let kept = store.pending_spaces().unwrap();
        assert_eq!(kept.len(), 2);
        let one = kept.iter().find(|p| p.space() == first.body.space).unwrap();
        assert_eq!((one.notebook.as_str(), &one.genesis), ("nb-1", &first));
        store.drop_pending_space(&first.body.space).unwrap();
        let left = store.pending_spaces().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].space(), second.body.space);
    }
}
