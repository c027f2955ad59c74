//! Helpers shared by the scenario tests.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

pub mod app_window;
pub mod cloud;
pub mod cluster;
pub mod desktop;
pub mod device;
pub mod edits;
pub mod fault_proxy;
pub mod oauth_server;
pub mod sign_in_flood;
pub mod stored_bytes;
pub mod watching;
