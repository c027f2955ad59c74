//! Attachments: files kept with notes, stored once per content, synced
//! end-to-end encrypted through the same presigned URLs as the notes.
//!
//! ```text
//! file ──split──▶ chunks of CHUNK_SIZE ──HMAC──▶ chunk id (keyed: the bucket
//!   │                     │                      cannot tell equal files)
//!   │                     └──seal (64 KiB AEAD segments, id in the AAD)──▶ slot
//!   └──▶ attachment record {id, name, media type, size, chunk list}
//!        in the note's Automerge document
//! ```
//!
//! - **Chunks** ([`chunker`], [`chunk_id`]): fixed 4 MiB pieces. The id is
//!   HMAC-SHA256 of the plaintext under a key derived from the content key
//!   ([`keys`]), so the same bytes get the same id on every device of the
//!   account (that is the dedupe) and nothing anyone else can compute.
//! - **Seal** ([`seal`]): each chunk is sealed on its own with
//!   XChaCha20-Poly1305 in 64 KiB segments; the associated data binds each
//!   segment to the chunk id, its number and whether it is the last, so a
//!   chunk cannot be cut short, reordered or passed off as another.
//! - **Local storage** ([`local_files`]): plaintext chunk files under
//!   `blobs/` beside the database, each written to a temporary file,
//!   fsynced and renamed into place, so a crash leaves a chunk whole or
//!   absent, never half written.
//! - **Records** ([`record`]): a note's document holds one root key
//!   `attachment:{id}` per attachment. Root keys with fresh ids never
//!   conflict, so two devices attaching to one note at once both keep
//!   their attachment (a shared map made lazily would keep only one).
//! - **Where chunks are in the bucket** ([`location`], [`index_doc`]): an
//!   Automerge document of its own, the blob index, synced in the encrypted
//!   change log exactly like the notebook tree. It maps chunk id ->
//!   (device, slot, generation, offset, length).
//!
//! Two departures from the layout DESIGN.md section 9 recommends, and why:
//!
//! - The chunk index is a CRDT document rather than records in the log's
//!   own format: it reuses the publish, merge, snapshot and ack machinery
//!   the notes have (no second log decoder to fuzz and keep in step), and
//!   concurrent entries from two devices for one chunk merge to one.
//! - Fewer, larger slots: 256 slots of up to [`SLOT_TARGET`] bytes each
//!   instead of 2,048 of 16 MiB. The grant carries a signature per slot
//!   and per device; 256 keeps a five-device grant well under 256 KB
//!   while a device can still hold 8 GiB before it must collect garbage.

pub mod attach;
pub mod chunk_id;
pub mod chunker;
pub mod embeds;
pub mod error;
pub mod index_doc;
pub mod keys;
pub mod local_files;
pub mod location;
pub mod media_type;
pub mod record;
pub mod seal;
pub mod transfer;

pub use chunk_id::ChunkId;
pub use error::BlobError;
pub use keys::BlobKeys;
pub use location::ChunkLocation;
pub use record::{AttachmentRecord, ChunkRef};

/// Plaintext bytes per chunk (the last chunk of a file may be shorter).
pub const CHUNK_SIZE: usize = 4 * 1024 * 1024;

/// Chunks are packed into one slot object until it would grow past this.
pub const SLOT_TARGET: u64 = 32 * 1024 * 1024;
