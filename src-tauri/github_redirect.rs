//! Catching GitHub's redirect on 127.0.0.1 with tauri-plugin-oauth.
//!
//! The plugin's listener is one-shot: the first request it receives ends
//! it, and it hands over the URL that request asked for. It answers the
//! browser with a redirect to the service's "return to Cairn" page, so the
//! tab ends somewhere readable. The URL may come from anything on this
//! machine that found the port, so its `state` is checked before the code
//! is used (`cairn_client::code_from_redirect`).

use std::borrow::Cow;
use std::time::Duration;

use tauri_plugin_oauth::OauthConfig;
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};

/// The path of the redirect URI; the listener answers any path, the
/// service only checks that the address is loopback.
const CALLBACK_PATH: &str = "/callback";

/// One listener, waiting for one redirect. Dropping it stops the listener.
pub struct PendingRedirect {
    port: u16,
    url: Option<oneshot::Receiver<String>>,
}

impl PendingRedirect {
    /// Listens on a free loopback port; the browser is then sent on to
    /// `done_page`.
    pub fn listen(done_page: String) -> AppResult<PendingRedirect> {
        let (tx, rx) = oneshot::channel();
        let mut tx = Some(tx);
        let config = OauthConfig {
            ports: None,
            response: None,
            redirect_uri: Some(Cow::Owned(done_page)),
        };
        let port = tauri_plugin_oauth::start_with_config(config, move |url| {
            if let Some(tx) = tx.take() {
                // The receiver is gone only when the sign-in was given up.
                if tx.send(url).is_err() {
                    eprintln!("cairn-desktop: a sign-in redirect arrived after it was given up");
                }
            }
        })
        .map_err(AppError::RedirectListener)?;
        Ok(PendingRedirect {
            port,
            url: Some(rx),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// The URL the browser came back to, or an error on `timeout` or when
    /// the listener was cancelled (`cancel(port)`).
    pub async fn wait(mut self, timeout: Duration) -> AppResult<String> {
        let Some(rx) = self.url.as_mut() else {
            return Err(AppError::GithubCancelled);
        };
        let result = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(url)) => Ok(url),
            Ok(Err(_)) => Err(AppError::GithubCancelled),
            // Dropping `self` stops the listener.
            Err(_) => return Err(AppError::GithubTimedOut),
        };
        // Answered or cancelled: the listener has stopped by itself.
        self.url = None;
        result
    }
}

impl Drop for PendingRedirect {
    fn drop(&mut self) {
        if self.url.is_some() {
            cancel(self.port);
        }
    }
}

/// Stops the listener on `port` without a redirect (a no-op once it has
/// answered one).
pub fn cancel(port: u16) {
    // An error means nothing listens there any more, which is the goal.
    if tauri_plugin_oauth::cancel(port).is_err() {
        eprintln!("cairn-desktop: the sign-in listener on port {port} had already stopped");
    }
}
