//! Importing a whole folder tree of Markdown files, as Obsidian keeps a
//! vault and Joplin exports "Markdown + Front Matter" (`cairn import DIR`
//! and the app's Import…).
//!
//! Folders become notebooks (an existing notebook with the same path is
//! reused), Markdown files become notes, front matter becomes tags, dates
//! and the title, and `[[wikilinks]]` and relative Markdown links between
//! the files become links that store their target's id. Images and other
//! files a note refers to (`![[image.png]]`, `![](path)`, `[file](path)`)
//! become its attachments. Everything is read
//! and checked before anything is written, and the notes are written in
//! one transaction: the store gets all of them or none. What is not
//! imported is listed with the reason; nothing is left out silently.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use crate::backlinks::ImportNote;
use crate::error::{CoreError, Result};
use crate::frontmatter;
use crate::links::{self, LinkKind};
use crate::model::NewNote;
use crate::note_doc::title_of;
use crate::notebooks::NewNotebook;
use crate::store::Store;

/// A path inside the imported folder, `/`-separated, for messages.
fn shown(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Something in the folder that did not become a note or a notebook.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

struct File {
    rel: PathBuf,
    /// `/`-separated path of its folder, "" at the top.
    folder: String,
    stem: String,
    doc: frontmatter::Document,
    id: String,
}

/// How far an import has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum ImportProgress {
    /// Files read and checked so far.
    Reading { files: usize },
    /// Everything is read; the notebooks and notes are being written.
    Writing { notes: usize },
}

/// What an import will do (or did), worked out before any write.
pub struct Plan {
    /// Folder path -> (notebook id, whether it exists already).
    notebooks: BTreeMap<String, (String, bool)>,
    notes: Vec<ImportNote>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<Skipped>,
    pub links: usize,
    pub unresolved: Vec<(String, String)>,
    /// Per note (same order as `notes`): the file references to turn into
    /// attachments, with the file each names.
    embeds: Vec<Vec<(crate::blob::embeds::FileRef, PathBuf)>>,
}

impl Plan {
    /// Notebooks the import puts notes in (existing ones included).
    pub fn notebooks(&self) -> usize {
        self.notebooks.len()
    }

    /// Notes it will create (all of them, until `apply` has run).
    pub fn notes(&self) -> usize {
        self.notes.len()
    }

    /// Files that become attachments (each counted once).
    pub fn attachments(&self) -> usize {
        self.embeds
            .iter()
            .flatten()
            .map(|(_, p)| p)
            .collect::<HashSet<_>>()
            .len()
    }

    pub fn new_notebooks(&self) -> usize {
        self.notebooks
            .values()
            .filter(|(_, existed)| !existed)
            .count()
    }
}

fn is_markdown(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

/// Reads and checks the whole folder; `store` (when there is one) says
/// which notebooks and note ids exist already.
pub fn plan(dir: &Path, store: Option<&Store>) -> Result<Plan> {
    plan_with_progress(dir, store, &mut |_| {})
}

/// `plan`, telling `progress` after each file read.
pub fn plan_with_progress(
    dir: &Path,
    store: Option<&Store>,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<Plan> {
    let meta = std::fs::metadata(dir).map_err(|e| CoreError::Folder {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(CoreError::Folder {
            path: dir.to_path_buf(),
            reason: "it is not a folder".into(),
        });
    }
    let mut skipped = Vec::new();
    let mut warnings = Vec::new();
    let mut folders: Vec<String> = Vec::new();
    // Entries directly in each folder, and folders holding a note at any depth.
    let mut entries_in: HashMap<String, usize> = HashMap::new();
    let mut files = Vec::new();
    let existing_ids: HashSet<String> = match store {
        Some(s) => s.all_note_ids()?.into_iter().collect(),
        None => HashSet::new(),
    };
    let mut used_ids = HashSet::new();
    // Files that are not notes: attachments if a note refers to them.
    let mut others: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut it = walkdir::WalkDir::new(dir).sort_by_file_name().into_iter();
    while let Some(entry) = it.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .and_then(|p| p.strip_prefix(dir).ok())
                    .map(shown)
                    .unwrap_or_else(|| dir.display().to_string());
                skipped.push(Skipped {
                    path,
                    reason: format!(
                        "cannot be read: {}",
                        e.io_error()
                            .map_or_else(|| e.to_string(), |io| io.to_string())
                    ),
                });
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_path_buf();
        let parent = rel.parent().map(shown).unwrap_or_default();
        *entries_in.entry(parent.clone()).or_default() += 1;
        let name = entry.file_name().to_string_lossy().into_owned();
        let skip = |reason: &str| Skipped {
            path: shown(&rel),
            reason: reason.to_string(),
        };
        if entry.file_type().is_dir() {
            if name == ".obsidian" {
                skipped.push(skip("Obsidian's settings folder, not notes"));
                it.skip_current_dir();
            } else if name.starts_with('.') {
                skipped.push(skip("a hidden folder"));
                it.skip_current_dir();
            } else if let Err(e) = crate::notebooks::validate_notebook_name(&name) {
                skipped.push(skip(&format!(
                    "the folder's name cannot be a notebook's ({e}); nothing in it was imported"
                )));
                it.skip_current_dir();
            } else {
                folders.push(shown(&rel));
            }
            continue;
        }
        if !entry.file_type().is_file() {
            skipped.push(skip("not a regular file (a link or a device)"));
            continue;
        }
        if name.starts_with('.') {
            skipped.push(skip("a hidden file"));
            continue;
        }
        if !is_markdown(&rel) {
            others.push((rel, entry.path().to_path_buf()));
            continue;
        }
        let bytes = match std::fs::read(entry.path()) {
            Ok(b) => b,
            Err(e) => {
                skipped.push(skip(&format!("cannot be read: {e}")));
                continue;
            }
        };
        let Ok(text) = String::from_utf8(bytes) else {
            skipped.push(skip(
                "not valid UTF-8 text; save it as UTF-8 and import it again",
            ));
            continue;
        };
        let (mut doc, left) = match frontmatter::parse(&text) {
            Ok(parsed) => parsed,
            Err(why) => {
                warnings.push(skip(&format!(
                    "{why}; imported with the front matter as part of the text"
                )));
                (
                    frontmatter::Document {
                        body: text.clone(),
                        ..frontmatter::Document::default()
                    },
                    frontmatter::Leftovers::default(),
                )
            }
        };
        if !left.unknown_keys.is_empty() {
            warnings.push(skip(&format!(
                "front matter with no place in a note, not imported: {}",
                left.unknown_keys.join(", ")
            )));
        }
        for p in left.problems {
            warnings.push(skip(&format!("front matter {p}; not imported")));
        }
        let mut tags = Vec::new();
        for t in std::mem::take(&mut doc.tags) {
            match crate::store::validate_tag(&t) {
                Ok(t) => tags.push(t),
                Err(e) => warnings.push(skip(&format!("{e}; that tag was not imported"))),
            }
        }
        doc.tags = tags;
        if doc.created_ms.is_none() || doc.modified_ms.is_none() {
            let mtime = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as i64);
            doc.created_ms = doc.created_ms.or(mtime);
            doc.modified_ms = doc.modified_ms.or(mtime).or(doc.created_ms);
        }
        let stem = rel
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The title Obsidian shows is the file's name; a file whose text
        // does not start with it gets it as a heading.
        let want = doc.title.clone().unwrap_or_else(|| stem.clone());
        let has = title_of(&doc.body);
        let own_heading = doc.title.is_none()
            && doc
                .body
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_start().starts_with('#'));
        if !want.is_empty() && !has.eq_ignore_ascii_case(&want) && !own_heading {
            doc.body = format!("# {want}\n\n{}", doc.body);
        }
        let id = match doc.id.as_deref().filter(|i| {
            crate::store::validate_note_id(i).is_ok()
                && !existing_ids.contains(*i)
                && !used_ids.contains(*i)
        }) {
            Some(i) => i.to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        used_ids.insert(id.clone());
        progress(ImportProgress::Reading {
            files: files.len() + 1,
        });
        files.push(File {
            folder: parent,
            rel,
            stem,
            doc,
            id,
        });
    }

    // Folders become notebooks when they hold a note at any depth, or
    // nothing at all (an empty notebook); one holding only files that were
    // not imported does not.
    let mut keep: HashSet<String> = HashSet::new();
    let mark = |keep: &mut HashSet<String>, mut f: &str| {
        while !f.is_empty() && keep.insert(f.to_string()) {
            f = f.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        }
    };
    for f in &files {
        mark(&mut keep, &f.folder);
    }
    for f in &folders {
        if entries_in.get(f).copied().unwrap_or(0) == 0 {
            mark(&mut keep, f);
        }
    }
    for f in &folders {
        if !keep.contains(f) {
            skipped.push(Skipped {
                path: f.clone(),
                reason: "holds no Markdown notes (only files that were not imported), so it is not a notebook".into(),
            });
        }
    }
    let mut notebooks = BTreeMap::new();
    for f in folders.iter().filter(|f| keep.contains(*f)) {
        let existing = store.and_then(|s| s.find_notebook(f).ok());
        let entry = match existing {
            Some(id) => (id, true),
            None => (uuid::Uuid::new_v4().to_string(), false),
        };
        notebooks.insert(f.clone(), entry);
    }

    // Link resolution, the way Obsidian finds a link's file.
    let lower = |s: &str| s.to_lowercase();
    let no_ext = |rel: &Path| {
        let s = shown(rel);
        s.rsplit_once('.').map(|(a, _)| a.to_string()).unwrap_or(s)
    };
    let mut by_path: HashMap<String, usize> = HashMap::new();
    let mut by_stem: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_alias: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        by_path.insert(lower(&no_ext(&f.rel)), i);
        by_stem.entry(lower(&f.stem)).or_default().push(i);
        for a in &f.doc.aliases {
            by_alias.entry(lower(a)).or_default().push(i);
        }
        if let Some(t) = &f.doc.title {
            by_alias.entry(lower(t)).or_default().push(i);
        }
    }
    let pick = |cands: &[usize], from: &File| -> Option<usize> {
        cands.iter().copied().min_by_key(|&c| {
            // Its own folder first, then the nearest folder (the most
            // leading folders shared), then the shortest path.
            let f = &files[c];
            let shared = f
                .rel
                .parent()
                .into_iter()
                .flat_map(|p| p.components())
                .zip(Path::new(&from.folder).components())
                .take_while(|(a, b)| a == b)
                .count();
            (
                f.folder != from.folder,
                usize::MAX - shared,
                f.rel.components().count(),
                f.rel.clone(),
            )
        })
    };
    let resolve = |span: &links::LinkSpan, from: &File| -> Option<usize> {
        let decoded = match span.kind {
            LinkKind::Wiki => span.text.replace('\\', "/"),
            LinkKind::Markdown => links::percent_decode(&span.text),
        };
        let path = decoded.trim();
        let stripped = path
            .strip_suffix(".md")
            .or_else(|| path.strip_suffix(".markdown"))
            .unwrap_or(path);
        let relative = span.kind == LinkKind::Markdown
            || stripped.starts_with("./")
            || stripped.starts_with("../");
        if relative {
            let joined = normalize(&Path::new(&from.folder).join(stripped));
            if let Some(i) = joined.and_then(|j| by_path.get(&lower(&j)).copied()) {
                return Some(i);
            }
        }
        if stripped.contains('/') {
            let want = lower(stripped.trim_start_matches('/'));
            if let Some(i) = by_path.get(&want) {
                return Some(*i);
            }
            let suffix = format!("/{want}");
            let cands: Vec<usize> = by_path
                .iter()
                .filter(|(p, _)| p.ends_with(&suffix))
                .map(|(_, i)| *i)
                .collect();
            if let Some(i) = pick(&cands, from) {
                return Some(i);
            }
        }
        let name = lower(stripped.rsplit('/').next().unwrap_or(stripped));
        by_stem
            .get(&name)
            .and_then(|c| pick(c, from))
            .or_else(|| by_alias.get(&name).and_then(|c| pick(c, from)))
    };
    // Files notes refer to, found the way Obsidian finds them: relative to
    // the note, from the top of the vault, then by name (nearest first).
    let other_by_path: HashMap<String, usize> = others
        .iter()
        .enumerate()
        .map(|(i, (rel, _))| (lower(&shown(rel)), i))
        .collect();
    let mut other_by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, (rel, _)) in others.iter().enumerate() {
        if let Some(n) = rel.file_name() {
            other_by_name
                .entry(lower(&n.to_string_lossy()))
                .or_default()
                .push(i);
        }
    }
    let find_file = |r: &crate::blob::embeds::FileRef, from: &File| -> Option<usize> {
        let target = r.target.replace('\\', "/");
        if !r.wiki || target.starts_with("./") || target.starts_with("../") {
            let joined = normalize(&Path::new(&from.folder).join(&target));
            if let Some(i) = joined.and_then(|j| other_by_path.get(&lower(&j)).copied()) {
                return Some(i);
            }
        }
        if let Some(i) = other_by_path.get(&lower(target.trim_start_matches('/'))) {
            return Some(*i);
        }
        let name = lower(target.rsplit('/').next().unwrap_or(&target));
        other_by_name.get(&name).and_then(|c| {
            c.iter().copied().min_by_key(|&i| {
                let folder = others[i].0.parent().map(shown).unwrap_or_default();
                (folder != from.folder, others[i].0.components().count(), i)
            })
        })
    };
    let mut used_others: HashSet<usize> = HashSet::new();
    let mut embeds = Vec::with_capacity(files.len());
    for f in &files {
        let mut found = Vec::new();
        for r in crate::blob::embeds::file_refs(&f.doc.body) {
            if let Some(i) = find_file(&r, f) {
                used_others.insert(i);
                found.push((r, others[i].1.clone()));
            }
        }
        embeds.push(found);
    }
    for (i, (rel, _)) in others.iter().enumerate() {
        if !used_others.contains(&i) {
            skipped.push(Skipped {
                path: shown(rel),
                reason:
                    "not a Markdown file (only .md files become notes), and no note refers to it"
                        .into(),
            });
        }
    }

    let mut notes = Vec::with_capacity(files.len());
    let mut link_count = 0;
    let mut unresolved = Vec::new();
    for f in &files {
        let mut map = BTreeMap::new();
        let mut seen = HashSet::new();
        for span in links::parse(&f.doc.body) {
            if !seen.insert(span.text.clone()) {
                continue;
            }
            link_count += 1;
            match resolve(&span, f) {
                Some(i) => {
                    map.insert(span.text.clone(), files[i].id.clone());
                }
                None => unresolved.push((shown(&f.rel), span.text.clone())),
            }
        }
        let notebook = (!f.folder.is_empty())
            .then(|| notebooks.get(&f.folder).map(|(id, _)| id.clone()))
            .flatten();
        notes.push(ImportNote {
            id: Some(f.id.clone()),
            note: NewNote {
                body: f.doc.body.clone(),
                tags: f.doc.tags.clone(),
                pinned: f.doc.pinned,
                trashed: f.doc.trashed,
                created_ms: f.doc.created_ms,
                modified_ms: f.doc.modified_ms,
            },
            notebook,
            links: map,
        });
    }
    skipped.sort();
    Ok(Plan {
        notebooks,
        notes,
        skipped,
        warnings,
        links: link_count,
        unresolved,
        embeds,
    })
}

/// `a/b/../c` -> `a/c`, `/`-separated; None when it climbs out of the top.
fn normalize(p: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// Writes the plan: the new notebooks in one change, then every note in one
/// transaction. Returns how many notes were created.
pub fn apply(store: &mut Store, plan: &mut Plan) -> Result<usize> {
    let mut new = Vec::new();
    for (folder, (id, existed)) in &plan.notebooks {
        if *existed {
            continue;
        }
        let (parent_path, name) = match folder.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, folder.as_str()),
        };
        let parent = parent_path
            .and_then(|p| plan.notebooks.get(p))
            .map(|(id, _)| id.clone());
        new.push(NewNotebook {
            id: Some(id.clone()),
            name: name.to_string(),
            parent,
        });
    }
    // BTreeMap order puts every folder after its parent.
    if !new.is_empty() {
        store.create_notebooks(&new)?;
    }
    let mut notes = std::mem::take(&mut plan.notes);
    let embeds = &plan.embeds;
    // Each file is stored once, whatever number of notes refer to it; each
    // note gets a record of its own. The records are added after the
    // notes' transaction: a failure there leaves the notes, with the
    // references still naming the files.
    let mut stored: HashMap<PathBuf, crate::blob::AttachmentRecord> = HashMap::new();
    let mut records = Vec::new();
    for (note, refs) in notes.iter_mut().zip(embeds) {
        let Some(id) = note.id.clone() else { continue };
        for (r, file) in refs.iter().rev() {
            let template = match stored.get(file) {
                Some(t) => t.clone(),
                None => {
                    let name = file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let f = std::fs::File::open(file).map_err(|e| CoreError::Folder {
                        path: file.clone(),
                        reason: e.to_string(),
                    })?;
                    let t = store.store_attachment(
                        &name,
                        crate::blob::media_type::guess(&name),
                        std::io::BufReader::new(f),
                        u64::MAX,
                    )?;
                    stored.insert(file.clone(), t.clone());
                    t
                }
            };
            let record = crate::blob::AttachmentRecord {
                id: uuid::Uuid::new_v4().to_string(),
                ..template
            };
            let text = if r.embed {
                crate::blob::attach::reference(&record)
            } else {
                let shown = note.note.body[r.start..r.end]
                    .strip_prefix('[')
                    .and_then(|t| t.split("](").next())
                    .unwrap_or(&record.name)
                    .to_owned();
                format!("[{shown}](attachment:{})", record.id)
            };
            note.note.body.replace_range(r.start..r.end, &text);
            records.push((id.clone(), record));
        }
    }
    let n = notes.len();
    store.create_notes(notes)?;
    for (note, record) in records.iter().rev() {
        store.add_attachment(note, record, false)?;
    }
    Ok(n)
}
