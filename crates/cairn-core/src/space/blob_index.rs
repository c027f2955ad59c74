//! A shared space's blob index (docs/sharing.md, "Attachments in a
//! space"): where the chunks that the space's notes name sit in the
//! members' slots under the space's prefix. The personal blob index's
//! shape (`blob::index_doc`: `kind`, and a `chunks` map of chunk id (hex)
//! -> location, `blob::location`), under an id derived from the space's
//! ([`space_blob_index_id`]), started by every device of every member
//! with the same genesis, so indexes made apart merge into one map.
//!
//! It is carried by its space's stream (and by the account's own, like
//! the space's tree), and a space admits it from its writers only
//! (`sync::space_stream`): a viewer's entries reach no one.

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::note_doc::NoteDoc;
use crate::space::epoch::SpaceId;

/// Every space's blob index id starts with this; the other 96 bits are
/// the space id's hash. Neither the reserved documents' prefix nor the
/// space trees' (`space::tree::SPACE_TREE_PREFIX`).
pub const SPACE_BLOB_INDEX_PREFIX: &str = "00000002-";

const GENESIS_ACTOR: &[u8] = b"cairn-space-blob-index";

/// The id of `space`'s blob index, the same on every member's device.
pub fn space_blob_index_id(space: &SpaceId) -> String {
    let mut h = Sha256::new();
    h.update(b"cairn-space-blob-index/v1\0");
    h.update(space.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes[3] = 2;
    bytes[4..].copy_from_slice(&digest[..12]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// Whether `id` is some space's blob index (not a note).
pub fn is_space_blob_index(id: &str) -> bool {
    id.starts_with(SPACE_BLOB_INDEX_PREFIX)
}

/// The index document `id` as every device first makes it.
pub(crate) fn genesis(id: &str, actor: &[u8]) -> Result<NoteDoc> {
    crate::reserved_doc::genesis(id, GENESIS_ACTOR, actor, "space-blobs", "chunks")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_space_has_its_own_index_apart_from_its_tree() {
        let (a, b) = (SpaceId::generate(), SpaceId::generate());
        let id = space_blob_index_id(&a);
        assert!(is_space_blob_index(&id));
        assert_eq!(id, space_blob_index_id(&a));
        assert_ne!(id, space_blob_index_id(&b));
        assert!(!crate::space::tree::is_space_tree(&id));
        assert!(!is_space_blob_index(&crate::space::tree::space_tree_id(&a)));
        assert!(crate::reserved_doc::is_reserved(&id));
        // Two devices' genesis changes are one change.
        let one = genesis(&id, b"device-one").unwrap().save();
        let two = genesis(&id, b"device-two").unwrap().save();
        assert_eq!(one, two);
    }
}
