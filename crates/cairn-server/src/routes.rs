//! The HTTP API.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | /healthz | the process is up |
//! | GET | /readyz | the registry answers too (503 if not) |
//! | POST | /v1/accounts | create an account-key account |
//! | POST | /v1/sessions | sign in (account key or login code) |
//! | POST | /v1/sessions/refresh | rotate tokens |
//! | POST | /v1/sessions/logout | revoke this session |
//! | GET | /v1/me | who am I |
//! | POST | /v1/auth/github/start | begin GitHub sign-in |
//! | POST | /v1/auth/github/exchange | finish it, get a login code |
//! | GET | /v1/auth/github/done | "return to the app" page for the browser |
//! | GET, POST | /v1/devices | list, register |
//! | PATCH, DELETE | /v1/devices/{id} | rename, revoke |
//! | POST | /v1/devices/{id}/grant | presigned URLs |
//! | POST | /v1/devices/{id}/published | "I published seq N" |
//! | GET | /v1/events | WebSocket of [`cairn_protocol::ServiceEvent`] |
//! | GET, PUT | /v1/key-envelope | the wrapped content key (end-to-end encryption) |
//! | GET, PUT | /v1/identity | my sharing identity (sealed), store it once |
//! | GET | /v1/accounts/{account}/identity | another account's public sharing keys |
//! | GET, POST | /v1/spaces | my spaces and invitations, create a space |
//! | GET, POST | /v1/spaces/{space}/records | read records after N, append one |
//! | PUT | /v1/spaces/{space}/label | the owner's sealed label for invitees |
//! | POST | /v1/spaces/{space}/devices/{id}/grant | presigned URLs in a space |
//! | POST | /v1/spaces/{space}/devices/{id}/published | "I published seq N there" |

mod accounts;
mod devices;
mod events_socket;
mod github_sign_in;
mod grants;
mod health;
mod key_envelope;
mod sessions;
mod sharing_identity;
mod space_grants;
mod spaces;

use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::routing::{get, patch, post, put};
use axum::Router;

use crate::state::AppState;
use crate::ServerError;

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/accounts", post(accounts::create))
        .route("/v1/sessions", post(sessions::sign_in))
        .route("/v1/sessions/refresh", post(sessions::refresh))
        .route("/v1/sessions/logout", post(sessions::logout))
        .route("/v1/me", get(sessions::me))
        .route("/v1/auth/github/start", post(github_sign_in::start))
        .route("/v1/auth/github/exchange", post(github_sign_in::exchange))
        .route(
            &format!("/{}", cairn_protocol::GITHUB_DONE_PATH),
            get(github_sign_in::done),
        )
        .route("/v1/devices", get(devices::list).post(devices::register))
        .route(
            "/v1/devices/{id}",
            patch(devices::rename).delete(devices::revoke),
        )
        .route("/v1/devices/{id}/grant", post(grants::grant))
        .route("/v1/devices/{id}/published", post(devices::published))
        .route("/v1/events", get(events_socket::events))
        .route(
            "/v1/key-envelope",
            get(key_envelope::get).put(key_envelope::put),
        )
        .route(
            "/v1/identity",
            get(sharing_identity::mine).put(sharing_identity::put),
        )
        .route("/v1/identity/successor", post(sharing_identity::replace))
        .route(
            "/v1/accounts/{account}/identity",
            get(sharing_identity::of_account),
        )
        .route("/v1/spaces", get(spaces::list).post(spaces::create))
        .route(
            "/v1/spaces/{space}/records",
            get(spaces::records).post(spaces::append),
        )
        .route("/v1/spaces/{space}/label", put(spaces::put_label))
        .route(
            "/v1/spaces/{space}/devices/{id}/grant",
            post(space_grants::grant),
        )
        .route(
            "/v1/spaces/{space}/devices/{id}/published",
            post(space_grants::published),
        )
        .fallback(|uri: Uri| async move { ServerError::RouteNotFound(uri.path().to_owned()) })
        .method_not_allowed_fallback(|| async { ServerError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(crate::request_log::log_request))
        .with_state(state)
}
