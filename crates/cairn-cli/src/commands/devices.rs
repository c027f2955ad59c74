//! `cairn devices [--json]`: the account's devices, this one marked;
//! `cairn devices remove DEVICE`: removes one, and gives the account's
//! notes a new key first (`device_removal::remove_device`, the same the
//! app's "Remove…" runs), so the removed device reads nothing written
//! from then on, and a new sharing identity
//! (`identity_rotation::rotate_identity_after_removal`), so it opens
//! nothing new in the shared notebooks either.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::bail;
use cairn_client::device_removal::{self, RemoveError};
use cairn_client::encryption::Rotated;
use cairn_client::identity_rotation::{rotate_identity_after_removal, IdentityRotation};
use cairn_core::crypto::KdfParams;
use cairn_protocol::{Device, DeviceId};
use clap::Subcommand;
use serde::Serialize;

use super::key::secret_from_env_or_prompt;
use super::signed_in::{access_token, refresh_failed, runtime, session};

#[derive(Subcommand)]
pub enum DevicesCommand {
    /// Remove a device from your account (a lost or sold one). Your notes
    /// get a new key, which needs your passphrase (CAIRN_PASSPHRASE or a
    /// prompt), and you get a new recovery key.
    Remove {
        /// The device's id, as `cairn devices` lists it.
        device: String,
    },
}

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

pub fn remove(data_dir: &Path, device: &str) -> anyhow::Result<()> {
    let id = DeviceId::parse(device).map_err(|_| {
        anyhow::anyhow!("{device:?} is not a device id: `cairn devices` lists them")
    })?;
    let session = session(data_dir)?;
    if session.device_id().as_ref() == Some(&id) {
        bail!("that is this device: run `cairn logout` here instead, or remove it from another device");
    }
    let Some(secret) = secret_from_env_or_prompt(
        "CAIRN_PASSPHRASE",
        "Passphrase (or recovery key, for an account without one), to give your notes a new key: ",
    )?
    else {
        bail!("removing a device gives your notes a new key, which needs your passphrase: set CAIRN_PASSPHRASE or run in a terminal");
    };
    let store = Arc::new(Mutex::new(super::notes::open(data_dir)?));
    let (removed, identity) = runtime()?.block_on(async {
        let token = access_token(&session).await?;
        let removed = device_removal::remove_device(
            session.client(),
            &token,
            data_dir,
            session.device_id().as_ref(),
            &id,
            &secret,
            KdfParams::default(),
        )
        .await;
        // The new key exists whatever failed after it: its recovery key
        // is shown before the error, or it would be lost.
        if let Err(RemoveError::NotRevoked { rotated, .. }) = &removed {
            print_recovery_key(rotated);
        }
        let removed = removed?;
        // The sharing identity next: the removed device holds the current
        // one. A failure here does not undo the removal: the sentence
        // below says what is left, and the next sync tries again.
        let identity =
            rotate_identity_after_removal(data_dir, session.clone(), store.clone()).await;
        Ok::<_, anyhow::Error>((removed, identity))
    })?;
    let name = removed.name;
    println!("removed {name} ({id}) from your account");
    println!(
        "your notes have a new key: {name} cannot read anything written from now on; what it already downloaded stays on it"
    );
    println!("your other devices ask for your passphrase once to keep syncing (CAIRN_PASSPHRASE for `cairn sync`)");
    println!("if you ever typed your passphrase on {name}, change it now: `cairn key change`");
    print_identity(&name, identity);
    print_recovery_key(&removed.rotated);
    Ok(())
}

fn print_recovery_key(rotated: &Rotated) {
    match rotated {
        Rotated::NewEpoch { recovery_key, .. } => {
            println!("your new recovery key (shown once, keep it safe; the old one opens only notes written before now):");
            println!("{recovery_key}");
        }
        Rotated::ByAnotherDevice { .. } => println!(
            "another of your devices gave your notes a new key at the same moment: keep the recovery key it showed"
        ),
    }
}

/// What became of the sharing identity and the shared notebooks.
fn print_identity(
    name: &str,
    identity: Result<IdentityRotation, cairn_client::sharing::ShareError>,
) {
    use cairn_client::sharing_identity::IdentityRotated;
    match identity {
        Ok(r) => {
            match &r.identity {
                IdentityRotated::NoIdentity => return,
                IdentityRotated::Replaced(_) => println!(
                    "your sharing key is new too: the people you share notebooks with see your safety number change, vouched for by your previous key"
                ),
                IdentityRotated::AlreadyCurrent => {}
            }
            if !r.handed_over.is_empty() {
                println!(
                    "{} shared notebook(s) moved to your new sharing key; those you own have a new key that {name} does not hold, the others get one when their owner next syncs",
                    r.handed_over.len()
                );
            }
            for (_, e) in &r.failed {
                eprintln!("a shared notebook was not moved to your new sharing key: {e}");
            }
            if !r.failed.is_empty() {
                println!(
                    "{} shared notebook(s) could not be moved to your new sharing key yet: `cairn sync` tries again",
                    r.failed.len()
                );
            }
        }
        Err(e) => {
            println!("your sharing key could not be changed yet ({e}); until it is, {name} can still open what is shared with you: `cairn sync` tries again");
        }
    }
}
