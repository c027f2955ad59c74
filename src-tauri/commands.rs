//! Tauri commands, one module per concern. Each validates its input, calls
//! the core and maps the error; none holds logic of its own.

// `#[tauri::command]` on an async fn expands to a `let _ = ...` on a Result
// that we cannot change; our own code has none.
#![allow(clippy::let_underscore_must_use)]

pub mod account;
pub mod app;
pub mod attachments;
pub mod device_removal;
pub mod encryption;
pub mod github_sign_in;
pub mod history;
pub mod links;
pub mod notebooks;
pub mod notes;
pub mod repair;
pub mod settings;
pub mod sharing;
pub mod transfer;
