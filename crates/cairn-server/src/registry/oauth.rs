//! Pending GitHub sign-ins: the `state` of an authorization request and the
//! one-time login code handed back after it. Both are single use: the row
//! is marked used in the same statement that checks it, so a replay (or a
//! race of two uses) finds nothing.

use cairn_protocol::UserId;
use rusqlite::{params, OptionalExtension};

use super::accounts::parse_user;
use super::Registry;
use crate::ServerError;

/// What the service remembered about an authorization request.
#[derive(Debug, Clone)]
pub struct PendingGithubSignIn {
    /// Our PKCE verifier for the provider.
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// The client's own PKCE challenge, checked when it redeems the code.
    pub client_challenge: String,
}

impl Registry {
    pub fn put_oauth_state(
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

    /// Consumes a live state; `None` if unknown, expired or already used.
    pub fn take_oauth_state(
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

    pub fn put_login_code(
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

    /// Consumes a live login code; returns its user and the client's PKCE
    /// challenge. A wrong verifier still burns the code: whoever holds a
    /// stolen code gets one try, not many.
    pub fn take_login_code(
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
