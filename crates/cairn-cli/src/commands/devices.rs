//! `cairn devices [--json]`: the account's devices, this one marked.

use std::path::Path;

use cairn_protocol::Device;
use serde::Serialize;

use super::signed_in::{access_token, refresh_failed, runtime, session};

/// One device as printed with `--json`.
#[derive(Serialize)]
struct DeviceRow<'a> {
    #[serde(flatten)]
    device: &'a Device,
    this_device: bool,
}

pub fn list(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let session = session(data_dir)?;
    let devices = runtime()?.block_on(async {
        let token = access_token(&session).await?;
        match session.client().devices(&token).await {
            // Revoked or expired early on the service's side: one refresh.
            Err(e) if e.needs_sign_in() => {
                let token = session
                    .refresh_refused(&token)
                    .await
                    .map_err(refresh_failed)?;
                Ok(session.client().devices(&token).await?)
            }
            other => Ok::<_, anyhow::Error>(other?),
        }
    })?;
    let me = session.device_id();
    let me = me.as_ref();
    let rows: Vec<_> = devices
        .iter()
        .map(|d| DeviceRow {
            device: d,
            this_device: Some(&d.id) == me,
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for row in rows {
        let d = row.device;
        let mut notes = Vec::new();
        if row.this_device {
            notes.push("this device");
        }
        if d.is_revoked() {
            notes.push("revoked");
        }
        let created = chrono::DateTime::from_timestamp(d.created_at, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join(", "))
        };
        println!(
            "{}  {}  {}  added {}{}",
            d.id, d.name, d.platform, created, notes
        );
    }
    Ok(())
}
