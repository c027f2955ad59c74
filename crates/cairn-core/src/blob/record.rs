//! An attachment record, as a note's document holds it: one root key
//! `attachment:{id}` whose value is this JSON (a string scalar, written
//! once and never edited, so it needs no finer merge).
//!
//! ```json
//! {"v":1,"name":"scan.png","media_type":"image/png","size":5000,
//!  "chunks":["<64 hex>:5000"]}
//! ```
//!
//! Records arrive from peers, so [`AttachmentRecord::decode`] checks
//! everything: the id is a UUID, the name a plain file name, the chunk
//! list adds up to the size and every chunk but the last is full.

use serde::{Deserialize, Serialize};

use crate::blob::chunk_id::{truncate, ChunkId};
use crate::blob::error::BlobError;
use crate::blob::CHUNK_SIZE;

/// The root key prefix of attachment records in a note's document.
pub const KEY_PREFIX: &str = "attachment:";
const NAME_MAX: usize = 255;
const MEDIA_TYPE_MAX: usize = 127;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    pub id: ChunkId,
    pub len: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub id: String,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub chunks: Vec<ChunkRef>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    name: String,
    media_type: String,
    size: u64,
    chunks: Vec<String>,
}

impl AttachmentRecord {
    pub fn key(&self) -> String {
        format!("{KEY_PREFIX}{}", self.id)
    }

    pub fn encode(&self) -> String {
        let wire = Wire {
            v: 1,
            name: self.name.clone(),
            media_type: self.media_type.clone(),
            size: self.size,
            chunks: self
                .chunks
                .iter()
                .map(|c| format!("{}:{}", c.id, c.len))
                .collect(),
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Reads the record stored under `key` (`attachment:{id}`).
    pub fn decode(key: &str, value: &str) -> Result<AttachmentRecord, BlobError> {
        let bad = |why: String| BlobError::Malformed(format!("attachment record: {why}"));
        let id = key
            .strip_prefix(KEY_PREFIX)
            .ok_or_else(|| bad(format!("{:?} is not a record key", truncate(key))))?;
        if uuid::Uuid::parse_str(id).map(|u| u.hyphenated().to_string()) != Ok(id.to_owned()) {
            return Err(bad(format!("{:?} is not an attachment id", truncate(id))));
        }
        let wire: Wire = serde_json::from_str(value).map_err(|e| bad(e.to_string()))?;
        if wire.v != 1 {
            return Err(bad(format!("version {} is not known", wire.v)));
        }
        let name = check_name(&wire.name).map_err(bad)?;
        check_media_type(&wire.media_type).map_err(bad)?;
        let mut chunks = Vec::with_capacity(wire.chunks.len().min(4096));
        let mut total: u64 = 0;
        for (i, c) in wire.chunks.iter().enumerate() {
            let (id, len) = c
                .split_once(':')
                .ok_or_else(|| bad(format!("chunk {i} is not id:length")))?;
            let id = ChunkId::parse(id)?;
            let len: u32 = len
                .parse()
                .ok()
                .filter(|l: &u32| l.to_string() == len)
                .ok_or_else(|| bad(format!("chunk {i} has no valid length")))?;
            let last = i + 1 == wire.chunks.len();
            let full = len as usize == CHUNK_SIZE;
            if len == 0 || len as usize > CHUNK_SIZE || (!last && !full) {
                return Err(bad(format!("chunk {i} has the wrong length {len}")));
            }
            total += u64::from(len);
            chunks.push(ChunkRef { id, len });
        }
        if total != wire.size {
            return Err(bad(format!(
                "the chunks hold {total} bytes, the record says {}",
                wire.size
            )));
        }
        Ok(AttachmentRecord {
            id: id.to_owned(),
            name,
            media_type: wire.media_type,
            size: wire.size,
            chunks,
        })
    }
}

/// A file name as an attachment keeps it: no folders, no control
/// characters, not `.` or `..`, at most 255 bytes.
pub fn check_name(name: &str) -> Result<String, String> {
    if name.is_empty()
        || name.len() > NAME_MAX
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(format!("{:?} is not a file name", truncate(name)));
    }
    Ok(name.to_owned())
}

fn check_media_type(t: &str) -> Result<(), String> {
    let ok = t.len() <= MEDIA_TYPE_MAX
        && t.split_once('/').is_some_and(|(a, b)| {
            let part = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
            };
            part(a) && part(b)
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{:?} is not a media type", truncate(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::keys::BlobKeys;

    fn record(size: u64) -> AttachmentRecord {
        let k = BlobKeys::derive(None);
        let mut chunks = Vec::new();
        let mut left = size;
        while left > 0 {
            let len = left.min(CHUNK_SIZE as u64) as u32;
            chunks.push(ChunkRef {
                id: ChunkId::of(&k, &left.to_le_bytes()),
                len,
            });
            left -= u64::from(len);
        }
        AttachmentRecord {
            id: "6f9619ff-8b86-4011-b42d-00c04fc964ff".into(),
            name: "scan 1.png".into(),
            media_type: "image/png".into(),
            size,
            chunks,
        }
    }

    #[test]
    fn round_trips_and_refuses_what_does_not_add_up() {
        for size in [0, 1, CHUNK_SIZE as u64, CHUNK_SIZE as u64 * 2 + 7] {
            let r = record(size);
            assert_eq!(AttachmentRecord::decode(&r.key(), &r.encode()).unwrap(), r);
        }
        let r = record(10);
        let bad_size = r.encode().replace("\"size\":10", "\"size\":11");
        assert!(AttachmentRecord::decode(&r.key(), &bad_size).is_err());
        assert!(AttachmentRecord::decode("attachment:../x", &r.encode()).is_err());
        assert!(AttachmentRecord::decode("note:1", &r.encode()).is_err());
        let mut two = record(CHUNK_SIZE as u64 + 5);
        two.chunks.swap(0, 1);
        assert!(AttachmentRecord::decode(&two.key(), &two.encode()).is_err());
        for name in ["", "..", "a/b", "a\nb", &"x".repeat(256)] {
            let mut r = record(1);
            r.name = name.into();
            assert!(
                AttachmentRecord::decode(&r.key(), &r.encode()).is_err(),
                "{name:?}"
            );
        }
        let mut r = record(1);
        r.media_type = "image".into();
        assert!(AttachmentRecord::decode(&r.key(), &r.encode()).is_err());
    }
}
