//! `cairn repair`: rebuilds the search index and the note list from the
//! notes' documents when the store reports them damaged. Nothing is lost:
//! the documents are copied as they are, and the damaged file is kept.

use std::path::Path;

use anyhow::Result;
use cairn_core::{CoreError, Store};

pub fn repair(data_dir: &Path) -> Result<()> {
    match Store::open(data_dir) {
        Ok(_) => {
            println!("the notes database checks out; nothing to repair");
            return Ok(());
        }
        Err(CoreError::Damaged {
            repairable: false, ..
        }) => {
            // Said by the error itself: what is damaged and what to do.
        }
        Err(CoreError::Damaged { parts, .. }) => {
            println!("damaged: {}", parts.join(", "));
        }
        Err(e) => return Err(e.into()),
    }
    let report = Store::repair(data_dir)?;
    // Opening again runs the same check that found the damage.
    Store::open(data_dir)?;
    println!(
        "repaired: {} notes' list and search entries rebuilt from their documents; \
         the damaged file is kept as {}",
        report.notes_rebuilt,
        report.damaged_copy.display()
    );
    Ok(())
}
