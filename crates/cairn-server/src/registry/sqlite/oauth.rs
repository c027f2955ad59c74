//! Pending GitHub sign-ins on SQLite: each is consumed by one
//! `UPDATE ... RETURNING`, which SQLite serialises.

use async_trait::async_trait;
use cairn_protocol::UserId;
use rusqlite::{params, OptionalExtension};

use super::SqliteRegistry;
use crate::registry::records::parse_user;
use crate::registry::{OauthStore, PendingGithubSignIn};
use crate::ServerError;

#[async_trait]
impl OauthStore for SqliteRegistry {
    async fn put_oauth_state(
        &self,
        state_hash: &str,
        pending: &PendingGithubSignIn,
        expires_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?.execute(
            "INSERT INTO oauth_states (state_hash, pkce_verifier, redirect_uri, client_challenge, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![state_hash, pending.pkce_verifier, pending.redirect_uri, pending.client_challenge, expires_at],
        )?;
        Ok(())
    }

    async fn take_oauth_state(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<PendingGithubSignIn>, ServerError> {
        self.conn()?
            .query_row(
                "UPDATE oauth_states SET used_at = ?2
                 WHERE state_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                 RETURNING pkce_verifier, redirect_uri, client_challenge",
                params![state_hash, now],
                |r| {
                    Ok(PendingGithubSignIn {
                        pkce_verifier: r.get(0)?,
                        redirect_uri: r.get(1)?,
                        client_challenge: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(ServerError::from)
    }

    async fn put_login_code(
        &self,
        code_hash: &str,
        user: &UserId,
        client_challenge: &str,
        expires_at: i64,
    ) -> Result<(), ServerError> {
        self.conn()?.execute(
            "INSERT INTO login_codes (code_hash, user_id, client_challenge, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![code_hash, user.as_str(), client_challenge, expires_at],
        )?;
        Ok(())
    }

    async fn take_login_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<Option<(UserId, String)>, ServerError> {
        let row: Option<(String, String)> = self
            .conn()?
            .query_row(
                "UPDATE login_codes SET used_at = ?2
                 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                 RETURNING user_id, client_challenge",
                params![code_hash, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(u, c)| Ok((parse_user(&u)?, c))).transpose()
    }
}
