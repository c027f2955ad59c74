//! Shared notebooks from the terminal: `cairn identity`, `cairn share`,
//! `cairn invitations`, `cairn accept`, `cairn decline`, `cairn members`,
//! `cairn unshare`, `cairn leave` (docs/sharing.md). Each opens this
//! device's sharing identity with its content key, does one operation of
//! `cairn_client::sharing` and prints the result; the notebook's notes
//! travel with `cairn sync`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use cairn_client::sharing::Sharing;
use cairn_core::space::record::Role;
use cairn_protocol::UserId;
use clap::ValueEnum;

use super::notes::open;
use super::signed_in::{runtime, session};

/// The role an invitee gets.
#[derive(Clone, Copy, ValueEnum)]
pub enum InviteRole {
    Editor,
    Viewer,
}

impl From<InviteRole> for Role {
    fn from(r: InviteRole) -> Role {
        match r {
            InviteRole::Editor => Role::Editor,
            InviteRole::Viewer => Role::Viewer,
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Editor => "editor",
        Role::Viewer => "viewer",
    }
}

fn account(value: &str) -> Result<UserId> {
    UserId::parse(value.trim()).map_err(|_| {
        anyhow::anyhow!(
            "{value:?} is not an account id; ask them to run `cairn identity` and give you the id it prints"
        )
    })
}

/// The sharing operations of this data dir's signed-in device.
async fn sharing(data_dir: &Path) -> Result<Sharing> {
    let session = session(data_dir)?;
    let store = Arc::new(Mutex::new(open(data_dir)?));
    Ok(Sharing::open(data_dir, session, store).await?)
}

/// What each command does, once the identity is open.
pub enum SharingCommand {
    Identity {
        json: bool,
    },
    Share {
        notebook: String,
        with: String,
        role: InviteRole,
        fingerprint: Option<String>,
    },
    Invitations {
        json: bool,
    },
    Accept {
        invitation: String,
    },
    Decline {
        invitation: String,
    },
    Members {
        notebook: String,
        json: bool,
    },
    Unshare {
        notebook: String,
        member: String,
    },
    Leave {
        notebook: String,
    },
}

pub fn run(data_dir: &Path, which: SharingCommand) -> Result<()> {
    runtime()?.block_on(async {
        let s = sharing(data_dir).await?;
        match which {
            SharingCommand::Identity { json } => {
                let me = s.identity();
                if json {
                    crate::outln!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "account": me.account, "fingerprint": me.fingerprint,
                        }))?
                    );
                } else {
                    crate::outln!("account id:  {}", me.account);
                    crate::outln!("fingerprint: {}", me.fingerprint);
                }
            }
            SharingCommand::Share {
                notebook,
                with,
                role,
                fingerprint,
            } => {
                let invitee = account(&with)?;
                let invited = s
                    .share(&notebook, &invitee, role.into(), fingerprint.as_deref())
                    .await?;
                crate::outln!("invited {invitee} as {}", role_name(role.into()));
                if fingerprint.is_none() {
                    // Not checked against one they gave: shown, to compare
                    // with them in person or on a call.
                    crate::outln!("their fingerprint: {}", invited.fingerprint);
                    crate::outln!("safety number:     {}", invited.safety_number);
                }
                crate::outln!("{}", invited.id);
            }
            SharingCommand::Invitations { json } => {
                let found = s.invitations().await?;
                // One that could not be verified is said, apart; the
                // others are listed all the same.
                for (id, e) in &found.unreadable {
                    eprintln!("warning: invitation {id} cannot be shown: {e}");
                }
                let all = found.pending;
                if json {
                    let rows: Vec<serde_json::Value> = all
                        .iter()
                        .map(|i| {
                            serde_json::json!({
                                "id": i.id, "notebook": i.notebook, "from": i.from,
                                "role": role_name(i.role), "from_fingerprint": i.from_fingerprint,
                            })
                        })
                        .collect();
                    crate::outln!("{}", serde_json::to_string_pretty(&rows)?);
                } else if all.is_empty() {
                    crate::outln!("no invitations");
                } else {
                    for i in &all {
                        crate::outln!(
                            "{}  {}  from {} (fingerprint {})  as {}",
                            i.id,
                            i.notebook.as_deref().unwrap_or("(unnamed notebook)"),
                            i.from,
                            i.from_fingerprint,
                            role_name(i.role)
                        );
                    }
                }
            }
            SharingCommand::Accept { invitation } => {
                let joined = s.accept(&invitation).await?;
                let name = joined.local.label.unwrap_or_else(|| "the notebook".into());
                crate::outln!("joined {name}; its notes arrive with the next `cairn sync`");
            }
            SharingCommand::Decline { invitation } => {
                s.decline(&invitation).await?;
                crate::outln!("declined");
            }
            SharingCommand::Members { notebook, json } => {
                let members = s.members(&notebook).await?;
                if json {
                    let rows: Vec<serde_json::Value> = members
                        .iter()
                        .map(|m| {
                            // `key_changed`: their key changed since it was
                            // first pinned here, vouched for by the key
                            // before (`vouched_by_previous` is always true:
                            // an unvouched change is refused, not listed).
                            let mut row = serde_json::json!({
                                "account": m.account, "role": role_name(m.role),
                                "pending": m.pending, "fingerprint": m.fingerprint,
                                "key_changed": m.key_change.is_some(),
                            });
                            if let Some(c) = &m.key_change {
                                row["previous_fingerprint"] = c.previous_fingerprint.clone().into();
                                row["vouched_by_previous"] = true.into();
                            }
                            row
                        })
                        .collect();
                    crate::outln!("{}", serde_json::to_string_pretty(&rows)?);
                } else {
                    for m in &members {
                        crate::outln!(
                            "{}  {}{}  fingerprint {}",
                            m.account,
                            role_name(m.role),
                            if m.pending { " (invited)" } else { "" },
                            m.fingerprint
                        );
                        if let Some(c) = &m.key_change {
                            crate::outln!(
                                "  {}'s sharing key changed (a device of theirs was removed); their previous key ({}) vouched for the new one",
                                m.account,
                                c.previous_fingerprint
                            );
                        }
                    }
                }
            }
            SharingCommand::Unshare { notebook, member } => {
                let member = account(&member)?;
                s.unshare(&notebook, &member).await?;
                crate::outln!(
                    "removed {member}; what is written from now on is not readable to them"
                );
            }
            SharingCommand::Leave { notebook } => {
                s.leave(&notebook).await?;
                crate::outln!("left the shared notebook");
            }
        }
        Ok(())
    })
}
