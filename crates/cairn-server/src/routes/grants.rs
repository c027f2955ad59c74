//! `POST /v1/devices/{id}/grant`: presigned URLs for one device.
//!
//! The prefix comes from the session's account and the registry's device
//! ids, never from the request: the only client input is the device id in
//! the path, which must be the session's own live device. The device gets
//! PUT and GET URLs for its own keys and GET URLs for each other live
//! device of the same user, for its notes' keys and its attachment slots.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use cairn_protocol::key_layout::device_prefix;
use cairn_protocol::{Grant, ObjectUrls, PeerGrant};

use crate::auth::CallerWithDevices;
use crate::device_path::DevicePath;
use crate::grant_cache::GrantInputs;
use crate::presign::Access;
use crate::state::AppState;
use crate::ServerError;

pub async fn grant(
    State(state): State<AppState>,
    CallerWithDevices(caller, devices): CallerWithDevices,
    DevicePath(id): DevicePath,
) -> Result<Response, ServerError> {
    let user = &caller.user_id;
    match devices.iter().find(|d| d.id == id) {
        None => return Err(ServerError::DeviceNotFound(id)),
        Some(d) if d.is_revoked() => return Err(ServerError::DeviceRevoked(id)),
        Some(_) => {}
    }
    caller.require_device(&id)?;
    let window = state.presigner.window(state.clock.now_secs());
    let peers: Vec<_> = devices
        .into_iter()
        .filter(|d| d.id != id && !d.is_revoked())
        .collect();
    let inputs = GrantInputs::new(window.issued_at, &peers);
    if let Some(bytes) = state.grant_cache.get(user, &id, &inputs) {
        return Ok(json_response(bytes));
    }

    let presigner = &state.presigner;
    let put = presigner
        .device_urls(user, &id, Access::Put, window)
        .await?;
    let get = presigner
        .device_urls(user, &id, Access::Get, window)
        .await?;
    let mut peer_grants = Vec::with_capacity(peers.len());
    for peer in peers {
        let urls = presigner
            .device_urls(user, &peer.id, Access::Get, window)
            .await?;
        peer_grants.push(PeerGrant {
            prefix: device_prefix(user, &peer.id),
            device_id: peer.id,
            name: peer.name,
            platform: peer.platform,
            get: ObjectUrls::clone(&urls.objects),
            blob_get: Some(urls.blobs.clone()),
        });
    }
    let grant = Grant {
        user_id: user.clone(),
        prefix: device_prefix(user, &id),
        device_id: id.clone(),
        issued_at: window.issued_at,
        expires_at: window.expires_at,
        put: ObjectUrls::clone(&put.objects),
        get: ObjectUrls::clone(&get.objects),
        peers: peer_grants,
        blob_put: Some(put.blobs.clone()),
        blob_get: Some(get.blobs.clone()),
    };
    let bytes = serde_json::to_vec(&grant)
        .map_err(|e| ServerError::Internal(format!("serializing a grant: {e}")))?;
    let bytes = axum::body::Bytes::from(bytes);
    state.grant_cache.put(user, &id, inputs, bytes.clone());
    Ok(json_response(bytes))
}

fn json_response(bytes: axum::body::Bytes) -> Response {
    ([(CONTENT_TYPE, "application/json")], bytes).into_response()
}
