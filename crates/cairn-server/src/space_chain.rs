//! Checking a space's membership records before storing one, with the
//! core's chain verifier, and deriving from the verified chain where each
//! account stands (what the registry keeps for access control).
//!
//! The service verifies without pins, a checkpoint or an identity of its
//! own: those are the members' checks against the service. What it does
//! check is everything the chain proves by itself: each record's signature
//! with the key the chain holds for its signer, the hash link, the
//! sequence, that the signer's role allows the action, and every wrap's
//! signature and address. So a forged, replayed, reordered or disallowed
//! record never lands, and access follows only records members signed.

use std::collections::BTreeMap;

use cairn_core::space::chain::{SpaceState, Verifier};
use cairn_core::space::epoch::SpaceId as ChainSpaceId;
use cairn_core::space::record::{Record, Role};
use cairn_protocol::{SpaceId, SpaceRole, UserId};

use crate::registry::{SpaceMembership, Standing};
use crate::ServerError;

/// A record that passed the verifier on top of the stored chain.
#[derive(Debug, Clone)]
pub struct CheckedRecord {
    pub seq: u64,
    /// Hex SHA-256 of the record's bytes.
    pub hash: String,
    /// Hex SHA-256 of the record before it (zeros for record 0).
    pub prev: String,
    pub signer: UserId,
    /// Everyone's standing once the record is applied.
    pub members: Vec<SpaceMembership>,
}

fn refused(e: impl std::fmt::Display) -> ServerError {
    ServerError::InvalidRecord(e.to_string())
}

fn role(r: Role) -> SpaceRole {
    match r {
        Role::Owner => SpaceRole::Owner,
        Role::Editor => SpaceRole::Editor,
        Role::Viewer => SpaceRole::Viewer,
    }
}

/// Replays `stored` (the space's records, in order, already verified when
/// they landed) and verifies `new` on top of it.
pub fn check(
    space: &SpaceId,
    stored: &[Vec<u8>],
    new: &[u8],
) -> Result<CheckedRecord, ServerError> {
    let chain_space = ChainSpaceId::parse(space.as_str()).map_err(refused)?;
    let new = Record::decode(new).map_err(refused)?;
    let mut records = Vec::with_capacity(stored.len());
    for bytes in stored {
        // Stored records passed this check when they landed: one that no
        // longer decodes is damage to the registry, not the caller's fault.
        records.push(Record::decode(bytes).map_err(|e| {
            ServerError::CorruptRegistry(format!("a stored membership record: {e}"))
        })?);
    }
    // Each account's latest role, so a departed member keeps the role they
    // had (the verified state drops them from its members).
    let mut roles: BTreeMap<UserId, Role> = BTreeMap::new();
    let mut state: Option<SpaceState> = None;
    for r in records.iter().chain(std::iter::once(&new)) {
        let is_new = std::ptr::eq(r, &new);
        let step = match state.as_mut() {
            None => SpaceState::verify(chain_space, std::slice::from_ref(r), Verifier::default())
                .map(|s| state = Some(s)),
            Some(s) => s.apply(r, Verifier::default()),
        };
        match step {
            Ok(()) => {}
            Err(e) if is_new => return Err(refused(e)),
            Err(e) => {
                return Err(ServerError::CorruptRegistry(format!(
                    "the stored membership chain: {e}"
                )))
            }
        }
        if let Some(s) = &state {
            for (user, m) in &s.members {
                roles.insert(user.clone(), m.role);
            }
            for (user, i) in &s.invitations {
                roles.insert(user.clone(), i.role);
            }
        }
    }
    let state = state.ok_or_else(|| refused("the space has no membership records"))?;
    let mut members = Vec::new();
    for (user, m) in &state.members {
        members.push(SpaceMembership {
            user: user.clone(),
            standing: Standing::Member { role: role(m.role) },
        });
    }
    for (user, i) in &state.invitations {
        members.push(SpaceMembership {
            user: user.clone(),
            standing: Standing::Invited {
                role: role(i.role),
                seq: i.seq,
            },
        });
    }
    for (user, d) in &state.departed {
        if state.members.contains_key(user) || state.invitations.contains_key(user) {
            continue;
        }
        members.push(SpaceMembership {
            user: user.clone(),
            standing: Standing::Departed {
                role: role(roles.get(user).copied().unwrap_or(Role::Viewer)),
                seq: d.seq,
            },
        });
    }
    Ok(CheckedRecord {
        seq: new.body.seq,
        hash: hex::encode(new.hash()),
        prev: hex::encode(new.body.prev),
        signer: new.body.signer.clone(),
        members,
    })
}
