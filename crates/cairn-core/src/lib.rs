//! Cairn's core: notes as Automerge documents in SQLite, with search,
//! history and merging. No Tauri, no network, no async: the app, the CLI
//! and the sync runner all drive this same store.
//!
//! ```
//! use cairn_core::{ListQuery, Store};
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = Store::open(dir.path()).unwrap();
//! let id = store.create_note("Groceries\n- milk").unwrap();
//! store.splice(&id, 9, 0, " for Sunday").unwrap();
//! assert_eq!(store.get(&id).unwrap().title, "Groceries for Sunday");
//! assert_eq!(store.search("sunday", 10).unwrap().len(), 1);
//! assert_eq!(store.list(&ListQuery::default()).unwrap().len(), 1);
//! ```

pub mod account_keys;
pub mod backlinks;
pub mod blob;
mod bulk;
mod checkpointer;
pub mod clock;
pub mod crypto;
#[cfg(any(test, feature = "test-support"))]
pub mod damage;
mod device_actors;
mod doc_cache;
mod edit_at;
mod edit_sessions;
pub mod error;
pub mod export;
pub mod frontmatter;
mod fuzzy;
mod history;
pub mod import;
mod inline_tags;
pub mod links;
mod merge;
mod migrations;
pub mod model;
pub mod note_doc;
pub mod notebook_doc;
pub mod notebooks;
mod open_marker;
pub mod origin;
pub mod private_files;
mod query;
mod repair;
mod replica;
mod reserved_doc;
mod search;
mod snippet;
pub mod space;
mod store;
mod stored_state;
pub mod sync;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
mod version_diff;

pub use backlinks::{Backlink, ImportNote, Link};
pub use blob::index_doc::BLOB_INDEX_DOC_ID;
#[cfg(any(test, feature = "test-support"))]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};
pub use device_actors::DEVICE_ACTORS_DOC_ID;
pub use edit_at::{EditOutcome, Splice};
pub use edit_sessions::{EditSession, SESSION_PAUSE_MS};
pub use error::{CoreError, Result};
pub use migrations::SCHEMA_VERSION;
pub use model::{EventKind, ListQuery, NewNote, Note, NoteSummary, StoreEvent, Version};
pub use note_doc::{NoteDoc, NoteState};
pub use notebook_doc::NOTEBOOKS_DOC_ID;
pub use notebooks::{NewNotebook, Notebook, Place};
pub use origin::Origin;
pub use repair::RepairReport;
pub use search::{SearchHit, SearchResults, FUZZY_BELOW};
pub use store::{validate_note_id, validate_tag, Store, StoreOptions, DB_FILE};
pub use version_diff::{diff_runs, DiffKind, DiffRun};
