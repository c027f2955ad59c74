//! `cairn import DIR`: a whole folder tree of Markdown files (see
//! cairn_core::import for what becomes what), reported as it went.

use std::path::Path;

use anyhow::Result;
use cairn_core::import::{apply, plan, Plan};
use cairn_core::Store;

fn report(plan: &Plan, notes: usize, dry_run: bool) {
    let verb = if dry_run { "would import" } else { "imported" };
    let reused = plan.notebooks() - plan.new_notebooks();
    let reused = if reused > 0 {
        format!(" ({reused} of them existing ones)")
    } else {
        String::new()
    };
    crate::outln!(
        "{verb} {notes} notes into {} notebooks{reused}, with {} links and {} attachments",
        plan.notebooks(),
        plan.links,
        plan.attachments()
    );
    if !plan.unresolved.is_empty() {
        crate::outln!(
            "{} links name no note in the folder; they are kept as links to notes not written yet:",
            plan.unresolved.len()
        );
        for (file, text) in plan.unresolved.iter().take(20) {
            crate::outln!("  {file}: {text}");
        }
        if plan.unresolved.len() > 20 {
            crate::outln!("  … and {} more", plan.unresolved.len() - 20);
        }
    }
    if !plan.skipped.is_empty() {
        crate::outln!("not imported ({}):", plan.skipped.len());
        for s in &plan.skipped {
            crate::outln!("  {}: {}", s.path, s.reason);
        }
    }
    if !plan.warnings.is_empty() {
        crate::outln!("imported with changes ({}):", plan.warnings.len());
        for s in &plan.warnings {
            crate::outln!("  {}: {}", s.path, s.reason);
        }
    }
}

pub fn import(data_dir: &Path, dir: &Path, dry_run: bool) -> Result<()> {
    if dry_run {
        // Look at the store only if there is one; a dry run creates nothing.
        let store = if data_dir.join(cairn_core::DB_FILE).exists() {
            Some(Store::open(data_dir)?)
        } else {
            None
        };
        let plan = plan(dir, store.as_ref())?;
        report(&plan, plan.notes(), true);
        return Ok(());
    }
    let mut store = crate::commands::attachments::open_keyed(data_dir)?;
    let mut plan = plan(dir, Some(&store))?;
    // One fsync at the end instead of one per change.
    store.set_durable(false)?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("importing {} notes", plan.notes()));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let result = apply(&mut store, &mut plan);
    bar.finish_and_clear();
    let n = result?;
    store.set_durable(true)?;
    store.checkpoint()?;
    report(&plan, n, false);
    Ok(())
}
