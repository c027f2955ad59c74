//! The payload of snapshots and log segments: Automerge bytes per note.
//!
//! ```text
//! count u32 LE, then per entry:
//!   id length u16 LE, note id (UTF-8, a UUID)
//!   data length u32 LE, Automerge chunks for that note
//! ```

use bytes::Bytes;

use crate::sync::object::ObjectError;

/// Changes for many notes: (note id, Automerge bytes). The bytes of a
/// decoded bundle are slices of the one buffer it was decoded from, so a
/// snapshot of every note is not copied note by note.
pub type Bundle = Vec<(String, Bytes)>;

/// The length `encode` makes of `entries`, without making it.
pub fn encoded_len<D: AsRef<[u8]>>(entries: &[(String, D)]) -> usize {
    4 + entries
        .iter()
        .map(|(id, d)| 6 + id.len() + d.as_ref().len())
        .sum::<usize>()
}

pub fn encode<D: AsRef<[u8]>>(entries: &[(String, D)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(entries));
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (id, data) in entries {
        let data = data.as_ref();
        out.extend_from_slice(&(id.len() as u16).to_le_bytes());
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ObjectError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| {
                ObjectError::Malformed(format!("bundle truncated at byte {}", self.at))
            })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<usize, ObjectError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]) as usize)
    }
    fn u32(&mut self) -> Result<usize, ObjectError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

pub fn decode(bytes: &[u8]) -> Result<Bundle, ObjectError> {
    decode_owned(bytes.to_vec())
}

/// `decode`, keeping `bytes` as the buffer its entries are slices of.
pub fn decode_owned(bytes: Vec<u8>) -> Result<Bundle, ObjectError> {
    let buffer = Bytes::from(bytes);
    let bytes = &buffer[..];
    let mut r = Reader { bytes, at: 0 };
    let count = r.u32()?;
    // Each entry takes at least 6 bytes: refuse counts the bytes cannot hold.
    if count > bytes.len() / 6 {
        return Err(ObjectError::Malformed(format!(
            "bundle claims {count} entries"
        )));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let id_len = r.u16()?;
        let id = std::str::from_utf8(r.take(id_len)?)
            .map_err(|_| ObjectError::Malformed(format!("entry {i}: note id is not UTF-8")))?;
        crate::store::validate_note_id(id)
            .map_err(|_| ObjectError::Malformed(format!("entry {i}: {id:?} is not a note id")))?;
        let len = r.u32()?;
        let start = r.at;
        r.take(len)?;
        out.push((id.to_string(), buffer.slice(start..r.at)));
    }
    if r.at != bytes.len() {
        return Err(ObjectError::Malformed(
            "trailing bytes after the last entry".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile_inputs() {
        let id = "6f9619ff-8b86-4011-b42d-00c04fc964ff".to_string();
        let b = vec![(id.clone(), vec![1u8, 2, 3]), (id, vec![])];
        let enc = encode(&b);
        let back: Vec<(String, Vec<u8>)> = decode(&enc)
            .unwrap()
            .into_iter()
            .map(|(id, d)| (id, d.to_vec()))
            .collect();
        assert_eq!(back, b);
        assert!(decode(&enc[..enc.len() - 1]).is_err());
        assert!(decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
        let bad = encode::<Vec<u8>>(&[("../../etc".to_string(), vec![])]);
        assert!(decode(&bad).is_err());
        let mut trailing = enc.clone();
        trailing.push(0);
        assert!(decode(&trailing).is_err());
    }
}
