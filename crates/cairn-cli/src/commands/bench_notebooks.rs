//! The notebook and link figures of `cairn bench local`:
//!
//! - `import_tree_s`: `cairn import` of a folder tree of 10,000 notes in
//!   200 nested folders with 30,000 `[[links]]` between them (reading the
//!   files, resolving links, writing, the final fsync);
//! - `backlinks_ms`: the backlinks of a note that 500 notes link to
//!   (median of 21 reads);
//! - `move_notebook_ms`: moving a notebook that holds 2,000 notes, durable.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use cairn_core::{ImportNote, NewNote, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bench::{note_body, Vocabulary};

const FOLDERS: usize = 200;
const NOTES: usize = 10_000;
const LINKS_PER_NOTE: usize = 3;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Writes the folder tree: folder i sits in a random earlier folder (or
/// at the top), so the tree is both wide and deep.
fn write_tree(root: &std::path::Path, rng: &mut StdRng) -> Result<()> {
    let w = Vocabulary::new(rng);
    let mut folders: Vec<std::path::PathBuf> = Vec::with_capacity(FOLDERS);
    for i in 0..FOLDERS {
        let parent = if i < 10 || rng.gen_bool(0.1) {
            root.to_path_buf()
        } else {
            folders[rng.gen_range(0..folders.len())].clone()
        };
        let f = parent.join(format!("Folder {i}"));
        std::fs::create_dir_all(&f)?;
        folders.push(f);
    }
    for i in 0..NOTES {
        let mut body = note_body(rng, &w);
        for _ in 0..LINKS_PER_NOTE {
            let j = rng.gen_range(0..NOTES);
            body.push_str(&format!("\nSee [[Note {j}]]."));
        }
        let folder = &folders[i % FOLDERS];
        std::fs::write(
            folder.join(format!("Note {i}.md")),
            format!("---\ntags: [t{}]\n---\n# Note {i}\n\n{body}", i % 13),
        )?;
    }
    Ok(())
}

pub(crate) fn run() -> Result<serde_json::Value> {
    let mut rng = StdRng::seed_from_u64(11);
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("vault");
    write_tree(&src, &mut rng)?;
    let data = tmp.path().join("store");

    let t = Instant::now();
    let mut store = Store::open(&data)?;
    let mut plan = cairn_core::import::plan(&src, Some(&store))?;
    // Reading the files, their front matter and links, before any write.
    let import_tree_plan_s = t.elapsed().as_secs_f64();
    store.set_durable(false)?;
    let imported = cairn_core::import::apply(&mut store, &mut plan)?;
    store.set_durable(true)?;
    store.checkpoint()?;
    let import_tree_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(imported == NOTES, "imported {imported} notes");
    anyhow::ensure!(
        plan.links == NOTES * LINKS_PER_NOTE - duplicates(&src)?,
        "{} links",
        plan.links
    );
    anyhow::ensure!(store.notebooks()?.len() == FOLDERS, "notebook count");

    // A hub with 500 notes linking to it.
    let hub = store.create_note("Hub\nlinked from everywhere")?;
    let linking: Vec<ImportNote> = (0..500)
        .map(|i| ImportNote {
            note: NewNote {
                body: format!("Spoke {i}\nback to [[Hub]]"),
                ..NewNote::default()
            },
            links: BTreeMap::from([("Hub".to_string(), hub.clone())]),
            ..ImportNote::default()
        })
        .collect();
    store.create_notes(linking)?;
    let mut reads = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let n = store.backlinks(&hub)?.len();
        reads.push(ms(t));
        anyhow::ensure!(n == 500, "{n} backlinks");
    }
    reads.sort_by(f64::total_cmp);
    let backlinks_ms = reads[reads.len() / 2];

    // A notebook of 2,000 notes, moved under another.
    let big = store.create_notebook("Big", None)?;
    let other = store.create_notebook("Other", None)?;
    let notes: Vec<ImportNote> = (0..2000)
        .map(|i| ImportNote {
            note: NewNote {
                body: format!("Filed {i}\nin the big notebook"),
                ..NewNote::default()
            },
            notebook: Some(big.clone()),
            ..ImportNote::default()
        })
        .collect();
    store.create_notes(notes)?;
    let t = Instant::now();
    store.move_notebook(&big, Some(&other))?;
    let move_notebook_ms = ms(t);
    let moved = store.notebook(&other)?;
    anyhow::ensure!(
        moved.notes_total == 2000,
        "{} notes moved",
        moved.notes_total
    );

    Ok(serde_json::json!({
        "import_tree_notes": NOTES,
        "import_tree_folders": FOLDERS,
        "import_tree_links": plan.links,
        "import_tree_s": (import_tree_s * 100.0).round() / 100.0,
        "import_tree_plan_s": (import_tree_plan_s * 100.0).round() / 100.0,
        "backlinks_ms": (backlinks_ms * 100.0).round() / 100.0,
        "move_notebook_ms": (move_notebook_ms * 100.0).round() / 100.0,
    }))
}

/// Links that repeat a link already in the same note count once.
fn duplicates(src: &std::path::Path) -> Result<usize> {
    let mut dup = 0;
    for e in walkdir::WalkDir::new(src) {
        let e = e?;
        if e.file_type().is_file() {
            let text = std::fs::read_to_string(e.path())?;
            let spans = cairn_core::links::parse(&text);
            let unique: std::collections::HashSet<&str> =
                spans.iter().map(|s| s.text.as_str()).collect();
            dup += spans.len() - unique.len();
        }
    }
    Ok(dup)
}
