//! Signing in with GitHub from the app. The redirect is caught on
//! 127.0.0.1 by tauri-plugin-oauth (`crate::github_redirect`); the rest is
//! `cairn_client::sign_in`, as for an account key.

use std::time::Duration;

use cairn_client::sign_in::SignInError;
use cairn_client::{default_credential_store, PkcePair};
use cairn_protocol::GITHUB_DONE_PATH;
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use crate::commands::account::{now_signed_in, AccountStatus, SignInForm};
use crate::error::{AppError, AppResult};
use crate::events::GITHUB_STARTED;
use crate::github_redirect::{self, PendingRedirect};
use crate::state::AppState;

/// How long the user may take in the browser.
const GITHUB_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What the window shows while the browser is out: the page to open by
/// hand if no browser appeared.
#[derive(Debug, Clone, Serialize)]
pub struct GithubStarted {
    pub authorize_url: String,
}

/// Signs in with GitHub: listens on a loopback port (tauri-plugin-oauth),
/// asks the service for the authorize URL, opens the browser and tells the
/// window the URL ([`GITHUB_STARTED`]), waits for the redirect, checks its
/// `state`, and finishes as an account-key sign-in does. A new attempt or
/// [`cancel_github_sign_in`] ends a pending one.
#[tauri::command]
pub async fn sign_in_with_github(
    app: AppHandle,
    state: State<'_, AppState>,
    service_url: String,
    passphrase: Option<String>,
    device_name: Option<String>,
) -> AppResult<AccountStatus> {
    let form = SignInForm::read(&service_url, passphrase, device_name)?;
    state.remember_service_url(&form.service_url)?;
    let redirect = PendingRedirect::listen(format!("{}/{GITHUB_DONE_PATH}", form.service_url))?;
    // One sign-in at a time: a new attempt ends the one before.
    let (attempt, earlier) = state.github().begin(redirect.port());
    if let Some(port) = earlier {
        github_redirect::cancel(port);
    }
    let result = run(&app, &state, form, redirect, attempt).await;
    state.github().end(attempt);
    result
}

async fn run(
    app: &AppHandle,
    state: &AppState,
    form: SignInForm,
    redirect: PendingRedirect,
    attempt: u64,
) -> AppResult<AccountStatus> {
    let refused = |e| AppError::SignIn(Box::new(SignInError::SignIn(e)));
    let pkce = PkcePair::generate();
    // On an error from here on, dropping `redirect` stops its listener.
    let started = form
        .client
        .github_start(&redirect.redirect_uri(), &pkce.challenge)
        .await
        .map_err(refused)?;
    if !state.github().show(attempt, &started.authorize_url) {
        // Cancelled while the service answered.
        return Err(AppError::GithubCancelled);
    }
    let shown = GithubStarted {
        authorize_url: started.authorize_url.clone(),
    };
    if let Err(e) = app.emit(GITHUB_STARTED, &shown) {
        eprintln!("cairn-desktop: could not emit {GITHUB_STARTED}: {e}");
    }
    if let Err(e) = cairn_client::browser::open(&started.authorize_url) {
        // The window offers the page to open by hand.
        eprintln!("cairn-desktop: {e}");
    }
    let answered = redirect.wait(GITHUB_TIMEOUT).await?;
    let code = cairn_client::code_from_redirect(&answered, &started.state).map_err(refused)?;
    let store = default_credential_store(state.data_dir());
    let signed_in = cairn_client::sign_in::sign_in_with_github_code(
        &form.client,
        &code,
        &started.state,
        &pkce.verifier,
        &form.device_name,
        state.data_dir(),
        form.passphrase.as_deref(),
        store.as_ref(),
    )
    .await;
    now_signed_in(state, signed_in)
}

/// Gives up a pending GitHub sign-in (the browser was closed, say).
#[tauri::command]
pub fn cancel_github_sign_in(state: State<'_, AppState>) {
    if let Some(port) = state.github().cancel() {
        github_redirect::cancel(port);
    }
}

/// Opens the pending sign-in's page in the browser again (the window's
/// link: a web view does not open pages itself). Only that page: the
/// window cannot ask for any other address to be opened.
#[tauri::command]
pub fn open_github_sign_in_page(state: State<'_, AppState>) -> AppResult<()> {
    let url = state
        .github()
        .authorize_url()
        .ok_or(AppError::GithubCancelled)?;
    cairn_client::browser::open(&url).map_err(|e| AppError::Service(Box::new(e)))
}
