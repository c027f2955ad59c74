//! Documents stored and synced like notes under reserved ids, that are
//! not notes: the notebook tree, the blob index and the device actors. Each holds one map
//! at its root. Every device starts such a document with the same genesis
//! changes (same actor, same time, same operations, so the same change
//! hashes): two devices that each made it before they ever synced then
//! merge into one map instead of two rival ones, of which Automerge would
//! keep only one.

use automerge::{
    transaction::{CommitOptions, Transactable},
    AutoCommit, ChangeHash, ObjId, ObjType, ReadDoc, Value, ROOT,
};

use crate::error::{CoreError, Result};
use crate::note_doc::NoteDoc;
use crate::origin::Origin;
use crate::store::Store;

/// Whether `id` is one of these documents (or a shared notebook's tree,
/// `space::tree`) rather than a note.
pub(crate) fn is_reserved(id: &str) -> bool {
    id == crate::notebook_doc::NOTEBOOKS_DOC_ID
        || crate::space::tree::is_space_tree(id)
        || crate::space::blob_index::is_space_blob_index(id)
        || id == crate::blob::index_doc::BLOB_INDEX_DOC_ID
        || id == crate::device_actors::DEVICE_ACTORS_DOC_ID
}

/// The document `id` as every device first makes it: `kind` and an empty
/// map under `map_key`, written by `genesis_actor`; later changes are
/// this device's (`actor`).
pub(crate) fn genesis(
    id: &str,
    genesis_actor: &[u8],
    actor: &[u8],
    kind: &str,
    map_key: &str,
) -> Result<NoteDoc> {
    let mut doc = NoteDoc::create(id, genesis_actor, "", 0)?;
    let err = |source| CoreError::Document {
        id: id.to_string(),
        source: Box::new(source),
    };
    let d = doc.doc_mut();
    d.put(ROOT, "kind", kind).map_err(err)?;
    d.put_object(ROOT, map_key, ObjType::Map).map_err(err)?;
    d.commit_with(CommitOptions::default().with_time(0));
    d.set_actor(automerge::ActorId::from(actor));
    Ok(doc)
}

/// The map under `key` at the root, now or at `heads`.
pub(crate) fn root_map(doc: &AutoCommit, key: &str, heads: Option<&[ChangeHash]>) -> Option<ObjId> {
    let got = match heads {
        Some(h) => doc.get_at(ROOT, key, h),
        None => doc.get(ROOT, key),
    };
    match got {
        Ok(Some((Value::Object(ObjType::Map), obj))) => Some(obj),
        _ => None,
    }
}

impl Store {
    /// Makes sure the reserved document `id` exists here, starting it with
    /// `genesis` (given this device's actor) if not.
    pub(crate) fn ensure_reserved(
        &mut self,
        id: &str,
        genesis: impl FnOnce(&[u8]) -> Result<NoteDoc>,
    ) -> Result<()> {
        if self.doc_exists(id)? {
            return Ok(());
        }
        let mut doc = genesis(&self.actor)?;
        let snapshot = doc.save();
        let state = doc.state(None)?;
        self.in_tx(&[id], |s| {
            s.insert_doc(id, &snapshot, &state, Origin::Local)
        })?;
        self.cache.insert(doc);
        Ok(())
    }
}
