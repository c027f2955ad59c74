//! Pending GitHub sign-ins on PostgreSQL: each is consumed by one
//! `UPDATE ... RETURNING`, whose row lock makes a second taker, on any
//! instance, find it used.

use async_trait::async_trait;
use cairn_protocol::UserId;

use super::PostgresRegistry;
use crate::registry::records::parse_user;
use crate::registry::{OauthStore, PendingGithubSignIn};
use crate::ServerError;

#[async_trait]
impl OauthStore for PostgresRegistry {
    async fn put_oauth_state(
        &self,
        state_hash: &str,
        pending: &PendingGithubSignIn,
        expires_at: i64,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, pkce_verifier, redirect_uri, client_challenge, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(state_hash)
        .bind(&pending.pkce_verifier)
        .bind(&pending.redirect_uri)
        .bind(&pending.client_challenge)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn take_oauth_state(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<PendingGithubSignIn>, ServerError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "UPDATE oauth_states SET used_at = $2
             WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING pkce_verifier, redirect_uri, client_challenge",
        )
        .bind(state_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(
            |(pkce_verifier, redirect_uri, client_challenge)| PendingGithubSignIn {
                pkce_verifier,
                redirect_uri,
                client_challenge,
            },
        ))
    }

    async fn put_login_code(
        &self,
        code_hash: &str,
        user: &UserId,
        client_challenge: &str,
        expires_at: i64,
    ) -> Result<(), ServerError> {
        sqlx::query(
            "INSERT INTO login_codes (code_hash, user_id, client_challenge, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(user.as_str())
        .bind(client_challenge)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn take_login_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<Option<(UserId, String)>, ServerError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "UPDATE login_codes SET used_at = $2
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING user_id, client_challenge",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|(u, c)| Ok((parse_user(&u)?, c))).transpose()
    }
}
