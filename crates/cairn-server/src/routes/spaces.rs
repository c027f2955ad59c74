//! Shared spaces: create one, list mine, append and read membership
//! records (docs/sharing.md, "The service's side").
//!
//! Every record is checked with the core's chain verifier on top of the
//! stored chain before it lands ([`crate::space_chain`]), and lands only on
//! the newest record it names: of two appends racing on one space exactly
//! one is stored, the other gets 409 `record_conflict`. Who may do what is
//! read from the standings derived from the verified chain, afresh on
//! every request.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use cairn_protocol::{
    AppendRecordRequest, CreateSpaceRequest, ErrorCode, InvitationSummary, MySpaces, PutSpaceLabel,
    RecordAppended, RecordBytes, ServiceEvent, SpaceId, SpaceRecords, SpaceRole, SpaceSummary,
    StoredRecord, UserId, SPACE_LABEL_MAX_CHARS,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::json_body::ApiJson;
use crate::registry::{NewRecord, SpaceMembership, Standing};
use crate::space_chain::{self, CheckedRecord};
use crate::space_path::SpacePath;
use crate::state::AppState;
use crate::ServerError;

fn record_bytes(record: &RecordBytes) -> Result<Vec<u8>, ServerError> {
    record.decode().ok_or_else(|| {
        ServerError::bad_request(
            ErrorCode::InvalidRecord,
            "the record is not unpadded base64url",
        )
    })
}

/// Refuses a record signed by anyone but the caller: a device stores only
/// its own user's records, so a record taken from one member cannot be
/// pushed by another.
fn require_signer(checked: &CheckedRecord, caller: &Caller) -> Result<(), ServerError> {
    if checked.signer == caller.user_id {
        Ok(())
    } else {
        Err(ServerError::InvalidRecord(format!(
            "it is signed by {}, not by the account storing it",
            checked.signer
        )))
    }
}

fn appended(space: &SpaceId, checked: &CheckedRecord) -> (StatusCode, Json<RecordAppended>) {
    (
        StatusCode::CREATED,
        Json(RecordAppended {
            space_id: space.clone(),
            seq: checked.seq,
            hash: checked.hash.clone(),
        }),
    )
}

/// `POST /v1/spaces`: a new space with its record 0, signed by the caller.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateSpaceRequest>,
) -> Result<(StatusCode, Json<RecordAppended>), ServerError> {
    let bytes = record_bytes(&request.record)?;
    let checked = space_chain::check(&request.space_id, &[], &bytes)?;
    require_signer(&checked, &caller)?;
    let record = NewRecord {
        seq: 0,
        bytes: &bytes,
        hash: &checked.hash,
        prev: &checked.prev,
    };
    let created = state
        .registry
        .create_space(
            &request.space_id,
            &caller.user_id,
            record,
            &checked.members,
            state.clock.now_secs(),
        )
        .await?;
    if !created {
        return Err(ServerError::SpaceExists);
    }
    Ok(appended(&request.space_id, &checked))
}

/// `GET /v1/spaces`: the caller's spaces and pending invitations.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MySpaces>, ServerError> {
    let mut mine = MySpaces {
        spaces: Vec::new(),
        invitations: Vec::new(),
    };
    for s in state.registry.spaces_of(&caller.user_id).await? {
        match s.standing {
            Standing::Member { role } => mine.spaces.push(SpaceSummary {
                label: state.registry.space_label(&s.space).await?,
                space_id: s.space,
                owner: s.head.owner,
                role,
                last_seq: s.head.last_seq,
            }),
            Standing::Invited { role, seq } => mine.invitations.push(InvitationSummary {
                label: state.registry.space_label(&s.space).await?,
                space_id: s.space,
                seq,
                // Only the owner invites (docs/sharing.md).
                from: s.head.owner,
                role,
            }),
            Standing::Departed { .. } => {}
        }
    }
    Ok(Json(mine))
}

/// `POST /v1/spaces/{space}/records`: the next membership record.
pub async fn append(
    State(state): State<AppState>,
    caller: Caller,
    path: SpacePath,
    ApiJson(request): ApiJson<AppendRecordRequest>,
) -> Result<(StatusCode, Json<RecordAppended>), ServerError> {
    let space = path.space;
    let bytes = record_bytes(&request.record)?;
    match state.registry.standing(&space, &caller.user_id).await? {
        Some(Standing::Member { .. } | Standing::Invited { .. }) => {}
        Some(Standing::Departed { .. }) | None => return Err(ServerError::NotSpaceMember),
    }
    let stored: Vec<Vec<u8>> = state
        .registry
        .space_records(&space, None, None)
        .await?
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    let next = stored.len() as u64;
    let last_hash = stored.last().map(|b| hex::encode(Sha256::digest(b)));
    if request.seq < next && stored.get(request.seq as usize) == Some(&bytes) {
        return Err(ServerError::InvalidRecord(format!(
            "record {} is stored already: refusing a replayed record",
            request.seq
        )));
    }
    if request.seq != next || last_hash.as_deref() != Some(request.prev.as_str()) {
        return Err(ServerError::RecordConflict { seq: request.seq });
    }
    let checked = space_chain::check(&space, &stored, &bytes)?;
    require_signer(&checked, &caller)?;
    if checked.seq != request.seq || checked.prev != request.prev {
        return Err(ServerError::InvalidRecord(format!(
            "the request names record {} but the record itself is number {}",
            request.seq, checked.seq
        )));
    }
    let record = NewRecord {
        seq: checked.seq,
        bytes: &bytes,
        hash: &checked.hash,
        prev: &checked.prev,
    };
    let landed = state
        .registry
        .append_space_record(&space, record, &checked.members, state.clock.now_secs())
        .await?;
    if !landed {
        return Err(ServerError::RecordConflict { seq: request.seq });
    }
    let event = ServiceEvent::SpaceRecord {
        space_id: space.clone(),
        seq: checked.seq,
    };
    for user in hearing_records(&checked.members, checked.seq) {
        state.bus.event(user, None, event.clone()).await;
    }
    Ok(appended(&space, &checked))
}

/// Who is told of new record `seq`: members and pending invitees, and
/// whoever that very record removed (or who left or declined by it), so
/// their devices read it at once and say the notebook is no longer
/// shared with them; a departed member hears of no record after it.
fn hearing_records(members: &[SpaceMembership], seq: u64) -> impl Iterator<Item = &UserId> {
    members.iter().filter_map(move |m| match m.standing {
        Standing::Member { .. } | Standing::Invited { .. } => Some(&m.user),
        Standing::Departed { seq: at, .. } if at == seq => Some(&m.user),
        Standing::Departed { .. } => None,
    })
}

/// `PUT /v1/spaces/{space}/label`: the owner's sealed label for
/// invitees. Opaque here: only its size and encoding are checked.
pub async fn put_label(
    State(state): State<AppState>,
    caller: Caller,
    path: SpacePath,
    ApiJson(request): ApiJson<PutSpaceLabel>,
) -> Result<StatusCode, ServerError> {
    let space = path.space;
    match state.registry.standing(&space, &caller.user_id).await? {
        Some(Standing::Member {
            role: SpaceRole::Owner,
        }) => {}
        Some(Standing::Member { .. }) => return Err(ServerError::NotSpaceOwner),
        _ => return Err(ServerError::NotSpaceMember),
    }
    let valid = !request.label.is_empty()
        && request.label.len() <= SPACE_LABEL_MAX_CHARS
        && RecordBytes(request.label.clone()).decode().is_some();
    if !valid {
        return Err(ServerError::bad_request(
            ErrorCode::BadRequest,
            format!("a label is 1 to {SPACE_LABEL_MAX_CHARS} characters of unpadded base64url"),
        ));
    }
    state
        .registry
        .set_space_label(&space, &request.label, state.clock.now_secs())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct RecordsQuery {
    after: Option<u64>,
}

/// `GET /v1/spaces/{space}/records?after=N`: members and invitees read
/// every record; a departed member those up to the one that removed them.
pub async fn records(
    State(state): State<AppState>,
    caller: Caller,
    path: SpacePath,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Result<Json<SpaceRecords>, ServerError> {
    let Query(query) =
        query.map_err(|e| ServerError::bad_request(ErrorCode::BadRequest, e.body_text()))?;
    let space = path.space;
    let through = match state.registry.standing(&space, &caller.user_id).await? {
        Some(Standing::Member { .. } | Standing::Invited { .. }) => None,
        Some(Standing::Departed { seq, .. }) => Some(seq),
        None => return Err(ServerError::NotSpaceMember),
    };
    let records = state
        .registry
        .space_records(&space, query.after, through)
        .await?
        .into_iter()
        .map(|(seq, bytes)| StoredRecord {
            seq,
            record: RecordBytes::encode(&bytes),
        })
        .collect();
    Ok(Json(SpaceRecords {
        space_id: space,
        records,
    }))
}
