//! A note's history in the steps a person remembers: editing sessions, not
//! Automerge changes (a short shopping list has dozens of changes, and
//! "version 2 of 61" was one letter). A session is a run of changes by one
//! device with no pause longer than [`SESSION_PAUSE_MS`] between them; a
//! change from another device (arriving by sync) starts a new one.

use serde::Serialize;

use crate::error::Result;
use crate::store::Store;

/// A pause this long ends an editing session.
pub const SESSION_PAUSE_MS: i64 = 5 * 60 * 1000;

/// One editing session: the note as it was at its end is `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EditSession {
    /// The session's last change, hex: what `note_at` and
    /// `restore_version` take.
    pub version: String,
    /// When its first and last change were made (ms, the author's clock).
    pub start_ms: i64,
    pub end_ms: i64,
    /// The device (Automerge actor) that made it, hex.
    pub actor: String,
    /// Whether this device made it.
    pub local: bool,
    /// The id of the device that made it, when that device recorded its
    /// actor (see `device_actors.rs`); the shell names it from the
    /// account's device list.
    pub device_id: Option<String>,
    /// How many changes it holds.
    pub changes: usize,
}

impl Store {
    /// The note's editing sessions, oldest first.
    pub fn edit_sessions(&mut self, id: &str) -> Result<Vec<EditSession>> {
        let devices = self.device_actors()?;
        let mut sessions = group(
            self.history(id)?
                .into_iter()
                .map(|v| (v.version, v.time_ms, v.actor, v.local)),
        );
        for s in &mut sessions {
            s.device_id = devices.get(&s.actor).cloned();
        }
        Ok(sessions)
    }
}

/// Groups changes (in the document's causal order) into sessions.
fn group(changes: impl Iterator<Item = (String, i64, String, bool)>) -> Vec<EditSession> {
    let mut sessions: Vec<EditSession> = Vec::new();
    for (version, time_ms, actor, local) in changes {
        match sessions.last_mut() {
            Some(s) if s.actor == actor && (time_ms - s.end_ms).abs() <= SESSION_PAUSE_MS => {
                s.version = version;
                s.end_ms = s.end_ms.max(time_ms);
                s.changes += 1;
            }
            _ => sessions.push(EditSession {
                version,
                start_ms: time_ms,
                end_ms: time_ms,
                actor,
                local,
                device_id: None,
                changes: 1,
            }),
        }
    }
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(n: u32, at_min: i64, actor: &str) -> (String, i64, String, bool) {
        (
            format!("c{n}"),
            at_min * 60_000,
            actor.to_owned(),
            actor == "me",
        )
    }

    #[test]
    fn a_pause_or_another_device_starts_a_session() {
        let sessions = group(
            [
                change(1, 0, "me"),
                change(2, 1, "me"),
                change(3, 4, "me"),
                // Twenty minutes later.
                change(4, 24, "me"),
                // Synced in from the phone.
                change(5, 25, "phone"),
                change(6, 26, "phone"),
                change(7, 27, "me"),
            ]
            .into_iter(),
        );
        let shape: Vec<(&str, usize, bool)> = sessions
            .iter()
            .map(|s| (s.version.as_str(), s.changes, s.local))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("c3", 3, true),
                ("c4", 1, true),
                ("c6", 2, false),
                ("c7", 1, true)
            ]
        );
        assert_eq!(sessions[0].start_ms, 0);
        assert_eq!(sessions[0].end_ms, 4 * 60_000);
    }
}
