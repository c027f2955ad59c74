//! The core's error type. Every variant names the thing that failed so the
//! CLI and the app can say what went wrong without guessing.

use std::path::PathBuf;

/// Errors from the local store, the note documents and history.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Attachment(#[from] crate::blob::BlobError),

    #[error("no note with id {id}")]
    NoteNotFound { id: String },

    #[error("note {id} is deleted")]
    NoteDeleted { id: String },

    /// Tags and pins are for notes in use: restore it first.
    #[error("the note is in the trash; restore it to tag or pin it")]
    NoteTrashed { id: String },

    #[error("note {id} is stored corrupt and cannot be loaded: {reason}")]
    CorruptNote { id: String, reason: String },

    #[error("the database at {path} has schema version {found}, newer than this version of Cairn understands ({supported}); upgrade Cairn to open it")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("the disk is full: could not write to {path}; nothing was changed")]
    DiskFull { path: PathBuf },

    #[error("{path} is read-only; nothing was changed")]
    ReadOnly { path: PathBuf },

    #[error("cannot open the store at {path}: {reason}")]
    Open { path: PathBuf, reason: String },

    /// `quick_check` or the search index's own check failed at open.
    #[error("{} is damaged: {}{}", path.display(), parts.join(", "), if *repairable {
        "; a repair rebuilds it from the notes and loses nothing"
    } else {
        "; this cannot be rebuilt here: restore a backup or sync the notes from another device"
    })]
    Damaged {
        path: PathBuf,
        /// What is damaged, in words a user reads ("the search index").
        parts: Vec<String>,
        /// Every damaged part is derived from the documents.
        repairable: bool,
    },

    /// SQLite met a damaged page while working: the next open checks the
    /// whole file (see `open_marker`).
    #[error("{} is damaged ({op} failed); run `cairn repair`, or restart the app, to find the damage and rebuild what can be rebuilt", path.display())]
    Corrupt { path: PathBuf, op: &'static str },

    #[error("no version {version} in the history of note {id}")]
    VersionNotFound { id: String, version: String },

    #[error("no notebook {id}")]
    NotebookNotFound { id: String },

    #[error("notebook {id} is deleted")]
    NotebookDeleted { id: String },

    #[error("notebook {id} cannot move into {parent}, which is inside it")]
    NotebookCycle { id: String, parent: String },

    /// Shares do not nest: a note belongs to one shared notebook at most.
    #[error("a shared notebook cannot go inside another shared notebook; stop sharing one of them first")]
    SharedInShared { id: String, parent: String },

    /// A viewer of a shared notebook changes nothing of its tree (what
    /// they change would never reach the others).
    #[error("you can read this shared notebook but not change its notebooks or their names")]
    SharedViewOnly { id: String },

    #[error("{path:?} names more than one notebook: {ids:?}; use an id")]
    NotebookAmbiguous { path: String, ids: Vec<String> },

    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },

    #[error("cannot read the folder {}: {reason}", path.display())]
    Folder { path: PathBuf, reason: String },

    #[error("cannot write {}: {reason}", path.display())]
    FileWrite { path: PathBuf, reason: String },

    #[error("changes for note {id} could not be applied: {reason}")]
    BadChanges { id: String, reason: String },

    #[error("database error while {op}: {source}")]
    Database {
        op: &'static str,
        #[source]
        source: Box<rusqlite::Error>,
    },

    #[error("document error in note {id}: {source}")]
    Document {
        id: String,
        #[source]
        source: Box<automerge::AutomergeError>,
    },
}

impl CoreError {
    /// A stable machine-readable code for the UI and for `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::NoteNotFound { .. } => "note_not_found",
            CoreError::NoteDeleted { .. } => "note_deleted",
            CoreError::NoteTrashed { .. } => "note_trashed",
            CoreError::CorruptNote { .. } => "corrupt_note",
            CoreError::SchemaTooNew { .. } => "schema_too_new",
            CoreError::DiskFull { .. } => "disk_full",
            CoreError::ReadOnly { .. } => "read_only",
            CoreError::Open { .. } => "open_failed",
            CoreError::Damaged { .. } | CoreError::Corrupt { .. } => "damaged",
            CoreError::VersionNotFound { .. } => "version_not_found",
            CoreError::NotebookNotFound { .. } => "notebook_not_found",
            CoreError::NotebookDeleted { .. } => "notebook_deleted",
            CoreError::NotebookCycle { .. } => "notebook_cycle",
            CoreError::SharedInShared { .. } => "shared_in_shared",
            CoreError::SharedViewOnly { .. } => "shared_view_only",
            CoreError::NotebookAmbiguous { .. } => "notebook_ambiguous",
            CoreError::Invalid { .. } => "invalid_input",
            CoreError::Folder { .. } => "folder_unreadable",
            CoreError::FileWrite { .. } => "file_write",
            CoreError::BadChanges { .. } => "bad_changes",
            CoreError::Database { .. } => "database",
            CoreError::Document { .. } => "document",
            CoreError::Attachment(e) => e.code(),
        }
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;
