//! `POST /v1/spaces/{space}/devices/{id}/grant` and
//! `…/published`: presigned URLs for one device in a shared space, and
//! "I published seq N there".
//!
//! Membership is read from the registry's standings (derived from the
//! verified chain) on every request, and space grants are never cached: a
//! removal record that landed refuses the removed member's next request at
//! once. Only keys below `spaces/{space}/` are presigned; PUTs only for the
//! caller's own device, and none for a viewer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn_protocol::{
    space_device_prefix, ObjectUrls, PublishedRequest, ServiceEvent, SpaceGrant, SpacePeerGrant,
    SpaceRole,
};

use crate::auth::{Caller, CallerWithDevices};
use crate::json_body::ApiJson;
use crate::presign::Access;
use crate::registry::Standing;
use crate::space_path::SpacePath;
use crate::state::AppState;
use crate::ServerError;

/// The caller's role in the space, refusing anyone who is not a member now.
async fn member_role(
    state: &AppState,
    caller: &Caller,
    space: &cairn_protocol::SpaceId,
) -> Result<SpaceRole, ServerError> {
    match state.registry.standing(space, &caller.user_id).await? {
        Some(Standing::Member { role }) => Ok(role),
        _ => Err(ServerError::NotSpaceMember),
    }
}

pub async fn grant(
    State(state): State<AppState>,
    CallerWithDevices(caller, devices): CallerWithDevices,
    path: SpacePath,
) -> Result<Json<SpaceGrant>, ServerError> {
    let space = &path.space;
    let id = path.device()?.clone();
    let role = member_role(&state, &caller, space).await?;
    match devices.iter().find(|d| d.id == id) {
        None => return Err(ServerError::DeviceNotFound(id)),
        Some(d) if d.is_revoked() => return Err(ServerError::DeviceRevoked(id)),
        Some(_) => {}
    }
    caller.require_device(&id)?;
    let user = &caller.user_id;
    let presigner = &state.presigner;
    let window = presigner.window(state.clock.now_secs());
    let (put, blob_put) = if role.can_write() {
        let urls = presigner
            .space_device_urls(space, user, &id, Access::Put, window)
            .await?;
        (
            Some(ObjectUrls::clone(&urls.objects)),
            Some(urls.blobs.clone()),
        )
    } else {
        (None, None)
    };
    let own = presigner
        .space_device_urls(space, user, &id, Access::Get, window)
        .await?;
    let published: std::collections::HashMap<_, _> = state
        .registry
        .space_published_seqs(space)
        .await?
        .into_iter()
        .collect();
    let mut peers = Vec::new();
    for m in state.registry.space_members(space).await? {
        let departed = match m.standing {
            Standing::Member { .. } => false,
            // Their objects up to the fence are part of the history.
            Standing::Departed { .. } => true,
            Standing::Invited { .. } => continue,
        };
        let their_devices = if m.user == *user {
            devices.clone()
        } else {
            state.registry.devices_of(&m.user).await?
        };
        for d in their_devices {
            if d.is_revoked() || (m.user == *user && d.id == id) {
                continue;
            }
            let urls = presigner
                .space_device_urls(space, &m.user, &d.id, Access::Get, window)
                .await?;
            peers.push(SpacePeerGrant {
                prefix: space_device_prefix(space, &m.user, &d.id),
                user_id: m.user.clone(),
                published_seq: published.get(&d.id).copied(),
                device_id: d.id,
                departed,
                get: ObjectUrls::clone(&urls.objects),
                blob_get: urls.blobs.clone(),
            });
        }
    }
    Ok(Json(SpaceGrant {
        published_seq: published.get(&id).copied(),
        space_id: space.clone(),
        user_id: user.clone(),
        prefix: space_device_prefix(space, user, &id),
        device_id: id,
        role,
        issued_at: window.issued_at,
        expires_at: window.expires_at,
        put,
        blob_put,
        get: ObjectUrls::clone(&own.objects),
        blob_get: own.blobs.clone(),
        peers,
    }))
}

/// Tells every current member's sockets (but the publishing device's) of
/// a new head in the space.
pub async fn published(
    State(state): State<AppState>,
    caller: Caller,
    path: SpacePath,
    ApiJson(request): ApiJson<PublishedRequest>,
) -> Result<StatusCode, ServerError> {
    let space = &path.space;
    let id = path.device()?.clone();
    let role = member_role(&state, &caller, space).await?;
    super::devices::live_device(&state, &caller.user_id, &id).await?;
    caller.require_device(&id)?;
    if !role.can_write() {
        return Err(ServerError::ReadOnlyMember);
    }
    // Recorded first, so the owner's next grant names it for a fence even
    // if the notification below is lost.
    state
        .registry
        .record_space_published(space, &caller.user_id, &id, request.seq)
        .await?;
    let event = ServiceEvent::SpacePublished {
        space_id: space.clone(),
        user_id: caller.user_id.clone(),
        device_id: id.clone(),
        seq: request.seq,
    };
    for m in state.registry.space_members(space).await? {
        if matches!(m.standing, Standing::Member { .. }) {
            let skip = (m.user == caller.user_id).then_some(&id);
            state.bus.event(&m.user, skip, event.clone()).await;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
