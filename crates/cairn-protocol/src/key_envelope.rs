//! The user's wrapped content key, kept by the service so a new device can
//! fetch it and open it with the passphrase or recovery key. The service
//! only ever holds the wrapped form: an opaque JSON document it stores and
//! hands back, never a key it could use.

use serde::{Deserialize, Serialize};

/// Largest envelope the service keeps.
pub const KEY_ENVELOPE_MAX_BYTES: usize = 16 * 1024;

/// `GET /v1/key-envelope` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEnvelopeRecord {
    /// Bumped by every change (a passphrase change re-wraps the key).
    pub generation: u64,
    /// The envelope, JSON, as the client wrote it.
    pub envelope: String,
}

/// `PUT /v1/key-envelope` body: replaces the envelope only if the stored
/// generation is still `expected_generation` (0: none stored yet), so two
/// devices changing the passphrase at once cannot both win.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutKeyEnvelope {
    pub expected_generation: u64,
    pub generation: u64,
    pub envelope: String,
}
