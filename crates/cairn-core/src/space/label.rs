//! A space's label: the shared notebook's id and name, sealed under an
//! epoch key of the space, for an invitee to see what they are invited to
//! before they accept (the service keeps it, and cannot open it; an
//! invitee opens it with the key wrapped to them in their invitation).
//!
//! Bytes: `version (1) || epoch (8, big-endian) || sealed JSON`, the seal
//! bound to the space and the epoch, so a label moved to another space or
//! relabelled with another epoch does not open.
//!
//! A label names one notebook only: the one whose id derives from the
//! space's id ([`notebook_id`]). The owner writes the label, so an owner
//! naming some other id could otherwise make an invitee's device adopt a
//! notebook of the invitee's own, and share it; a derived id exists on an
//! invitee's devices only if it was made for this very space.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::space::epoch::{Epoch, EpochKey, SpaceId};

const LABEL_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("the shared notebook's name is damaged")]
    Damaged,
    #[error("the shared notebook's name was sealed by a newer Cairn; update Cairn to see it")]
    UnknownVersion,
    #[error("the shared notebook's name is sealed with a key you do not have")]
    NoKey,
    #[error("this invitation names a notebook that is not the shared one; it was refused")]
    ForeignNotebook,
}

/// The id the notebook shared as `space` has, on every member's device:
/// a UUID (version 8) from the SHA-256 of the space's id.
pub fn notebook_id(space: &SpaceId) -> String {
    let mut h = Sha256::new();
    h.update(b"cairn-shared-notebook/v1\0");
    h.update(space.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// What the label says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub notebook: String,
    pub name: String,
}

fn aad(space: &SpaceId, epoch: Epoch) -> Vec<u8> {
    format!("cairn-space-label/v1\0{space}\0{epoch}").into_bytes()
}

pub fn seal(space: &SpaceId, epoch: Epoch, key: &EpochKey, label: &Label) -> Vec<u8> {
    // Two strings: serialising cannot fail.
    let plain = serde_json::to_vec(label).unwrap_or_default();
    let mut out = vec![LABEL_VERSION];
    out.extend_from_slice(&epoch.0.to_be_bytes());
    out.extend_from_slice(&key.cipher().seal(&aad(space, epoch), &plain));
    out
}

/// Opens a label with the key `keys` gives for the epoch it names; a
/// label naming any notebook but the space's own is refused.
pub fn open(
    space: &SpaceId,
    bytes: &[u8],
    keys: impl Fn(Epoch) -> Option<EpochKey>,
) -> Result<Label, LabelError> {
    let (&version, rest) = bytes.split_first().ok_or(LabelError::Damaged)?;
    if version != LABEL_VERSION {
        return Err(LabelError::UnknownVersion);
    }
    let (epoch, sealed) = rest.split_at_checked(8).ok_or(LabelError::Damaged)?;
    let epoch = Epoch(u64::from_be_bytes(
        epoch.try_into().map_err(|_| LabelError::Damaged)?,
    ));
    let key = keys(epoch).ok_or(LabelError::NoKey)?;
    let plain = key
        .cipher()
        .open(&aad(space, epoch), sealed)
        .map_err(|_| LabelError::Damaged)?;
    let label: Label = serde_json::from_slice(&plain).map_err(|_| LabelError::Damaged)?;
    if label.notebook != notebook_id(space) {
        return Err(LabelError::ForeignNotebook);
    }
    Ok(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_opens_for_its_space_and_epoch_only() {
        let space = SpaceId::generate();
        let key = EpochKey::generate();
        let label = Label {
            notebook: notebook_id(&space),
            name: "Trips".into(),
        };
        let sealed = seal(&space, Epoch(2), &key, &label);
        let k = key.clone();
        assert_eq!(
            open(&space, &sealed, |e| (e == Epoch(2)).then(|| k.clone())).unwrap(),
            label
        );
        assert_eq!(
            open(&SpaceId::generate(), &sealed, |_| Some(key.clone())).unwrap_err(),
            LabelError::Damaged
        );
        let mut relabelled = sealed.clone();
        relabelled[8] = 3;
        assert_eq!(
            open(&space, &relabelled, |_| Some(key.clone())).unwrap_err(),
            LabelError::Damaged
        );
        assert_eq!(
            open(&space, &sealed, |_| None).unwrap_err(),
            LabelError::NoKey
        );
        assert_eq!(
            open(&space, &[], |_| None).unwrap_err(),
            LabelError::Damaged
        );
        assert_eq!(
            open(&space, &[9, 0], |_| None).unwrap_err(),
            LabelError::UnknownVersion
        );
        assert!(!String::from_utf8_lossy(&sealed).contains("Trips"));
    }

    #[test]
    fn a_label_naming_another_notebook_is_refused() {
        let space = SpaceId::generate();
        let key = EpochKey::generate();
        let id = notebook_id(&space);
        assert!(crate::store::validate_note_id(&id).is_ok());
        assert_eq!(notebook_id(&space), id);
        assert_ne!(notebook_id(&SpaceId::generate()), id);
        for other in [
            uuid::Uuid::new_v4().to_string(),
            notebook_id(&SpaceId::generate()),
        ] {
            let sealed = seal(
                &space,
                Epoch::FIRST,
                &key,
                &Label {
                    notebook: other,
                    name: "Diary".into(),
                },
            );
            assert_eq!(
                open(&space, &sealed, |_| Some(key.clone())).unwrap_err(),
                LabelError::ForeignNotebook
            );
        }
    }
}
