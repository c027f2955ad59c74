//! Where a sealed chunk sits in the bucket: which device's slot, at which
//! generation of that slot, at which offset and how long. The blob index
//! document maps each chunk id to one of these, spelled as a short string:
//!
//! ```text
//! 1 <device id> <slot> <generation> <offset> <sealed length>
//! ```
//!
//! Entries come from peers, so [`ChunkLocation::decode`] accepts exactly
//! what [`ChunkLocation::encode`] writes, with bounds on every number.

use cairn_protocol::{BlobSlot, DeviceId};

use crate::blob::chunk_id::truncate;
use crate::blob::error::BlobError;
use crate::blob::seal::sealed_len;
use crate::blob::{CHUNK_SIZE, SLOT_TARGET};

/// A slot never holds more than this (a little over the packing target,
/// since the last chunk packed may cross it).
pub const SLOT_MAX: u64 = SLOT_TARGET + 2 * CHUNK_SIZE as u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkLocation {
    pub device: String,
    pub slot: BlobSlot,
    /// How many times the owner has reused the slot before this write.
    pub generation: u32,
    pub offset: u64,
    /// Sealed bytes.
    pub len: u64,
}

impl ChunkLocation {
    pub fn encode(&self) -> String {
        format!(
            "1 {} {} {} {} {}",
            self.device,
            self.slot.get(),
            self.generation,
            self.offset,
            self.len
        )
    }

    pub fn decode(text: &str) -> Result<ChunkLocation, BlobError> {
        let bad =
            |why: &str| BlobError::Malformed(format!("chunk location {:?}: {why}", truncate(text)));
        let parts: Vec<&str> = text.split(' ').collect();
        let [version, device, slot, generation, offset, len] = parts[..] else {
            return Err(bad("not six fields"));
        };
        if version != "1" {
            return Err(bad("unknown version"));
        }
        let device = DeviceId::parse(device).map_err(|_| bad("not a device id"))?;
        let number = |s: &str| -> Result<u64, BlobError> {
            s.parse::<u64>()
                .ok()
                .filter(|n| n.to_string() == s)
                .ok_or_else(|| bad("a number is malformed"))
        };
        let slot = BlobSlot::new(u32::try_from(number(slot)?).map_err(|_| bad("slot"))?)
            .map_err(|_| bad("slot out of range"))?;
        let generation = u32::try_from(number(generation)?).map_err(|_| bad("generation"))?;
        let offset = number(offset)?;
        let len = number(len)?;
        if len < sealed_len(0) as u64 || len > sealed_len(CHUNK_SIZE) as u64 {
            return Err(bad("no chunk has that sealed length"));
        }
        if offset.checked_add(len).is_none_or(|end| end > SLOT_MAX) {
            return Err(bad("past the end of any slot"));
        }
        Ok(ChunkLocation {
            device: device.as_str().to_owned(),
            slot,
            generation,
            offset,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_strict() {
        let l = ChunkLocation {
            device: "d1".into(),
            slot: BlobSlot::new(12).unwrap(),
            generation: 3,
            offset: 4096,
            len: 5000,
        };
        assert_eq!(ChunkLocation::decode(&l.encode()).unwrap(), l);
        for bad in [
            "",
            "1 d1 12 3 4096",
            "2 d1 12 3 4096 5000",
            "1 d1 256 3 4096 5000",
            "1 d1 12 3 04096 5000",
            "1 d1 12 3 4096 1",
            "1 ../x 12 3 4096 5000",
            "1 d1 12 3 99999999999 5000",
            "1 d1 12 3 4096 5000 ",
        ] {
            assert!(ChunkLocation::decode(bad).is_err(), "{bad:?}");
        }
    }
}
