//! A note's history. Every Automerge change is a version: the state right
//! after it (with everything it depended on). Reading a version uses the
//! document's own time travel (`text_at` with those heads); restoring one
//! writes its content back as a new change, so restoring is itself undoable
//! and merges with other devices like any edit.

use automerge::ChangeHash;

use crate::error::{CoreError, Result};
use crate::model::Version;
use crate::note_doc::NoteState;
use crate::store::Store;

fn parse_version(id: &str, version: &str) -> Result<ChangeHash> {
    version
        .parse::<ChangeHash>()
        .map_err(|_| CoreError::VersionNotFound {
            id: id.to_string(),
            version: version.to_string(),
        })
}

impl Store {
    /// Every version of the note, oldest first.
    pub fn history(&mut self, id: &str) -> Result<Vec<Version>> {
        let actor = self.actor.clone();
        let doc = self.doc_mut(id)?;
        let versions = doc
            .changes_meta()
            .into_iter()
            .map(|m| Version {
                version: m.hash.to_string(),
                time_ms: m.timestamp,
                local: m.actor.to_bytes() == actor.as_slice(),
                actor: m.actor.to_hex_string(),
            })
            .collect();
        Ok(versions)
    }

    /// The note as it was right after `version`.
    pub fn note_at(&mut self, id: &str, version: &str) -> Result<NoteState> {
        let hash = parse_version(id, version)?;
        let doc = self.doc_mut(id)?;
        if !doc.has_change(&hash) {
            return Err(CoreError::VersionNotFound {
                id: id.to_string(),
                version: version.to_string(),
            });
        }
        doc.state(Some(&[hash]))
    }

    /// Makes the note's body and tags what they were at `version`, as one
    /// new change. The note leaves the trash if it was there.
    pub fn restore_version(&mut self, id: &str, version: &str) -> Result<bool> {
        let old = self.note_at(id, version)?;
        let current = self.doc_mut(id)?.state(None)?;
        let add: Vec<String> = old
            .tags
            .iter()
            .filter(|t| !current.tags.contains(t))
            .cloned()
            .collect();
        let remove: Vec<String> = current
            .tags
            .iter()
            .filter(|t| !old.tags.contains(t))
            .cloned()
            .collect();
        self.edit(id, |d| {
            d.set_body(&old.body)?;
            for t in &remove {
                d.remove_tag(t)?;
            }
            for t in &add {
                d.add_tag(t)?;
            }
            d.set_flag(crate::note_doc::Flag::Trashed, false)
        })
    }
}
