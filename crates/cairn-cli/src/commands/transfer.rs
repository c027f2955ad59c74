//! Import a folder of Markdown files; export every note as one.

use std::path::Path;

use anyhow::{Context, Result};
use cairn_core::{ListQuery, NewNote};
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::notes::open;
use crate::frontmatter::{self, Document};

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta} left)") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

pub fn import(data_dir: &Path, dir: &Path) -> Result<()> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown")
                })
        })
        .collect();
    files.sort();
    // Read and check every file before writing anything.
    let mut docs = Vec::with_capacity(files.len());
    for path in &files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = String::from_utf8(bytes).with_context(|| {
            format!(
                "{} is not valid UTF-8; nothing was imported",
                path.display()
            )
        })?;
        let mut doc = frontmatter::parse(&text);
        if doc.created_ms.is_none() || doc.modified_ms.is_none() {
            let mtime = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as i64);
            doc.created_ms = doc.created_ms.or(mtime);
            doc.modified_ms = doc.modified_ms.or(mtime).or(doc.created_ms);
        }
        docs.push(doc);
    }
    let mut store = open(data_dir)?;
    // One fsync at the end instead of one per note.
    store.set_durable(false)?;
    let bar = progress(docs.len() as u64, "importing");
    for doc in docs {
        store.create_note_with(NewNote {
            body: doc.body,
            tags: doc.tags,
            pinned: doc.pinned,
            created_ms: doc.created_ms,
            trashed: doc.trashed,
            modified_ms: doc.modified_ms,
        })?;
        bar.inc(1);
    }
    store.checkpoint()?;
    bar.finish_and_clear();
    crate::outln!("imported {} notes", files.len());
    Ok(())
}

fn slug(title: &str) -> String {
    let s: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).collect();
    let s = s.join("-");
    let s: String = s.chars().take(48).collect();
    if s.is_empty() {
        "note".into()
    } else {
        s
    }
}

pub fn export(data_dir: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut store = open(data_dir)?;
    let mut notes = store.list(&ListQuery::default())?;
    notes.extend(store.list(&ListQuery {
        trashed: true,
        ..ListQuery::default()
    })?);
    let bar = progress(notes.len() as u64, "exporting");
    for summary in &notes {
        let note = store.get(&summary.id)?;
        let doc = Document {
            id: Some(note.id.clone()),
            created_ms: Some(note.created_ms),
            modified_ms: Some(note.modified_ms),
            tags: note.tags,
            pinned: note.pinned,
            trashed: note.trashed,
            body: note.body,
        };
        let short: String = note.id.chars().take(8).collect();
        let path = dir.join(format!("{}-{short}.md", slug(&note.title)));
        std::fs::write(&path, frontmatter::render(&doc))
            .with_context(|| format!("cannot write {}", path.display()))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    crate::outln!("exported {} notes to {}", notes.len(), dir.display());
    Ok(())
}
