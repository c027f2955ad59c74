//! Splits a stream into fixed-size chunks, one at a time: a file of any
//! size costs one chunk of memory.

use std::io::Read;

use crate::blob::CHUNK_SIZE;

/// Reads `CHUNK_SIZE` bytes at a time (fewer only at the end).
pub struct Chunker<R> {
    reader: R,
    chunk_size: usize,
    done: bool,
}

impl<R: Read> Chunker<R> {
    pub fn new(reader: R) -> Self {
        Self::with_size(reader, CHUNK_SIZE)
    }

    /// Smaller chunks, for tests.
    pub fn with_size(reader: R, chunk_size: usize) -> Self {
        Chunker {
            reader,
            chunk_size: chunk_size.max(1),
            done: false,
        }
    }

    /// The next chunk's bytes, `None` at the end. An empty stream has no
    /// chunks.
    pub fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let mut buf = vec![0u8; self.chunk_size];
        let mut filled = 0;
        while filled < buf.len() {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(filled);
        Ok((!buf.is_empty()).then_some(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn chunks_concatenate_to_the_input(data in proptest::collection::vec(any::<u8>(), 0..5000), size in 1usize..700) {
            let mut c = Chunker::with_size(&data[..], size);
            let mut out = Vec::new();
            let mut n = 0;
            while let Some(chunk) = c.next_chunk().unwrap() {
                prop_assert!(chunk.len() <= size && !chunk.is_empty());
                out.extend_from_slice(&chunk);
                n += 1;
            }
            prop_assert_eq!(&out, &data);
            prop_assert_eq!(n, data.len().div_ceil(size));
        }
    }
}
