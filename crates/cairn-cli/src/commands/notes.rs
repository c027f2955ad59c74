//! The everyday commands: create, read, edit, tag, trash, search, history.

use std::path::Path;

use anyhow::{bail, Result};
use cairn_core::{ListQuery, NoteSummary, Store};
use chrono::{DateTime, Utc};

use crate::input::read_stdin_text;

pub fn open(data_dir: &Path) -> Result<Store> {
    match Store::open(data_dir) {
        Err(
            e @ cairn_core::CoreError::Damaged {
                repairable: true, ..
            },
        ) => bail!("{e}: run `cairn repair`"),
        other => Ok(other?),
    }
}

pub fn fmt_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

fn print_summaries(notes: &[NoteSummary], json: bool) -> Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(notes)?);
        return Ok(());
    }
    for n in notes {
        let tags: String = n.tags.iter().map(|t| format!(" #{t}")).collect();
        let pin = if n.pinned { "*" } else { " " };
        let title = if n.title.is_empty() {
            "(untitled)"
        } else {
            &n.title
        };
        crate::outln!("{}{pin} {}  {title}{tags}", n.id, fmt_time(n.modified_ms));
    }
    Ok(())
}

pub fn new(data_dir: &Path, text: Option<String>, notebook: Option<&str>) -> Result<()> {
    let body = match text {
        Some(t) => t,
        None => read_stdin_text()?,
    };
    let mut store = open(data_dir)?;
    let id = match notebook {
        Some(nb) => crate::commands::notebooks::new_in(&mut store, &body, nb)?,
        None => store.create_note(&body)?,
    };
    crate::outln!("{id}");
    Ok(())
}

/// Which notes `cairn list` shows.
pub struct ListArgs {
    pub tag: Option<String>,
    pub trashed: bool,
    pub notebook: Option<String>,
    pub unfiled: bool,
    pub recursive: bool,
    pub json: bool,
}

pub fn list(data_dir: &Path, a: ListArgs) -> Result<()> {
    let store = open(data_dir)?;
    if a.notebook.is_some() || a.unfiled {
        if a.trashed {
            bail!("--trashed lists the whole trash; it does not go with --notebook or --unfiled");
        }
        let mut notes = crate::commands::notebooks::list_in(
            &store,
            a.notebook.as_deref(),
            a.unfiled,
            a.recursive,
        )?;
        if let Some(tag) = &a.tag {
            let tag = tag.trim_start_matches('#');
            notes.retain(|n| n.tags.iter().any(|t| t == tag));
        }
        return print_summaries(&notes, a.json);
    }
    let notes = store.list(&ListQuery {
        tag: a.tag,
        trashed: a.trashed,
        ..ListQuery::default()
    })?;
    print_summaries(&notes, a.json)
}

pub fn show(data_dir: &Path, id: &str, at: Option<&str>, json: bool) -> Result<()> {
    let mut store = open(data_dir)?;
    match at {
        None => {
            let note = store.get(id)?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&note)?);
            } else {
                crate::out!("{}", note.body);
            }
        }
        Some(version) => {
            let s = store.note_at(id, version)?;
            if json {
                let v = serde_json::json!({
                    "id": id, "version": version, "body": s.body, "tags": s.tags,
                    "pinned": s.pinned, "trashed": s.trashed,
                    "created_ms": s.created_ms, "modified_ms": s.modified_ms,
                });
                crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                crate::out!("{}", s.body);
            }
        }
    }
    Ok(())
}

pub fn edit(data_dir: &Path, id: &str) -> Result<()> {
    // Read everything first: a bad input must not touch the store.
    let body = read_stdin_text()?;
    let mut store = open(data_dir)?;
    store.set_body(id, &body)?;
    Ok(())
}

/// The app's search: typos forgiven when the exact words find little,
/// each hit with the passage that matched.
pub fn search(data_dir: &Path, query: &str, trash: bool, json: bool) -> Result<()> {
    let store = open(data_dir)?;
    let found = store.search_notes(query, trash, 50)?;
    if json {
        // The note's fields as `list --json` prints them, plus the passage.
        let mut hits = Vec::with_capacity(found.hits.len());
        for hit in &found.hits {
            let mut value = serde_json::to_value(&hit.note)?;
            if let Some(fields) = value.as_object_mut() {
                fields.insert("snippet".into(), hit.snippet.clone().into());
            }
            hits.push(value);
        }
        crate::outln!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(());
    }
    if found.fuzzy {
        crate::outln!("(also close spellings: {})", found.terms.join(", "));
    }
    for hit in &found.hits {
        print_summaries(std::slice::from_ref(&hit.note), false)?;
        if !hit.snippet.is_empty() {
            crate::outln!("    {}", hit.snippet);
        }
    }
    Ok(())
}

pub fn tag(data_dir: &Path, id: &str, changes: &[String]) -> Result<()> {
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for c in changes {
        if let Some(t) = c.strip_prefix('-') {
            remove.push(t.to_string());
        } else if let Some(t) = c.strip_prefix('+') {
            add.push(t.to_string());
        } else {
            add.push(c.clone());
        }
    }
    if add.is_empty() && remove.is_empty() {
        bail!("no tags given: use +TAG to add and -TAG to remove");
    }
    let mut store = open(data_dir)?;
    // As in the app: a note in the trash keeps its tags as they were.
    store.refuse_if_trashed(id)?;
    store.tag(id, &add, &remove)?;
    let note = store.get(id)?;
    crate::outln!("{}", note.tags.join(" "));
    Ok(())
}

pub fn trash(data_dir: &Path, id: &str) -> Result<()> {
    open(data_dir)?.trash(id)?;
    Ok(())
}

pub fn restore(data_dir: &Path, id: &str) -> Result<()> {
    open(data_dir)?.restore(id)?;
    Ok(())
}

pub fn delete(data_dir: &Path, id: &str) -> Result<()> {
    open(data_dir)?.delete(id)?;
    Ok(())
}

pub fn history(data_dir: &Path, id: &str, json: bool) -> Result<()> {
    let mut store = open(data_dir)?;
    let versions = store.history(id)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&versions)?);
        return Ok(());
    }
    for v in &versions {
        let who = if v.local {
            "this device"
        } else {
            "another device"
        };
        crate::outln!("{}  {}  {who}", v.version, fmt_time(v.time_ms));
    }
    Ok(())
}
