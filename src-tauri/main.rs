//! Cairn's desktop shell. It opens the store, exposes it to the web UI as
//! Tauri commands, and forwards the store's write events to the UI in one
//! event per burst. Everything about notes lives in `cairn-core`.

// Prevents an extra console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod appearance;
mod attachment_limits;
mod attachment_protocol;
#[cfg(test)]
mod bindings;
mod commands;
mod data_dir;
mod error;
mod events;
mod github_attempts;
mod github_redirect;
mod removal_error;
mod settings;
mod share_error;
mod startup;
mod state;
mod sync;

use crate::error::AppError;

fn main() {
    commands::app::mark_started();
    // Notes, keys and sessions are for this user only, whatever the umask.
    cairn_core::private_files::restrict_umask();
    if let Err(e) = run() {
        // Nowhere else to report a failure to start; the window never opened.
        eprintln!("cairn-desktop: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), AppError> {
    attachment_protocol::register(tauri::Builder::default())
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            // Tauri panics on a setup error; a store that cannot be opened
            // (one from a newer Cairn, say) ends the app with its sentence
            // instead, before any window shows.
            if let Err(e) = commands::app::timed_setup(|| setup(app)) {
                eprintln!("cairn-desktop: {e}");
                std::process::exit(1);
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app::app_info,
            commands::repair::startup_problem,
            commands::repair::repair_store,
            commands::notes::notes_list,
            commands::notes::notes_search,
            commands::notes::note_get,
            commands::notes::note_create,
            commands::notes::note_edit,
            commands::notes::notes_summaries,
            commands::notes::note_tag,
            commands::notes::note_set_pinned,
            commands::notes::note_trash,
            commands::notes::note_restore,
            commands::notes::note_delete,
            commands::notes::note_discard_if_blank,
            commands::notes::notes_empty_trash,
            commands::notebooks::notebooks_tree,
            commands::notebooks::notes_in_notebook,
            commands::notebooks::notebook_create,
            commands::notebooks::notebook_rename,
            commands::notebooks::notebook_move,
            commands::notebooks::notebook_delete,
            commands::notebooks::note_move,
            commands::notebooks::note_places,
            commands::notebooks::notebooks_collapsed,
            commands::notebooks::notebooks_set_collapsed,
            commands::links::note_links,
            commands::links::note_backlinks,
            commands::links::titles_starting,
            commands::links::link_follow,
            commands::transfer::pick_folder,
            commands::transfer::import_folder,
            commands::transfer::export_folder,
            commands::history::note_history,
            commands::history::note_at,
            commands::history::note_compare,
            commands::history::note_restore_version,
            commands::account::sync_status,
            commands::account::account_status,
            commands::account::sign_in_defaults,
            commands::account::sign_in_with_key,
            commands::account::create_account,
            commands::account::device_rename,
            commands::device_removal::device_remove,
            commands::device_removal::device_remove_resume,
            commands::github_sign_in::sign_in_with_github,
            commands::github_sign_in::cancel_github_sign_in,
            commands::github_sign_in::open_github_sign_in_page,
            commands::account::sign_out,
            commands::account::devices_list,
            commands::encryption::change_passphrase,
            commands::encryption::enter_passphrase,
            commands::sharing::sharing_identity,
            commands::sharing::share_check,
            commands::sharing::share_invite,
            commands::sharing::invitations_list,
            commands::sharing::invitation_accept,
            commands::sharing::invitation_decline,
            commands::sharing::notebook_members,
            commands::sharing::notebook_unshare,
            commands::sharing::notebook_leave,
            commands::settings::settings_get,
            commands::settings::settings_set,
            commands::settings::appearance_set,
            commands::settings::attachment_limits_set,
            commands::attachments::attach_files,
            commands::attachments::attach_pasted,
            commands::attachments::attachments_info,
            commands::attachments::note_want_attachments,
            commands::attachments::attachment_open,
        ])
        .run(tauri::generate_context!())
        .map_err(|e| AppError::Tauri(Box::new(e)))
}

fn setup(app: &mut tauri::App) -> Result<(), AppError> {
    let dir = data_dir::resolve()?;
    startup::open(app.handle(), &dir)
}
