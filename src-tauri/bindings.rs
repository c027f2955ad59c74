//! ui/src/bindings/ holds the TypeScript declarations of the values the UI
//! receives, generated from the Rust types with ts-rs, so the UI cannot
//! drift from what the shell sends. This check fails when they are stale;
//! `CAIRN_WRITE_BINDINGS=1 cargo test -p cairn-desktop bindings` rewrites
//! them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS};

/// What the UI receives for every failed command (`AppError` serializes as
/// this; `errors_reach_the_ui_as_code_and_message` checks it).
#[derive(TS)]
#[allow(dead_code)] // only its declaration is used
struct CommandError {
    code: String,
    message: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/bindings")
}

struct Check {
    write: bool,
    stale: Vec<String>,
    files: BTreeSet<PathBuf>,
}

impl Check {
    fn add<T: TS + 'static>(&mut self) {
        // Milliseconds and counts fit a JavaScript number; bigint would not
        // be what JSON.parse hands the UI.
        let cfg = Config::new().with_large_int("number");
        let want = match T::export_to_string(&cfg) {
            Ok(s) => s,
            Err(e) => panic!("cannot declare {}: {e}", std::any::type_name::<T>()),
        };
        let Some(name) = T::output_path() else {
            panic!("{} has no file name", std::any::type_name::<T>());
        };
        let path = dir().join(&name);
        self.files.insert(name);
        if self.write {
            if let Err(e) = std::fs::write(&path, &want) {
                panic!("cannot write {}: {e}", path.display());
            }
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            self.stale.push(path.display().to_string());
        }
    }
}

#[test]
fn ui_bindings_are_generated_from_the_current_types() {
    let mut check = Check {
        write: std::env::var_os("CAIRN_WRITE_BINDINGS").is_some(),
        stale: Vec::new(),
        files: BTreeSet::new(),
    };
    if check.write {
        if let Err(e) = std::fs::create_dir_all(dir()) {
            panic!("cannot create {}: {e}", dir().display());
        }
    }
    check.add::<cairn_core::Note>();
    check.add::<cairn_core::NoteSummary>();
    check.add::<cairn_core::SearchHit>();
    check.add::<cairn_core::SearchResults>();
    check.add::<cairn_core::Version>();
    check.add::<cairn_core::EditSession>();
    check.add::<cairn_core::DiffRun>();
    check.add::<cairn_core::DiffKind>();
    check.add::<cairn_core::Origin>();
    check.add::<cairn_core::Splice>();
    check.add::<cairn_core::EditOutcome>();
    check.add::<cairn_core::Notebook>();
    check.add::<cairn_core::Link>();
    check.add::<cairn_core::Backlink>();
    check.add::<cairn_client::SyncState>();
    check.add::<cairn_client::SignInReason>();
    check.add::<cairn_client::SyncProblem>();
    check.add::<crate::commands::notebooks::NotebookTree>();
    check.add::<crate::commands::notebooks::NotePlace>();
    check.add::<crate::commands::notebooks::SharedNotebook>();
    check.add::<crate::commands::sharing::ShareRole>();
    check.add::<crate::commands::sharing::MyIdentity>();
    check.add::<crate::commands::sharing::InviteeCheck>();
    check.add::<crate::commands::sharing::Invited>();
    check.add::<crate::commands::sharing::Member>();
    check.add::<crate::commands::sharing::Invitation>();
    check.add::<crate::commands::sharing::Invitations>();
    check.add::<crate::commands::links::Followed>();
    check.add::<crate::commands::attachments::AttachmentView>();
    check.add::<crate::commands::attachments::Attached>();
    check.add::<crate::attachment_limits::AttachmentLimits>();
    check.add::<cairn_client::blob_progress::BlobProgress>();
    check.add::<cairn_core::import::ImportProgress>();
    check.add::<cairn_core::export::ExportReport>();
    check.add::<crate::commands::transfer::ImportReport>();
    check.add::<crate::commands::transfer::TransferNote>();
    check.add::<crate::commands::transfer::ExportProgress>();
    check.add::<crate::events::NoteChange>();
    check.add::<crate::events::NotesChanged>();
    check.add::<crate::commands::account::AccountStatus>();
    check.add::<crate::commands::account::Device>();
    check.add::<crate::commands::device_removal::DeviceRemoval>();
    check.add::<crate::commands::account::SignInDefaults>();
    check.add::<crate::commands::app::AppInfo>();
    check.add::<crate::commands::history::PastNote>();
    check.add::<crate::settings::Settings>();
    check.add::<crate::appearance::Appearance>();
    check.add::<crate::appearance::Theme>();
    check.add::<crate::startup::StartupProblem>();
    check.add::<crate::startup::RepairDone>();
    check.add::<CommandError>();
    // A file no type produces any more is stale too.
    let present: BTreeSet<PathBuf> = std::fs::read_dir(dir())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| PathBuf::from(e.file_name()))
                .collect()
        })
        .unwrap_or_default();
    for extra in present.difference(&check.files) {
        if check.write {
            let path = dir().join(extra);
            if let Err(e) = std::fs::remove_file(&path) {
                panic!("cannot remove {}: {e}", path.display());
            }
        } else {
            check
                .stale
                .push(format!("{} (no type makes it)", extra.display()));
        }
    }
    assert!(
        check.stale.is_empty(),
        "stale TypeScript bindings: {:?}; regenerate them with \
         CAIRN_WRITE_BINDINGS=1 cargo test -p cairn-desktop bindings",
        check.stale
    );
}
