//! Sync through object storage, with nothing but presigned URLs.
//!
//! Each device owns a fixed set of keys under its own prefix (`head`,
//! `snapshot/0|1`, `log/00..63`), written by it alone and read by the
//! user's other devices, so storage never sees two writers on one key and
//! Automerge does all the merging.
//!
//! A round, seen from device A with one peer B:
//!
//! 1. **Publish.** A gathers the chunks its store wrote since the last
//!    publish into a segment, uploads it to log slot `seq % 64`, then
//!    uploads a new `head` listing the live segments with their hashes. If
//!    the ring is full or the log has outgrown the snapshot, A uploads a
//!    full snapshot to the snapshot slot its head does not use instead,
//!    sealed in chunks with each note's state beside its document (see
//!    [`stream_object`] and [`snapshot_entries`]), and a head with an
//!    empty log. The head is the commit
//!    point: until it is written, readers see the old one, which stays
//!    valid.
//! 2. **Read.** A GETs B's `head` with `If-None-Match`; a 304 ends the
//!    round for B. Otherwise A fetches the segments after the last one it
//!    applied (or B's snapshot, if A fell behind the ring: the notes new
//!    to A are then stored from their states without loading their
//!    documents, a batch at a time as it is opened: [`snapshot_apply`]),
//!    checks each
//!    against the hash in the head, and merges them into its store in one
//!    transaction together with B's new position. A hash mismatch means B
//!    reused the slot meanwhile: A reads the head again.
//! 3. **Acknowledge.** A's next head carries `merged: {B: seq}`. When every
//!    peer's head says it merged A's latest publish, everything A wrote is
//!    on all devices.
//!
//! The engine ([`engine::Round`]) only decides: it takes events (a head
//! fetched, an object fetched, an upload done, a merge applied) and returns
//! effects (get, put, plan a publish, apply, record). A runner performs
//! them: [`run_round`] here, one request at a time over a [`Transport`];
//! the client crate's runner over HTTP, with the requests of all peers in
//! flight at once.
//!
//! ```
//! use std::sync::Mutex;
//! use cairn_core::sync::{memory::MemoryStorage, run_round};
//! use cairn_core::Store;
//!
//! let storage = MemoryStorage::default();
//! let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
//! let a = Mutex::new(Store::open(da.path()).unwrap());
//! let b = Mutex::new(Store::open(db.path()).unwrap());
//! let id = a.lock().unwrap().create_note("hello from A").unwrap();
//! run_round(&a, &mut storage.device("A"), "A", &["B".into()]).unwrap();
//! run_round(&b, &mut storage.device("B"), "B", &["A".into()]).unwrap();
//! assert_eq!(b.lock().unwrap().get(&id).unwrap().body, "hello from A");
//! ```

pub mod bundle;
pub mod digest;
pub mod effect;
pub mod engine;
pub mod failure;
pub mod head;
pub mod live;
pub mod local;
#[cfg(any(test, feature = "test-support"))]
pub mod memory;
pub mod object;
pub mod opener;
pub mod outcome;
pub mod personal_object;
pub mod reader;
pub mod round;
pub mod signed_head;
pub mod snapshot_apply;
pub mod snapshot_entries;
pub mod snapshot_write;
pub mod space_live;
pub mod space_stream;
pub mod state;
pub mod status;
pub mod stream_object;
pub mod transport;
pub mod writer;

pub use effect::{BucketRequest, Effect, Event, LocalEffect, RequestId};
pub use engine::Round;
pub use failure::{FailureCode, PeerError, SyncFailure};
pub use head::DeviceHead;
pub use outcome::{PeerOutcome, RoundReport};
pub use reader::ReadError;
pub use round::{
    begin_round, lock_store, perform_request, run_round, run_round_reading, SyncError,
};
pub use state::{PeerState, SelfState};
pub use status::{PeerStatus, SyncStatus};
pub use transport::{Body, Fetched, Spill, Transport, TransportError, TransportErrorKind};
pub use writer::PublishPlan;
