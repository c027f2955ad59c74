//! `cairn attach`, `cairn attachments` and `cairn attachment get`: files
//! kept with notes, stored once per content and synced end-to-end
//! encrypted with them.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use cairn_client::{AgentError, SyncAgent};
use cairn_core::blob::attach::DEFAULT_MAX_ATTACHMENT;
use cairn_core::Store;

use crate::commands::notes::open;
use crate::commands::signed_in::{runtime, stored_session};

/// Overrides the largest file `cairn attach` takes (bytes).
pub const MAX_ATTACHMENT_ENV: &str = "CAIRN_MAX_ATTACHMENT_BYTES";

/// The store with the account's content key, so chunks are named and
/// sealed under it (none when this device has not signed in).
pub(crate) fn open_keyed(data_dir: &Path) -> Result<Store> {
    let mut store = open(data_dir)?;
    store.set_content_key(cairn_client::encryption::load_content_key(data_dir)?);
    Ok(store)
}

fn max_attachment() -> u64 {
    std::env::var(MAX_ATTACHMENT_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_ATTACHMENT)
}

pub fn attach(data_dir: &Path, note: &str, file: &Path) -> Result<()> {
    let mut store = open_keyed(data_dir)?;
    store.get(note)?;
    let record = store.attach_file(note, file, max_attachment())?;
    crate::outln!(
        "attached {} ({} bytes, {}) to {note}",
        record.name,
        record.size,
        record.media_type
    );
    crate::outln!("{}", record.id);
    Ok(())
}

pub fn list(data_dir: &Path, note: Option<&str>, json: bool) -> Result<()> {
    let store = open(data_dir)?;
    let all = store.attachments(note)?;
    if json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|a| {
                serde_json::json!({
                    "id": a.id,
                    "note_id": a.note_id,
                    "name": a.name,
                    "size": a.size,
                    "media_type": a.media_type,
                    "local": a.local,
                })
            })
            .collect();
        crate::outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for a in &all {
        let here = if a.local { "" } else { "  (not downloaded)" };
        crate::outln!(
            "{}  {}  {} bytes  {}{here}",
            a.id,
            a.name,
            a.size,
            a.media_type
        );
    }
    Ok(())
}

/// Writes the attachment to `out`, downloading it first (one sync round
/// through the stored grant) when it is not here.
pub fn get(data_dir: &Path, id: &str, out: &Path) -> Result<()> {
    let store = Arc::new(Mutex::new(open_keyed(data_dir)?));
    let local = lock(&store)?.attachment(id)?.local;
    if !local {
        lock(&store)?.want_attachment(id)?;
        download(data_dir, store.clone())?;
        let s = lock(&store)?;
        if !s.attachment(id)?.local {
            if let Some(why) = s.attachment_error(id)? {
                bail!("could not download the attachment: {why}");
            }
        }
    }
    let s = lock(&store)?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    let written = s.write_attachment(id, tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    crate::outln!("wrote {written} bytes to {}", out.display());
    Ok(())
}

fn lock(store: &Mutex<Store>) -> Result<std::sync::MutexGuard<'_, Store>> {
    store
        .lock()
        .map_err(|_| anyhow::anyhow!("store lock poisoned"))
}

fn download(data_dir: &Path, store: Arc<Mutex<Store>>) -> Result<()> {
    let Some(session) = stored_session(data_dir)? else {
        bail!(
            "the attachment is not on this device, and this device is not signed in to download it"
        );
    };
    let rt = runtime()?;
    rt.block_on(async {
        let mut agent = match SyncAgent::new(data_dir, session, store) {
            Ok(a) => a,
            Err(AgentError::NotSignedIn) => bail!(
                "the attachment is not on this device, and this device is not signed in to download it"
            ),
            Err(e) => return Err(e.into()),
        };
        agent.round().await?;
        for e in &agent.blob_report().errors {
            eprintln!("warning: {e}");
        }
        Ok(())
    })
}
