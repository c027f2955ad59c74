//! Devices: register, list, rename, revoke, and "I published seq N".
//!
//! Any session of a user may list, rename and revoke the user's devices
//! (manage a lost laptop from the phone). Only the session acting for a
//! device may publish for it or take its grant. Registering binds the
//! calling session to the new device; a session acts for one device.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn_protocol::{
    Device, DeviceId, PublishedRequest, RegisterDeviceRequest, RenameDeviceRequest, ServiceEvent,
    UserId,
};

use crate::auth::Caller;
use crate::device_path::DevicePath;
use crate::json_body::ApiJson;
use crate::state::AppState;
use crate::tokens::new_id;
use crate::ServerError;

pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RegisterDeviceRequest>,
) -> Result<(StatusCode, Json<Device>), ServerError> {
    if let Some(existing) = &caller.device_id {
        return Err(ServerError::SessionHasDevice(existing.clone()));
    }
    let id = DeviceId::parse(&new_id(12))?;
    let Some(device) = state
        .registry
        .register_device(
            caller.session_id,
            &caller.user_id,
            &id,
            &request.name,
            &request.platform,
            state.clock.now_secs(),
        )
        .await?
    else {
        // Another request on this session registered a device meanwhile.
        return Err(
            match state.registry.session_device(caller.session_id).await? {
                Some(existing) => ServerError::SessionHasDevice(existing),
                None => ServerError::SessionExpired,
            },
        );
    };
    state
        .bus
        .event(
            &caller.user_id,
            Some(&id),
            ServiceEvent::DeviceJoined {
                device_id: id.clone(),
                name: device.name.clone(),
            },
        )
        .await;
    Ok((StatusCode::CREATED, Json(device)))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Device>>, ServerError> {
    Ok(Json(state.registry.devices_of(&caller.user_id).await?))
}

pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(request): ApiJson<RenameDeviceRequest>,
) -> Result<Json<Device>, ServerError> {
    let mut device = live_device(&state, &caller.user_id, &id).await?;
    state
        .registry
        .rename_device(&caller.user_id, &id, &request.name)
        .await?;
    device.name = request.name;
    state
        .bus
        .event(
            &caller.user_id,
            None,
            ServiceEvent::DeviceRenamed {
                device_id: id,
                name: device.name.clone(),
            },
        )
        .await;
    Ok(Json(device))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<StatusCode, ServerError> {
    live_device(&state, &caller.user_id, &id).await?;
    state
        .registry
        .revoke_device(&caller.user_id, &id, state.clock.now_secs())
        .await?;
    // Everyone hears it, on every instance, the revoked device included,
    // so it stops syncing and its sockets close.
    state
        .bus
        .event(
            &caller.user_id,
            None,
            ServiceEvent::DeviceRevoked { device_id: id },
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn published(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(request): ApiJson<PublishedRequest>,
) -> Result<StatusCode, ServerError> {
    live_device(&state, &caller.user_id, &id).await?;
    caller.require_device(&id)?;
    // Recorded first, so a socket told to resync hears this sequence even
    // if the notification below is lost on its way to another instance.
    state
        .registry
        .record_published(&caller.user_id, &id, request.seq)
        .await?;
    state
        .bus
        .event(
            &caller.user_id,
            Some(&id),
            ServiceEvent::Published {
                device_id: id.clone(),
                seq: request.seq,
            },
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The user's device `id`, refusing unknown (404) and revoked (410) ones.
pub(super) async fn live_device(
    state: &AppState,
    user: &UserId,
    id: &DeviceId,
) -> Result<Device, ServerError> {
    match state.registry.device_of(user, id).await? {
        None => Err(ServerError::DeviceNotFound(id.clone())),
        Some(d) if d.is_revoked() => Err(ServerError::DeviceRevoked(id.clone())),
        Some(d) => Ok(d),
    }
}
