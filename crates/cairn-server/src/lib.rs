//! The Cairn sync service.
//!
//! It never sees note content. It proves who a user is (account keys or
//! GitHub OAuth), keeps a registry of the user's devices, hands each device
//! presigned URLs for its own prefix in object storage and read-only URLs
//! for its peers' prefixes, and relays "I published" notifications.
//!
//! Start it in-process with [`RunningServer::start`] (a real config) or
//! [`DevServer::builder`] (embedded S3 store, account keys, loopback).

mod auth;
pub mod bench;
mod client_address;
mod clock;
mod conditional_store;
pub mod config;
mod dev;
mod device_path;
mod embedded_s3;
mod error;
mod event_bus;
mod events;
mod github;
mod grant_cache;
mod json_body;
mod presign;
mod presigned_expiry;
pub mod private_files;
mod rate_limit;
mod registry;
mod request_log;
mod routes;
mod serve;
mod socket_slots;
mod socket_upgrade;
mod space_chain;
mod space_path;
mod state;
#[cfg(all(unix, any(test, feature = "test-support")))]
pub mod test_postgres;
mod tls;
mod tokens;

#[cfg(any(test, feature = "test-support"))]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};

/// The log filter when `RUST_LOG` is not set. s3s logs every request a
/// client got wrong at ERROR; the embedded store logs its answers itself.
pub const DEFAULT_LOG_FILTER: &str = "info,s3s=off";
pub use config::Config;
pub use dev::{DevServer, DevServerBuilder, DEV_BUCKET, DEV_REGION};
pub use embedded_s3::EmbeddedS3;
pub use error::ServerError;
pub use serve::{migrate, RunningServer};
