//! Request and response bodies of the shared-space routes
//! (`/v1/spaces/...`).
//!
//! Membership records travel as their exact bytes (unpadded base64url):
//! a record's hash is over those bytes, and the service must store and
//! hand back precisely what the signer signed. The service checks each
//! record with the core's chain verifier; devices verify the chain again
//! themselves, with their pins and checkpoint (docs/sharing.md).

use serde::{Deserialize, Serialize};

use crate::{SpaceId, UserId};

/// A member's role, as the verified chain gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceRole {
    Owner,
    Editor,
    Viewer,
}

impl SpaceRole {
    /// Whether this role's devices may publish to the space.
    pub fn can_write(self) -> bool {
        matches!(self, SpaceRole::Owner | SpaceRole::Editor)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SpaceRole::Owner => "owner",
            SpaceRole::Editor => "editor",
            SpaceRole::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Option<SpaceRole> {
        match value {
            "owner" => Some(SpaceRole::Owner),
            "editor" => Some(SpaceRole::Editor),
            "viewer" => Some(SpaceRole::Viewer),
            _ => None,
        }
    }
}

/// One membership record's bytes, unpadded base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordBytes(pub String);

impl RecordBytes {
    pub fn encode(bytes: &[u8]) -> RecordBytes {
        RecordBytes(data_encoding::BASE64URL_NOPAD.encode(bytes))
    }

    /// The bytes, or `None` if this is not unpadded base64url.
    pub fn decode(&self) -> Option<Vec<u8>> {
        data_encoding::BASE64URL_NOPAD
            .decode(self.0.as_bytes())
            .ok()
    }
}

/// Body of `POST /v1/spaces`: a new space and its record 0 (`create`),
/// signed by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSpaceRequest {
    pub space_id: SpaceId,
    pub record: RecordBytes,
}

/// Body of `POST /v1/spaces/{space}/records`: the next record. `seq` and
/// `prev` (hex SHA-256 of the record before) name what the record builds
/// on; if another record landed there first the service answers 409
/// `record_conflict`, and the device reads the new records and tries again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendRecordRequest {
    pub seq: u64,
    pub prev: String,
    pub record: RecordBytes,
}

/// The answer to a create or an append: the record's place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAppended {
    pub space_id: SpaceId,
    pub seq: u64,
    /// Hex SHA-256 of the record's bytes: what the next record names.
    pub hash: String,
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub seq: u64,
    pub record: RecordBytes,
}

/// The answer to `GET /v1/spaces/{space}/records?after=N`: the records
/// with a sequence number above `N` (every record without `after`), in
/// order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceRecords {
    pub space_id: SpaceId,
    pub records: Vec<StoredRecord>,
}

/// A space the caller is a member of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceSummary {
    pub space_id: SpaceId,
    pub owner: UserId,
    pub role: SpaceRole,
    /// The newest record's number: a device that has verified fewer reads
    /// the rest.
    pub last_seq: u64,
    /// The space's sealed label (see [`InvitationSummary::label`]): how a
    /// member's other devices learn which notebook the space shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An invitation to the caller that they have neither accepted nor
/// declined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSummary {
    pub space_id: SpaceId,
    /// The invite record's number: what an accept or decline names.
    pub seq: u64,
    pub from: UserId,
    pub role: SpaceRole,
    /// The space's label (the shared notebook's name, sealed by the owner
    /// for invitees), unpadded base64url; none if the owner set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The largest label the service keeps, in base64url characters.
pub const SPACE_LABEL_MAX_CHARS: usize = 4096;

/// Body of `PUT /v1/spaces/{space}/label` (the owner only): the shared
/// notebook's id and name sealed under an epoch key of the space, opaque
/// to the service, unpadded base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutSpaceLabel {
    pub label: String,
}

/// The answer to `GET /v1/spaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MySpaces {
    pub spaces: Vec<SpaceSummary>,
    pub invitations: Vec<InvitationSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_bytes_round_trip_and_refuse_other_encodings() {
        let bytes = br#"{"body":{}}"#;
        let wire = RecordBytes::encode(bytes);
        assert_eq!(wire.decode().as_deref(), Some(&bytes[..]));
        assert_eq!(RecordBytes("not base64!".into()).decode(), None);
        assert_eq!(RecordBytes(format!("{}=", wire.0)).decode(), None);
    }

    #[test]
    fn roles_spell_as_on_the_wire() {
        for role in [SpaceRole::Owner, SpaceRole::Editor, SpaceRole::Viewer] {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(SpaceRole::parse(role.as_str()), Some(role));
        }
        assert!(!SpaceRole::Viewer.can_write());
        assert!(SpaceRole::Editor.can_write());
    }
}
