//! A membership record: one signed change to who is in a space.
//!
//! Each record names its space, its sequence number (0 for the record
//! that creates the space, then 1, 2, ...) and the SHA-256 of the previous
//! record's bytes, and is signed by its author's Ed25519 key over a domain
//! string and the body. The records of a space form a hash chain that the
//! service stores and orders but cannot alter ([`crate::space::chain`]
//! verifies it).
//!
//! Bytes: canonical JSON, `{"body":{...},"signature":"<hex>"}`. The decoder
//! refuses anything that does not encode back to exactly its bytes (other
//! spacing, other field order, unknown fields), so a record has one
//! encoding and one hash, whatever storage hands back.

use std::collections::BTreeMap;

use cairn_protocol::{DeviceId, UserId};
use serde::{Deserialize, Serialize};

use crate::space::epoch::{Epoch, SpaceId};
use crate::space::identity::{PublicIdentity, SharingIdentity};
use crate::space::wrap::KeyWrap;
use crate::sync::object::sha256;

pub const RECORD_FORMAT: u32 = 1;
/// The format of a rekey record (a member's new identity), which clients
/// before it do not know: they refuse it as written by a newer Cairn
/// rather than misreading it. Every other action stays format 1.
pub const RECORD_FORMAT_REKEY: u32 = 2;
/// Larger records are refused before parsing: a rotation carries one wrap
/// (under 400 bytes) per member, and spaces are small.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the membership record is too large ({len} bytes)")]
    TooLarge { len: usize },
    #[error("the membership record is malformed: {0}")]
    Malformed(String),
    #[error("the membership record was written by a newer Cairn (format {found}); update Cairn to keep sharing")]
    UnknownFormat { found: u32 },
    #[error("the membership record is not in its one canonical form")]
    NotCanonical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Editor,
    Viewer,
}

impl Role {
    /// Whether this role's devices may publish to the space.
    pub fn can_write(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }
}

/// Each of a departing member's devices and the last sequence number the
/// service saw from it: their objects past it are ignored.
pub type Fence = BTreeMap<DeviceId, u64>;

/// A fenced device's head as the owner read it from the bucket when the
/// member's writes ended: its sequence number and the SHA-256 of its
/// bytes. Readers take exactly that head from the device, and nothing
/// after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencedHead {
    pub seq: u64,
    #[serde(with = "hex::serde")]
    pub head: [u8; 32],
}

/// Each fenced device that had published a head; a device not in it is
/// not read at all.
pub type HeadFence = BTreeMap<DeviceId, FencedHead>;

/// A new epoch: its key wrapped to everyone who stays, and the previous
/// epoch's key sealed under it (so history stays readable to them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub epoch: Epoch,
    pub wraps: Vec<KeyWrap>,
    #[serde(with = "hex::serde")]
    pub previous: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Record 0: the owner's identity and the first epoch's key for them.
    Create {
        owner: PublicIdentity,
        wrap: KeyWrap,
    },
    Invite {
        invitee: PublicIdentity,
        role: Role,
        wrap: KeyWrap,
    },
    /// Signed by the invitee: the sequence number of the invitation.
    Accept {
        invitation: u64,
    },
    Decline {
        invitation: u64,
    },
    Remove {
        member: UserId,
        fence: Fence,
        rotation: Rotation,
        /// The removed member's heads as the owner read them. Absent in
        /// records written before it existed (then `fence` alone counts).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heads: Option<HeadFence>,
    },
    Leave {
        fence: Fence,
    },
    Rotate {
        rotation: Rotation,
        /// Who left since the last rotation, and their heads as the owner
        /// read them: a leave record's own fence is the leaver's word, so
        /// it is this that ends their writes. Absent when nobody left.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fenced: Option<BTreeMap<UserId, HeadFence>>,
    },
    /// Signed by a member with the identity the chain holds for them: from
    /// now on the chain holds `identity`, which `successor` (the encoded
    /// [`crate::space::successor::Successor`], by the same previous key)
    /// vouches for. A new epoch is due (the previous identity's holders
    /// include a removed device).
    Rekey {
        identity: PublicIdentity,
        #[serde(with = "hex::serde")]
        successor: Vec<u8>,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Invite { .. } => "invite",
            Action::Accept { .. } => "accept",
            Action::Decline { .. } => "decline",
            Action::Remove { .. } => "remove",
            Action::Leave { .. } => "leave",
            Action::Rotate { .. } => "rotate",
            Action::Rekey { .. } => "rekey",
        }
    }

    /// The record format this action is written in.
    pub fn format(&self) -> u32 {
        match self {
            Action::Rekey { .. } => RECORD_FORMAT_REKEY,
            _ => RECORD_FORMAT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBody {
    pub format: u32,
    pub space: SpaceId,
    pub seq: u64,
    /// SHA-256 of the previous record's bytes; zeros for record 0.
    #[serde(with = "hex::serde")]
    pub prev: [u8; 32],
    pub signer: UserId,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub body: RecordBody,
    #[serde(with = "hex::serde")]
    pub signature: [u8; 64],
}

fn signed_bytes(body: &RecordBody) -> Vec<u8> {
    let mut out = b"cairn-membership/v1\0".to_vec();
    out.extend_from_slice(&serde_json::to_vec(body).unwrap_or_default());
    out
}

impl Record {
    /// Signs `action` as record `seq` of `space`, after the record whose
    /// hash is `prev`.
    pub fn sign(
        signer: &SharingIdentity,
        space: SpaceId,
        seq: u64,
        prev: [u8; 32],
        action: Action,
    ) -> Record {
        let body = RecordBody {
            format: action.format(),
            space,
            seq,
            prev,
            signer: signer.account().clone(),
            action,
        };
        let signature = signer.sign(&signed_bytes(&body));
        Record { body, signature }
    }

    /// Whether `key` signed this record.
    pub fn signed_by(&self, key: &PublicIdentity) -> bool {
        key.account == self.body.signer && key.verify(&signed_bytes(&self.body), &self.signature)
    }

    pub fn encode(&self) -> Vec<u8> {
        // Plain structs, strings and maps with string keys: serialising
        // cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The hash the next record names as `prev`.
    pub fn hash(&self) -> [u8; 32] {
        sha256(&self.encode())
    }

    /// Decodes a record from storage or the service.
    pub fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge { len: bytes.len() });
        }
        // The format first, so a newer record says so rather than failing
        // on a field this version does not know.
        #[derive(Deserialize)]
        struct Probe {
            body: ProbeBody,
        }
        #[derive(Deserialize)]
        struct ProbeBody {
            format: u32,
        }
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed(e.to_string()))?;
        if probe.body.format != RECORD_FORMAT && probe.body.format != RECORD_FORMAT_REKEY {
            return Err(RecordError::UnknownFormat {
                found: probe.body.format,
            });
        }
        let record: Record =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed(e.to_string()))?;
        if record.encode() != bytes {
            return Err(RecordError::NotCanonical);
        }
        // Each action in its own format only: a rekey passed off as format
        // 1 would reach older clients as an unknown action, not a newer
        // format.
        if record.body.format != record.body.action.format() {
            return Err(RecordError::Malformed(format!(
                "a {} record is format {}",
                record.body.action.name(),
                record.body.action.format()
            )));
        }
        Ok(record)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::space::epoch::EpochKey;
    use crate::space::identity::tests::user;

    pub(crate) fn genesis(owner: &SharingIdentity, space: SpaceId, key: &EpochKey) -> Record {
        crate::space::author::genesis(owner, space, key).unwrap()
    }

    #[test]
    fn a_record_round_trips_and_only_its_signer_signed_it() {
        let owner = SharingIdentity::generate(user("alice"));
        let r = genesis(&owner, SpaceId::generate(), &EpochKey::generate());
        let bytes = r.encode();
        let back = Record::decode(&bytes).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.hash(), sha256(&bytes));
        assert!(back.signed_by(&owner.public()));
        let other = SharingIdentity::generate(user("alice"));
        assert!(!back.signed_by(&other.public()));
        let mut changed = back.clone();
        changed.body.seq = 1;
        assert!(!changed.signed_by(&owner.public()));
        assert!(std::str::from_utf8(&bytes)
            .unwrap()
            .contains("\"action\":\"create\""));
    }

    #[test]
    fn pinned_heads_are_optional_so_older_records_still_decode() {
        let owner = SharingIdentity::generate(user("alice"));
        let space = SpaceId::generate();
        let rotation = Rotation {
            epoch: Epoch(2),
            wraps: vec![],
            previous: vec![1, 2],
        };
        let heads = HeadFence::from([(
            DeviceId::parse("d1").unwrap(),
            FencedHead {
                seq: 4,
                head: [5; 32],
            },
        )]);
        for action in [
            Action::Remove {
                member: user("bob"),
                fence: Fence::new(),
                rotation: rotation.clone(),
                heads: Some(heads.clone()),
            },
            Action::Rotate {
                rotation: rotation.clone(),
                fenced: Some(BTreeMap::from([(user("carol"), heads.clone())])),
            },
        ] {
            let r = Record::sign(&owner, space, 3, [0; 32], action);
            let bytes = r.encode();
            assert_eq!(Record::decode(&bytes).unwrap(), r);
            assert!(String::from_utf8_lossy(&bytes).contains(&hex::encode([5u8; 32])));
        }
        // Written before heads were pinned: no field at all, and it
        // decodes (and encodes back to the same bytes).
        for action in [
            Action::Remove {
                member: user("bob"),
                fence: Fence::new(),
                rotation: rotation.clone(),
                heads: None,
            },
            Action::Rotate {
                rotation,
                fenced: None,
            },
        ] {
            let r = Record::sign(&owner, space, 3, [0; 32], action);
            let text = String::from_utf8(r.encode()).unwrap();
            assert!(
                !text.contains("heads") && !text.contains("fenced"),
                "{text}"
            );
            assert_eq!(Record::decode(text.as_bytes()).unwrap(), r);
        }
    }

    #[test]
    fn a_rekey_is_format_2_which_an_older_decoder_calls_newer() {
        let old = SharingIdentity::generate(user("alice"));
        let new = SharingIdentity::generate(user("alice"));
        let successor = crate::space::successor::Successor::sign(&old, &new.public(), 1);
        let r = Record::sign(
            &old,
            SpaceId::generate(),
            3,
            [1; 32],
            Action::Rekey {
                identity: new.public(),
                successor: successor.encode(),
            },
        );
        assert_eq!(r.body.format, RECORD_FORMAT_REKEY);
        let text = String::from_utf8(r.encode()).unwrap();
        assert!(text.contains("\"action\":\"rekey\""), "{text}");
        assert_eq!(Record::decode(text.as_bytes()).unwrap(), r);
        // An older decoder, which knows format 1 only, stops at the format
        // (its first step) and says the record is newer.
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["body"]["format"], 2);
        // A rekey labelled format 1 is refused, not read.
        let mislabelled = text.replacen("\"format\":2", "\"format\":1", 1);
        assert!(matches!(
            Record::decode(mislabelled.as_bytes()),
            Err(RecordError::Malformed(_))
        ));
        // And another action labelled format 2.
        let g = genesis(&old, SpaceId::generate(), &EpochKey::generate());
        let g2 = String::from_utf8(g.encode())
            .unwrap()
            .replacen("\"format\":1", "\"format\":2", 1);
        assert!(matches!(
            Record::decode(g2.as_bytes()),
            Err(RecordError::Malformed(_))
        ));
    }

    #[test]
    fn only_the_canonical_bytes_decode() {
        let owner = SharingIdentity::generate(user("alice"));
        let r = genesis(&owner, SpaceId::generate(), &EpochKey::generate());
        let text = String::from_utf8(r.encode()).unwrap();
        let spaced = text.replacen(':', ": ", 1);
        assert_eq!(
            Record::decode(spaced.as_bytes()),
            Err(RecordError::NotCanonical)
        );
        let extra = text.replacen("{\"body\":{", "{\"body\":{\"x\":1,", 1);
        assert_eq!(
            Record::decode(extra.as_bytes()),
            Err(RecordError::NotCanonical)
        );
        let newer = text.replacen("\"format\":1", "\"format\":3", 1);
        assert_eq!(
            Record::decode(newer.as_bytes()),
            Err(RecordError::UnknownFormat { found: 3 })
        );
        assert!(matches!(
            Record::decode(&text.as_bytes()[..text.len() - 1]),
            Err(RecordError::Malformed(_))
        ));
        let huge = vec![b' '; MAX_RECORD_BYTES + 1];
        assert_eq!(
            Record::decode(&huge),
            Err(RecordError::TooLarge { len: huge.len() })
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)
        ) {
            if let Ok(r) = Record::decode(&bytes) {
                proptest::prop_assert_eq!(r.encode(), bytes);
            }
        }

        #[test]
        fn a_mutated_record_is_refused_or_unsigned(at in 0usize..2000, byte in proptest::num::u8::ANY) {
            let owner = SharingIdentity::generate(user("alice"));
            let r = genesis(&owner, SpaceId::from_bytes([9; 16]), &EpochKey::generate());
            let mut bytes = r.encode();
            let i = at % bytes.len();
            proptest::prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            if let Ok(m) = Record::decode(&bytes) {
                proptest::prop_assert_eq!(m.encode(), bytes);
                proptest::prop_assert!(!m.signed_by(&owner.public()));
            }
        }
    }
}
