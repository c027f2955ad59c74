//! `POST /v1/accounts`: a new account that signs in with an account key.
//! The key is returned once and only its hash is kept; losing it means
//! losing the account, as with any password-less key. It takes no
//! parameters; a body other than nothing, `null` or `{}` is refused before
//! anything is stored.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cairn_protocol::{AccountCreated, UserId};

use crate::client_address::ClientAddress;
use crate::json_body::NoParameters;
use crate::state::AppState;
use crate::tokens::{hash_secret, new_id, new_secret};
use crate::ServerError;

/// Account keys start with this, so a leaked one is recognisable.
pub const ACCOUNT_KEY_PREFIX: &str = "cairn_ak_";

pub async fn create(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    _: NoParameters,
) -> Result<(StatusCode, Json<AccountCreated>), ServerError> {
    if !state.config.providers.account_keys.enabled {
        return Err(ServerError::ProviderDisabled("account_keys"));
    }
    state.sign_in_limits.address(client).await?;
    let user_id = UserId::new("key", &new_id(16))?;
    let account_key = new_secret(ACCOUNT_KEY_PREFIX);
    state
        .registry
        .create_key_account(&user_id, &hash_secret(&account_key), state.clock.now_secs())
        .await?;
    tracing::info!(user = %user_id, "account created");
    Ok((
        StatusCode::CREATED,
        Json(AccountCreated {
            user_id,
            account_key,
        }),
    ))
}
