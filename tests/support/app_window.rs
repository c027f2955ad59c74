//! What the window tests share: signing a window in to a service with
//! its S3 server, reading and typing in the editor, naming notebooks,
//! screenshots the README shows, and axe-core's accessibility check.
//! Used by tests/e2e_app.rs, tests/e2e_sharing.rs and tests/e2e_devices.rs.

use std::path::Path;

use serde_json::Value;

use crate::cloud::Cloud;
use crate::desktop::{keys, Desktop, Launch};

pub const EDITOR_TEXT: &str = "return document.querySelector('.cm-content').innerText";

pub async fn editor_text(app: &Desktop) -> String {
    app.js(EDITOR_TEXT)
        .await
        .as_str()
        .expect("editor text")
        .trim_end_matches('\n')
        .to_string()
}

/// The text of the first element matching `css` ('' when there is none).
pub async fn element_text(app: &Desktop, css: &str) -> String {
    app.js(&format!(
        "return document.querySelector({})?.textContent ?? ''",
        serde_json::to_string(css).expect("json")
    ))
    .await
    .as_str()
    .expect("text")
    .to_owned()
}

pub async fn wait_for_editor(app: &Desktop, expected: &str) {
    let want = serde_json::to_string(expected).expect("json");
    app.wait_until(
        &format!("the editor to read {want}"),
        &format!("return document.querySelector('.cm-content').innerText.replace(/\\n+$/, '') === {want}"),
    )
    .await;
}

/// Waits until a note is open and the editor has the keyboard focus (a new
/// note is created asynchronously; typing before that would go nowhere).
pub async fn wait_for_editor_focus(app: &Desktop) {
    app.wait_until(
        "the editor to be open and focused",
        "return !document.getElementById('note-pane').hidden \
         && document.activeElement === document.querySelector('.cm-content')",
    )
    .await;
}

/// Types into the editor; a newline is the Enter key, as WebDriver wants.
pub async fn type_in_editor(app: &Desktop, text: &str) {
    app.type_into(".cm-content", &text.replace('\n', keys::ENTER))
        .await;
}

/// Stops the cloud off the async runtime (stopping it blocks), also when
/// the test panics, so the test's own message is what gets reported.
pub struct CloudGuard(pub Option<Cloud>);

impl Drop for CloudGuard {
    fn drop(&mut self) {
        if let Some(cloud) = self.0.take() {
            if std::thread::spawn(move || drop(cloud)).join().is_err() {
                eprintln!("stopping the cloud panicked");
            }
        }
    }
}

/// The service with its S3 server, and an account on it: (the running
/// cloud, its URL, the account key).
pub async fn cloud_with_account() -> (CloudGuard, String, String) {
    // The cloud runs on its own runtime; starting and stopping it blocks.
    let cloud = CloudGuard(Some(
        tokio::task::spawn_blocking(Cloud::start).await.unwrap(),
    ));
    let url = cloud.0.as_ref().unwrap().url();
    let key = new_account(&url).await;
    (cloud, url, key)
}

/// Another account on the service at `url` (a second person); returns its
/// key.
pub async fn new_account(url: &str) -> String {
    cairn_client::ServiceClient::new(url)
        .unwrap()
        .create_account()
        .await
        .unwrap()
        .account_key
}

pub const PASSPHRASE: &str = "granite steps up the hill";

/// Opens the account dialog and waits until it has read everything it
/// shows (devices included), so nothing in it moves under a click.
pub async fn open_account(app: &Desktop) {
    // Through JS: the dialog may already be open over the button. The
    // click handler marks the dialog loading before it returns.
    app.js("document.getElementById('open-account').click(); return true")
        .await;
    wait_for_account_loaded(app).await;
}

pub async fn wait_for_account_loaded(app: &Desktop) {
    app.wait_until(
        "the account dialog to finish loading",
        "return document.getElementById('account-dialog').dataset.state === 'ready'",
    )
    .await;
}

/// Opens the account dialog's sign-in form with the service URL filled in.
pub async fn open_sign_in_form(app: &Desktop, url: &str) {
    open_account(app).await;
    app.wait_until(
        "the sign-in form",
        "return !document.getElementById('signed-out').hidden",
    )
    .await;
    app.js(&format!(
        "document.getElementById('signin-url').value = {}; return true",
        serde_json::to_string(url).unwrap()
    ))
    .await;
}

/// Signs in through the account dialog and waits for the signed-in view.
pub async fn sign_in(app: &Desktop, url: &str, key: &str) {
    sign_in_as(app, url, key, None).await;
}

/// Signs in as [`sign_in`] does, naming the device `device_name` instead
/// of taking the name the form suggests.
pub async fn sign_in_as(app: &Desktop, url: &str, key: &str, device_name: Option<&str>) {
    open_sign_in_form(app, url).await;
    if let Some(name) = device_name {
        app.js(&format!(
            "document.getElementById('signin-device-name').value = {}; return true",
            serde_json::to_string(name).unwrap()
        ))
        .await;
    }
    app.type_into("#signin-key", key).await;
    app.type_into("#signin-passphrase", PASSPHRASE).await;
    app.click("#signin-key-btn").await;
    app.wait_until(
        "the account view after signing in",
        "return !document.getElementById('signed-in').hidden",
    )
    .await;
    wait_for_account_loaded(app).await;
}

pub async fn close_dialog(app: &Desktop) {
    app.js("document.getElementById('account-dialog').close(); return true")
        .await;
}

pub async fn wait_for_synced(app: &Desktop) {
    app.wait_until(
        "the sync indicator to say synced",
        "return document.getElementById('sync-indicator').dataset.state === 'synced'",
    )
    .await;
}

/// A window on `launch`'s data, signed into the account and synced once.
pub async fn signed_in_window(launch: Launch, url: &str, key: &str) -> Desktop {
    let app = Desktop::launch(launch).await;
    sign_in(&app, url, key).await;
    close_dialog(&app).await;
    wait_for_synced(&app).await;
    app
}

/// Types a notebook's name into the row that asks for it.
pub async fn name_notebook(app: &Desktop, name: &str) {
    app.wait_until(
        "the notebook name field",
        "return document.activeElement?.dataset?.testid === 'notebook-name'",
    )
    .await;
    app.press_keys(&format!("{name}{}", keys::ENTER)).await;
}

pub fn notebook_row(path: &str) -> String {
    format!(".nb-row[data-path=\"{path}\"]")
}

/// Copies a screenshot over the README's copy when asked to
/// (`CAIRN_REFRESH_SCREENSHOTS=1`), so an ordinary run leaves the checkout
/// as it was.
pub fn refresh_readme_shot(shot: &Path, name: &str) {
    if std::env::var_os("CAIRN_REFRESH_SCREENSHOTS").is_none() {
        return;
    }
    let to = crate::desktop::workspace_root()
        .join("docs/screenshots")
        .join(name);
    std::fs::copy(shot, &to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", shot.display(), to.display()));
}

/// A screenshot that the README shows too (docs/screenshots/`readme`,
/// copied there only when asked; see `refresh_readme_shot`).
pub async fn readme_screenshot(app: &Desktop, name: &str, readme: &str) {
    let shot = app.screenshot(name).await;
    refresh_readme_shot(&shot, readme);
}

/// axe-core's serious and critical findings on the window as it is now,
/// one line each (rule, what it asks, the first elements it names).
/// axe.min.js comes from ui/node_modules (`npm ci --prefix ui`).
pub async fn axe_findings(app: &Desktop, view: &str) -> Vec<String> {
    let path = crate::desktop::workspace_root().join("ui/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} (run npm ci --prefix ui): {e}", path.display()));
    // As the script itself: the window's CSP forbids eval, not WebDriver.
    if app.js("return !window.axe").await == Value::Bool(true) {
        app.js(&format!("{source}\n;return !!window.axe")).await;
    }
    let found = app
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then(
               (r) => done(r.violations
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                   + v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\\s+/g, ' ') + ']').join('; '))),
               (e) => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("run axe-core");
    let found: Vec<String> = serde_json::from_value(found).expect("axe findings");
    found.into_iter().map(|f| format!("{view}: {f}")).collect()
}

/// Sets the theme through the settings dialog, leaving the dialog open.
pub async fn choose_theme(app: &Desktop, theme: &str) {
    open_account(app).await;
    app.select("#theme-select", theme).await;
    app.wait_until(
        &format!("the {theme} theme"),
        &format!("return document.documentElement.dataset.theme === '{theme}'"),
    )
    .await;
}
