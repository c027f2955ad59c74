//! Types shared by the Cairn app and the Cairn service.
//!
//! Nothing here does IO but the [`clock`]'s (the time, or a test's clock
//! file). The app (through `cairn-client`) and the service (`cairn-server`)
//! both serialize these types, so a change here is a change
//! to the wire protocol.
//!
//! - [`key_layout`]: where a device's objects live in the bucket.
//! - [`ids`]: validated device ids and names.
//! - [`auth`], [`device`], [`grant`], [`event`]: request and response bodies.
//! - [`sharing_identity`]: a user's sharing identity as the service keeps it.
//! - [`space_layout`], [`space`], [`space_grant`]: shared spaces' objects,
//!   routes and grants.
//! - [`api_error`]: the `{code, message}` body of every error response.

pub mod api_error;
pub mod auth;
pub mod clock;
pub mod device;
pub mod error;
pub mod event;
pub mod grant;
pub mod ids;
pub mod key_envelope;
pub mod key_layout;
pub mod sharing_identity;
pub mod space;
pub mod space_grant;
pub mod space_layout;

pub use api_error::{ApiError, ErrorCode};
pub use auth::{
    AccountCreated, GithubExchangeRequest, GithubLoginCode, GithubStartRequest,
    GithubStartResponse, RefreshRequest, Session, SignInRequest, UserInfo, GITHUB_DONE_PATH,
};
#[cfg(any(test, feature = "test-support"))]
pub use clock::ManualClock;
pub use clock::{Clock, FileClock, SystemClock};
pub use device::{Device, PublishedRequest, RegisterDeviceRequest, RenameDeviceRequest};
pub use error::ProtocolError;
pub use event::{ClientMessage, ServiceEvent, LIVE_QUERY, MAX_CLIENT_MESSAGE};
pub use grant::{BlobUrls, Grant, ObjectUrls, PeerGrant};
pub use ids::{DeviceId, DeviceName, Platform};
pub use key_envelope::{KeyEnvelopeRecord, PutKeyEnvelope, KEY_ENVELOPE_MAX_BYTES};
pub use key_layout::{
    blob_key, device_prefix, object_key, user_prefix, BlobSlot, DeviceKey, LogSlot, SnapshotSlot,
    UserId, BLOB_SLOTS, LOG_SLOTS, SNAPSHOT_SLOTS,
};
pub use sharing_identity::{
    MySharingIdentity, PublicSharingIdentity, PutSharingIdentity, ReplaceSharingIdentity,
    SEALED_IDENTITY_MAX_BYTES,
};
pub use space::{
    AppendRecordRequest, CreateSpaceRequest, InvitationSummary, MySpaces, PutSpaceLabel,
    RecordAppended, RecordBytes, SpaceRecords, SpaceRole, SpaceSummary, StoredRecord,
    SPACE_LABEL_MAX_CHARS,
};
pub use space_grant::{SpaceGrant, SpacePeerGrant};
pub use space_layout::{space_device_prefix, space_object_key, space_prefix, SpaceId};
