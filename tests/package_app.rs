//! The app as installed from its Debian package: `/usr/bin/cairn-desktop`
//! started the way a desktop menu starts it, with no `CAIRN_DATA_DIR`, so
//! the notes go to the default data directory under the user's home.
//!
//! These tests need the package installed and run in steps between
//! installs, so a plain `cargo test` skips them; `scripts/test-packages.sh`
//! runs each one at its point in the story (install, upgrade, remove) with
//! - `CAIRN_DESKTOP_BIN`: the installed binary, `/usr/bin/cairn-desktop`;
//! - `CAIRN_PACKAGE_HOME`: the home directory the app runs with, which the
//!   script keeps across the steps and inspects after removal.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::process::{Command, Stdio};

use cairn_scenarios::desktop::{keys, start_xvfb, Desktop, Launch};

/// The note the first step writes and the later ones look for.
const TITLE: &str = "Packing list";
const BODY: &str = "Packing list\ntent, stove, map";
const AFTER_UPGRADE: &str = "\nwritten after the upgrade";
/// WebDriver's End key; with Control, the end of the document.
const END: &str = "\u{E010}";

fn package_home() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CAIRN_PACKAGE_HOME")
            .expect("CAIRN_PACKAGE_HOME: the home the installed app runs with"),
    )
}

/// Where the installed app keeps its notes when nothing says otherwise:
/// the platform data directory, `$XDG_DATA_HOME/cairn` on Linux.
fn default_data_dir() -> PathBuf {
    package_home().join(".local/share/cairn")
}

/// The installed app with `home` as the user's home and no data directory
/// chosen for it.
fn launch() -> Launch {
    let home = package_home();
    // Desktop::launch names a data directory; an empty CAIRN_DATA_DIR is no
    // choice, so the app falls back to its default, as when started from
    // the menu.
    let mut launch = Launch::new(&default_data_dir());
    launch.release = true;
    for (k, v) in [
        ("CAIRN_DATA_DIR", String::new()),
        ("HOME", home.display().to_string()),
        (
            "XDG_DATA_HOME",
            home.join(".local/share").display().to_string(),
        ),
        (
            "XDG_CONFIG_HOME",
            home.join(".config").display().to_string(),
        ),
        ("XDG_CACHE_HOME", home.join(".cache").display().to_string()),
    ] {
        launch.env.push((k.to_owned(), v));
    }
    launch
}

async fn wait_for_only_title(app: &Desktop, title: &str) {
    let want = serde_json::to_string(&[title]).unwrap();
    app.wait_until(
        &format!("the list to show {want}"),
        &format!(
            "return JSON.stringify([...document.querySelectorAll('.note-row .note-title')]
                .map(t => t.textContent)) === {}",
            serde_json::to_string(&want).unwrap()
        ),
    )
    .await;
}

async fn wait_for_editor(app: &Desktop, text: &str) {
    app.wait_until(
        &format!("the editor to read {text:?}"),
        &format!(
            "return document.querySelector('.cm-content').innerText.replace(/\\n+$/, '') === {}",
            serde_json::to_string(text).unwrap()
        ),
    )
    .await;
}

/// Opens the account dialog and waits for it to say where the notes are.
async fn wait_for_data_dir_shown(app: &Desktop) {
    app.js("document.getElementById('open-account').click(); return true")
        .await;
    let want = format!("Notes are stored in {}", default_data_dir().display());
    app.wait_until(
        &format!("the account dialog to say {want:?}"),
        &format!(
            "return document.getElementById('data-dir').textContent.startsWith({})",
            serde_json::to_string(&want).unwrap()
        ),
    )
    .await;
    app.js("document.getElementById('account-dialog').close(); return true")
        .await;
}

#[tokio::test]
#[ignore = "needs the package installed: run by scripts/test-packages.sh"]
async fn installed_app_creates_a_note() {
    let data = default_data_dir();
    assert!(
        !data.exists(),
        "{} exists before the first start",
        data.display()
    );
    let app = Desktop::launch(launch()).await;
    app.click("#new-note").await;
    app.wait_until(
        "the editor to be open and focused",
        "return !document.getElementById('note-pane').hidden \
         && document.activeElement === document.querySelector('.cm-content')",
    )
    .await;
    app.type_into(".cm-content", &BODY.replace('\n', keys::ENTER))
        .await;
    wait_for_only_title(&app, TITLE).await;
    app.wait_until(
        "the note's text to reach the store",
        "return document.querySelector('.note-excerpt')?.textContent.includes('stove')",
    )
    .await;
    wait_for_data_dir_shown(&app).await;
    app.screenshot("package-installed").await;
    app.quit().await;
    assert!(
        data.join(cairn_core::DB_FILE).is_file(),
        "the store is not in the default data directory {}",
        data.display()
    );
}

#[tokio::test]
#[ignore = "needs the package upgraded: run by scripts/test-packages.sh"]
async fn upgraded_app_finds_the_note_and_keeps_writing() {
    let app = Desktop::launch(launch()).await;
    wait_for_only_title(&app, TITLE).await;
    app.click(".note-row").await;
    wait_for_editor(&app, BODY).await;
    // The upgraded app writes to the store it inherited.
    app.click(".cm-content").await;
    app.type_into(
        ".cm-content",
        &format!("{}{}{}", keys::CONTROL, END, keys::CONTROL),
    )
    .await;
    app.type_into(".cm-content", &AFTER_UPGRADE.replace('\n', keys::ENTER))
        .await;
    app.wait_until(
        "the edit after the upgrade to reach the store",
        "return document.querySelector('.note-excerpt')?.textContent.includes('after the upgrade')",
    )
    .await;
    wait_for_data_dir_shown(&app).await;
    app.quit().await;
}

/// A store written by a newer Cairn (a higher schema version than this
/// build knows) is refused in words and left byte for byte as it was.
#[tokio::test]
#[ignore = "needs the package installed: run by scripts/test-packages.sh"]
async fn installed_app_refuses_a_store_from_a_newer_version() {
    let app_bin = std::env::var_os("CAIRN_DESKTOP_BIN").expect("CAIRN_DESKTOP_BIN");
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = cairn_core::Store::open(dir.path()).unwrap();
        store.create_note("Written by a newer Cairn").unwrap();
        store.checkpoint().unwrap();
    }
    let db = dir.path().join(cairn_core::DB_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", cairn_core::SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let before = std::fs::read(&db).unwrap();

    let (mut xvfb, display) = start_xvfb();
    let out = Command::new(&app_bin)
        .env("DISPLAY", &display)
        .env("CAIRN_DATA_DIR", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    xvfb.kill().unwrap();
    xvfb.wait().unwrap();

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let words = format!(
        "has schema version {}, newer than this version of Cairn understands ({}); upgrade Cairn to open it",
        cairn_core::SCHEMA_VERSION + 1,
        cairn_core::SCHEMA_VERSION
    );
    assert!(stderr.contains(&words), "stderr: {stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the store changed");
}
