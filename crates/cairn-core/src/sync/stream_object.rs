//! Objects sealed in chunks, so that a reader holds one chunk at a time:
//! envelope version 3, used for the personal stream's snapshots.
//!
//! A snapshot holds every note. Sealed as one AEAD message (versions 1
//! and 2), nothing of it can be trusted before the last byte has arrived,
//! so a new device held the whole ciphertext and the whole plaintext in
//! memory at once: about a gigabyte at 100,000 notes. Here the payload is
//! a STREAM (Hoang, Reyhanitabar, Rogaway and Vizár; the `aead` crate's
//! `StreamBE32`) of XChaCha20-Poly1305 messages: each chunk opens on its
//! own, the nonce of each carries its position and whether it is the
//! last, so chunks cannot be reordered, dropped or cut off at the end
//! without the open failing.
//!
//! ```text
//! offset  size  field
//! 0       52    the version 1 header, version 3: magic, version, kind,
//!               flags, reserved, sequence, payload length, SHA-256 of the
//!               payload (the sealed chunks, as the head lists it)
//! 52      16    space id (all zeros: the personal stream)
//! 68      8     epoch (u64 LE): 0 is the content key, later ones the
//!               account's epoch keys (`personal_object`)
//! 76      4     chunk length (u32 LE): plaintext bytes in each chunk but
//!               the last, 4 KiB to 16 MiB
//! 80      19    nonce prefix (random; zeros when unsealed)
//! 99      ..    chunks: each `chunk length` bytes of ciphertext and a
//!               16-byte tag; the last one shorter (maybe empty) or full
//! ```
//!
//! Every chunk's associated data is
//! `cairn-object/v3 \0 device \0 object key \0 epoch \0 kind \0 sequence
//! \0 chunk length`, so a stream moved to another place, number or epoch
//! does not open, as with the other versions. The SHA-256 in the header
//! is what the head pins, so a slot rewritten since the head was read is
//! told from damage by its header alone, before anything is fetched
//! further; the chunks are hashed as they pass and checked against it at
//! the end.
//!
//! Unsealed streams (benchmarks run without a key) carry the chunks as
//! they are, with no tags: only the hash at the end checks them.

use std::io::Read;

use chacha20poly1305::aead::stream::{NewStream, StreamBE32, StreamPrimitive};
use chacha20poly1305::XChaCha20Poly1305;
use rand::RngCore;
use sha2::{Digest as _, Sha256};

use crate::crypto::ContentKey;
use crate::space::epoch::{Epoch, SpaceId, SPACE_ID_LEN};
use crate::sync::object::{
    ChunkLayout, Object, ObjectError, ObjectKind, SpaceBinding, FLAG_SEALED, HEADER_LEN, MAGIC,
    MAX_PAYLOAD,
};

pub const STREAM_FORMAT_VERSION: u8 = 3;
pub const NONCE_PREFIX_LEN: usize = 19;
pub const STREAM_HEADER_LEN: usize = HEADER_LEN + SPACE_ID_LEN + 8 + 4 + NONCE_PREFIX_LEN;
const TAG_LEN: usize = 16;
/// Plaintext bytes per chunk as written: large enough that tags and
/// per-chunk work cost nothing, small enough that a reader's buffer does
/// not show.
pub const CHUNK_LEN: u32 = 1 << 20;
pub const MIN_CHUNK_LEN: u32 = 1 << 12;
pub const MAX_CHUNK_LEN: u32 = 1 << 24;

/// The header of a version 3 object, read before its chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    pub kind: ObjectKind,
    pub seq: u64,
    pub sealed: bool,
    /// Of the payload (the sealed chunks).
    pub hash: [u8; 32],
    pub payload_len: usize,
    pub space: SpaceId,
    pub epoch: Epoch,
    pub chunk_len: u32,
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl StreamHeader {
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// Parses the first [`STREAM_HEADER_LEN`] bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<StreamHeader, ObjectError> {
        if bytes.len() < STREAM_HEADER_LEN {
            return Err(ObjectError::TooShort { len: bytes.len() });
        }
        if bytes[..4] != MAGIC {
            return Err(ObjectError::BadMagic);
        }
        if bytes[4] != STREAM_FORMAT_VERSION {
            return Err(ObjectError::UnknownVersion { found: bytes[4] });
        }
        let (kind, sealed) = crate::sync::object::kind_and_flags(bytes)?;
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let payload_len = u32_at(16) as usize;
        if payload_len > MAX_PAYLOAD {
            return Err(ObjectError::Malformed(format!(
                "a payload of {payload_len} bytes is too large"
            )));
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[20..52]);
        let mut space = [0u8; SPACE_ID_LEN];
        space.copy_from_slice(&bytes[HEADER_LEN..HEADER_LEN + SPACE_ID_LEN]);
        let at = HEADER_LEN + SPACE_ID_LEN;
        let epoch = Epoch(u64_at(at));
        let chunk_len = u32_at(at + 8);
        if !(MIN_CHUNK_LEN..=MAX_CHUNK_LEN).contains(&chunk_len) {
            return Err(ObjectError::Malformed(format!(
                "a chunk length of {chunk_len} bytes is out of range"
            )));
        }
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        nonce_prefix.copy_from_slice(&bytes[at + 12..STREAM_HEADER_LEN]);
        Ok(StreamHeader {
            kind,
            seq: u64_at(8),
            sealed,
            hash,
            payload_len,
            space: SpaceId::from_bytes(space),
            epoch,
            chunk_len,
            nonce_prefix,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STREAM_HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(STREAM_FORMAT_VERSION);
        out.push(self.kind as u8);
        out.push(if self.sealed { FLAG_SEALED } else { 0 });
        out.push(0);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&(self.payload_len as u32).to_le_bytes());
        out.extend_from_slice(&self.hash);
        out.extend_from_slice(self.space.as_bytes());
        out.extend_from_slice(&self.epoch.0.to_le_bytes());
        out.extend_from_slice(&self.chunk_len.to_le_bytes());
        out.extend_from_slice(&self.nonce_prefix);
        out
    }

    /// Bytes of the payload the chunk at `consumed` takes, and whether it
    /// is the last.
    fn next_chunk(&self, consumed: usize) -> (usize, bool) {
        let full = self.chunk_len as usize + if self.sealed { TAG_LEN } else { 0 };
        let left = self.payload_len - consumed;
        if left <= full {
            (left, true)
        } else {
            (full, false)
        }
    }
}

fn chunk_aad(
    device: &str,
    object_key: &str,
    epoch: Epoch,
    kind: ObjectKind,
    seq: u64,
    chunk_len: u32,
) -> Vec<u8> {
    format!(
        "cairn-object/v3\0{device}\0{object_key}\0{epoch}\0{}\0{seq}\0{chunk_len}",
        kind as u8
    )
    .into_bytes()
}

fn stream(key: &ContentKey, prefix: &[u8; NONCE_PREFIX_LEN]) -> StreamBE32<XChaCha20Poly1305> {
    StreamBE32::from_aead(key.cipher(), prefix.into())
}

/// Where a stream object is written or read: whose device, which key.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub device: &'a str,
    pub object_key: &'a str,
}

/// Seals `payload` as a version 3 object of `kind` and `seq`, under `key`
/// (the key of `epoch`; `None`: unsealed) in chunks of `chunk_len`.
pub fn seal(
    kind: ObjectKind,
    seq: u64,
    place: Place<'_>,
    epoch: Epoch,
    key: Option<&ContentKey>,
    chunk_len: u32,
    payload: &[u8],
) -> Vec<u8> {
    let chunks = payload.len().div_ceil(chunk_len.max(1) as usize).max(1);
    let out = Vec::with_capacity(STREAM_HEADER_LEN + payload.len() + chunks * TAG_LEN);
    let sealed = Sealer::new(
        std::io::Cursor::new(out),
        kind,
        seq,
        place,
        epoch,
        key,
        chunk_len,
    )
    .and_then(|mut s| {
        std::io::Write::write_all(&mut s, payload)?;
        s.finish()
    });
    // Writing to memory fails only for a payload beyond `MAX_PAYLOAD`,
    // which no caller seals whole.
    sealed.map(|(c, _)| c.into_inner()).unwrap_or_default()
}

/// Seals a version 3 object as its plaintext is written, into `out`, one
/// chunk at a time: a snapshot written to a file never has more than a
/// chunk of itself in memory. The header, which holds the length and hash
/// of what follows, is written last, over the space kept for it.
pub struct Sealer<W: std::io::Write + std::io::Seek> {
    out: W,
    header: StreamHeader,
    stream: Option<StreamBE32<XChaCha20Poly1305>>,
    aad: Vec<u8>,
    position: u32,
    sha: Sha256,
    buf: Vec<u8>,
    written: usize,
}

impl<W: std::io::Write + std::io::Seek> Sealer<W> {
    pub fn new(
        mut out: W,
        kind: ObjectKind,
        seq: u64,
        place: Place<'_>,
        epoch: Epoch,
        key: Option<&ContentKey>,
        chunk_len: u32,
    ) -> std::io::Result<Sealer<W>> {
        let chunk_len = chunk_len.clamp(MIN_CHUNK_LEN, MAX_CHUNK_LEN);
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        if key.is_some() {
            rand::thread_rng().fill_bytes(&mut nonce_prefix);
        }
        out.write_all(&[0; STREAM_HEADER_LEN])?;
        Ok(Sealer {
            out,
            header: StreamHeader {
                kind,
                seq,
                sealed: key.is_some(),
                hash: [0; 32],
                payload_len: 0,
                space: SpaceId::from_bytes([0; SPACE_ID_LEN]),
                epoch,
                chunk_len,
                nonce_prefix,
            },
            stream: key.map(|k| stream(k, &nonce_prefix)),
            aad: chunk_aad(place.device, place.object_key, epoch, kind, seq, chunk_len),
            position: 0,
            sha: Sha256::new(),
            buf: Vec::with_capacity(chunk_len as usize + TAG_LEN),
            written: 0,
        })
    }

    /// Seals the chunk in `buf` (`last`: the stream's end) and writes it.
    fn flush_chunk(&mut self, last: bool) -> std::io::Result<()> {
        if let Some(s) = &self.stream {
            s.encrypt_in_place(self.position, last, &self.aad, &mut self.buf)
                .map_err(|_| std::io::Error::other("a chunk is too long to seal"))?;
        }
        self.written += self.buf.len();
        if self.written > MAX_PAYLOAD {
            return Err(std::io::Error::other(format!(
                "the object is larger than {MAX_PAYLOAD} bytes"
            )));
        }
        self.sha.update(&self.buf);
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.position = self
            .position
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("a stream of more than 2^32 chunks"))?;
        Ok(())
    }

    /// Seals the last chunk and writes the header: `out`, and the
    /// object's length in all.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.flush_chunk(true)?;
        self.header.hash = self.sha.clone().finalize().into();
        self.header.payload_len = self.written;
        self.out.flush()?;
        self.out.seek(std::io::SeekFrom::Start(0))?;
        self.out.write_all(&self.header.encode())?;
        self.out.flush()?;
        Ok((self.out, (STREAM_HEADER_LEN + self.written) as u64))
    }
}

impl<W: std::io::Write + std::io::Seek> std::io::Write for Sealer<W> {
    fn write(&mut self, mut data: &[u8]) -> std::io::Result<usize> {
        let n = data.len();
        let chunk = self.header.chunk_len as usize;
        while !data.is_empty() {
            // A full chunk goes out only once a byte beyond it arrives:
            // until then it may be the last, which is sealed as such.
            if self.buf.len() == chunk {
                self.flush_chunk(false)?;
            }
            let take = (chunk - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl StreamHeader {
    /// The object this header starts, its payload still empty.
    fn object(&self) -> Object {
        let personal = self.space == SpaceId::from_bytes([0; SPACE_ID_LEN]);
        Object {
            kind: self.kind,
            seq: self.seq,
            sealed: self.sealed,
            hash: self.hash,
            // Epoch 0 of the personal stream is the content key, which a
            // version 1 object names by naming nothing.
            space: (self.epoch.0 != 0 || !personal).then_some(SpaceBinding {
                space: self.space,
                epoch: self.epoch,
            }),
            chunks: Some(ChunkLayout {
                chunk_len: self.chunk_len,
                nonce_prefix: self.nonce_prefix,
            }),
            payload: Vec::new(),
        }
    }

    fn of(obj: &Object, chunks: &ChunkLayout) -> StreamHeader {
        let binding = obj.space.unwrap_or(SpaceBinding {
            space: SpaceId::from_bytes([0; SPACE_ID_LEN]),
            epoch: Epoch(0),
        });
        StreamHeader {
            kind: obj.kind,
            seq: obj.seq,
            sealed: obj.sealed,
            hash: obj.hash,
            payload_len: obj.payload.len(),
            space: binding.space,
            epoch: binding.epoch,
            chunk_len: chunks.chunk_len,
            nonce_prefix: chunks.nonce_prefix,
        }
    }
}

/// Checks a whole version 3 object in memory (header, length, hash), as
/// `object::decode` does the others: the object with an empty payload,
/// and where its payload starts.
pub(crate) fn decode_header_whole(bytes: &[u8]) -> Result<(Object, usize), ObjectError> {
    let header = StreamHeader::parse(bytes)?;
    let payload = &bytes[STREAM_HEADER_LEN..];
    if payload.len() != header.payload_len {
        return Err(ObjectError::LengthMismatch {
            declared: header.payload_len,
            found: payload.len(),
        });
    }
    if <[u8; 32]>::from(Sha256::digest(payload)) != header.hash {
        return Err(ObjectError::HashMismatch);
    }
    Ok((header.object(), STREAM_HEADER_LEN))
}

/// The bytes of a decoded version 3 object.
pub(crate) fn frame(obj: &Object, chunks: &ChunkLayout) -> Vec<u8> {
    let mut out = StreamHeader::of(obj, chunks).encode();
    out.extend_from_slice(&obj.payload);
    out
}

/// Opens a version 3 object held whole with `key` (its epoch's; `None`
/// for an unsealed one): the plaintext, all of it.
pub(crate) fn open_whole(
    obj: Object,
    device: &str,
    object_key: &str,
    key: Option<&ContentKey>,
) -> Result<Vec<u8>, ObjectError> {
    let Some(chunks) = obj.chunks else {
        return Err(ObjectError::Malformed("not a chunked object".into()));
    };
    let header = StreamHeader::of(&obj, &chunks);
    let mut opened = Opened::new(&obj.payload[..], header, Place { device, object_key }, key)?;
    let mut out = Vec::with_capacity(obj.payload.len());
    while let Some(b) = opened.next_bytes()? {
        out.extend_from_slice(b);
    }
    Ok(out)
}

/// The plaintext of a version 3 object, chunk by chunk, as its bytes are
/// read from `source`. Each chunk is checked before any of it is handed
/// out; a cut, reordered or damaged stream ends in an error.
pub struct Opened<R> {
    source: R,
    header: StreamHeader,
    stream: Option<StreamBE32<XChaCha20Poly1305>>,
    aad: Vec<u8>,
    position: u32,
    consumed: usize,
    sha: Sha256,
    buf: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: Read> Opened<R> {
    /// Reads the header from `source` and prepares to open the chunks with
    /// `key` (which must be `epoch`'s, as the caller looked it up from
    /// [`StreamHeader::epoch`]): `None` for an unsealed stream.
    pub fn new(
        source: R,
        header: StreamHeader,
        place: Place<'_>,
        key: Option<&ContentKey>,
    ) -> Result<Opened<R>, ObjectError> {
        let stream = match (header.sealed, key) {
            (true, Some(k)) => Some(stream(k, &header.nonce_prefix)),
            (true, None) => return Err(ObjectError::Sealed),
            (false, Some(_)) => return Err(ObjectError::NotSealed),
            (false, None) => None,
        };
        let aad = chunk_aad(
            place.device,
            place.object_key,
            header.epoch,
            header.kind,
            header.seq,
            header.chunk_len,
        );
        Ok(Opened {
            source,
            header,
            stream,
            aad,
            position: 0,
            consumed: 0,
            sha: Sha256::new(),
            buf: Vec::new(),
            at: 0,
            done: false,
        })
    }

    pub fn header(&self) -> &StreamHeader {
        &self.header
    }

    /// Reads, checks and opens the next chunk into `buf`.
    fn fill(&mut self) -> Result<(), ObjectError> {
        let (len, last) = self.header.next_chunk(self.consumed);
        if self.header.sealed && len < TAG_LEN {
            return Err(ObjectError::Malformed(
                "a chunk is shorter than its tag".into(),
            ));
        }
        self.buf.clear();
        self.buf.resize(len, 0);
        self.at = 0;
        read_exact(
            &mut self.source,
            &mut self.buf,
            self.consumed,
            self.header.payload_len,
        )?;
        self.consumed += len;
        self.sha.update(&self.buf);
        if last {
            self.done = true;
            if <[u8; 32]>::from(self.sha.clone().finalize()) != self.header.hash {
                return Err(ObjectError::HashMismatch);
            }
            let mut extra = [0u8; 1];
            if matches!(self.source.read(&mut extra), Ok(n) if n > 0) {
                return Err(ObjectError::LengthMismatch {
                    declared: self.header.payload_len,
                    found: self.header.payload_len + 1,
                });
            }
        }
        if let Some(s) = &self.stream {
            s.decrypt_in_place(self.position, last, &self.aad, &mut self.buf)
                .map_err(|_| crate::crypto::CryptoError::OpenFailed)?;
        }
        self.position = self
            .position
            .checked_add(1)
            .ok_or_else(|| ObjectError::Malformed("a stream of more than 2^32 chunks".into()))?;
        Ok(())
    }

    /// The next plaintext bytes, `None` at the end.
    pub fn next_bytes(&mut self) -> Result<Option<&[u8]>, ObjectError> {
        while self.at == self.buf.len() {
            if self.done {
                return Ok(None);
            }
            self.fill()?;
        }
        let out = &self.buf[self.at..];
        self.at = self.buf.len();
        Ok(Some(out))
    }
}

fn read_exact<R: Read>(
    source: &mut R,
    buf: &mut [u8],
    consumed: usize,
    declared: usize,
) -> Result<(), ObjectError> {
    let mut got = 0;
    while got < buf.len() {
        match source.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(ObjectError::LengthMismatch {
                    declared,
                    found: consumed + got,
                })
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(ObjectError::Malformed(format!(
                    "reading the object failed: {e}"
                )))
            }
        }
    }
    Ok(())
}

/// An [`Opened`] stream as a `Read` of its plaintext; an [`ObjectError`]
/// comes out as an `io::Error` of kind `InvalidData` holding it.
impl<R: Read> Read for Opened<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.fill()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The [`ObjectError`] an `io::Error` from [`Opened`] carries, or one
/// describing the error.
pub fn object_error(e: std::io::Error) -> ObjectError {
    if e.get_ref().is_some_and(|inner| inner.is::<ObjectError>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(err) = inner.downcast::<ObjectError>() {
                return *err;
            }
        }
        return ObjectError::Malformed("unreadable object".into());
    }
    ObjectError::Malformed(format!("reading the object failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLACE: Place<'static> = Place {
        device: "d1",
        object_key: "snapshot/0",
    };

    fn open_all(
        bytes: &[u8],
        place: Place<'_>,
        key: Option<&ContentKey>,
    ) -> Result<Vec<u8>, ObjectError> {
        let header = StreamHeader::parse(bytes)?;
        let mut opened = Opened::new(&bytes[STREAM_HEADER_LEN..], header, place, key)?;
        let mut out = Vec::new();
        while let Some(b) = opened.next_bytes()? {
            out.extend_from_slice(b);
        }
        Ok(out)
    }

    #[test]
    fn round_trips_at_every_length_around_a_chunk() {
        let key = ContentKey::generate();
        let c = MIN_CHUNK_LEN as usize;
        for len in [0, 1, c - 1, c, c + 1, 3 * c, 3 * c + 7] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for k in [Some(&key), None] {
                let sealed = seal(
                    ObjectKind::Snapshot,
                    4,
                    PLACE,
                    Epoch(0),
                    k,
                    MIN_CHUNK_LEN,
                    &payload,
                );
                assert_eq!(open_all(&sealed, PLACE, k).unwrap(), payload, "len {len}");
            }
        }
    }

    #[test]
    fn a_sealer_fed_in_uneven_pieces_into_a_file_writes_what_opens() {
        use std::io::{Read as _, Seek as _, Write as _};
        let key = ContentKey::generate();
        let c = MIN_CHUNK_LEN as usize;
        // Ending inside a chunk, on its boundary, and empty.
        for len in [5 * c + 123, 4 * c, 0] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 241) as u8).collect();
            let file = tempfile::tempfile().unwrap();
            let mut sealer = Sealer::new(
                file,
                ObjectKind::Snapshot,
                9,
                PLACE,
                Epoch(0),
                Some(&key),
                MIN_CHUNK_LEN,
            )
            .unwrap();
            let mut at = 0;
            let mut step = 1;
            while at < payload.len() {
                let end = (at + step).min(payload.len());
                sealer.write_all(&payload[at..end]).unwrap();
                at = end;
                step = step * 3 % (2 * c) + 1;
            }
            let (mut file, written) = sealer.finish().unwrap();
            let mut bytes = Vec::new();
            file.seek(std::io::SeekFrom::Start(0)).unwrap();
            file.read_to_end(&mut bytes).unwrap();
            assert_eq!(bytes.len() as u64, written);
            assert_eq!(
                open_all(&bytes, PLACE, Some(&key)).unwrap(),
                payload,
                "len {len}"
            );
            // The same chunks as sealing it whole: one layout, one reader.
            let whole = seal(
                ObjectKind::Snapshot,
                9,
                PLACE,
                Epoch(0),
                Some(&key),
                MIN_CHUNK_LEN,
                &payload,
            );
            assert_eq!(whole.len(), bytes.len(), "len {len}");
            assert!(decode_header_whole(&bytes).is_ok());
        }
    }

    #[test]
    fn a_cut_reordered_moved_or_damaged_stream_does_not_open() {
        let key = ContentKey::generate();
        let c = MIN_CHUNK_LEN as usize;
        let payload: Vec<u8> = (0..3 * c + 10).map(|i| (i % 249) as u8).collect();
        let sealed = seal(
            ObjectKind::Snapshot,
            4,
            PLACE,
            Epoch(0),
            Some(&key),
            MIN_CHUNK_LEN,
            &payload,
        );
        // Cut at a chunk boundary, with the header made to agree.
        let full = c + TAG_LEN;
        let mut cut = sealed[..STREAM_HEADER_LEN + 2 * full].to_vec();
        cut[16..20].copy_from_slice(&((2 * full) as u32).to_le_bytes());
        let h: [u8; 32] = Sha256::digest(&cut[STREAM_HEADER_LEN..]).into();
        cut[20..52].copy_from_slice(&h);
        assert!(open_all(&cut, PLACE, Some(&key)).is_err());
        // Two chunks swapped, the hash made to agree.
        let mut swapped = sealed.clone();
        let (a, b) = (STREAM_HEADER_LEN, STREAM_HEADER_LEN + full);
        let first = swapped[a..b].to_vec();
        let second = swapped[b..b + full].to_vec();
        swapped[a..b].copy_from_slice(&second);
        swapped[b..b + full].copy_from_slice(&first);
        let h: [u8; 32] = Sha256::digest(&swapped[STREAM_HEADER_LEN..]).into();
        swapped[20..52].copy_from_slice(&h);
        assert!(open_all(&swapped, PLACE, Some(&key)).is_err());
        // Another place or number.
        let other = Place {
            device: "d2",
            ..PLACE
        };
        assert!(open_all(&sealed, other, Some(&key)).is_err());
        let mut renumbered = sealed.clone();
        renumbered[8] ^= 1;
        assert!(open_all(&renumbered, PLACE, Some(&key)).is_err());
        // A flipped bit anywhere after the header.
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            open_all(&flipped, PLACE, Some(&key)),
            Err(ObjectError::HashMismatch)
        );
        // Bytes beyond what the header says, or fewer.
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(open_all(&longer, PLACE, Some(&key)).is_err());
        assert!(matches!(
            open_all(&sealed[..sealed.len() - 1], PLACE, Some(&key)),
            Err(ObjectError::LengthMismatch { .. })
        ));
        // The wrong key, no key, or a key for an unsealed one.
        assert!(open_all(&sealed, PLACE, Some(&ContentKey::generate())).is_err());
        assert_eq!(open_all(&sealed, PLACE, None), Err(ObjectError::Sealed));
        let plain = seal(
            ObjectKind::Snapshot,
            4,
            PLACE,
            Epoch(0),
            None,
            MIN_CHUNK_LEN,
            b"x",
        );
        assert_eq!(
            open_all(&plain, PLACE, Some(&key)),
            Err(ObjectError::NotSealed)
        );
    }

    #[test]
    fn its_read_hands_out_the_plaintext_and_carries_the_error() {
        let key = ContentKey::generate();
        let payload = vec![7u8; 10_000];
        let sealed = seal(
            ObjectKind::Snapshot,
            1,
            PLACE,
            Epoch(0),
            Some(&key),
            MIN_CHUNK_LEN,
            &payload,
        );
        let header = StreamHeader::parse(&sealed).unwrap();
        let mut opened = Opened::new(
            &sealed[STREAM_HEADER_LEN..],
            header.clone(),
            PLACE,
            Some(&key),
        )
        .unwrap();
        let mut out = Vec::new();
        opened.read_to_end(&mut out).unwrap();
        assert_eq!(out, payload);
        let mut damaged = sealed.clone();
        damaged[STREAM_HEADER_LEN + 5] ^= 1;
        let mut opened =
            Opened::new(&damaged[STREAM_HEADER_LEN..], header, PLACE, Some(&key)).unwrap();
        let err = opened.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(matches!(object_error(err), ObjectError::Crypto(_)));
    }
}
