//! The values the store hands out. Plain data, serde-ready, so the CLI can
//! print them as JSON and the app can send them to the UI unchanged.

use serde::{Deserialize, Serialize};

use crate::origin::Origin;

/// A note as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NoteSummary {
    pub id: String,
    pub title: String,
    pub excerpt: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub trashed: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// A whole note, as the editor opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Note {
    pub id: String,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub trashed: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// The Automerge heads, hex; the version the body is at.
    pub heads: Vec<String>,
}

/// One point in a note's history: the state right after one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Version {
    /// The change hash, hex. Pass it to `note_at` or `restore_version`.
    pub version: String,
    /// When the change was made (ms since the epoch, as its author's clock said).
    pub time_ms: i64,
    /// The device (Automerge actor) that made it, hex.
    pub actor: String,
    /// Whether this device made it.
    pub local: bool,
}

/// Which notes to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub tag: Option<String>,
    /// List the trash instead of the live notes.
    pub trashed: bool,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// A note to create with all its fields, as an import does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewNote {
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub trashed: bool,
    pub created_ms: Option<i64>,
    pub modified_ms: Option<i64>,
}

/// What a write did, for whoever shows notes (the app batches these into
/// one UI event per burst).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreEvent {
    pub note_id: String,
    pub origin: Origin,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Updated,
    Deleted,
}
