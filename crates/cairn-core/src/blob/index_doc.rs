//! The blob index: one Automerge document shared by the whole account,
//! mapping each uploaded chunk to where it sits in the bucket.
//!
//! It is stored and synced like the notebook tree (same `doc`/`chunk`
//! rows, same publish and merge path, the note shape with an empty body)
//! under its own reserved id. Its root holds:
//!
//! | key      | type         | meaning                                          |
//! |----------|--------------|--------------------------------------------------|
//! | `kind`   | str          | `"blobs"`                                        |
//! | `chunks` | map<str,str> | chunk id (hex) -> location (see `location.rs`)   |
//!
//! Every device starts it with the same genesis changes, so two devices
//! that each uploaded before they ever synced merge into one `chunks` map.
//! A chunk two devices both uploaded ends with one of the two locations,
//! the same everywhere; both hold the same bytes.

use automerge::{
    transaction::Transactable, AutoCommit, ChangeHash, ObjId, ReadDoc, ScalarValue, Value,
};

use crate::error::{CoreError, Result};
use crate::note_doc::NoteDoc;

/// The index document's id: a UUID no note gets (`Uuid::new_v4` never
/// makes version 0), one past the notebook tree's.
pub const BLOB_INDEX_DOC_ID: &str = "00000000-0000-0000-0000-000000000001";

const GENESIS_ACTOR: &[u8] = b"cairn-blob-index";

fn err(source: automerge::AutomergeError) -> CoreError {
    CoreError::Document {
        id: BLOB_INDEX_DOC_ID.to_string(),
        source: Box::new(source),
    }
}

/// The index document as every device first makes it.
pub(crate) fn genesis(actor: &[u8]) -> Result<NoteDoc> {
    crate::reserved_doc::genesis(BLOB_INDEX_DOC_ID, GENESIS_ACTOR, actor, "blobs", "chunks")
}

fn chunks_obj(doc: &AutoCommit, heads: Option<&[ChangeHash]>) -> Option<ObjId> {
    crate::reserved_doc::root_map(doc, "chunks", heads)
}

/// Every (chunk id, location) entry as stored, not yet checked. Empty for
/// any other document.
pub(crate) fn read_entries(
    doc: &AutoCommit,
    heads: Option<&[ChangeHash]>,
) -> std::result::Result<Vec<(String, String)>, automerge::AutomergeError> {
    let Some(map) = chunks_obj(doc, heads) else {
        return Ok(Vec::new());
    };
    let keys: Vec<String> = match heads {
        Some(h) => doc.keys_at(&map, h).collect(),
        None => doc.keys(&map).collect(),
    };
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let v = match heads {
            Some(h) => doc.get_at(&map, key.as_str(), h)?,
            None => doc.get(&map, key.as_str())?,
        };
        if let Some((Value::Scalar(s), _)) = v {
            if let ScalarValue::Str(text) = s.as_ref() {
                out.push((key, text.to_string()));
            }
        }
    }
    Ok(out)
}

/// Stages entries (the caller commits).
pub(crate) fn put_entries(doc: &mut AutoCommit, entries: &[(String, String)]) -> Result<()> {
    let map = chunks_obj(doc, None).ok_or_else(|| CoreError::CorruptNote {
        id: BLOB_INDEX_DOC_ID.to_string(),
        reason: "the blob index has no chunks map".into(),
    })?;
    for (k, v) in entries {
        doc.put(&map, k.as_str(), v.as_str()).map_err(err)?;
    }
    Ok(())
}

/// Stages removals (the caller commits).
pub(crate) fn remove_entries(doc: &mut AutoCommit, keys: &[String]) -> Result<()> {
    let Some(map) = chunks_obj(doc, None) else {
        return Ok(());
    };
    for k in keys {
        doc.delete(&map, k.as_str()).map_err(err)?;
    }
    Ok(())
}
