//! `cairn`: the Cairn store and sync from a terminal.
//!
//! Every command opens the same store the app uses (or the one named by
//! `--data-dir`), does one thing, and exits non-zero with a message naming
//! the problem when it cannot.

mod commands;
mod input;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::sharing::SharingCommand as Sharing;

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Local-first notes: the Cairn store from a terminal"
)]
struct Cli {
    /// Where the notes live (default: the platform data directory).
    #[arg(long, global = true, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a note from TEXT (or standard input); prints its id last.
    New {
        text: Option<String>,
        /// Put it in this notebook (an id or a path like Work/Projects).
        #[arg(long, value_name = "NOTEBOOK")]
        notebook: Option<String>,
    },
    /// List notes, pinned first, newest first.
    List {
        #[arg(long)]
        tag: Option<String>,
        /// List the trash.
        #[arg(long)]
        trashed: bool,
        /// Only the notes in this notebook (an id or a path).
        #[arg(long, value_name = "NOTEBOOK", conflicts_with = "unfiled")]
        notebook: Option<String>,
        /// Only the notes in no notebook.
        #[arg(long)]
        unfiled: bool,
        /// With --notebook: the notebooks inside it too.
        #[arg(long, requires = "notebook")]
        recursive: bool,
        #[arg(long)]
        json: bool,
    },
    /// Notebooks: create, list, rename, move, delete.
    Notebook {
        #[command(subcommand)]
        which: commands::notebooks::NotebookCommand,
    },
    /// Move a note into a notebook, or out of every notebook with --unfiled.
    Move {
        note: String,
        #[arg(required_unless_present = "unfiled", conflicts_with = "unfiled")]
        notebook: Option<String>,
        #[arg(long)]
        unfiled: bool,
    },
    /// The links in a note: their text and the note each leads to.
    Links {
        note: String,
        #[arg(long)]
        json: bool,
    },
    /// The notes that link to a note.
    Backlinks {
        note: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a note's body (or all its fields with --json).
    Show {
        id: String,
        /// Show the note as it was at this version (see `cairn history`).
        #[arg(long, value_name = "VERSION")]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Replace a note's body with standard input, stored as a diff.
    Edit { id: String },
    /// Full-text search, best match first.
    Search {
        query: String,
        /// Search the trash instead of the notes in use.
        #[arg(long)]
        trash: bool,
        #[arg(long)]
        json: bool,
    },
    /// Add (+T or T) and remove (-T) tags.
    Tag {
        id: String,
        #[arg(allow_hyphen_values = true, required = true, value_name = "+TAG|-TAG")]
        changes: Vec<String>,
    },
    /// Move a note to the trash.
    Trash { id: String },
    /// Bring a note back from the trash.
    Restore { id: String },
    /// Delete a note for good.
    Delete { id: String },
    /// Attach a file to a note: stores it, appends a reference to the
    /// note, prints the attachment id last.
    Attach { note: String, file: PathBuf },
    /// List attachments, of one note or all.
    Attachments {
        note: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One attachment: `get ID OUT` writes its bytes to OUT.
    Attachment {
        #[command(subcommand)]
        which: AttachmentCommand,
    },
    /// A note's versions, oldest first.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Import a folder tree of Markdown files (an Obsidian vault, a Joplin
    /// export): folders become notebooks, files notes, links links.
    Import {
        dir: PathBuf,
        /// Say what would be imported and what not, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Export every note as a Markdown file with front matter, a folder per
    /// notebook, links as [[wikilinks]].
    Export { dir: PathBuf },
    /// Accounts on a sync service.
    Account {
        #[command(subcommand)]
        which: commands::account::AccountCommand,
    },
    /// Sign in to a sync service and register this device.
    Login(commands::login::LoginArgs),
    /// Sign out of the sync service and forget the stored session.
    Logout,
    /// This account's id and fingerprint, to give to whoever shares with you.
    Identity {
        #[arg(long)]
        json: bool,
    },
    /// Share a notebook with another account; prints the invitation id last.
    Share {
        /// The notebook (an id or a path like Work/Projects).
        notebook: String,
        /// Their account id (`cairn identity` shows it).
        #[arg(long, value_name = "ACCOUNT_ID")]
        with: String,
        #[arg(long, value_enum, default_value = "editor")]
        role: commands::sharing::InviteRole,
        /// Their fingerprint as they read it to you: sharing stops if it differs.
        #[arg(long, value_name = "FP")]
        fingerprint: Option<String>,
    },
    /// The invitations to shared notebooks waiting for you.
    Invitations {
        #[arg(long)]
        json: bool,
    },
    /// Accept an invitation; the notebook's notes come with the next sync.
    Accept { invitation: String },
    /// Decline an invitation.
    Decline { invitation: String },
    /// Who is in a shared notebook, and who is invited.
    Members {
        notebook: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove someone from a notebook you share (a new key: nothing written
    /// afterwards is readable to them).
    Unshare {
        notebook: String,
        #[arg(long, value_name = "ACCOUNT_ID")]
        member: String,
    },
    /// Leave a notebook someone shares with you.
    Leave { notebook: String },
    /// The signed-in account's devices; `devices remove DEVICE` removes
    /// one and gives your notes a new key it does not get.
    Devices {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<commands::devices::DevicesCommand>,
    },
    /// Rebuild the search index and the note list from the notes, when
    /// the store says they are damaged. Loses nothing.
    Repair,
    /// Benchmarks that print JSON.
    /// Sync with your other devices: one round, or keep watching.
    Sync {
        /// Stay connected and sync after edits, on notifications and on a poll.
        #[arg(long)]
        watch: bool,
        /// With --watch: poll peers this often (seconds).
        #[arg(long, default_value_t = 30)]
        poll: u64,
    },
    /// End-to-end encryption: change the passphrase.
    Key {
        #[command(subcommand)]
        which: commands::key::KeyCommand,
    },
    /// Where sync stands: account, devices, last sync, pending changes.
    Status {
        #[arg(long)]
        json: bool,
    },
    Bench {
        #[command(subcommand)]
        which: commands::bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum AttachmentCommand {
    /// Write the attachment's bytes to OUT, downloading them first if needed.
    Get { id: String, out: PathBuf },
}

fn main() -> ExitCode {
    // Notes, keys and sessions are for this user only, whatever the umask.
    cairn_core::private_files::restrict_umask();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = match cli.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    use commands::notes;
    match cli.command {
        Command::New { text, notebook } => notes::new(&data_dir, text, notebook.as_deref()),
        Command::List {
            tag,
            trashed,
            notebook,
            unfiled,
            recursive,
            json,
        } => notes::list(
            &data_dir,
            notes::ListArgs {
                tag,
                trashed,
                notebook,
                unfiled,
                recursive,
                json,
            },
        ),
        Command::Notebook { which } => commands::notebooks::run(&data_dir, which),
        Command::Move {
            note,
            notebook,
            unfiled: _,
        } => commands::notebooks::move_note(&data_dir, &note, notebook.as_deref()),
        Command::Links { note, json } => commands::notebooks::links(&data_dir, &note, json),
        Command::Backlinks { note, json } => commands::notebooks::backlinks(&data_dir, &note, json),
        Command::Show { id, at, json } => notes::show(&data_dir, &id, at.as_deref(), json),
        Command::Edit { id } => notes::edit(&data_dir, &id),
        Command::Search { query, trash, json } => notes::search(&data_dir, &query, trash, json),
        Command::Tag { id, changes } => notes::tag(&data_dir, &id, &changes),
        Command::Trash { id } => notes::trash(&data_dir, &id),
        Command::Restore { id } => notes::restore(&data_dir, &id),
        Command::Delete { id } => notes::delete(&data_dir, &id),
        Command::Attach { note, file } => commands::attachments::attach(&data_dir, &note, &file),
        Command::Attachments { note, json } => {
            commands::attachments::list(&data_dir, note.as_deref(), json)
        }
        Command::Attachment {
            which: AttachmentCommand::Get { id, out },
        } => commands::attachments::get(&data_dir, &id, &out),
        Command::History { id, json } => notes::history(&data_dir, &id, json),
        Command::Import { dir, dry_run } => commands::import::import(&data_dir, &dir, dry_run),
        Command::Export { dir } => commands::export::export(&data_dir, &dir),
        Command::Account { which } => commands::account::run(which),
        Command::Login(args) => commands::login::login(&data_dir, args),
        Command::Logout => commands::login::logout(&data_dir),
        Command::Devices { json, action } => match action {
            None => commands::devices::list(&data_dir, json),
            Some(commands::devices::DevicesCommand::Remove { device }) => {
                commands::devices::remove(&data_dir, &device)
            }
        },
        Command::Identity { json } => sharing(&data_dir, Sharing::Identity { json }),
        Command::Share {
            notebook,
            with,
            role,
            fingerprint,
        } => sharing(
            &data_dir,
            Sharing::Share {
                notebook,
                with,
                role,
                fingerprint,
            },
        ),
        Command::Invitations { json } => sharing(&data_dir, Sharing::Invitations { json }),
        Command::Accept { invitation } => sharing(&data_dir, Sharing::Accept { invitation }),
        Command::Decline { invitation } => sharing(&data_dir, Sharing::Decline { invitation }),
        Command::Members { notebook, json } => {
            sharing(&data_dir, Sharing::Members { notebook, json })
        }
        Command::Unshare { notebook, member } => {
            sharing(&data_dir, Sharing::Unshare { notebook, member })
        }
        Command::Leave { notebook } => sharing(&data_dir, Sharing::Leave { notebook }),
        Command::Sync { watch, poll } => commands::sync::sync(&data_dir, watch, poll),
        Command::Key { which } => commands::key::run(&data_dir, which),
        Command::Status { json } => commands::sync::status(&data_dir, json),
        Command::Repair => commands::repair::repair(&data_dir),
        Command::Bench { which } => commands::bench::run(which),
    }
}

fn sharing(data_dir: &std::path::Path, which: Sharing) -> anyhow::Result<()> {
    commands::sharing::run(data_dir, which)
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("app", "cairn", "Cairn")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| anyhow::anyhow!("no home directory to keep notes in; pass --data-dir"))
}
