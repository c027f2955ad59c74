//! Each note's state as its rows were last written (`doc.state`, schema
//! 14), and the mark on notes whose rows came from a peer's digest rather
//! than from their document (`doc.unchecked`).
//!
//! The state is what a snapshot's digest (`crate::sync::digest`) is made
//! of: read in the same read transaction as the snapshot's chunks, it is
//! the state those very bytes produce, because every write of a note's
//! chunks rewrites it in the same transaction. No document is loaded to
//! make a digest, so compacting into a snapshot costs no more than before.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;
use crate::model::{EventKind, StoreEvent};
use crate::note_doc::NoteState;
use crate::origin::Origin;
use crate::store::{exec, sql_err, write_derived, Store};
use crate::sync::digest::DigestState;

/// Records `s` as the state of note `id`'s rows, written from its
/// document (inside the transaction that wrote them): the mark of a
/// digest's rows goes.
pub(crate) fn write_state_row(
    tx: &Connection,
    id: &str,
    s: &NoteState,
    path: &std::path::Path,
) -> Result<()> {
    let mut row = DigestState::of(s);
    if !s.deleted {
        // The body is in `note_text` already; a deleted note has none there.
        row.body.clear();
    }
    let json = serde_json::to_string(&row).unwrap_or_default();
    exec(
        tx,
        "UPDATE doc SET state = ?2, unchecked = 0 WHERE note_id = ?1",
        params![id, json],
    )
    .map_err(sql_err("recording a note's state", path))?;
    Ok(())
}

impl Store {
    /// The state note `id`'s rows were written from, or None when it was
    /// stored before states were kept (or its rows are missing).
    pub(crate) fn stored_state(&self, id: &str) -> Result<Option<NoteState>> {
        let err = sql_err("reading a note's state", &self.path);
        let row: Option<(Option<String>, Option<String>)> = self
            .conn
            .prepare_cached(
                "SELECT d.state, t.body FROM doc d
                 LEFT JOIN notes n ON n.id = d.note_id
                 LEFT JOIN note_text t ON t.rowid = n.rowid
                 WHERE d.note_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(err)?;
        let Some((Some(json), body)) = row else {
            return Ok(None);
        };
        let Ok(mut state) = serde_json::from_str::<DigestState>(&json) else {
            return Ok(None);
        };
        if !state.deleted {
            match body {
                Some(b) => state.body = b,
                None => return Ok(None),
            }
        }
        Ok(Some(state.into_state()))
    }

    pub(crate) fn is_unchecked(&self, id: &str) -> Result<bool> {
        let v: Option<i64> = self
            .conn
            .prepare_cached("SELECT unchecked FROM doc WHERE note_id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(sql_err("reading a note's state", &self.path))?;
        Ok(v == Some(1))
    }

    /// Marks a note stored from a digest (inside its transaction).
    pub(crate) fn mark_unchecked(&self, id: &str) -> Result<()> {
        exec(
            &self.conn,
            "UPDATE doc SET unchecked = 1 WHERE note_id = ?1",
            [id],
        )
        .map_err(sql_err("storing a note", &self.path))?;
        Ok(())
    }

    /// How many notes hold rows from a digest, not yet checked against
    /// their document.
    pub fn unchecked_notes(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM doc WHERE unchecked = 1", [], |r| {
                r.get(0)
            })
            .map_err(sql_err("counting unchecked notes", &self.path))?;
        Ok(n as u64)
    }

    /// The first load of a note stored from a digest: its rows are
    /// rewritten from `state` (its document's) and the mark cleared. When
    /// the digest said otherwise, the note is announced as updated, so
    /// what is shown of it is read again.
    pub(crate) fn check_against_document(&mut self, id: &str, state: &NoteState) -> Result<()> {
        let differs = self.stored_state(id)?.as_ref() != Some(state);
        if differs {
            eprintln!("note {id}: its rows differed from its document; rewritten from it");
        }
        let rewrite = |s: &mut Store| -> Result<()> {
            write_derived(&s.conn, id, state, &s.path)?;
            if differs {
                s.events.push(StoreEvent {
                    note_id: id.to_string(),
                    origin: Origin::Merged,
                    kind: if state.deleted {
                        EventKind::Deleted
                    } else {
                        EventKind::Updated
                    },
                });
            }
            Ok(())
        };
        if self.conn.is_autocommit() {
            self.in_tx(&[], rewrite)
        } else {
            // Already inside a write (a merge, say): part of it.
            rewrite(self)
        }
    }
}
