//! A shared space's rows as the registry hands them in and out, the same
//! for both implementations. The service derives them from the verified
//! membership chain; the registry only stores and returns them.

use cairn_protocol::{SpaceId, SpaceRole, UserId};

use crate::ServerError;

/// Where an account stands in a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Member {
        role: SpaceRole,
    },
    /// Invited by record `seq`, neither accepted nor declined yet.
    Invited {
        role: SpaceRole,
        seq: u64,
    },
    /// Removed, or left, by record `seq`.
    Departed {
        role: SpaceRole,
        seq: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceMembership {
    pub user: UserId,
    pub standing: Standing,
}

/// A space's owner and newest record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceHead {
    pub owner: UserId,
    pub last_seq: u64,
    /// Hex SHA-256 of the newest record's bytes.
    pub last_hash: String,
}

/// A record to store.
#[derive(Debug, Clone, Copy)]
pub struct NewRecord<'a> {
    pub seq: u64,
    pub bytes: &'a [u8],
    pub hash: &'a str,
    /// The hash of the record it follows (ignored for record 0).
    pub prev: &'a str,
}

/// One of the caller's spaces or invitations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceOfUser {
    pub space: SpaceId,
    pub head: SpaceHead,
    pub standing: Standing,
}

/// The columns `(standing, role, seq)` of a membership row.
pub(super) fn standing_columns(s: &Standing) -> (&'static str, &'static str, i64) {
    let db = super::records::seq_to_db;
    match *s {
        Standing::Member { role } => ("member", role.as_str(), 0),
        Standing::Invited { role, seq } => ("invited", role.as_str(), db(seq)),
        Standing::Departed { role, seq } => ("departed", role.as_str(), db(seq)),
    }
}

pub(super) fn standing_from_columns(
    standing: &str,
    role: &str,
    seq: i64,
) -> Result<Standing, ServerError> {
    let role = SpaceRole::parse(role)
        .ok_or_else(|| ServerError::CorruptRegistry(format!("space role {role:?}")))?;
    let seq = u64::try_from(seq)
        .map_err(|_| ServerError::CorruptRegistry(format!("space record number {seq}")))?;
    match standing {
        "member" => Ok(Standing::Member { role }),
        "invited" => Ok(Standing::Invited { role, seq }),
        "departed" => Ok(Standing::Departed { role, seq }),
        other => Err(ServerError::CorruptRegistry(format!(
            "space standing {other:?}"
        ))),
    }
}

pub(super) fn parse_space(value: &str) -> Result<SpaceId, ServerError> {
    SpaceId::parse(value).map_err(|e| ServerError::CorruptRegistry(e.to_string()))
}

pub(super) fn parse_user(value: &str) -> Result<UserId, ServerError> {
    UserId::parse(value).map_err(|e| ServerError::CorruptRegistry(e.to_string()))
}

pub(super) fn head_from_columns(
    owner: &str,
    last_seq: i64,
    last_hash: String,
) -> Result<SpaceHead, ServerError> {
    Ok(SpaceHead {
        owner: parse_user(owner)?,
        last_seq: u64::try_from(last_seq)
            .map_err(|_| ServerError::CorruptRegistry(format!("space record number {last_seq}")))?,
        last_hash,
    })
}
