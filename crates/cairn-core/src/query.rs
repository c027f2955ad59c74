//! Reading the derived tables: the notes list, tag counts and full-text
//! search. These never load a document, so they stay fast with many notes.

use rusqlite::{params_from_iter, types::Value as SqlValue, OptionalExtension, Row};

use crate::error::Result;
use crate::model::{ListQuery, NoteSummary};
use crate::store::{sql_err, Store};

pub(crate) const SUMMARY_COLUMNS: &str =
    "n.id, n.title, n.excerpt, n.tags, n.pinned, n.trashed, n.created, n.modified";

pub(crate) fn summary(row: &Row<'_>) -> rusqlite::Result<NoteSummary> {
    let tags: String = row.get(3)?;
    Ok(NoteSummary {
        id: row.get(0)?,
        title: row.get(1)?,
        excerpt: row.get(2)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        pinned: row.get(4)?,
        trashed: row.get(5)?,
        created_ms: row.get(6)?,
        modified_ms: row.get(7)?,
    })
}

impl Store {
    /// Notes in list order: pinned first, then most recently modified.
    pub fn list(&self, q: &ListQuery) -> Result<Vec<NoteSummary>> {
        let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM notes n WHERE n.trashed = ?");
        let mut args: Vec<SqlValue> = vec![SqlValue::Integer(i64::from(q.trashed))];
        if let Some(tag) = &q.tag {
            sql.push_str(" AND n.id IN (SELECT note_id FROM note_tags WHERE tag = ?)");
            args.push(SqlValue::Text(tag.trim_start_matches('#').to_string()));
        }
        sql.push_str(" ORDER BY n.pinned DESC, n.modified DESC LIMIT ? OFFSET ?");
        args.push(SqlValue::Integer(q.limit.map(|l| l as i64).unwrap_or(-1)));
        args.push(SqlValue::Integer(q.offset as i64));
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sql_err("listing notes", &self.path))?;
        let rows = stmt
            .query_map(params_from_iter(args), summary)
            .and_then(|r| r.collect())
            .map_err(sql_err("listing notes", &self.path))?;
        Ok(rows)
    }

    /// The rows of these notes, in no particular order; ids with no row
    /// (deleted, or never here) are left out.
    pub fn summaries(&self, ids: &[String]) -> Result<Vec<NoteSummary>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM notes n WHERE n.id = ?1"
            ))
            .map_err(sql_err("reading notes", &self.path))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = stmt
                .query_row([id], summary)
                .optional()
                .map_err(sql_err("reading notes", &self.path))?;
            out.extend(row);
        }
        Ok(out)
    }

    /// How many live (or trashed) notes there are.
    pub fn count(&self, trashed: bool) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM notes WHERE trashed = ?1",
                [trashed],
                |r| r.get(0),
            )
            .map_err(sql_err("counting notes", &self.path))?;
        Ok(n as usize)
    }

    /// Every tag in use by a live note, with how many notes carry it.
    pub fn tags(&self) -> Result<Vec<(String, usize)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t.tag, count(*) FROM note_tags t JOIN notes n ON n.id = t.note_id
                 WHERE n.trashed = 0 GROUP BY t.tag ORDER BY t.tag",
            )
            .map_err(sql_err("listing tags", &self.path))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
            })
            .and_then(|r| r.collect())
            .map_err(sql_err("listing tags", &self.path))?;
        Ok(rows)
    }

    /// Full-text search over titles, bodies and tags of live notes, best
    /// match first. Every word must match; the last word matches as a
    /// prefix, so results follow typing.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<NoteSummary>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM notes_fts f JOIN notes n ON n.rowid = f.rowid
             WHERE notes_fts MATCH ?1 AND n.trashed = 0
             ORDER BY bm25(notes_fts, 8.0, 1.0, 4.0) LIMIT ?2"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sql_err("searching", &self.path))?;
        let rows = stmt
            .query_map(rusqlite::params![fts, limit as i64], summary)
            .and_then(|r| r.collect())
            .map_err(sql_err("searching", &self.path))?;
        Ok(rows)
    }

    /// Ids of every stored note document, deleted ones included; not the
    /// reserved documents that are not notes (see `all_doc_ids`).
    pub fn all_note_ids(&self) -> Result<Vec<String>> {
        let mut ids = self.all_doc_ids()?;
        ids.retain(|id| !crate::reserved_doc::is_reserved(id));
        Ok(ids)
    }

    /// Every document's id, the notebook tree's and the other reserved
    /// documents' included, sorted.
    pub fn all_doc_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT note_id FROM doc ORDER BY note_id")
            .map_err(sql_err("listing documents", &self.path))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .and_then(|r| r.collect())
            .map_err(sql_err("listing documents", &self.path))?;
        Ok(rows)
    }
}

/// The words of what a person typed, as the index splits text into words.
pub(crate) fn query_words(input: &str) -> Vec<&str> {
    input
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect()
}

/// Turns what a person types into an FTS5 query: each word quoted (so FTS
/// operators in the input are just text), all required, the last one a
/// prefix. None when there is nothing to search for.
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = query_words(input)
        .into_iter()
        .map(|w| format!("\"{w}\""))
        .collect();
    if words.is_empty() {
        return None;
    }
    let mut q = words.join(" ");
    q.push('*');
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_query_quotes_words_and_prefixes_the_last() {
        assert_eq!(
            fts_query("hello wor").as_deref(),
            Some("\"hello\" \"wor\"*")
        );
        assert_eq!(fts_query("  ").as_deref(), None);
        assert_eq!(
            fts_query("a OR b\"*").as_deref(),
            Some("\"a\" \"OR\" \"b\"*")
        );
        assert_eq!(fts_query("NEAR(x)").as_deref(), Some("\"NEAR\" \"x\"*"));
    }
}
