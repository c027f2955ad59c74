//! A small LRU of loaded note documents. Loading a document from its chunks
//! costs far more than an edit, so the notes being worked on stay in memory;
//! the bound keeps memory flat however many notes a session touches.

use std::collections::HashMap;

use crate::note_doc::NoteDoc;

pub(crate) struct DocCache {
    capacity: usize,
    tick: u64,
    docs: HashMap<String, (u64, NoteDoc)>,
}

impl DocCache {
    pub(crate) fn new(capacity: usize) -> Self {
        DocCache {
            capacity: capacity.max(1),
            tick: 0,
            docs: HashMap::new(),
        }
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut NoteDoc> {
        self.tick += 1;
        let tick = self.tick;
        self.docs.get_mut(id).map(|(t, d)| {
            *t = tick;
            d
        })
    }

    pub(crate) fn insert(&mut self, doc: NoteDoc) {
        self.tick += 1;
        if self.docs.len() >= self.capacity && !self.docs.contains_key(doc.id()) {
            if let Some(oldest) = self
                .docs
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
            {
                self.docs.remove(&oldest);
            }
        }
        self.docs.insert(doc.id().to_string(), (self.tick, doc));
    }

    /// Forgets a document, so the next use reloads it from disk. Used when a
    /// write to disk failed: the in-memory copy may hold a change that was
    /// never stored.
    pub(crate) fn evict(&mut self, id: &str) {
        self.docs.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut c = DocCache::new(2);
        for id in ["a", "b"] {
            c.insert(NoteDoc::create(id, b"x", id, 0).unwrap());
        }
        assert!(c.get_mut("a").is_some());
        c.insert(NoteDoc::create("c", b"x", "c", 0).unwrap());
        assert!(c.get_mut("b").is_none());
        assert!(c.get_mut("a").is_some());
        assert!(c.get_mut("c").is_some());
    }
}
