//! Edits made against the version of a note the editor shows.
//!
//! The editor computes its splices on its own text, which is the note at
//! some heads. By the time they arrive the sync task may have merged a
//! peer's changes; applying the splices to the note as it is now would
//! shift them by whatever the peer inserted before them. So they are made
//! on a fork of the document at the editor's heads, closed into one change
//! there, and that change is merged back: the typed text stays next to the
//! characters it was typed after, wherever the peer's text went.
//!
//! The answer carries the new heads and, when other changes had been merged
//! since the editor's heads, the splices that bring the editor's text up to
//! date: the Automerge patches of the body between the editor's version
//! (its heads plus its own change) and the new heads.

use automerge::{
    transaction::{CommitOptions, Transactable},
    ActorId, AutoCommit, ChangeHash, ObjId, PatchAction, ReadDoc, ScalarValue, ROOT,
};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::model::NoteSummary;
use crate::note_doc::{excerpt_of, title_of, NoteDoc, NoteState};
use crate::origin::Origin;
use crate::replica::parse_heads;
use crate::store::Store;

/// One text edit in UTF-16 code units (the editor's unit): at `index`,
/// remove `delete` units, then insert `insert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Splice {
    pub index: usize,
    pub delete: usize,
    pub insert: String,
}

/// What an edit (or a catch-up) at the editor's heads led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EditOutcome {
    /// The note's heads now, hex; the version the editor is at once it has
    /// applied `remote`.
    pub heads: Vec<String>,
    /// Changes merged from elsewhere that the editor has not seen, as
    /// splices to apply one after another to the editor's text (its text
    /// at the heads it sent, with its own splices applied).
    pub remote: Vec<Splice>,
    /// The note's row in the list, as it is now.
    pub summary: NoteSummary,
}

impl Store {
    /// Applies `splices` (in order, each on the text the previous one left)
    /// to the note as it was at `heads`, as one durable local change, and
    /// says what else changed since `heads`. With no splices nothing is
    /// written: the answer only brings the editor up to date.
    ///
    /// Fails, changing nothing, if a splice lies outside the text it
    /// applies to, if `heads` are not in the note's history, or if this
    /// device itself changed the body since `heads` (the editor must catch
    /// up first; its text no longer matches a version it can name).
    pub fn edit_at(
        &mut self,
        id: &str,
        heads: &[String],
        splices: &[Splice],
    ) -> Result<EditOutcome> {
        let at = parse_heads(id, heads)?;
        let now = self.clock.now_ms();
        let actor = ActorId::from(self.actor.as_slice());
        let doc = self.doc_mut(id)?;
        for h in &at {
            if !doc.has_change(h) {
                return Err(CoreError::VersionNotFound {
                    id: id.to_string(),
                    version: h.to_string(),
                });
            }
        }
        if doc.state(None)?.deleted {
            return Err(CoreError::NoteDeleted { id: id.to_string() });
        }
        let (seen, written) = match apply_at(doc, &at, splices, actor, now) {
            Ok(Some(change)) => (vec![change], true),
            Ok(None) => (at, false),
            Err(e) => {
                // Nothing reached the document; forget it anyway in case
                // the merge got half way.
                self.cache.evict(id);
                return Err(e);
            }
        };
        if written {
            // Links typed in this edit get their target's id, as in every
            // local edit (a second change only when a new link appeared).
            if let Err(e) = self.stage_links(id) {
                self.doc_mut(id)?.rollback();
                self.cache.evict(id);
                return Err(e);
            }
            self.doc_mut(id)?.commit_local(now)?;
        }
        let doc = self.doc_mut(id)?;
        let remote = body_splices(doc, &seen);
        let new_heads: Vec<String> = doc.heads().iter().map(ChangeHash::to_string).collect();
        let state = doc.state(None)?;
        if written {
            self.in_tx(&[id], |s| s.write_changes(id, Origin::Local))?;
        }
        Ok(EditOutcome {
            heads: new_heads,
            remote,
            summary: summary_of(id, &state),
        })
    }
}

/// Makes the splices one change on top of `at`; returns its hash, or None
/// when the splices change nothing.
fn apply_at(
    doc: &mut NoteDoc,
    at: &[ChangeHash],
    splices: &[Splice],
    actor: ActorId,
    now: i64,
) -> Result<Option<ChangeHash>> {
    if splices.iter().all(|s| s.delete == 0 && s.insert.is_empty()) {
        return Ok(None);
    }
    let id = doc.id().to_string();
    let body = doc.body_obj().clone();
    let am = |source| CoreError::Document {
        id: id.clone(),
        source: Box::new(source),
    };
    let current = doc.heads();
    if heads_equal(&current, at) {
        // Nothing came in since the editor's version: edit in place,
        // through the note's own splice so the body it keeps stays (a
        // keystroke would otherwise read the whole text back out).
        for sp in splices {
            let applied = check_splice(doc.body_len(), sp)
                .and_then(|delete| doc.splice(sp.index, delete, &sp.insert));
            if let Err(e) = applied {
                // Drop what was staged; the document is as it was.
                doc.rollback();
                return Err(e);
            }
        }
        return doc.commit_local_change(now);
    }
    // A change of this device's own that `at` does not cover would share
    // its sequence number with the fork's change. The fork then starts
    // from that change as well; that is only right if it left the body
    // as it was at `at` (a tag or pin set meanwhile).
    let missing = doc.doc_mut().get_changes(at);
    let own_last = missing
        .iter()
        .filter(|c| c.actor_id() == &actor)
        .max_by_key(|c| c.seq())
        .map(|c| c.hash());
    let mut base = at.to_vec();
    if let Some(own) = own_last {
        base.push(own);
        let before = doc.body_at(at)?;
        let after = doc.body_at(&base)?;
        if before != after {
            return Err(CoreError::Invalid {
                what: "edit",
                reason: format!(
                    "note {id} was changed on this device since the editor's version; \
                     the editor must catch up before its edit can be placed"
                ),
            });
        }
    }
    let mut fork = doc.doc_mut().fork_at(&base).map_err(&am)?;
    fork.set_actor(actor);
    splice_all(&mut fork, &body, splices, &id)?;
    fork.put(ROOT, "modified", ScalarValue::Timestamp(now))
        .map_err(&am)?;
    let Some(change) = fork.commit_with(CommitOptions::default().with_time(now)) else {
        return Ok(None);
    };
    doc.doc_mut().merge(&mut fork).map_err(&am)?;
    Ok(Some(change))
}

fn splice_all(doc: &mut AutoCommit, body: &ObjId, splices: &[Splice], id: &str) -> Result<()> {
    for sp in splices {
        let delete = check_splice(doc.length(body), sp)?;
        doc.splice_text(body, sp.index, delete, &sp.insert)
            .map_err(|source| CoreError::Document {
                id: id.to_string(),
                source: Box::new(source),
            })?;
    }
    Ok(())
}

/// The splice's delete count as Automerge takes it, once the splice is
/// known to lie inside a text of `len` UTF-16 units.
fn check_splice(len: usize, sp: &Splice) -> Result<isize> {
    let end = sp.index.checked_add(sp.delete);
    if sp.index > len || end.is_none_or(|e| e > len) {
        return Err(CoreError::Invalid {
            what: "splice",
            reason: format!(
                "index {} + delete {} is outside the body of {len} UTF-16 units",
                sp.index, sp.delete
            ),
        });
    }
    isize::try_from(sp.delete).map_err(|_| CoreError::Invalid {
        what: "splice",
        reason: format!("delete count {}", sp.delete),
    })
}

/// The body's changes from `seen` to now, as splices in UTF-16 units.
fn body_splices(doc: &mut NoteDoc, seen: &[ChangeHash]) -> Vec<Splice> {
    let now = doc.heads();
    if heads_equal(&now, seen) {
        return Vec::new();
    }
    let body = doc.body_obj().clone();
    doc.diff(seen, &now)
        .into_iter()
        .filter(|p| p.obj == body)
        .filter_map(|p| match p.action {
            PatchAction::SpliceText { index, value, .. } => Some(Splice {
                index,
                delete: 0,
                insert: value.make_string(),
            }),
            PatchAction::DeleteSeq { index, length } => Some(Splice {
                index,
                delete: length,
                insert: String::new(),
            }),
            _ => None,
        })
        .collect()
}

fn heads_equal(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a.dedup();
    b.dedup();
    a == b
}

pub(crate) fn summary_of(id: &str, s: &NoteState) -> NoteSummary {
    NoteSummary {
        id: id.to_string(),
        title: title_of(&s.body),
        excerpt: excerpt_of(&s.body),
        tags: crate::inline_tags::row_tags(s),
        pinned: s.pinned,
        trashed: s.trashed,
        created_ms: s.created_ms,
        modified_ms: s.modified_ms,
    }
}
