//! `cairn sync` and `cairn status`: sync this store with the user's other
//! devices through object storage, and say where that stands.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use cairn_client::blob_runner::BlobReport;
use cairn_client::{AgentError, SyncAgent, SyncState, WatchEvent, WatchOptions};
use cairn_core::sync::RoundReport;
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::notes::{fmt_time, open};
use crate::commands::signed_in::{runtime, stored_session};

fn describe(r: &RoundReport) -> String {
    let mut parts = Vec::new();
    if let Some(seq) = r.published {
        parts.push(format!(
            "published #{seq}{}",
            if r.wrote_snapshot { " (snapshot)" } else { "" }
        ));
    }
    let changed = r.changed_notes();
    if changed > 0 {
        parts.push(format!("merged {changed} notes"));
    }
    if parts.is_empty() {
        parts.push("up to date".into());
    }
    format!(
        "{} ({} requests, {} KB up, {} KB down)",
        parts.join(", "),
        r.requests,
        r.bytes_up / 1024,
        r.bytes_down / 1024
    )
}

fn problems(r: &RoundReport) -> Vec<String> {
    let mut out: Vec<String> = r
        .publish_error
        .iter()
        .map(|e| format!("publishing: {e}"))
        .collect();
    for p in &r.peers {
        if let Some(e) = &p.error {
            out.push(format!("device {}: {e}", p.device));
        }
    }
    out
}

/// What a round moved of attachments, when it moved any or has some left.
fn describe_blobs(b: &BlobReport) -> Option<String> {
    if b.slots_uploaded == 0
        && b.chunks_downloaded == 0
        && b.bytes_remaining == 0
        && b.slots_emptied == 0
    {
        return None;
    }
    Some(format!(
        "attachments: {} KB up, {} KB down, {} KB remaining ({} requests)",
        b.bytes_up / 1024,
        b.bytes_down / 1024,
        b.bytes_remaining / 1024,
        b.requests
    ))
}

pub fn sync(data_dir: &Path, watch: bool, poll_secs: u64) -> Result<()> {
    let store = Arc::new(Mutex::new(open(data_dir)?));
    let rt = runtime()?;
    rt.block_on(async {
        let not_signed_in =
            || anyhow::anyhow!("not signed in; run `cairn login --server URL ...` first");
        let session = stored_session(data_dir)?.ok_or_else(not_signed_in)?;
        let mut agent = SyncAgent::new(data_dir, session, store.clone())
            .map_err(|e| match e {
                AgentError::NotSignedIn => not_signed_in(),
                other => other.into(),
            })?
            // After another device removed one: the new key, once.
            .with_secret(std::env::var("CAIRN_PASSPHRASE").ok());
        if watch {
            let options = WatchOptions {
                poll: Duration::from_secs(poll_secs.max(1)),
                ..WatchOptions::default()
            };
            let changes = Arc::new(tokio::sync::Notify::new());
            agent
                .watch(options, changes, |event| match event {
                    WatchEvent::Round(Ok(r)) => {
                        crate::outln!("{}", describe(r));
                        for p in problems(r) {
                            eprintln!("warning: {p}");
                        }
                    }
                    WatchEvent::Round(Err(e)) => eprintln!("warning: {e}"),
                    WatchEvent::LiveMerged { notes } => {
                        crate::outln!("merged live changes to {notes} notes")
                    }
                    WatchEvent::Connected | WatchEvent::SpaceSynced { .. } => {}
                })
                .await?;
            return Ok(());
        }
        let first = store
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?
            .peer_states()?
            .is_empty();
        let bar = first.then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
                bar.set_style(style);
            }
            bar.set_message("first sync: fetching your notes from your other devices");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let outcome = agent.round().await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let report = match outcome {
            Ok(r) => r,
            Err(AgentError::NeedsSignIn(reason)) => {
                anyhow::bail!(
                    "sign-in needed: {reason}; your notes are safe here, run `cairn login` again"
                )
            }
            Err(e) => return Err(e.into()),
        };
        crate::outln!("{}", describe(&report));
        if let Some(line) = describe_blobs(agent.blob_report()) {
            crate::outln!("{line}");
        }
        if report.needs_sign_in() {
            anyhow::bail!(
                "sign-in needed: the storage grant expired or was revoked; run `cairn login` again"
            );
        }
        let mut errs = problems(&report);
        errs.extend(
            agent
                .blob_report()
                .errors
                .iter()
                .map(|e| format!("attachments: {e}")),
        );
        if !errs.is_empty() {
            anyhow::bail!("sync incomplete:\n  {}", errs.join("\n  "));
        }
        Ok(())
    })
}

pub fn status(data_dir: &Path, json: bool) -> Result<()> {
    let store = Arc::new(Mutex::new(open(data_dir)?));
    let agent = match stored_session(data_dir)? {
        None => None,
        Some(session) => match SyncAgent::new(data_dir, session, store.clone()) {
            Ok(a) => Some(a),
            Err(AgentError::NotSignedIn) => None,
            Err(e) => return Err(e.into()),
        },
    };
    let guard = store
        .lock()
        .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
    let peers = agent.as_ref().map(SyncAgent::peers).unwrap_or_default();
    let st = guard.sync_status(&peers)?;
    let notes = guard.count(false)?;
    let attachment_bytes =
        guard.blob_bytes_remaining(cairn_core::blob::transfer::DEFAULT_BACKGROUND_LIMIT)?;
    let names: std::collections::HashMap<String, String> = agent
        .as_ref()
        .and_then(|a| a.grant())
        .map(|g| {
            g.peers
                .iter()
                .map(|p| (p.device_id.as_str().to_owned(), p.name.as_str().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let last_sync = st.peers.iter().filter_map(|p| p.last_ok_ms).max();
    let state = SyncState::at_rest(agent.is_some(), &st);
    if json {
        let devices: Vec<serde_json::Value> = st
            .peers
            .iter()
            .map(|p| {
                serde_json::json!({
                    "device_id": p.device_id,
                    "name": names.get(&p.device_id),
                    "merged_seq": p.merged_seq,
                    "head_seq": p.head_seq,
                    "has_our_seq": p.has_our_seq,
                    "last_ok_ms": p.last_ok_ms,
                    "error": p.error,
                })
            })
            .collect();
        let v = serde_json::json!({
            "signed_in": agent.is_some(),
            "server": agent.as_ref().map(|a| a.credentials().server_url.clone()),
            "user_id": agent.as_ref().map(|a| a.credentials().user_id.to_string()),
            "device_id": agent.as_ref().map(|a| a.device_id().as_str().to_owned()),
            "notes": notes,
            "published_seq": st.published_seq,
            "pending_changes": st.pending_changes,
            "attachment_bytes_remaining": attachment_bytes,
            "last_sync_ms": last_sync,
            "on_all_devices": st.on_all_devices,
            "state": state,
            "devices": devices,
        });
        crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match &agent {
        None => crate::outln!("not signed in (local only); {notes} notes"),
        Some(a) => {
            let c = a.credentials();
            crate::outln!("signed in as {} on {}", c.user_id, c.server_url);
            crate::outln!("this device: {}", a.device_id());
            crate::outln!("notes: {notes}, pending changes: {}", st.pending_changes);
            if attachment_bytes > 0 {
                crate::outln!("attachments: {} KB left to sync", attachment_bytes / 1024);
            }
            crate::outln!(
                "last sync: {}",
                last_sync.map(fmt_time).unwrap_or_else(|| "never".into())
            );
            crate::outln!(
                "every device has everything: {}",
                if st.on_all_devices { "yes" } else { "not yet" }
            );
            for p in &st.peers {
                let name = names.get(&p.device_id).map(String::as_str).unwrap_or("?");
                let err = p
                    .error
                    .as_ref()
                    .map(|e| format!("  ERROR: {}", e.detail))
                    .unwrap_or_default();
                crate::outln!(
                    "  {} ({name}): merged #{}, has ours up to #{}{err}",
                    p.device_id,
                    p.merged_seq,
                    p.has_our_seq
                );
            }
        }
    }
    Ok(())
}
