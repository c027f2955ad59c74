//! Which device wrote which changes: one Automerge document shared by the
//! whole account, mapping each store's Automerge actor to the device id the
//! service gave it.
//!
//! A store's actor is made when its database is, before any sign-in, and
//! is random, so a change says nothing of the device that made it. History
//! wants to say "made on the laptop", so each signed-in device writes its
//! own entry here once; every device reads them all. It is stored and
//! synced like the notebook tree (same rows, same publish and merge path,
//! the note shape with an empty body) under its own reserved id. Its root
//! holds:
//!
//! | key      | type         | meaning                                   |
//! |----------|--------------|-------------------------------------------|
//! | `kind`   | str          | `"devices"`                               |
//! | `actors` | map<str,str> | actor id (hex) -> device id               |
//!
//! Names are not kept here: a device can be renamed from another one, and
//! the service's device list says what it is called now. A device only
//! ever writes its own actor's entry, so entries never conflict.

use std::collections::HashMap;

use automerge::{transaction::Transactable, AutoCommit, ReadDoc, ScalarValue, Value};

use crate::error::{CoreError, Result};
use crate::note_doc::NoteDoc;
use crate::origin::Origin;
use crate::store::Store;

/// The document's id: a UUID no note gets (`Uuid::new_v4` never makes
/// version 0), one past the blob index's.
pub const DEVICE_ACTORS_DOC_ID: &str = "00000000-0000-0000-0000-000000000002";

const GENESIS_ACTOR: &[u8] = b"cairn-device-actors";

fn err(source: automerge::AutomergeError) -> CoreError {
    CoreError::Document {
        id: DEVICE_ACTORS_DOC_ID.to_string(),
        source: Box::new(source),
    }
}

/// The document as every device first makes it.
pub(crate) fn genesis(actor: &[u8]) -> Result<NoteDoc> {
    crate::reserved_doc::genesis(
        DEVICE_ACTORS_DOC_ID,
        GENESIS_ACTOR,
        actor,
        "devices",
        "actors",
    )
}

/// Every (actor hex, device id) entry the document holds.
fn read_entries(doc: &AutoCommit) -> Result<HashMap<String, String>> {
    let Some(map) = crate::reserved_doc::root_map(doc, "actors", None) else {
        return Ok(HashMap::new());
    };
    let mut out = HashMap::new();
    for actor in doc.keys(&map) {
        if let Some((Value::Scalar(s), _)) = doc.get(&map, actor.as_str()).map_err(err)? {
            if let ScalarValue::Str(device) = s.as_ref() {
                out.insert(actor, device.to_string());
            }
        }
    }
    Ok(out)
}

impl Store {
    /// Records that this store's changes are made by `device_id` (once per
    /// device: nothing is written when the entry is already there).
    pub fn record_device(&mut self, device_id: &str) -> Result<()> {
        self.ensure_device_actors()?;
        let actor = self.actor_hex();
        let doc = self.doc_mut(DEVICE_ACTORS_DOC_ID)?;
        if read_entries(doc.doc_mut())?.get(&actor).map(String::as_str) == Some(device_id) {
            return Ok(());
        }
        let map =
            crate::reserved_doc::root_map(doc.doc_mut(), "actors", None).ok_or_else(|| {
                CoreError::CorruptNote {
                    id: DEVICE_ACTORS_DOC_ID.to_string(),
                    reason: "the device map is missing".into(),
                }
            })?;
        doc.doc_mut()
            .put(&map, actor.as_str(), device_id)
            .map_err(err)?;
        let now = self.clock.now_ms();
        let doc = self.doc_mut(DEVICE_ACTORS_DOC_ID)?;
        if doc.commit_local(now)? {
            self.in_tx(&[DEVICE_ACTORS_DOC_ID], |s| {
                s.write_changes(DEVICE_ACTORS_DOC_ID, Origin::Local)
            })?;
        }
        Ok(())
    }

    /// The device id of every actor that recorded one, by actor hex.
    pub fn device_actors(&mut self) -> Result<HashMap<String, String>> {
        if !self.doc_exists(DEVICE_ACTORS_DOC_ID)? {
            return Ok(HashMap::new());
        }
        read_entries(self.doc_mut(DEVICE_ACTORS_DOC_ID)?.doc_mut())
    }

    /// Makes sure the document exists here.
    pub(crate) fn ensure_device_actors(&mut self) -> Result<()> {
        self.ensure_reserved(DEVICE_ACTORS_DOC_ID, genesis)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use crate::DEVICE_ACTORS_DOC_ID;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn each_device_records_itself_once_and_both_read_both() {
        let (_a_dir, mut a) = store();
        let (_b_dir, mut b) = store();
        a.record_device("dev-a").unwrap();
        let heads = a.heads(DEVICE_ACTORS_DOC_ID).unwrap();
        a.record_device("dev-a").unwrap();
        assert_eq!(
            a.heads(DEVICE_ACTORS_DOC_ID).unwrap(),
            heads,
            "no second write"
        );
        b.record_device("dev-b").unwrap();
        let from_a = a.changes_after(DEVICE_ACTORS_DOC_ID, &[]).unwrap();
        let from_b = b.changes_after(DEVICE_ACTORS_DOC_ID, &[]).unwrap();
        a.merge_many(&[(DEVICE_ACTORS_DOC_ID.to_string(), from_b)])
            .unwrap();
        b.merge_many(&[(DEVICE_ACTORS_DOC_ID.to_string(), from_a)])
            .unwrap();
        let (ma, mb) = (a.device_actors().unwrap(), b.device_actors().unwrap());
        assert_eq!(ma, mb);
        assert_eq!(ma.get(&a.actor_hex()).map(String::as_str), Some("dev-a"));
        assert_eq!(ma.get(&b.actor_hex()).map(String::as_str), Some("dev-b"));
        // The document is not a note.
        assert!(a.all_note_ids().unwrap().is_empty());
        assert!(a.get(DEVICE_ACTORS_DOC_ID).is_err());
    }
}
