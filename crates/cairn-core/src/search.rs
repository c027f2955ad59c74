//! Search as the app and `cairn search` ask it: the exact full-text matches
//! first and, when they are few, notes with words spelled close to the
//! query's (fuzzy.rs); each hit with the passage it matched (snippet.rs)
//! and the words to highlight.

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::NoteSummary;
use crate::query::{query_words, summary, SUMMARY_COLUMNS};
use crate::snippet::snippet_of;
use crate::store::{sql_err, Store};

/// Fewer exact hits than this and close spellings are tried as well. The
/// exact path pays nothing more than the snippets when it finds enough.
pub const FUZZY_BELOW: usize = 3;

/// At most this many matches are ranked: the newest ones (the latest
/// rows this device stored) when there are more.
///
/// Ranking costs a score per match, and a short word or prefix (what a
/// search is while its first letters are typed) matches a large share of
/// the notes: tens of milliseconds in 100,000 notes, for a query the next
/// keystroke replaces. Walking the matches newest first to find where the
/// window starts is cheap (no score, the index's own order), and one more
/// letter usually brings the matches under the window, where all of them
/// are ranked.
pub const RANK_WINDOW: usize = 2000;

/// One note a search found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    pub note: NoteSummary,
    /// The passage around the first match in the text, or the note's
    /// excerpt when only its title or tags matched.
    pub snippet: String,
}

/// What a search found, best first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// The words that matched, lower case, to highlight: the query's own
    /// and the close spellings found for them. A match starts with one.
    pub terms: Vec<String>,
    /// Some hits match close spellings only, not the words typed.
    pub fuzzy: bool,
}

impl Store {
    /// Searches live notes (or the trash) for `query`: every word must
    /// match, the last as a prefix (results follow typing).
    pub fn search_notes(&self, query: &str, trashed: bool, limit: usize) -> Result<SearchResults> {
        let words: Vec<String> = query_words(query)
            .iter()
            .map(|w| w.to_lowercase())
            .collect();
        if words.is_empty() || limit == 0 {
            return Ok(SearchResults::default());
        }
        let mut found =
            self.matching(&match_expression(&words, &[]), trashed, limit, RANK_WINDOW)?;
        let mut terms = words.clone();
        let mut fuzzy = false;
        if found.len() < FUZZY_BELOW {
            let close = crate::fuzzy::alternatives(&self.conn, &self.path, &words)?;
            if close.iter().any(|c| !c.is_empty()) {
                let expression = match_expression(&words, &close);
                for hit in self.matching(&expression, trashed, limit, RANK_WINDOW)? {
                    if found.len() < limit && !found.iter().any(|(n, _)| n.id == hit.0.id) {
                        found.push(hit);
                        fuzzy = true;
                    }
                }
                terms.extend(close.into_iter().flatten());
            }
        }
        let hits = found
            .into_iter()
            .map(|(note, body)| {
                let snippet = snippet_of(&body, &terms).unwrap_or_else(|| note.excerpt.clone());
                SearchHit { note, snippet }
            })
            .collect();
        Ok(SearchResults { hits, terms, fuzzy })
    }

    /// The notes matching an FTS5 expression, best first, with their text;
    /// only the newest `window` matches are ranked (see [`RANK_WINDOW`]).
    fn matching(
        &self,
        expression: &str,
        trashed: bool,
        limit: usize,
        window: usize,
    ) -> Result<Vec<(NoteSummary, String)>> {
        let e = sql_err("searching", &self.path);
        // The row just below the window, if there are more matches than
        // it holds: FTS5 walks its postings newest first and stops there.
        let below: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT rowid FROM notes_fts WHERE notes_fts MATCH ?1
                 ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
            )
            .and_then(|mut st| {
                st.query_row(rusqlite::params![expression, window as i64], |r| r.get(0))
                    .optional()
            })
            .map_err(&e)?;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS}, n.rowid FROM notes_fts f JOIN notes n ON n.rowid = f.rowid
                 WHERE notes_fts MATCH ?1 AND f.rowid > ?4 AND n.trashed = ?2
                 ORDER BY bm25(notes_fts, 8.0, 1.0, 4.0) LIMIT ?3"
            ))
            .map_err(&e)?;
        let rows: Vec<(NoteSummary, i64)> = stmt
            .query_map(
                rusqlite::params![expression, trashed, limit as i64, below.unwrap_or(i64::MIN)],
                |r| Ok((summary(r)?, r.get::<_, i64>(8)?)),
            )
            .and_then(|r| r.collect())
            .map_err(&e)?;
        // The texts of the hits only, after the limit: joined into the
        // query above, every match's text went through the sort.
        let mut text = self
            .conn
            .prepare_cached("SELECT body FROM note_text WHERE rowid = ?1")
            .map_err(&e)?;
        let mut out = Vec::with_capacity(rows.len());
        for (note, rowid) in rows {
            let body: Option<String> = text
                .query_row([rowid], |r| r.get(0))
                .optional()
                .map_err(&e)?;
            out.push((note, body.unwrap_or_default()));
        }
        Ok(out)
    }
}

/// Every word required, each quoted (FTS operators typed are plain text),
/// the last one a prefix; a word with close spellings matches any of them.
fn match_expression(words: &[String], close: &[Vec<String>]) -> String {
    let quote = |w: &str| format!("\"{}\"", w.replace('"', ""));
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut own = quote(w);
            if i + 1 == words.len() {
                own.push('*');
            }
            match close.get(i).filter(|c| !c.is_empty()) {
                None => own,
                Some(c) => {
                    let alts: Vec<String> = c.iter().map(|t| quote(t)).collect();
                    format!("({own} OR {})", alts.join(" OR "))
                }
            }
        })
        .collect::<Vec<_>>()
        // Explicit: FTS5 takes no implicit AND next to a parenthesis.
        .join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expression_quotes_words_and_offers_close_spellings() {
        let words = vec!["meetng".to_string(), "agen".to_string()];
        assert_eq!(match_expression(&words, &[]), "\"meetng\" AND \"agen\"*");
        let close = vec![vec!["meeting".to_string(), "meeting2".to_string()], vec![]];
        assert_eq!(
            match_expression(&words, &close),
            "(\"meetng\" OR \"meeting\" OR \"meeting2\") AND \"agen\"*"
        );
    }

    #[test]
    fn only_the_newest_matches_are_ranked_when_there_are_more_than_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        // The oldest note matches best; 24 newer ones match once each.
        let best = store
            .create_note("Granite\ngranite granite granite granite")
            .unwrap();
        for i in 0..24 {
            store
                .create_note(&format!("Pebble {i}\nsome granite here"))
                .unwrap();
        }
        let expression = match_expression(&["gran".to_string()], &[]);
        let ids = |window: usize| -> Vec<String> {
            store
                .matching(&expression, false, 5, window)
                .unwrap()
                .into_iter()
                .map(|(n, _)| n.id)
                .collect()
        };
        // All ranked: the best match comes first.
        let all = ids(RANK_WINDOW);
        assert_eq!(all.len(), 5);
        assert_eq!(all[0], best);
        // A window of ten: the oldest is outside it, and what is ranked is
        // the newest ten, of which five are asked for.
        let newest = ids(10);
        assert_eq!(newest.len(), 5);
        assert!(!newest.contains(&best), "{newest:?}");
        // Exactly as many matches as the window: all of them ranked.
        assert_eq!(ids(25)[0], best);
        // One fewer: the oldest falls outside.
        assert!(!ids(24).contains(&best));
    }
}
