//! Notebooks and links from the terminal: `cairn notebook …`, `cairn move`,
//! `cairn list --notebook`, `cairn links`, `cairn backlinks`.

use std::path::Path;

use anyhow::Result;
use cairn_core::{Place, Store};
use clap::Subcommand;

use crate::commands::notes::open;

#[derive(Subcommand)]
pub enum NotebookCommand {
    /// Create a notebook; prints its id on the last line.
    Create {
        name: String,
        /// The notebook to create it in (an id or a path like Work/Projects).
        #[arg(long, value_name = "NOTEBOOK")]
        parent: Option<String>,
    },
    /// Every notebook, in tree order, with its note count.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Rename a notebook.
    Rename { notebook: String, name: String },
    /// Move a notebook into another, or to the top level.
    Move {
        notebook: String,
        #[arg(
            long,
            value_name = "NOTEBOOK",
            conflicts_with = "top",
            required_unless_present = "top"
        )]
        parent: Option<String>,
        #[arg(long)]
        top: bool,
    },
    /// Delete a notebook and the notebooks in it; their notes go to the trash.
    Delete { notebook: String },
}

pub fn run(data_dir: &Path, which: NotebookCommand) -> Result<()> {
    let mut store = open(data_dir)?;
    match which {
        NotebookCommand::Create { name, parent } => {
            let parent = parent.map(|p| store.find_notebook(&p)).transpose()?;
            let id = store.create_notebook(&name, parent.as_deref())?;
            crate::outln!("{id}");
        }
        NotebookCommand::List { json } => {
            let all = store.notebooks()?;
            if json {
                let rows: Vec<serde_json::Value> = all
                    .iter()
                    .map(|n| {
                        serde_json::json!({
                            "id": n.id, "name": n.name, "parent": n.parent,
                            "path": n.path, "notes": n.notes, "notes_total": n.notes_total,
                        })
                    })
                    .collect();
                crate::outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for n in &all {
                    crate::outln!(
                        "{}  {}{}  ({})",
                        n.id,
                        "  ".repeat(n.depth),
                        n.name,
                        n.notes
                    );
                }
                crate::outln!("Unfiled  ({})", store.unfiled_count()?);
            }
        }
        NotebookCommand::Rename { notebook, name } => {
            let id = store.find_notebook(&notebook)?;
            store.rename_notebook(&id, &name)?;
        }
        NotebookCommand::Move {
            notebook,
            parent,
            top: _,
        } => {
            let id = store.find_notebook(&notebook)?;
            let parent = parent.map(|p| store.find_notebook(&p)).transpose()?;
            store.move_notebook(&id, parent.as_deref())?;
        }
        NotebookCommand::Delete { notebook } => {
            let id = store.find_notebook(&notebook)?;
            let path = store.notebook(&id)?.path;
            let trashed = store.delete_notebook(&id)?;
            crate::outln!("deleted {path}; {trashed} notes moved to the trash");
        }
    }
    Ok(())
}

/// `cairn new --notebook`: the note is made and filed in one go.
pub fn new_in(store: &mut Store, body: &str, notebook: &str) -> Result<String> {
    let nb = store.find_notebook(notebook)?;
    let id = store.create_note(body)?;
    store.move_note(&id, Some(&nb))?;
    Ok(id)
}

pub fn move_note(data_dir: &Path, note: &str, notebook: Option<&str>) -> Result<()> {
    let mut store = open(data_dir)?;
    let nb = notebook.map(|n| store.find_notebook(n)).transpose()?;
    store.move_note(note, nb.as_deref())?;
    Ok(())
}

pub fn list_in(
    store: &Store,
    notebook: Option<&str>,
    unfiled: bool,
    recursive: bool,
) -> Result<Vec<cairn_core::NoteSummary>> {
    let place = match notebook {
        Some(n) => Place::Notebook(store.find_notebook(n)?),
        None if unfiled => Place::Unfiled,
        None => anyhow::bail!("name a notebook or --unfiled"),
    };
    Ok(store.list_place(&place, recursive)?)
}

pub fn links(data_dir: &Path, note: &str, json: bool) -> Result<()> {
    let store = open(data_dir)?;
    let links = store.links(note)?;
    if json {
        let rows: Vec<serde_json::Value> = links
            .iter()
            .map(|l| serde_json::json!({"text": l.text, "target_id": l.target_id, "target_title": l.target_title}))
            .collect();
        crate::outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for l in &links {
        match (&l.target_id, &l.target_title) {
            (Some(id), Some(t)) => crate::outln!("[[{}]]  -> {id}  {t}", l.text),
            _ => crate::outln!("[[{}]]  -> no such note yet", l.text),
        }
    }
    Ok(())
}

pub fn backlinks(data_dir: &Path, note: &str, json: bool) -> Result<()> {
    let store = open(data_dir)?;
    let back = store.backlinks(note)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&back)?);
        return Ok(());
    }
    for b in &back {
        crate::outln!("{}  {}", b.id, b.title);
    }
    Ok(())
}
