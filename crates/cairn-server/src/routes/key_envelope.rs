//! `GET` / `PUT /v1/key-envelope`: the signed-in user's wrapped content key
//! (end-to-end encryption). Opaque to the service: it checks only that it
//! is JSON of bounded size, and that writers do not overwrite each other.

use axum::extract::State;
use axum::Json;
use cairn_protocol::{ErrorCode, KeyEnvelopeRecord, PutKeyEnvelope, KEY_ENVELOPE_MAX_BYTES};

use crate::auth::Caller;
use crate::json_body::ApiJson;
use crate::state::AppState;
use crate::ServerError;

/// The largest generation the registry can hold (`i64::MAX`).
const KEY_ENVELOPE_MAX_GENERATION: u64 = i64::MAX as u64;

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<KeyEnvelopeRecord>, ServerError> {
    state
        .registry
        .key_envelope(&caller.user_id)
        .await?
        .map(Json)
        .ok_or(ServerError::NoKeyEnvelope)
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<PutKeyEnvelope>,
) -> Result<Json<KeyEnvelopeRecord>, ServerError> {
    if request.envelope.len() > KEY_ENVELOPE_MAX_BYTES {
        return Err(ServerError::bad_request(
            ErrorCode::PayloadTooLarge,
            format!("a key envelope is at most {KEY_ENVELOPE_MAX_BYTES} bytes"),
        ));
    }
    if serde_json::from_str::<serde_json::Value>(&request.envelope).is_err() {
        return Err(ServerError::bad_request(
            ErrorCode::InvalidJson,
            "the key envelope must be JSON",
        ));
    }
    // Generations count changes one by one and are stored as SQLite's
    // signed 64-bit integers: a jump to a huge value would leave no room
    // for the next change and lock the passphrase for good.
    if request.expected_generation >= KEY_ENVELOPE_MAX_GENERATION
        || request.generation != request.expected_generation + 1
    {
        return Err(ServerError::bad_request(
            ErrorCode::BadRequest,
            "generation must be one more than expected_generation",
        ));
    }
    let stored = state
        .registry
        .put_key_envelope(
            &caller.user_id,
            request.expected_generation,
            request.generation,
            &request.envelope,
            state.clock.now_secs(),
        )
        .await?;
    if !stored {
        return Err(ServerError::bad_request(
            ErrorCode::Conflict,
            "the key envelope changed meanwhile; fetch it and try again",
        ));
    }
    Ok(Json(KeyEnvelopeRecord {
        generation: request.generation,
        envelope: request.envelope,
    }))
}
