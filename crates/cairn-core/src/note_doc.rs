//! One note as one Automerge document.
//!
//! Layout of the document root:
//!
//! | key        | type          | meaning                                        |
//! |------------|---------------|------------------------------------------------|
//! | `body`     | text          | the Markdown body; the title is its first line |
//! | `tags`     | map<str,bool> | a set: present keys are the tags               |
//! | `pinned`   | bool          |                                                |
//! | `trashed`  | bool          |                                                |
//! | `deleted`  | bool          | a tombstone, so deletion syncs like an edit    |
//! | `created`  | i64 (ms)      |                                                |
//! | `modified` | i64 (ms)      | last local edit                                |
//! | `notebook` | str           | id of the notebook holding it; absent: Unfiled |
//! | `links`    | map<str,str>  | link text as typed -> the note id it points to |
//!
//! Text indexes are UTF-16 code units, because the editor is JavaScript.
//! Tags are a map rather than a list so that two devices adding the same tag
//! merge into one tag, and tags added and removed on different devices
//! combine as set operations.

use automerge::{
    transaction::{CommitOptions, Transactable},
    AutoCommit, ChangeHash, LoadOptions, ObjId, ObjType, ReadDoc, ScalarValue, TextEncoding, Value,
    ROOT,
};

use crate::error::{CoreError, Result};

pub(crate) const ENCODING: TextEncoding = TextEncoding::Utf16CodeUnit;

/// The state of a note at some point, read out of its document.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteState {
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub trashed: bool,
    pub deleted: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// The notebook the note's document names (it may be gone; see
    /// `notebooks.rs` for how that is shown).
    pub notebook: Option<String>,
    /// Link text -> target note id, for the links resolved so far.
    pub links: std::collections::BTreeMap<String, String>,
    /// Only in the notebook tree's document: its notebooks as stored.
    pub notebooks: Vec<crate::notebook_doc::NotebookEntry>,
    /// The note's attachment records as stored (root key, JSON), not yet
    /// checked; see `blob::record`.
    pub attachments: Vec<(String, String)>,
    /// Only in the blob index's document: chunk id -> location, as stored.
    pub chunk_locations: Vec<(String, String)>,
}

/// A note's Automerge document with typed accessors.
pub struct NoteDoc {
    id: String,
    doc: AutoCommit,
    body: ObjId,
    /// Heads of what is already on disk. Automerge's own save cursor starts
    /// empty after a load, which would make the first change after loading
    /// carry the whole document; this does not.
    stored: Vec<ChangeHash>,
    /// The body as it is now, when known without asking Automerge.
    ///
    /// Reading a text back out of Automerge walks every character: about
    /// a millisecond for a 20 KB note, and an edit read it twice (its
    /// links, its rows). So the body is kept here and a local splice is
    /// applied to it as to the document; anything else that changes the
    /// document (a merge, a rollback, any raw access) drops it, and the
    /// next read fills it again.
    body_text: std::cell::RefCell<Option<String>>,
}

impl NoteDoc {
    /// A brand new note. `actor` identifies the device making it.
    pub fn create(id: &str, actor: &[u8], body: &str, now_ms: i64) -> Result<NoteDoc> {
        let mut note = Self::create_staged(id, actor, body, now_ms)?;
        note.doc
            .commit_with(CommitOptions::default().with_time(now_ms));
        Ok(note)
    }

    /// A brand new note whose first change is still open: whatever the
    /// caller stages next (tags, flags, a notebook, links) joins it, and
    /// `commit_local` closes it. An import makes each note this way, as one
    /// change rather than two, which saves Automerge building and hashing
    /// a second change for every note.
    pub fn create_staged(id: &str, actor: &[u8], body: &str, now_ms: i64) -> Result<NoteDoc> {
        let mut doc = AutoCommit::new_with_encoding(ENCODING);
        doc.set_actor(automerge::ActorId::from(actor));
        let err = |source| CoreError::Document {
            id: id.to_string(),
            source: Box::new(source),
        };
        let text = doc.put_object(ROOT, "body", ObjType::Text).map_err(err)?;
        doc.splice_text(&text, 0, 0, body).map_err(err)?;
        doc.put_object(ROOT, "tags", ObjType::Map).map_err(err)?;
        // Made with the note, so two devices adding its first links write
        // into the same map rather than racing to create it.
        doc.put_object(ROOT, "links", ObjType::Map).map_err(err)?;
        doc.put(ROOT, "pinned", false).map_err(err)?;
        doc.put(ROOT, "trashed", false).map_err(err)?;
        doc.put(ROOT, "created", ScalarValue::Timestamp(now_ms))
            .map_err(err)?;
        doc.put(ROOT, "modified", ScalarValue::Timestamp(now_ms))
            .map_err(err)?;
        Ok(NoteDoc {
            id: id.to_string(),
            doc,
            body: text,
            stored: Vec::new(),
            body_text: std::cell::RefCell::new(Some(body.to_string())),
        })
    }

    /// Loads a note from its stored chunks (a snapshot followed by
    /// incremental changes, concatenated or one by one).
    pub fn load<C: AsRef<[u8]>>(id: &str, actor: &[u8], chunks: &[C]) -> Result<NoteDoc> {
        let corrupt = |reason: String| CoreError::CorruptNote {
            id: id.to_string(),
            reason,
        };
        let mut doc = AutoCommit::new_with_encoding(ENCODING);
        for (i, chunk) in chunks.iter().enumerate() {
            let chunk = chunk.as_ref();
            if i == 0 {
                doc = AutoCommit::load_with_options(
                    chunk,
                    LoadOptions::new().text_encoding(ENCODING),
                )
                .map_err(|e| corrupt(format!("snapshot: {e}")))?;
            } else {
                check_chunks(chunk).map_err(|e| corrupt(format!("change chunk {i}: {e}")))?;
                doc.load_incremental(chunk)
                    .map_err(|e| corrupt(format!("change chunk {i}: {e}")))?;
            }
        }
        doc.set_actor(automerge::ActorId::from(actor));
        Self::from_doc(id, doc)
    }

    /// Wraps a document that came from elsewhere, checking its shape.
    pub(crate) fn from_doc(id: &str, mut doc: AutoCommit) -> Result<NoteDoc> {
        let body = match doc.get(ROOT, "body") {
            Ok(Some((Value::Object(ObjType::Text), obj))) => obj,
            Ok(_) => {
                return Err(CoreError::CorruptNote {
                    id: id.to_string(),
                    reason: "document has no text body".into(),
                })
            }
            Err(e) => {
                return Err(CoreError::CorruptNote {
                    id: id.to_string(),
                    reason: e.to_string(),
                })
            }
        };
        let stored = doc.get_heads();
        Ok(NoteDoc {
            id: id.to_string(),
            doc,
            body,
            stored,
            body_text: std::cell::RefCell::new(None),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The document itself. What the caller does with it is not known
    /// here, so the kept body goes.
    pub(crate) fn doc_mut(&mut self) -> &mut AutoCommit {
        self.body_text.get_mut().take();
        &mut self.doc
    }

    /// The body's text object (the same in every fork of the document).
    pub(crate) fn body_obj(&self) -> &ObjId {
        &self.body
    }

    fn err(&self) -> impl Fn(automerge::AutomergeError) -> CoreError + '_ {
        move |source| CoreError::Document {
            id: self.id.clone(),
            source: Box::new(source),
        }
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Whether the change `hash` is in this document's history. Read only,
    /// so the kept body stays (an edit asks this on every keystroke).
    pub fn has_change(&mut self, hash: &ChangeHash) -> bool {
        self.doc.get_change_meta_by_hash(hash).is_some()
    }

    /// Every change's metadata, oldest first. Read only.
    pub(crate) fn changes_meta(&mut self) -> Vec<automerge::ChangeMetadata<'_>> {
        self.doc.get_changes_meta(&[])
    }

    /// The patches from `before` to `after`. Read only.
    pub(crate) fn diff(
        &mut self,
        before: &[ChangeHash],
        after: &[ChangeHash],
    ) -> Vec<automerge::Patch> {
        self.doc.diff(before, after)
    }

    /// Closes the staged operations as `commit_local` does and returns the
    /// new change's hash (None when nothing was staged).
    pub fn commit_local_change(&mut self, now_ms: i64) -> Result<Option<ChangeHash>> {
        if !self.commit_local(now_ms)? {
            return Ok(None);
        }
        // A local change depends on every head there was, so it is the
        // only head now.
        Ok(self.doc.get_heads().first().copied())
    }

    /// Drops what was staged since the last commit.
    pub fn rollback(&mut self) {
        self.doc_mut().rollback();
    }

    pub fn body(&self) -> Result<String> {
        if let Some(text) = self.body_text.borrow().as_ref() {
            debug_assert_eq!(
                self.doc.text(&self.body).ok().as_deref(),
                Some(text.as_str())
            );
            return Ok(text.clone());
        }
        let text = self.doc.text(&self.body).map_err(self.err())?;
        *self.body_text.borrow_mut() = Some(text.clone());
        Ok(text)
    }

    pub fn body_at(&self, heads: &[ChangeHash]) -> Result<String> {
        self.doc.text_at(&self.body, heads).map_err(self.err())
    }

    /// Length of the body in UTF-16 code units.
    pub fn body_len(&self) -> usize {
        self.doc.length(&self.body)
    }

    /// Reads every field, now or at `heads`.
    pub fn state(&self, heads: Option<&[ChangeHash]>) -> Result<NoteState> {
        let body = match heads {
            Some(h) => self.body_at(h)?,
            None => self.body()?,
        };
        self.state_with_body(heads, body)
    }

    /// `state(None)` for a document whose body the caller just wrote whole
    /// (a new note): reading ten thousand bodies back out of Automerge
    /// character by character is a measurable part of an import.
    pub(crate) fn state_of_new(&self, body: String) -> Result<NoteState> {
        debug_assert_eq!(self.body().ok().as_deref(), Some(body.as_str()));
        self.state_with_body(None, body)
    }

    fn state_with_body(&self, heads: Option<&[ChangeHash]>, body: String) -> Result<NoteState> {
        let tags = match self.get_value(ROOT, "tags", heads)? {
            Some((Value::Object(ObjType::Map), obj)) => {
                let keys: Vec<String> = match heads {
                    Some(h) => self.doc.keys_at(&obj, h).collect(),
                    None => self.doc.keys(&obj).collect(),
                };
                keys
            }
            _ => Vec::new(),
        };
        Ok(NoteState {
            body,
            tags,
            pinned: self.get_bool("pinned", heads)?,
            trashed: self.get_bool("trashed", heads)?,
            deleted: self.get_bool("deleted", heads)?,
            created_ms: self.get_time("created", heads)?,
            modified_ms: self.get_time("modified", heads)?,
            notebook: self.get_str(ROOT, "notebook", heads)?,
            links: self.links(heads)?,
            notebooks: crate::notebook_doc::read_entries(&self.doc, heads).map_err(self.err())?,
            attachments: self.attachment_entries(heads)?,
            chunk_locations: crate::blob::index_doc::read_entries(&self.doc, heads)
                .map_err(self.err())?,
        })
    }

    fn attachment_entries(&self, heads: Option<&[ChangeHash]>) -> Result<Vec<(String, String)>> {
        let keys: Vec<String> = match heads {
            Some(h) => self.doc.keys_at(ROOT, h).collect(),
            None => self.doc.keys(ROOT).collect(),
        };
        let mut out = Vec::new();
        for key in keys
            .into_iter()
            .filter(|k| k.starts_with(crate::blob::record::KEY_PREFIX))
        {
            if let Some(value) = self.get_str(ROOT, &key, heads)? {
                out.push((key, value));
            }
        }
        Ok(out)
    }

    /// Stages an attachment record (the caller commits).
    pub fn put_attachment(&mut self, record: &crate::blob::AttachmentRecord) -> Result<()> {
        self.doc
            .put(ROOT, record.key().as_str(), record.encode())
            .map_err(self.err())
    }

    /// Stages the removal of an attachment record.
    pub fn remove_attachment(&mut self, id: &str) -> Result<()> {
        let key = format!("{}{id}", crate::blob::record::KEY_PREFIX);
        self.doc.delete(ROOT, key.as_str()).map_err(self.err())
    }

    fn get_str(
        &self,
        obj: ObjId,
        key: &str,
        heads: Option<&[ChangeHash]>,
    ) -> Result<Option<String>> {
        Ok(match self.get_value(obj, key, heads)? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(v) => Some(v.to_string()),
                _ => None,
            },
            _ => None,
        })
    }

    /// The links map as it is now.
    pub(crate) fn link_map(&self) -> Result<std::collections::BTreeMap<String, String>> {
        self.links(None)
    }

    fn links(
        &self,
        heads: Option<&[ChangeHash]>,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        let mut out = std::collections::BTreeMap::new();
        if let Some((Value::Object(ObjType::Map), obj)) = self.get_value(ROOT, "links", heads)? {
            let keys: Vec<String> = match heads {
                Some(h) => self.doc.keys_at(&obj, h).collect(),
                None => self.doc.keys(&obj).collect(),
            };
            for k in keys {
                if let Some(target) = self.get_str(obj.clone(), &k, heads)? {
                    out.insert(k, target);
                }
            }
        }
        Ok(out)
    }

    /// Puts the note in a notebook (None: Unfiled).
    pub fn set_notebook(&mut self, notebook: Option<&str>) -> Result<()> {
        match notebook {
            Some(nb) => self.doc.put(ROOT, "notebook", nb).map_err(self.err_owned()),
            None => {
                if self
                    .doc
                    .get(ROOT, "notebook")
                    .map_err(self.err_owned())?
                    .is_some()
                {
                    self.doc
                        .delete(ROOT, "notebook")
                        .map_err(self.err_owned())?;
                }
                Ok(())
            }
        }
    }

    /// Records that link `text` points to note `target`.
    pub fn set_link(&mut self, text: &str, target: &str) -> Result<()> {
        let links = match self.doc.get(ROOT, "links").map_err(self.err_owned())? {
            Some((Value::Object(ObjType::Map), obj)) => obj,
            _ => self
                .doc
                .put_object(ROOT, "links", ObjType::Map)
                .map_err(self.err_owned())?,
        };
        self.doc.put(&links, text, target).map_err(self.err_owned())
    }

    /// Forgets link `text` (the body no longer has it).
    pub fn remove_link(&mut self, text: &str) -> Result<()> {
        if let Some((Value::Object(ObjType::Map), links)) =
            self.doc.get(ROOT, "links").map_err(self.err_owned())?
        {
            if self
                .doc
                .get(&links, text)
                .map_err(self.err_owned())?
                .is_some()
            {
                self.doc.delete(&links, text).map_err(self.err_owned())?;
            }
        }
        Ok(())
    }

    fn get_value(
        &self,
        obj: ObjId,
        key: &str,
        heads: Option<&[ChangeHash]>,
    ) -> Result<Option<(Value<'_>, ObjId)>> {
        match heads {
            Some(h) => self.doc.get_at(obj, key, h),
            None => self.doc.get(obj, key),
        }
        .map_err(self.err())
    }

    fn get_bool(&self, key: &str, heads: Option<&[ChangeHash]>) -> Result<bool> {
        Ok(matches!(
            self.get_value(ROOT, key, heads)?,
            Some((Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Boolean(true))
        ))
    }

    fn get_time(&self, key: &str, heads: Option<&[ChangeHash]>) -> Result<i64> {
        Ok(match self.get_value(ROOT, key, heads)? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Timestamp(t) | ScalarValue::Int(t) => *t,
                _ => 0,
            },
            _ => 0,
        })
    }

    // ---- edits: each stages operations; `commit` closes them into one change.

    /// Replaces the body with `new_body` as a minimal diff, so it merges
    /// well with concurrent edits elsewhere.
    pub fn set_body(&mut self, new_body: &str) -> Result<()> {
        let body = self.body.clone();
        let id = self.id.clone();
        self.body_text.get_mut().take();
        self.doc
            .update_text(&body, new_body)
            .map_err(|source| CoreError::Document {
                id,
                source: Box::new(source),
            })?;
        *self.body_text.get_mut() = Some(new_body.to_string());
        Ok(())
    }

    /// Splices the body at a UTF-16 index, as an editor does.
    pub fn splice(&mut self, index: usize, delete: isize, insert: &str) -> Result<()> {
        let len = self.body_len();
        if index > len || delete < 0 || index + delete.unsigned_abs() > len {
            return Err(CoreError::Invalid {
                what: "splice",
                reason: format!(
                    "index {index} + delete {delete} is outside the body of {len} UTF-16 units"
                ),
            });
        }
        let body = self.body.clone();
        let id = self.id.clone();
        // Taken first: if the splice fails, nothing kept can be stale.
        let kept = self.body_text.get_mut().take();
        self.doc
            .splice_text(&body, index, delete, insert)
            .map_err(|source| CoreError::Document {
                id,
                source: Box::new(source),
            })?;
        *self.body_text.get_mut() =
            kept.and_then(|text| splice_utf16(text, index, delete.unsigned_abs(), insert));
        Ok(())
    }

    pub fn add_tag(&mut self, tag: &str) -> Result<()> {
        let tags = self.tags_obj()?;
        self.doc.put(&tags, tag, true).map_err(self.err_owned())
    }

    pub fn remove_tag(&mut self, tag: &str) -> Result<()> {
        let tags = self.tags_obj()?;
        if self
            .doc
            .get(&tags, tag)
            .map_err(self.err_owned())?
            .is_some()
        {
            self.doc.delete(&tags, tag).map_err(self.err_owned())?;
        }
        Ok(())
    }

    fn tags_obj(&mut self) -> Result<ObjId> {
        match self.doc.get(ROOT, "tags").map_err(self.err_owned())? {
            Some((Value::Object(ObjType::Map), obj)) => Ok(obj),
            _ => self
                .doc
                .put_object(ROOT, "tags", ObjType::Map)
                .map_err(self.err_owned()),
        }
    }

    fn err_owned(&self) -> impl Fn(automerge::AutomergeError) -> CoreError {
        let id = self.id.clone();
        move |source| CoreError::Document {
            id: id.clone(),
            source: Box::new(source),
        }
    }

    pub fn set_flag(&mut self, key: Flag, value: bool) -> Result<()> {
        self.doc
            .put(ROOT, key.as_str(), value)
            .map_err(self.err_owned())
    }

    /// Sets the modified time explicitly (imports keep their dates).
    pub fn set_modified(&mut self, ms: i64) -> Result<()> {
        self.doc
            .put(ROOT, "modified", ScalarValue::Timestamp(ms))
            .map_err(self.err_owned())
    }

    /// Closes the staged operations into one change stamped `now_ms`, and
    /// bumps `modified`. Returns false when nothing was staged.
    pub fn commit_local(&mut self, now_ms: i64) -> Result<bool> {
        if self.doc.pending_ops() == 0 {
            return Ok(false);
        }
        self.doc
            .put(ROOT, "modified", ScalarValue::Timestamp(now_ms))
            .map_err(self.err_owned())?;
        Ok(self
            .doc
            .commit_with(CommitOptions::default().with_time(now_ms))
            .is_some())
    }

    /// Applies changes from another replica (bytes of `save`, `save_after`
    /// or `save_incremental`). Returns the number of new operations.
    pub fn merge_bytes(&mut self, bytes: &[u8]) -> Result<usize> {
        self.body_text.get_mut().take();
        check_chunks(bytes).map_err(|reason| CoreError::BadChanges {
            id: self.id.clone(),
            reason,
        })?;
        self.doc
            .load_incremental(bytes)
            .map_err(|e| CoreError::BadChanges {
                id: self.id.clone(),
                reason: e.to_string(),
            })
    }

    /// Bytes of the changes not yet on disk, marking them stored.
    pub fn take_incremental(&mut self) -> Vec<u8> {
        let bytes = self.doc.save_after(&self.stored);
        self.stored = self.doc.get_heads();
        bytes
    }

    /// A compacted snapshot of the whole document (everything counts as
    /// stored from here).
    pub fn save(&mut self) -> Vec<u8> {
        let bytes = self.doc.save();
        self.stored = self.doc.get_heads();
        bytes
    }

    /// The changes not covered by `heads`.
    pub fn save_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }
}

/// `text` with `delete` UTF-16 units at UTF-16 index `index` replaced by
/// `insert`, as Automerge splices a text; None when either end falls
/// inside a character, where the kept body is dropped rather than guess
/// how Automerge rounds.
fn splice_utf16(mut text: String, index: usize, delete: usize, insert: &str) -> Option<String> {
    let start = byte_at_utf16(&text, 0, index)?;
    let end = byte_at_utf16(&text, start, delete)?;
    text.replace_range(start..end, insert);
    Some(text)
}

/// The byte offset `units` UTF-16 units after byte `from` of `text`.
fn byte_at_utf16(text: &str, from: usize, units: usize) -> Option<usize> {
    let mut counted = 0;
    for (at, c) in text.get(from..)?.char_indices() {
        if counted == units {
            return Some(from + at);
        }
        counted += c.len_utf16();
        if counted > units {
            return None;
        }
    }
    (counted == units).then_some(text.len())
}

/// Checks that `bytes` are whole, well-formed Automerge chunks.
///
/// `load_incremental` skips a damaged tail with only a log line, which
/// would let a corrupt or hostile object pass for an empty one. So every
/// chunk is parsed on its own first: a document chunk must load, a change
/// chunk must decode with a valid checksum. Dependencies are not checked
/// here; changes may arrive before the ones they build on.
pub fn check_chunks(bytes: &[u8]) -> std::result::Result<(), String> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const HEADER: usize = 9; // magic, checksum, chunk type
    let mut rest = bytes;
    let mut index = 0;
    while !rest.is_empty() {
        if rest.len() < HEADER || rest[..4] != MAGIC {
            return Err(format!(
                "chunk {index} does not start with the Automerge magic bytes"
            ));
        }
        let kind = rest[8];
        let (len, leb_len) = read_uleb(&rest[HEADER..])
            .ok_or_else(|| format!("chunk {index} has a malformed length"))?;
        let total = HEADER
            .checked_add(leb_len)
            .and_then(|t| t.checked_add(usize::try_from(len).ok()?))
            .filter(|t| *t <= rest.len())
            .ok_or_else(|| format!("chunk {index} is truncated"))?;
        let chunk = &rest[..total];
        if !matches!(kind, 0..=2) {
            return Err(format!("chunk {index} has unknown type {kind}"));
        }
        // Automerge panics on some malformed chunks (an actor index that
        // does not fit, found by the fuzzer: a kept fixture under
        // tests/fuzz/fixtures/chunks). A damaged or hostile object is
        // refused like any other bad chunk, not allowed to unwind
        // through a sync.
        let parsed = std::panic::catch_unwind(|| match kind {
            0 => AutoCommit::load_with_options(
                chunk,
                LoadOptions::new()
                    .text_encoding(ENCODING)
                    .on_partial_load(automerge::OnPartialLoad::Error),
            )
            .map(|_| ())
            .map_err(|e| e.to_string()),
            _ => automerge::Change::from_bytes(chunk.to_vec())
                .map(|_| ())
                .map_err(|e| e.to_string()),
        })
        .unwrap_or_else(|_| Err("Automerge could not read it".into()));
        parsed.map_err(|e| format!("chunk {index}: {e}"))?;
        rest = &rest[total..];
        index += 1;
    }
    Ok(())
}

/// An unsigned LEB128 number: (value, bytes used).
fn read_uleb(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The boolean fields of a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Pinned,
    Trashed,
    Deleted,
}

impl Flag {
    fn as_str(self) -> &'static str {
        match self {
            Flag::Pinned => "pinned",
            Flag::Trashed => "trashed",
            Flag::Deleted => "deleted",
        }
    }
}

/// The title of a note: its first non-empty line, without Markdown heading
/// marks, at most 120 characters.
pub fn title_of(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = line.trim_start_matches('#').trim();
    crate::blob::attach::references_as_names(line)
        .chars()
        .take(120)
        .collect()
}

/// A short plain excerpt of the body after the title line.
pub fn excerpt_of(body: &str) -> String {
    let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty());
    lines.next();
    let rest: Vec<&str> = lines.take(6).collect();
    let joined = crate::blob::attach::references_as_names(&rest.join(" "));
    joined.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_first_nonempty_line_without_heading_marks() {
        assert_eq!(title_of("\n\n# Groceries\n- milk"), "Groceries");
        assert_eq!(title_of(""), "");
        assert_eq!(excerpt_of("# T\n\nline one\nline two"), "line one line two");
    }

    #[test]
    fn attachment_references_read_as_their_names_in_titles_and_excerpts() {
        let body =
            "![Trail map.png](attachment:0a1b)\nThe route: ![Pasted image 1.png](attachment:2c3d) \
                    and [Packing list.pdf](attachment:4e5f).\n[a link](https://example.org) stays";
        assert_eq!(title_of(body), "Trail map.png");
        assert_eq!(
            excerpt_of(body),
            "The route: Pasted image 1.png and Packing list.pdf. [a link](https://example.org) stays"
        );
        // Half a reference is left as it is.
        assert_eq!(excerpt_of("t\nsee ](attachment:x"), "see ](attachment:x");
    }

    #[test]
    fn create_edit_and_read_back() {
        let mut n = NoteDoc::create("n1", b"actor-a", "hello", 1000).unwrap();
        n.splice(5, 0, " world").unwrap();
        n.add_tag("work").unwrap();
        n.set_flag(Flag::Pinned, true).unwrap();
        assert!(n.commit_local(2000).unwrap());
        let s = n.state(None).unwrap();
        assert_eq!(s.body, "hello world");
        assert_eq!(s.tags, vec!["work".to_string()]);
        assert!(s.pinned);
        assert_eq!(s.created_ms, 1000);
        assert_eq!(s.modified_ms, 2000);
    }

    #[test]
    fn first_change_after_load_is_small() {
        let mut n = NoteDoc::create("n1", b"a", &"long body ".repeat(500), 0).unwrap();
        let snap = n.save();
        let mut m = NoteDoc::load("n1", b"b", &[snap]).unwrap();
        m.splice(3, 0, "x").unwrap();
        m.commit_local(1).unwrap();
        let inc = m.take_incremental();
        assert!(inc.len() < 300, "{} bytes for one character", inc.len());
        assert!(m.take_incremental().is_empty());
    }

    #[test]
    fn utf16_indexes() {
        let mut n = NoteDoc::create("n1", b"a", "😀b", 0).unwrap();
        assert_eq!(n.body_len(), 3);
        n.splice(2, 0, "x").unwrap();
        n.commit_local(1).unwrap();
        assert_eq!(n.body().unwrap(), "😀xb");
        assert!(n.splice(9, 0, "x").is_err());
    }

    /// The body kept beside the document reads as Automerge's own text
    /// after any run of splices, also ones that cut into a character,
    /// a failed one, a merge and a rollback.
    #[test]
    fn the_kept_body_is_always_the_documents_text() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let pieces = ["a", "é", "😀", "\n", "日本", "x😀y", ""];
        let mut n = NoteDoc::create("n1", b"a", "start 😀 here\n", 0).unwrap();
        let mut other = NoteDoc::load("n1", b"b", &[n.save()]).unwrap();
        let truth = |n: &NoteDoc| n.doc.text(&n.body).unwrap();
        for i in 0..400 {
            let len = n.body_len();
            let at = rng.gen_range(0..=len + 1);
            let del = rng.gen_range(0..3isize);
            let ins = pieces[rng.gen_range(0..pieces.len())];
            // Out of range now and then, on purpose: a failed splice too.
            let in_range = at + del.unsigned_abs() <= len;
            assert_eq!(n.splice(at, del, ins).is_ok(), in_range, "splice {i}");
            assert_eq!(n.body().unwrap(), truth(&n), "after splice {i}");
            if i % 50 == 7 {
                n.commit_local(i as i64).unwrap();
                other.splice(0, 0, "peer ").unwrap();
                other.commit_local(i as i64).unwrap();
                let theirs = other.save_after(&[]);
                n.merge_bytes(&theirs).unwrap();
                assert_eq!(n.body().unwrap(), truth(&n), "after merge {i}");
            }
            if i % 90 == 11 {
                n.splice(0, 0, "undone").unwrap();
                n.doc_mut().rollback();
                assert_eq!(n.body().unwrap(), truth(&n), "after rollback {i}");
            }
        }
        n.set_body("whole new 😀 text").unwrap();
        assert_eq!(n.body().unwrap(), "whole new 😀 text");
        assert_eq!(truth(&n), "whole new 😀 text");
    }

    #[test]
    fn save_and_load_roundtrip_keeps_utf16() {
        let mut n = NoteDoc::create("n1", b"a", "é😀", 0).unwrap();
        let snap = n.save();
        n.splice(0, 0, "z").unwrap();
        n.commit_local(1).unwrap();
        let inc = n.take_incremental();
        let m = NoteDoc::load("n1", b"b", &[snap, inc]).unwrap();
        assert_eq!(m.body().unwrap(), "zé😀");
        assert_eq!(m.body_len(), 4);
    }

    #[test]
    fn concurrent_tag_edits_merge_as_a_set() {
        let mut a = NoteDoc::create("n", b"a", "x", 0).unwrap();
        a.add_tag("old").unwrap();
        a.commit_local(1).unwrap();
        let mut b = NoteDoc::load("n", b"b", &[a.save()]).unwrap();
        // Both add "shared"; A removes "old"; B adds "mine".
        a.add_tag("shared").unwrap();
        a.remove_tag("old").unwrap();
        a.commit_local(2).unwrap();
        b.add_tag("shared").unwrap();
        b.add_tag("mine").unwrap();
        b.commit_local(2).unwrap();
        let ab = a.save();
        let bb = b.save();
        a.merge_bytes(&bb).unwrap();
        b.merge_bytes(&ab).unwrap();
        let want = vec!["mine".to_string(), "shared".to_string()];
        assert_eq!(a.state(None).unwrap().tags, want);
        assert_eq!(b.state(None).unwrap().tags, want);
    }
}
