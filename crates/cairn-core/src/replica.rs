//! What another replica needs from a note: its heads, its full state, and
//! the changes it is missing. The sync engine moves these bytes; `merge`
//! (in `store.rs`) takes them in on the other side.

use automerge::ChangeHash;

use crate::error::{CoreError, Result};
use crate::store::Store;

pub(crate) fn parse_heads(id: &str, heads: &[String]) -> Result<Vec<ChangeHash>> {
    heads
        .iter()
        .map(|h| {
            h.parse::<ChangeHash>().map_err(|_| CoreError::Invalid {
                what: "heads",
                reason: format!("{h:?} is not a change hash (note {id})"),
            })
        })
        .collect()
}

impl Store {
    /// The note's current heads, hex.
    pub fn heads(&mut self, id: &str) -> Result<Vec<String>> {
        Ok(self
            .doc_mut(id)?
            .heads()
            .iter()
            .map(|h| h.to_string())
            .collect())
    }

    /// The whole note as one compacted Automerge document.
    pub fn save_note(&mut self, id: &str) -> Result<Vec<u8>> {
        Ok(self.doc_mut(id)?.save())
    }

    /// The changes of the note that `heads` do not cover (empty heads: all).
    pub fn changes_after(&mut self, id: &str, heads: &[String]) -> Result<Vec<u8>> {
        let heads = parse_heads(id, heads)?;
        let doc = self.doc_mut(id)?;
        // Heads we have never seen cannot be used as a base; send everything.
        let known = heads.iter().all(|h| doc.has_change(h));
        Ok(if known {
            doc.save_after(&heads)
        } else {
            doc.save_after(&[])
        })
    }
}
