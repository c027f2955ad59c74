//! `GET /healthz` (the process answers) and `GET /readyz` (and so does the
//! registry), for a load balancer or a service manager. Neither needs a
//! session, and neither says more than yes or no.

use axum::extract::State;
use axum::http::StatusCode;

use crate::state::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.registry.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the registry does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "registry unreachable")
        }
    }
}
