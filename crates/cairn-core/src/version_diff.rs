//! What changed between a past version of a note and the note now, for the
//! history view to highlight: the past text in runs, each kept, removed
//! since, or added since. A character diff (`similar`, Myers), folded to
//! words where it can be, so a reworded sentence reads as words, not as
//! scattered letters.

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::error::Result;
use crate::store::Store;

/// How a run of text differs between the shown version and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// In both.
    Same,
    /// In the shown version, not in the note now.
    Removed,
    /// In the note now, not in the shown version.
    Added,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DiffRun {
    pub kind: DiffKind,
    pub text: String,
}

/// The runs that turn `then` into `now`, neighbours of one kind merged.
pub fn diff_runs(then: &str, now: &str) -> Vec<DiffRun> {
    let diff = TextDiff::configure().diff_unicode_words(then, now);
    let mut runs: Vec<DiffRun> = Vec::new();
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Equal => DiffKind::Same,
            ChangeTag::Delete => DiffKind::Removed,
            ChangeTag::Insert => DiffKind::Added,
        };
        match runs.last_mut() {
            Some(last) if last.kind == kind => last.text.push_str(change.value()),
            _ => runs.push(DiffRun {
                kind,
                text: change.value().to_owned(),
            }),
        }
    }
    runs
}

impl Store {
    /// The note's body at `version` against its body now.
    pub fn compare_with_current(&mut self, id: &str, version: &str) -> Result<Vec<DiffRun>> {
        let then = self.note_at(id, version)?.body;
        let now = self.get(id)?.body;
        Ok(diff_runs(&then, &now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(runs: &[DiffRun], keep: &[DiffKind]) -> String {
        runs.iter()
            .filter(|r| keep.contains(&r.kind))
            .map(|r| r.text.as_str())
            .collect()
    }

    #[test]
    fn runs_rebuild_both_texts_and_name_what_changed() {
        let then = "Shopping\nmilk\neggs\nbread";
        let now = "Shopping\nmilk\noat milk\nbread\ncoffee";
        let runs = diff_runs(then, now);
        assert_eq!(text_of(&runs, &[DiffKind::Same, DiffKind::Removed]), then);
        assert_eq!(text_of(&runs, &[DiffKind::Same, DiffKind::Added]), now);
        assert_eq!(text_of(&runs, &[DiffKind::Removed]), "eggs");
        assert!(text_of(&runs, &[DiffKind::Added]).contains("coffee"));
        assert_eq!(diff_runs("same", "same").len(), 1);
    }
}
