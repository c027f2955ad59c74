//! One module per group of subcommands.

pub mod account;
pub mod bench;
mod bench_sync;
pub mod devices;
pub mod key;
pub mod login;
pub mod notes;
pub mod repair;
pub mod signed_in;
pub mod sync;
pub mod transfer;
