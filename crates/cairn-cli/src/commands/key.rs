//! `cairn key …` and the key step of `cairn login`: end-to-end encryption.
//!
//! The passphrase comes from `CAIRN_PASSPHRASE` when set (for scripts),
//! otherwise from a prompt when standard input is a terminal. The first
//! device of an account without one gets a recovery key only.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use cairn_client::encryption::{self, KeySetup};
use cairn_core::crypto::KdfParams;
use clap::Subcommand;

use super::signed_in::{access_token, runtime, session};

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Change the passphrase (re-wraps the key; nothing is re-encrypted).
    /// Asks for the current one (CAIRN_PASSPHRASE or a prompt), then the new
    /// one (CAIRN_NEW_PASSPHRASE or a prompt).
    Change,
}

fn prompt(question: &str) -> Result<Option<String>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    Ok((!line.is_empty()).then_some(line))
}

pub fn secret_from_env_or_prompt(var: &str, question: &str) -> Result<Option<String>> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Some(v)),
        _ => prompt(question),
    }
}

/// The passphrase or recovery key for signing in (see the module docs).
pub fn login_secret() -> Result<Option<String>> {
    secret_from_env_or_prompt(
        "CAIRN_PASSPHRASE",
        "Passphrase or recovery key (a new account: choose a passphrase, or press Enter for a recovery key only): ",
    )
}

pub fn report(setup: &KeySetup) {
    match setup {
        KeySetup::Created { recovery_key } => {
            println!("end-to-end encryption is on; your recovery key (shown once, keep it safe):");
            println!("{recovery_key}");
        }
        KeySetup::Unlocked => println!("end-to-end encryption unlocked on this device"),
        KeySetup::AlreadyUnlocked => {}
    }
}

pub fn run(data_dir: &Path, which: KeyCommand) -> Result<()> {
    match which {
        KeyCommand::Change => {
            let Some(new) = secret_from_env_or_prompt("CAIRN_NEW_PASSPHRASE", "New passphrase: ")?
            else {
                bail!("no new passphrase: set CAIRN_NEW_PASSPHRASE or run in a terminal");
            };
            let Some(current) = secret_from_env_or_prompt(
                "CAIRN_PASSPHRASE",
                "Current passphrase or recovery key: ",
            )?
            else {
                bail!("no current passphrase: set CAIRN_PASSPHRASE or run in a terminal");
            };
            let session = session(data_dir)?;
            let generation = runtime()?.block_on(async {
                let token = access_token(&session).await?;
                encryption::change_passphrase(
                    session.client(),
                    &token,
                    data_dir,
                    &current,
                    &new,
                    KdfParams::default(),
                )
                .await
                .context("changing the passphrase")
            })?;
            println!("passphrase changed (key envelope generation {generation})");
            Ok(())
        }
    }
}
