//! Exporting every note as a Markdown file with front matter, in a folder
//! per notebook, with links written as `[[wikilinks]]` that name the files
//! they lead to, so importing the folder (or Obsidian opening it) finds the
//! same notebooks, notes, tags and links (`cairn export DIR` and the app's
//! Export…). Attachments on this device are written into `attachments/`
//! at the top, and the notes' references to them become relative links to
//! those files; one not downloaded yet keeps its `attachment:` reference.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::error::{CoreError, Result};
use crate::frontmatter::{self, Document};
use crate::links::{self, LinkKind};
use crate::model::{ListQuery, Note};
use crate::store::Store;

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportReport {
    pub notes: usize,
    pub notebooks: usize,
}

fn write_err(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::FileWrite {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// A file or folder name from a title: no path separators or characters
/// that common file systems refuse, not empty, not too long.
fn file_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | '#' | '^' | '[' | ']' => '-',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_matches('.').trim();
    let short: String = trimmed.chars().take(100).collect();
    if short.is_empty() {
        "Untitled".into()
    } else {
        short
    }
}

/// `name`, or `name (2)`, `name (3)`… when taken in that folder (names
/// compared ignoring case, as macOS and Windows do).
fn unique(taken: &mut HashSet<String>, name: &str) -> String {
    let mut n = 1;
    loop {
        let candidate = if n == 1 {
            name.to_string()
        } else {
            format!("{name} ({n})")
        };
        if taken.insert(candidate.to_lowercase()) {
            return candidate;
        }
        n += 1;
    }
}

/// Writes every note (the trash too) under `dir`, telling `progress`
/// (notes written, notes in all) after each file.
pub fn export(
    store: &mut Store,
    dir: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ExportReport> {
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;

    // Folders: one per live notebook, parents first (tree order).
    let mut folder_of: HashMap<String, String> = HashMap::new();
    let mut names_in: HashMap<String, HashSet<String>> = HashMap::new();
    let notebooks = store.notebooks()?;
    for nb in &notebooks {
        let parent = nb
            .parent
            .as_ref()
            .and_then(|p| folder_of.get(p))
            .cloned()
            .unwrap_or_default();
        let name = unique(
            names_in.entry(parent.clone()).or_default(),
            &file_name(&nb.name),
        );
        let folder = if parent.is_empty() {
            name
        } else {
            format!("{parent}/{name}")
        };
        let at = dir.join(&folder);
        std::fs::create_dir_all(&at).map_err(|e| write_err(&at, e))?;
        folder_of.insert(nb.id.clone(), folder);
    }

    // Every note's file path (without `.md`), before any is written, so
    // links can name the files they lead to.
    let mut summaries = store.list(&ListQuery::default())?;
    summaries.extend(store.list(&ListQuery {
        trashed: true,
        ..ListQuery::default()
    })?);
    let ids: Vec<String> = summaries.iter().map(|s| s.id.clone()).collect();
    let places: HashMap<String, Option<String>> = store.places(&ids)?.into_iter().collect();
    let mut files_in: HashMap<String, HashSet<String>> = HashMap::new();
    let mut path_of: HashMap<String, String> = HashMap::new();
    let mut stems: HashMap<String, usize> = HashMap::new();
    for s in &summaries {
        let folder = places
            .get(&s.id)
            .cloned()
            .flatten()
            .and_then(|nb| folder_of.get(&nb).cloned())
            .unwrap_or_default();
        let name = unique(
            files_in.entry(folder.clone()).or_default(),
            &file_name(&s.title),
        );
        *stems.entry(name.to_lowercase()).or_default() += 1;
        let path = if folder.is_empty() {
            name
        } else {
            format!("{folder}/{name}")
        };
        path_of.insert(s.id.clone(), path);
    }
    // How a wikilink names a file: its name alone when no other file has
    // it, else its path from the top of the export.
    let wiki_name = |id: &str| -> Option<String> {
        let path = path_of.get(id)?;
        let stem = path.rsplit('/').next().unwrap_or(path);
        Some(
            if stems.get(&stem.to_lowercase()).copied().unwrap_or(0) > 1 {
                path.clone()
            } else {
                stem.to_string()
            },
        )
    };

    let attachment_files = write_attachments(store, dir)?;

    let total = summaries.len();
    for (done, s) in summaries.iter().enumerate() {
        let note = store.get(&s.id)?;
        let targets: HashMap<String, String> = store
            .links(&s.id)?
            .into_iter()
            .filter_map(|l| Some((l.text, l.target_id?)))
            .collect();
        let body = rewrite_links(&note, &targets, &wiki_name);
        let rel = path_of.get(&s.id).cloned().unwrap_or_else(|| s.id.clone());
        let body = link_attachments(&body, &rel, &attachment_files);
        let stem = rel.rsplit('/').next().unwrap_or(&rel);
        let doc = Document {
            id: Some(note.id.clone()),
            title: (stem != note.title).then(|| note.title.clone()),
            created_ms: Some(note.created_ms),
            modified_ms: Some(note.modified_ms),
            tags: note.tags.clone(),
            aliases: Vec::new(),
            pinned: note.pinned,
            trashed: note.trashed,
            body,
        };
        let path: PathBuf = dir.join(format!("{rel}.md"));
        std::fs::write(&path, frontmatter::render(&doc)).map_err(|e| write_err(&path, e))?;
        progress(done + 1, total);
    }
    Ok(ExportReport {
        notes: total,
        notebooks: notebooks.len(),
    })
}

/// Where attachments go, at the top of the export.
pub const ATTACHMENTS_DIR: &str = "attachments";

/// Writes every attachment on this device into `attachments/` (one file
/// per attachment, names made unique); returns attachment id -> path from
/// the top of the export.
fn write_attachments(store: &Store, dir: &Path) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut taken = HashSet::new();
    for a in store.attachments(None)?.into_iter().filter(|a| a.local) {
        let name = file_name(&a.name);
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
            _ => (name.clone(), String::new()),
        };
        let mut n = 1;
        let unique_name = loop {
            let candidate = if n == 1 {
                format!("{stem}{ext}")
            } else {
                format!("{stem} ({n}){ext}")
            };
            if taken.insert(candidate.to_lowercase()) {
                break candidate;
            }
            n += 1;
        };
        let folder = dir.join(ATTACHMENTS_DIR);
        std::fs::create_dir_all(&folder).map_err(|e| write_err(&folder, e))?;
        let path = folder.join(&unique_name);
        let mut file = std::fs::File::create(&path).map_err(|e| write_err(&path, e))?;
        store.write_attachment(&a.id, &mut file)?;
        out.insert(a.id, format!("{ATTACHMENTS_DIR}/{unique_name}"));
    }
    Ok(out)
}

/// The body with each `attachment:{id}` link destination replaced by the
/// exported file's path relative to the note at `note_rel` (its path from
/// the top, without `.md`), percent-encoded as Markdown links want.
fn link_attachments(body: &str, note_rel: &str, files: &HashMap<String, String>) -> String {
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'(')
        .add(b')')
        .add(b'<')
        .add(b'>')
        .add(b'%')
        .add(b'#');
    let depth = note_rel.matches('/').count();
    let mut out = body.to_string();
    for (id, path) in files {
        let from = format!("(attachment:{id})");
        if !out.contains(&from) {
            continue;
        }
        let encoded: Vec<String> = path
            .split('/')
            .map(|seg| percent_encoding::utf8_percent_encode(seg, PATH).to_string())
            .collect();
        let to = format!("({}{})", "../".repeat(depth), encoded.join("/"));
        out = out.replace(&from, &to);
    }
    out
}

/// The body with every resolved link written as a wikilink naming its
/// target's exported file, keeping its heading and the text it showed.
fn rewrite_links(
    note: &Note,
    targets: &HashMap<String, String>,
    wiki_name: &dyn Fn(&str) -> Option<String>,
) -> String {
    let mut body = note.body.clone();
    let spans = links::parse(&note.body);
    for span in spans.iter().rev() {
        let Some(name) = targets.get(&span.text).and_then(|t| wiki_name(t)) else {
            continue;
        };
        if span.kind == LinkKind::Wiki && span.text == name {
            continue;
        }
        let shown = match (&span.alias, span.kind) {
            (Some(a), _) => Some(a.clone()),
            (None, LinkKind::Wiki) => Some(span.text.clone()),
            (None, LinkKind::Markdown) => None,
        };
        let mut link = format!("[[{name}");
        if let Some(h) = &span.heading {
            link.push('#');
            link.push_str(h);
        }
        if let Some(a) = shown {
            link.push('|');
            link.push_str(&a);
        }
        link.push_str("]]");
        body.replace_range(span.start..span.end, &link);
    }
    body
}
