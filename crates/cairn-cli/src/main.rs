//! `cairn`: the Cairn store and sync from a terminal.
//!
//! Every command opens the same store the app uses (or the one named by
//! `--data-dir`), does one thing, and exits non-zero with a message naming
//! the problem when it cannot.

mod commands;
mod frontmatter;
mod input;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    New { text: Option<String> },
    /// List notes, pinned first, newest first.
    List {
        #[arg(long)]
        tag: Option<String>,
        /// List the trash.
        #[arg(long)]
        trashed: bool,
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
    /// A note's versions, oldest first.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Import a folder of Markdown files, one note each.
    Import { dir: PathBuf },
    /// Export every note as a Markdown file with front matter.
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
    /// The signed-in account's devices.
    Devices {
        #[arg(long)]
        json: bool,
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
        Command::New { text } => notes::new(&data_dir, text),
        Command::List { tag, trashed, json } => notes::list(&data_dir, tag, trashed, json),
        Command::Show { id, at, json } => notes::show(&data_dir, &id, at.as_deref(), json),
        Command::Edit { id } => notes::edit(&data_dir, &id),
        Command::Search { query, json } => notes::search(&data_dir, &query, json),
        Command::Tag { id, changes } => notes::tag(&data_dir, &id, &changes),
        Command::Trash { id } => notes::trash(&data_dir, &id),
        Command::Restore { id } => notes::restore(&data_dir, &id),
        Command::Delete { id } => notes::delete(&data_dir, &id),
        Command::History { id, json } => notes::history(&data_dir, &id, json),
        Command::Import { dir } => commands::transfer::import(&data_dir, &dir),
        Command::Export { dir } => commands::transfer::export(&data_dir, &dir),
        Command::Account { which } => commands::account::run(which),
        Command::Login(args) => commands::login::login(&data_dir, args),
        Command::Logout => commands::login::logout(&data_dir),
        Command::Devices { json } => commands::devices::list(&data_dir, json),
        Command::Sync { watch, poll } => commands::sync::sync(&data_dir, watch, poll),
        Command::Key { which } => commands::key::run(&data_dir, which),
        Command::Status { json } => commands::sync::status(&data_dir, json),
        Command::Repair => commands::repair::repair(&data_dir),
        Command::Bench { which } => commands::bench::run(which),
    }
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("app", "cairn", "Cairn")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| anyhow::anyhow!("no home directory to keep notes in; pass --data-dir"))
}
