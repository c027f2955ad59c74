//! The app and CLI side of the Cairn service API.
//!
//! - [`Session`]: the signed-in session every caller borrows tokens
//!   from, so a refresh by one is seen by all.
//! - [`ServiceClient`]: accounts, sign-in (account key, GitHub through a
//!   loopback redirect), refresh, logout, devices, grants, "published".
//! - [`EventSubscription`]: the live notification socket, reconnecting
//!   with backoff.
//! - [`SyncAgent`]: runs sync for a signed-in device through its grant's
//!   presigned URLs: the core's engine, driven by [`round_runner`] over a
//!   [`Bucket`], with every peer's requests in flight at once.
//! - [`CredentialStore`]: where a session is kept between runs (the OS
//!   keychain where one answers, otherwise a file only the user can
//!   read).
//!
//! No Tauri and no SQLite here: the desktop shell and the CLI both use it.

pub mod blob_progress;
pub mod blob_runner;
pub mod browser;
mod bucket;
mod clock;
mod credentials;
mod device_names;
pub mod device_removal;
pub mod encryption;
mod error;
mod events;
mod http_transport;
pub mod identity_rotation;
mod loopback_redirect;
mod pkce;
mod private_file;
mod retry_policy;
pub mod round_runner;
mod service_client;
mod session;
pub mod shared_notebooks;
pub mod sharing;
pub mod sharing_identity;
pub mod shown_text;
pub mod sign_in;
pub mod space_blobs;
pub mod space_rounds;
pub mod spaces;
mod sync_agent;
mod sync_state;
mod tls;

pub use bucket::Bucket;
pub use clock::{clock_from_env, CLOCK_FILE_ENV};
pub use credentials::{
    default_credential_store, CredentialStore, FileCredentialStore, StoredCredentials,
    CREDENTIAL_STORE_VAR,
};
pub use error::ClientError;
pub use events::{EventSubscription, StreamItem};
pub use http_transport::HttpTransport;
pub use loopback_redirect::{code_from_redirect, LoopbackRedirect};
pub use pkce::PkcePair;
pub use retry_policy::retry_policy;
pub use service_client::ServiceClient;
pub use session::{Session, SignedOut, REFRESH_MARGIN_SECS};
pub use sync_agent::{forget_grant, AgentError, SyncAgent, WatchEvent, WatchOptions};
pub use sync_state::{SignInReason, SyncProblem, SyncState};

pub use cairn_protocol as protocol;
