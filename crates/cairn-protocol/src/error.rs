//! The one error type of this crate: a value from outside failed validation.

/// Why a value taken from the network or the user was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("invalid device id {value:?}: {reason}")]
    InvalidDeviceId { value: String, reason: &'static str },
    #[error("invalid device name {value:?}: {reason}")]
    InvalidDeviceName { value: String, reason: &'static str },
    #[error("invalid platform {value:?}: {reason}")]
    InvalidPlatform { value: String, reason: &'static str },
    #[error("invalid user id {value:?}: {reason}")]
    InvalidUserId { value: String, reason: &'static str },
    #[error("invalid space id {value:?}: 32 lowercase hex digits")]
    InvalidSpaceId { value: String },
    #[error("invalid object key {value:?}")]
    InvalidObjectKey { value: String },
    #[error("log slot {slot} is out of range (0..{max})")]
    LogSlotOutOfRange { slot: u32, max: u32 },
    #[error("blob slot {slot} is out of range (0..{max})")]
    BlobSlotOutOfRange { slot: u32, max: u32 },
    #[error("the presigned blob URLs do not share one template: {0}")]
    BlobTemplate(String),
    #[error("snapshot slot {slot} is out of range (0..{max})")]
    SnapshotSlotOutOfRange { slot: u32, max: u32 },
}
