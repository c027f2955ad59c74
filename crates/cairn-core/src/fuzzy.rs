//! Typo tolerance: the words of the search index spelled close to a word of
//! the query ("aurroa" → "aurora", "meetng" → "meeting"). Read from the
//! index's own vocabulary (FTS5's fts5vocab), so nothing more is stored or
//! written per edit; asked only when the exact search found little.

use std::path::Path;

use rusqlite::Connection;

use crate::error::Result;
use crate::store::sql_err;

/// Close spellings tried per word, nearest and most common first: enough
/// for a typo, few enough that a short word does not match half the notes.
const MAX_ALTERNATIVES: usize = 8;

/// Edits allowed (a transposition counts as one): none for words of up to
/// three letters, which are too short to tell a typo from another word.
fn max_edits(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=5 => 1,
        _ => 2,
    }
}

/// For each word of the query, the index's terms close to it (the word
/// itself left out). The last word is still being typed: a term whose
/// beginning is close to it counts too. Terms share the word's first
/// letter, which keeps the vocabulary read to a small range.
pub(crate) fn alternatives(
    conn: &Connection,
    path: &Path,
    words: &[String],
) -> Result<Vec<Vec<String>>> {
    let e = sql_err("looking for close spellings", path);
    // A view of the index's vocabulary; temporary, so it is nothing on disk.
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.notes_vocab USING fts5vocab(main, notes_fts, row)",
        [],
    )
    .map_err(&e)?;
    let mut stmt = conn
        .prepare_cached("SELECT term, doc FROM temp.notes_vocab WHERE term >= ?1 AND term < ?2")
        .map_err(&e)?;
    let mut out = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let word = word.to_lowercase();
        let len = word.chars().count();
        let edits = max_edits(len);
        let (Some(first), true) = (word.chars().next(), edits > 0) else {
            out.push(Vec::new());
            continue;
        };
        let Some(after) = char::from_u32(first as u32 + 1) else {
            out.push(Vec::new());
            continue;
        };
        let typing = i + 1 == words.len();
        let rows = stmt
            .query_map([first.to_string(), after.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(&e)?;
        let mut close: Vec<(usize, i64, String)> = Vec::new();
        for row in rows {
            let (term, docs) = row.map_err(&e)?;
            let term_len = term.chars().count();
            if term_len + edits < len || (!typing && term_len > len + edits) {
                continue;
            }
            let mut d = strsim::osa_distance(&word, &term);
            if typing && term_len > len {
                let start: String = term.chars().take(len).collect();
                d = d.min(strsim::osa_distance(&word, &start));
            }
            if (1..=edits).contains(&d) {
                close.push((d, -docs, term));
            }
        }
        close.sort();
        out.push(
            close
                .into_iter()
                .take(MAX_ALTERNATIVES)
                .map(|(_, _, t)| t)
                .collect(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_words_are_not_corrected() {
        assert_eq!(max_edits(3), 0);
        assert_eq!(max_edits(4), 1);
        assert_eq!(max_edits(6), 2);
        assert_eq!(strsim::osa_distance("aurroa", "aurora"), 1);
        assert_eq!(strsim::osa_distance("meetng", "meeting"), 1);
    }
}
