//! One module per group of subcommands.

pub mod account;
pub mod attachments;
pub mod bench;
mod bench_attachments;
mod bench_floor;
mod bench_notebooks;
mod bench_sync;
mod bench_sync_space;
pub mod devices;
pub mod export;
pub mod import;
pub mod key;
pub mod login;
pub mod notebooks;
pub mod notes;
pub mod repair;
pub mod sharing;
pub mod signed_in;
pub mod sync;
