//! `cairn export DIR`: every note as a Markdown file in a folder per
//! notebook (see cairn_core::export), with a progress bar.

use std::path::Path;

use anyhow::Result;

pub fn export(data_dir: &Path, dir: &Path) -> Result<()> {
    let mut store = crate::commands::attachments::open_keyed(data_dir)?;
    let bar = indicatif::ProgressBar::new(0);
    let report = cairn_core::export::export(&mut store, dir, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    crate::outln!(
        "exported {} notes in {} notebooks to {}",
        report.notes,
        report.notebooks,
        dir.display()
    );
    let missing = store.attachments(None)?.iter().filter(|a| !a.local).count();
    if missing > 0 {
        eprintln!(
            "warning: {missing} attachments are not on this device yet and were not written; sync, then export again"
        );
    }
    Ok(())
}
