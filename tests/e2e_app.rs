//! End-to-end tests of the desktop app: the real window under Xvfb, driven
//! through tauri-driver and WebKitWebDriver, against a real store on disk.
//! See `support/desktop.rs` for what must be installed.
//!
//! Each test tells one story a user would live through; screenshots go to
//! tests/artifacts/ for a person to look at.
//!
//! GitHub sign-in runs against the OAuth2 server in tests/node
//! (oauth2-mock-server, `npm ci --prefix tests/node`); the test plays the
//! browser from the link the window offers.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_client::CredentialStore;
use cairn_core::{NewNote, Store};
use cairn_scenarios::app_window::*;
use cairn_scenarios::cloud::{Cloud, CloudOptions};
use cairn_scenarios::desktop::{keys, Desktop, Launch};
use cairn_scenarios::oauth_server::OauthServer;
use serde_json::Value;

/// The windows share two CPU cores with everything else; one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ROWS: &str = "return [...document.querySelectorAll('.note-row')]
    .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
    .map(r => r.querySelector('.note-title').textContent)";
async fn titles(app: &Desktop) -> Vec<String> {
    serde_json::from_value(app.js(ROWS).await).expect("row titles")
}

/// Waits until the list shows exactly these titles, in this order.
async fn wait_for_titles(app: &Desktop, expected: &[&str]) {
    let list = serde_json::to_string(expected).expect("json");
    app.wait_until(
        &format!("the list to show {list}"),
        &format!("{} ; const want = {list}; const got = rows(); return JSON.stringify(got) === JSON.stringify(want)",
            ROWS.replacen("return", "const rows = () =>", 1)),
    )
    .await;
}

async fn clear_search(app: &Desktop) {
    app.type_into("#search", &format!("{}a{}", keys::CONTROL, keys::CONTROL))
        .await;
    app.type_into("#search", keys::BACKSPACE).await;
}

#[tokio::test]
async fn create_edit_search_tag_trash_and_restore_a_note() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.screenshot("01-empty").await;

    // Create two notes: one with the button, one with Ctrl+N.
    app.click("#new-note").await;
    wait_for_editor_focus(&app).await;
    type_in_editor(&app, "Groceries\nmilk and bread").await;
    wait_for_titles(&app, &["Groceries"]).await;
    type_in_editor(&app, &format!("{}n{}", keys::CONTROL, keys::CONTROL)).await;
    app.wait_until(
        "a second, empty note",
        "return document.querySelectorAll('.note-row').length === 2",
    )
    .await;
    wait_for_editor_focus(&app).await;
    type_in_editor(&app, "Meeting notes\nagenda: budget").await;
    wait_for_titles(&app, &["Meeting notes", "Groceries"]).await;

    // Search as you type, by a word in the body.
    app.type_into("#search", "milk").await;
    wait_for_titles(&app, &["Groceries"]).await;
    clear_search(&app).await;
    wait_for_titles(&app, &["Meeting notes", "Groceries"]).await;

    // Tag the groceries and filter by the tag.
    app.click(".note-row:nth-last-child(1)").await;
    wait_for_editor(&app, "Groceries\nmilk and bread").await;
    app.type_into("#tag-input", &format!("shopping{}", keys::ENTER))
        .await;
    app.wait_until(
        "the tag chip",
        "return !!document.querySelector('#tags .tag[data-tag=\"shopping\"]')",
    )
    .await;
    app.wait_until(
        "the tag in the filter",
        "return [...document.querySelectorAll('#tag-filter option')].some(o => o.value === 'shopping')",
    )
    .await;
    app.select("#tag-filter", "shopping").await;
    wait_for_titles(&app, &["Groceries"]).await;
    app.screenshot("02-tagged-and-filtered").await;
    app.select("#tag-filter", "").await;
    // Tagging was an edit: Groceries is now the most recent.
    wait_for_titles(&app, &["Groceries", "Meeting notes"]).await;

    // Trash it (Ctrl+Shift+Backspace from the editor), find it in the
    // trash, restore it.
    app.click(".cm-content").await;
    type_in_editor(
        &app,
        &format!("{}{}{}", keys::CONTROL, keys::SHIFT, keys::BACKSPACE),
    )
    .await;
    wait_for_titles(&app, &["Meeting notes"]).await;
    app.click("#view-trash").await;
    wait_for_titles(&app, &["Groceries"]).await;
    app.click(".note-row").await;
    app.wait_until(
        "the restore button",
        "return !document.getElementById('restore').hidden",
    )
    .await;
    app.screenshot("03-trash").await;
    app.click("#restore").await;
    wait_for_titles(&app, &[]).await;
    app.click("#view-notes").await;
    wait_for_titles(&app, &["Groceries", "Meeting notes"]).await;
    app.quit().await;

    // Everything acknowledged is on disk: a new app on the same data dir
    // shows it. This time the system prefers dark, and so does the app.
    let mut dark = Launch::new(data.path());
    dark.env.push(("GTK_THEME".into(), "Adwaita:dark".into()));
    let app = Desktop::launch(dark).await;
    assert_eq!(
        app.js("return matchMedia('(prefers-color-scheme: dark)').matches && getComputedStyle(document.body).backgroundColor").await,
        Value::String("rgb(28, 29, 31)".into()),
        "the dark theme follows the system"
    );
    wait_for_titles(&app, &["Groceries", "Meeting notes"]).await;
    app.click(".note-row").await;
    wait_for_editor(&app, "Groceries\nmilk and bread").await;
    app.wait_until(
        "the tag to survive a restart",
        "return !!document.querySelector('#tags .tag[data-tag=\"shopping\"]')",
    )
    .await;
    assert_eq!(editor_text(&app).await, "Groceries\nmilk and bread");
    app.screenshot("04-after-restart-dark").await;
    app.quit().await;
}

/// The preview's text as the past version read (what came since, shown
/// as insertions, left out).
const PAST_TEXT: &str = "return [...document.getElementById('history-preview').childNodes] \
    .filter(n => n.nodeName !== 'INS').map(n => n.textContent).join('')";

/// A store at `dir` whose clock the test moves, for notes made at known
/// times through the core before the app opens them.
fn store_on_manual_clock(dir: &Path) -> (Store, std::sync::Arc<cairn_core::ManualClock>) {
    let clock = std::sync::Arc::new(cairn_core::ManualClock::starting_now());
    let store = Store::open_with(
        dir,
        cairn_core::StoreOptions {
            clock: clock.clone(),
            ..Default::default()
        },
    )
    .expect("open store");
    (store, clock)
}

/// A note written in three sittings, ten minutes apart (on a manual clock,
/// written through the core before the app opens it).
fn seed_three_sessions(dir: &Path) -> String {
    let (mut store, clock) = store_on_manual_clock(dir);
    let id = store.create_note("Plan").expect("note");
    for body in ["Plan\nstep one", "Plan\nstep one\nstep two"] {
        clock.advance(Duration::from_secs(10 * 60));
        // Typed in bursts, a few changes a sitting.
        for (i, _) in body.char_indices().skip(4).step_by(5) {
            store.set_body(&id, &body[..i]).expect("edit");
        }
        store.set_body(&id, body).expect("edit");
    }
    id
}

#[tokio::test]
async fn step_back_through_history_and_restore() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    seed_three_sessions(data.path());
    let app = Desktop::launch(Launch::new(data.path())).await;
    wait_for_titles(&app, &["Plan"]).await;
    app.click(".note-row").await;
    wait_for_editor(&app, "Plan\nstep one\nstep two").await;

    // Open history (Ctrl+Shift+H): the slider starts at the current
    // session, one step per sitting rather than per keystroke.
    type_in_editor(&app, &format!("{}{}h", keys::CONTROL, keys::SHIFT)).await;
    app.wait_until(
        "the history panel",
        "return !document.getElementById('history-panel').hidden \
         && document.getElementById('history-preview').textContent.includes('step two')",
    )
    .await;
    let label = app
        .js("return document.getElementById('history-label').textContent")
        .await;
    let label = label.as_str().unwrap_or_default().to_owned();
    assert!(
        label.contains("current") && label.contains("this device"),
        "{label}"
    );
    let sessions = app
        .js("return Number(document.getElementById('history-slider').max) + 1")
        .await
        .as_u64()
        .expect("session count");
    assert_eq!(sessions, 3, "three sittings, three steps");
    let width = "return document.getElementById('history-slider').getBoundingClientRect().width";
    let slider_width = app.js(width).await;

    // Step back with the arrow key: each sitting in turn, and what changed
    // since is marked.
    for want in ["Plan\nstep one", "Plan"] {
        app.type_into("#history-slider", keys::LEFT).await;
        app.wait_until(
            "the preview to follow the slider",
            "const p = document.getElementById('history-panel'); \
             return p.dataset.version === document.getElementById('history-slider').value \
               && document.getElementById('history-preview').dataset.changed === 'true'",
        )
        .await;
        assert_eq!(app.js(PAST_TEXT).await, Value::String(want.into()));
        let added = app
            .js("return [...document.querySelectorAll('#history-preview ins')].map(e => e.textContent).join('')")
            .await;
        assert!(
            added.as_str().is_some_and(|a| a.contains("step two")),
            "{added}"
        );
        assert_eq!(
            app.js(width).await,
            slider_width,
            "the slider kept its size"
        );
    }
    let shot = app.screenshot("05-history").await;
    refresh_readme_shot(&shot, "history.png");

    app.click("#history-restore").await;
    app.wait_until(
        "the history panel to close",
        "return document.getElementById('history-panel').hidden",
    )
    .await;
    wait_for_editor(&app, "Plan").await;
    app.wait_until(
        "the list to show the restored text",
        "return document.querySelector('.note-excerpt')?.textContent === ''",
    )
    .await;

    // Ctrl+Z right after the restore undoes it.
    app.click(".cm-content").await;
    wait_for_editor_focus(&app).await;
    type_in_editor(&app, &format!("{}z", keys::CONTROL)).await;
    wait_for_editor(&app, "Plan\nstep one\nstep two").await;

    // Restoring and undoing are changes on top: the older sessions are
    // all still there.
    app.click("#history-toggle").await;
    app.wait_until(
        "the history panel again",
        "return !document.getElementById('history-panel').hidden",
    )
    .await;
    let after = app
        .js("return Number(document.getElementById('history-slider').max) + 1")
        .await
        .as_u64()
        .expect("session count");
    assert!(after >= sessions, "{after} < {sessions}");
    app.quit().await;
}

#[tokio::test]
async fn starts_and_edits_with_no_service_and_no_network() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    // A service URL where nothing listens (port 9, discard) stands in for a
    // machine with no network: every connection is refused.
    std::fs::write(
        data.path().join("settings.json"),
        r#"{"service_url": "http://127.0.0.1:9"}"#,
    )
    .expect("settings");
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.wait_until(
        "the sync indicator",
        "return document.getElementById('sync-indicator').dataset.state === 'needs_sign_in'",
    )
    .await;

    app.click("#new-note").await;
    wait_for_editor_focus(&app).await;
    type_in_editor(&app, "Offline thoughts\nstill writing").await;
    wait_for_titles(&app, &["Offline thoughts"]).await;

    // Trying to sign in says why it cannot, in the window.
    app.click("#open-account").await;
    app.wait_until(
        "the sign-in form to offer the saved service",
        "return document.getElementById('signin-url').value === 'http://127.0.0.1:9'",
    )
    .await;
    app.type_into("#signin-key", "not-a-real-key").await;
    app.click("#signin-key-btn").await;
    app.wait_until(
        "a readable sign-in error",
        "return document.getElementById('signin-error').textContent.length > 10",
    )
    .await;
    app.screenshot("06-offline-sign-in").await;
    assert_no_secrets_shown(&app, &["not-a-real-key"]).await;
    app.type_into("#signin-key", keys::ESCAPE).await;
    app.quit().await;

    let app = Desktop::launch(Launch::new(data.path())).await;
    wait_for_titles(&app, &["Offline thoughts"]).await;
    app.click(".note-row").await;
    wait_for_editor(&app, "Offline thoughts\nstill writing").await;
    app.quit().await;

    // The session is kept in an OS keychain that cannot be reached (no
    // D-Bus session bus at all): the indicator says so rather than
    // "sign in", and the notes still open.
    std::fs::write(
        data.path().join("credentials.json"),
        serde_json::json!({
            "kept_in": "os-keychain",
            "service": "cairn",
            "account": format!("session:{}", data.path().display()),
        })
        .to_string(),
    )
    .expect("credentials pointer");
    let mut launch = Launch::new(data.path());
    launch.env.extend([
        ("CAIRN_CREDENTIAL_STORE".into(), "keychain".into()),
        (
            "DBUS_SESSION_BUS_ADDRESS".into(),
            format!("unix:path={}", data.path().join("no-bus").display()),
        ),
    ]);
    let app = Desktop::launch(launch).await;
    app.wait_until(
        "the indicator to say the keychain cannot be read",
        "const el = document.getElementById('sync-indicator'); \
         return el.dataset.state === 'error' && el.dataset.code === 'keychain' \
           && el.querySelector('.label').textContent.includes('system keychain')",
    )
    .await;
    wait_for_titles(&app, &["Offline thoughts"]).await;
    app.screenshot("14-keychain-unreachable").await;
    assert_no_secrets_shown(&app, &[]).await;
    app.quit().await;
    assert!(
        std::fs::read_to_string(data.path().join("credentials.json"))
            .expect("kept")
            .contains("os-keychain"),
        "the pointer to the keychain is left as it was"
    );
}

/// Every text the window shows for sync and sign-in errors (the sentence,
/// the hidden details, toasts) names no address, no signature and none of
/// `secrets` (what was typed as a key).
async fn assert_no_secrets_shown(app: &Desktop, secrets: &[&str]) {
    let shown = app
        .js("return ['#signin-error', '#sync-indicator', '#sync-details', '#sync-detail', '#toast', '#account-dialog']                .map(css => document.querySelector(css)?.textContent ?? '').join('\\n')")
        .await;
    let shown = shown.as_str().expect("text").to_string();
    assert!(!shown.trim().is_empty(), "no error text found");
    for bad in ["http://", "https://", "X-Amz-"].iter().chain(secrets) {
        assert!(!shown.contains(bad), "{bad:?} shown in the window: {shown}");
    }
}

/// 10,000 notes and a 50 KB one, written straight into a store the app
/// then opens. Timed against the release build (`cargo build -p
/// cairn-desktop --release`); `CAIRN_PERF_BUDGET_MS=50` enforces the target on a quiet machine.
fn seed_large_store(dir: &Path) {
    let mut store = Store::open(dir).expect("open store");
    store.set_durable(false).expect("bulk mode");
    let words = [
        "alpha", "river", "stone", "garden", "budget", "travel", "recipe", "meeting", "draft",
        "idea", "letter", "summer",
    ];
    let tags = ["work", "home", "ideas", "travel", "reading"];
    for i in 0..10_000usize {
        let body = format!(
            "Note {i} about {}\n{} {} {} and more text for the excerpt",
            words[i % words.len()],
            words[(i * 7) % words.len()],
            words[(i * 3) % words.len()],
            words[(i * 5) % words.len()],
        );
        store
            .create_note_with(NewNote {
                body,
                tags: vec![tags[i % tags.len()].to_string()],
                ..Default::default()
            })
            .expect("seed note");
    }
    let mut big = String::from("Big note\n");
    while big.len() < 50 * 1024 {
        big.push_str("A line of a long note, with **Markdown** and `code`, repeated.\n");
    }
    store
        .create_note_with(NewNote {
            body: big,
            pinned: true,
            ..Default::default()
        })
        .expect("seed big note");
    store.set_durable(true).expect("durable again");
    store.checkpoint().expect("checkpoint");
}

#[tokio::test]
async fn stays_fast_with_ten_thousand_notes() {
    let _serial = SERIAL.lock().await;
    // Responsiveness is measured and reported (perf.json); the 50 ms target
    // is a figure for the report, not a pass mark, because a shared CI
    // machine's load moves it. CAIRN_PERF_BUDGET_MS=50 enforces it on a
    // quiet machine; by default only a gross regression (a list that
    // re-renders everything, say) fails the test.
    let budget_ms: f64 = std::env::var("CAIRN_PERF_BUDGET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500.0);
    let data = tempfile::tempdir().expect("tempdir");
    seed_large_store(data.path());
    let mut launch = Launch::new(data.path());
    launch.release = true;
    let app = Desktop::launch(launch).await;
    app.wait_until(
        "10,001 notes in the list",
        "return document.getElementById('list-status').textContent === '10001 notes'",
    )
    .await;
    assert_eq!(
        titles(&app).await.first().map(String::as_str),
        Some("★Big note")
    );
    assert_eq!(
        app.js("return document.querySelector('.note-row').dataset.pinned")
            .await,
        Value::String("true".into())
    );
    // Start: from the process's start (the shell notes it first thing) to
    // the frame that painted the list's first screenful; and from the
    // webview's own start, which leaves out the process and window set-up.
    app.wait_until(
        "the first screenful's paint to be noted",
        "return typeof window.__cairnFirstScreenMs === 'number'",
    )
    .await;
    let start = app
        .js(
            "return window.__TAURI_INTERNALS__.invoke('app_info').then(info => ({ \
               process_ms: window.__cairnFirstScreenMs - info.started_ms, \
               webview_ms: window.__cairnFirstScreenMs - performance.timeOrigin, \
               before_webview_ms: performance.timeOrigin - info.started_ms, \
               to_setup_ms: info.setup_began_ms - info.started_ms, \
               setup_ms: info.setup_ended_ms - info.setup_began_ms, \
               marks: Object.fromEntries(performance.getEntriesByType('mark') \
                 .filter(m => m.name.startsWith('start:')) \
                 .map(m => [m.name.slice(6), Math.round(m.startTime)])) }))",
        )
        .await;
    println!("start to first screenful, 10,001 notes: {start}");
    assert!(
        start["process_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{start}"
    );

    // Open the 50 KB note and a small one, back and forth. The first open
    // of each loads its document from disk (cold); those two are reported
    // on their own, and the percentiles are over the 40 opens after them.
    let mut cold = Value::Null;
    for i in 0..42 {
        if i == 2 {
            cold = app.js("return window.__cairnPerf.samples()").await;
            app.js("window.__cairnPerf.clear(); return true").await;
        }
        let want = if i % 2 == 0 { "Big note" } else { "Note" };
        app.js(&format!(
            "const rows = [...document.querySelectorAll('.note-row')]
               .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
             rows[{}].click(); return true",
            i % 2
        ))
        .await;
        app.wait_until(
            "the note to open",
            &format!("return document.querySelector('.cm-line')?.textContent.startsWith('{want}')"),
        )
        .await;
    }
    let shot = app.screenshot("07-ten-thousand-notes").await;
    refresh_readme_shot(&shot, "notes-list.png");

    // Filter: search as you type, and the tag filter.
    for query in ["garden", "budget travel", "note 99", "recipe"] {
        app.type_into("#search", query).await;
        app.wait_until(
            "search results",
            &format!(
                "return document.getElementById('list-status').textContent.endsWith(' of 10001') \
                 && document.getElementById('search').value === {}",
                serde_json::to_string(query).expect("json")
            ),
        )
        .await;
        clear_search(&app).await;
        app.wait_until(
            "the full list",
            "return document.getElementById('list-status').textContent === '10001 notes'",
        )
        .await;
    }
    for tag in ["work", "home", "ideas", "travel", "reading", ""] {
        app.select("#tag-filter", tag).await;
    }
    app.wait_until(
        "the full list after the tag filter",
        "return document.getElementById('list-status').textContent === '10001 notes'",
    )
    .await;

    let summary = app.js("return window.__cairnPerf.summary()").await;
    let samples = app.js("return window.__cairnPerf.samples()").await;
    println!(
        "perf, first (cold) opens: {}",
        serde_json::to_string(&cold).expect("json")
    );
    println!(
        "perf: {}",
        serde_json::to_string_pretty(&summary).expect("json")
    );
    std::fs::write(
        cairn_scenarios::desktop::artifacts_dir().join("perf.json"),
        serde_json::to_vec_pretty(&serde_json::json!({
            "start_to_first_screenful": start,
            "summary": summary,
            "cold_open": cold,
            "samples": samples,
        }))
        .expect("json"),
    )
    .expect("write perf.json");
    for name in ["open-note", "filter-list"] {
        let p95 = summary[name]["p95"]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name} samples in {summary}"));
        let count = summary[name]["count"].as_u64().unwrap_or(0);
        assert!(count >= 10, "only {count} {name} samples");
        assert!(
            p95 < budget_ms,
            "{name} p95 {p95:.1} ms is over the {budget_ms} ms budget"
        );
    }
    app.quit().await;
}

/// Polls the editor of `app` until it reads `want`; returns how long it took.
async fn time_until_editor_reads(app: &Desktop, want: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if editor_text(app).await == want {
            return started.elapsed();
        }
        if started.elapsed() > limit {
            let shot = app.screenshot("timeout-remote-edit").await;
            panic!(
                "the other window's editor never read {want:?} (it reads {:?}); screenshot {}",
                editor_text(app).await,
                shot.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn two_windows_signed_in_as_one_user_see_each_others_typing() {
    let _serial = SERIAL.lock().await;
    let (cloud, url, key) = cloud_with_account().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let launch = |dir: &Path| {
        let mut l = Launch::new(dir);
        // Publish 100 ms after typing pauses instead of 2 s.
        l.env.push(("CAIRN_SYNC_SETTLE_MS".into(), "100".into()));
        l
    };

    // The first window creates the account's key, and shows its recovery
    // key once.
    let a = Desktop::launch(launch(dirs[0].path())).await;
    sign_in_as(&a, &url, &key, Some("Study laptop")).await;
    a.wait_until(
        "the recovery key",
        "return !document.getElementById('recovery-key-box').hidden \
         && document.getElementById('recovery-key').textContent.length > 20",
    )
    .await;
    a.screenshot("08-signed-in-recovery-key").await;
    close_dialog(&a).await;
    wait_for_synced(&a).await;

    // The second window: a wrong key first, said plainly in the window.
    let b = Desktop::launch(launch(dirs[1].path())).await;
    b.click("#open-account").await;
    wait_for_account_loaded(&b).await;
    b.js(&format!(
        "document.getElementById('signin-url').value = {}; return true",
        serde_json::to_string(&url).unwrap()
    ))
    .await;
    b.type_into("#signin-key", "ck_this-is-not-the-key").await;
    b.type_into("#signin-passphrase", PASSPHRASE).await;
    b.click("#signin-key-btn").await;
    b.wait_until(
        "a readable error for the wrong key",
        "return document.getElementById('signin-error').textContent.length > 10",
    )
    .await;
    let error = b
        .js("return document.getElementById('signin-error').textContent")
        .await;
    println!("wrong account key shows: {error}");
    assert!(
        error.as_str().unwrap().contains("not accepted"),
        "the wrong key's message: {error}"
    );
    b.screenshot("09-wrong-account-key").await;
    assert_eq!(
        b.js("return document.getElementById('signed-in').hidden")
            .await,
        Value::Bool(true),
        "a wrong key must not sign in"
    );
    b.js("document.getElementById('signin-key').value = ''; \
          document.getElementById('signin-passphrase').value = ''; return true")
        .await;
    sign_in(&b, &url, &key).await;
    assert_eq!(
        b.js("return document.getElementById('recovery-key-box').hidden")
            .await,
        Value::Bool(true),
        "only the first device gets a recovery key"
    );
    close_dialog(&b).await;
    wait_for_synced(&b).await;

    // A note typed in the first window reaches the second one's list.
    a.click("#new-note").await;
    wait_for_editor_focus(&a).await;
    type_in_editor(&a, "Shared plans\nfrom the first window").await;
    let started = Instant::now();
    b.wait_until(
        "the note from the first window",
        "return [...document.querySelectorAll('.note-title')].some(t => t.textContent === 'Shared plans')",
    )
    .await;
    println!(
        "new note reached the other window in {:?}",
        started.elapsed()
    );
    b.click(".note-row").await;
    wait_for_editor(&b, "Shared plans\nfrom the first window").await;

    // The second window's history names the device that wrote the note.
    b.click("#history-toggle").await;
    b.wait_until(
        "the history to name the first window's device",
        "return document.getElementById('history-label').textContent.includes('Study laptop')",
    )
    .await;
    b.screenshot("10-history-names-the-device").await;
    b.click("#history-close").await;
    b.wait_until(
        "the history to close",
        "return document.getElementById('history-panel').hidden",
    )
    .await;

    // Now both have it open: each line typed in one appears in the other's
    // open editor.
    b.js("window.__cairnPerf.clear(); return true").await;
    let mut text = "Shared plans\nfrom the first window".to_string();
    let mut took = Vec::new();
    for i in 0..8 {
        let line = format!("\nline {i} typed in the first window");
        type_in_editor(&a, &line).await;
        text.push_str(&line);
        took.push(time_until_editor_reads(&b, &text, Duration::from_secs(20)).await);
    }
    let shot = b.screenshot("10-remote-edit-arrived").await;
    refresh_readme_shot(&shot, "live-sync.png");
    a.screenshot("10-remote-edit-typed").await;
    println!("typed line to the other window's editor: {took:?}");

    let summary = b.js("return window.__cairnPerf.summary()").await;
    println!("remote-apply: {}", summary["remote-apply"]);
    let count = summary["remote-apply"]["count"].as_u64().unwrap_or(0);
    assert!(count >= 1, "no remote-apply marks in {summary}");

    // Both windows type at the end of the same line at the same time; each
    // one's keystrokes land while the other's are being merged. Both texts
    // arrive whole, next to each other, in both windows.
    for app in [&a, &b] {
        app.type_into(
            ".cm-content",
            &format!("{}{}{}", keys::CONTROL, keys::END, keys::CONTROL),
        )
        .await;
    }
    const FROM_A: &str = " and alpha typed in the first";
    const FROM_B: &str = " with beta typed in the second";
    tokio::join!(type_in_editor(&a, FROM_A), type_in_editor(&b, FROM_B));
    let either = [
        format!("{text}{FROM_A}{FROM_B}"),
        format!("{text}{FROM_B}{FROM_A}"),
    ];
    let wants = serde_json::to_string(&either).unwrap();
    for app in [&a, &b] {
        app.wait_until(
            "both windows' typing, whole, in one line",
            &format!(
                "return {wants}.includes(document.querySelector('.cm-content').innerText.replace(/\\n+$/, ''))"
            ),
        )
        .await;
    }
    let text = editor_text(&a).await;
    assert_eq!(editor_text(&b).await, text);
    println!("typed at once into one line: {:?}", text.lines().last());
    a.screenshot("10-typed-at-once").await;

    // The second window's selection stays on its word while the first
    // window types before it: typing then replaces exactly that word.
    let selected = b
        .js("const content = document.querySelector('.cm-content');
             content.focus();
             const walk = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
             for (let n = walk.nextNode(); n; n = walk.nextNode()) {
               const i = n.data.indexOf('first window');
               if (i >= 0) {
                 const r = document.createRange();
                 r.setStart(n, i);
                 r.setEnd(n, i + 'first'.length);
                 getSelection().removeAllRanges();
                 getSelection().addRange(r);
                 return true;
               }
             }
             return false")
        .await;
    assert_eq!(selected, Value::Bool(true));
    b.wait_until(
        "the word to be selected",
        "return getSelection().toString() === 'first'",
    )
    .await;
    a.type_into(
        ".cm-content",
        &format!("{}{}{}Draft: ", keys::CONTROL, keys::HOME, keys::CONTROL),
    )
    .await;
    let text = format!("Draft: {text}");
    time_until_editor_reads(&b, &text, Duration::from_secs(20)).await;
    assert_eq!(
        b.js("return getSelection().toString()").await,
        Value::String("first".into()),
        "the selection moved when the remote change landed"
    );
    b.screenshot("10-selection-kept").await;
    type_in_editor(&b, "second").await;
    let text = text.replacen("from the first window", "from the second window", 1);
    time_until_editor_reads(&a, &text, Duration::from_secs(20)).await;
    assert_eq!(editor_text(&b).await, text);

    // The second device is removed from the account (from the first
    // device's session, as the service's device list would): its window
    // says so, and its notes stay and can still be edited.
    let credentials = |dir: &Path| {
        cairn_scenarios::device::credential_store(dir)
            .load()
            .unwrap()
            .expect("signed in")
    };
    let (first, second) = (credentials(dirs[0].path()), credentials(dirs[1].path()));
    cairn_client::ServiceClient::new(&url)
        .unwrap()
        .revoke_device(&first.access_token, second.device_id.as_ref().unwrap())
        .await
        .unwrap();
    b.wait_until(
        "the revoked device's indicator to ask for sign-in",
        "return document.getElementById('sync-indicator').dataset.state === 'needs_sign_in'",
    )
    .await;
    let label = b
        .js("return document.querySelector('#sync-indicator .label').textContent")
        .await;
    println!("revoked device shows: {label}");
    let label = label.as_str().unwrap();
    assert!(
        label.starts_with("Sign in again:") && label.contains("removed"),
        "{label}"
    );
    assert_eq!(
        b.js("return document.getElementById('sync-indicator').dataset.code")
            .await
            .as_str(),
        Some("device_removed")
    );
    let shot = b.screenshot("11-device-removed").await;
    refresh_readme_shot(&shot, "device-removed.png");
    type_in_editor(&b, " (kept offline)").await;
    // The cursor is still where "second" was typed.
    let text = text.replacen(
        "from the second window",
        "from the second (kept offline) window",
        1,
    );
    wait_for_editor(&b, &text).await;

    // Signing out of the second window forgets the session and the key on
    // that device; its notes stay.
    assert!(dirs[1].path().join("content-key").exists());
    open_account(&b).await;
    assert_eq!(
        b.js("return document.getElementById('signed-in').hidden")
            .await,
        Value::Bool(false),
        "the account view"
    );
    b.click("#signout-btn").await;
    b.wait_until(
        "the sign-in form after signing out",
        "return !document.getElementById('signed-out').hidden",
    )
    .await;
    b.wait_until(
        "the indicator to ask for sign-in",
        "return document.getElementById('sync-indicator').dataset.state === 'needs_sign_in'",
    )
    .await;
    b.screenshot("11-signed-out").await;
    assert!(!dirs[1].path().join("content-key").exists());
    assert!(!dirs[1].path().join("grant.json").exists());
    close_dialog(&b).await;
    wait_for_titles(&b, &["Draft: Shared plans"]).await;

    a.quit().await;
    b.quit().await;
    tokio::task::spawn_blocking(move || drop(cloud))
        .await
        .unwrap();
}

const GITHUB_ID: u64 = 7_310_442;

/// Waits for the window to offer the GitHub sign-in page (shown while the
/// browser is out) and returns its address, once it differs from `before`.
async fn github_link(app: &Desktop, before: &str) -> String {
    app.wait_until(
        "the GitHub sign-in link",
        &format!(
            "const a = document.getElementById('github-link'); \
             return !document.getElementById('github-waiting').hidden \
               && a.href.startsWith('http') && a.href !== {}",
            serde_json::to_string(before).unwrap()
        ),
    )
    .await;
    app.js("return document.getElementById('github-link').href")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

fn query_param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{url} has no {name}"))
}

async fn text_of(app: &Desktop, id: &str) -> String {
    app.js(&format!(
        "return document.getElementById('{id}').textContent"
    ))
    .await
    .as_str()
    .unwrap()
    .to_owned()
}

#[tokio::test]
async fn signs_in_with_github_and_changes_the_passphrase() {
    let _serial = SERIAL.lock().await;
    let oauth = OauthServer::start(GITHUB_ID);
    let github = oauth.github_config();
    let cloud = CloudGuard(Some(
        tokio::task::spawn_blocking(move || {
            Cloud::start_with(CloudOptions {
                github: Some(github),
                ..Default::default()
            })
        })
        .await
        .unwrap(),
    ));
    let url = cloud.0.as_ref().unwrap().url();
    // Also installs the TLS provider the test's own HTTP client needs.
    let service = cairn_client::ServiceClient::new(&url).unwrap();
    let data = tempfile::tempdir().unwrap();
    // The "browser" the app opens (through $BROWSER) only notes the page;
    // the test plays the browser itself from the window's link.
    let tools = tempfile::tempdir().unwrap();
    let opened = tools.path().join("opened.txt");
    let browser = tools.path().join("browser");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let opened_pages = || {
        std::fs::read_to_string(&opened)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let mut launch = Launch::new(data.path());
    launch
        .env
        .push(("BROWSER".into(), browser.display().to_string()));
    let app = Desktop::launch(launch).await;
    app.click("#new-note").await;
    wait_for_editor_focus(&app).await;
    type_in_editor(&app, "Written before signing in").await;

    open_sign_in_form(&app, &url).await;
    app.type_into("#signin-passphrase", PASSPHRASE).await;
    // Started, then given up: the window says so and nothing changes.
    app.click("#signin-github-btn").await;
    let cancelled = github_link(&app, "").await;
    app.click("#github-cancel").await;
    app.wait_until(
        "the cancelled sign-in to say so",
        "return document.getElementById('signin-error').textContent.includes('cancelled') \
           && document.getElementById('github-waiting').hidden",
    )
    .await;
    app.click("#signin-github-btn").await;
    let first = github_link(&app, &cancelled).await;
    assert!(first.starts_with(&oauth.url), "{first}");
    let redirect_uri = query_param(&first, "redirect_uri");
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );

    // Something else on this machine reaches the loopback listener first,
    // with a state of its own: refused in the window, nothing signed in.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let forged = no_redirects
        .get(format!("{redirect_uri}?code=forged&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 302, "the listener answers");
    app.wait_until(
        "the forged redirect to be refused",
        "return document.getElementById('signin-error').textContent.includes('state did not match')",
    )
    .await;
    app.screenshot("12-github-forged-redirect").await;
    assert_eq!(
        app.js("return document.getElementById('signed-in').hidden")
            .await,
        Value::Bool(true)
    );
    assert!(!data.path().join("credentials.json").exists());

    // The real thing: the browser signs in at "GitHub" (the OAuth2 server),
    // comes back to the app's loopback listener, and lands on the service's
    // "return to Cairn" page.
    app.click("#signin-github-btn").await;
    let second = github_link(&app, &first).await;
    // The app opened the page in the browser, and the window's link opens
    // it again (a web view does not open pages by itself).
    let opened_times = |times: usize| {
        let (second, opened_pages) = (&second, &opened_pages);
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while opened_pages().iter().filter(|p| *p == second).count() < times {
                assert!(
                    Instant::now() < deadline,
                    "the page was not opened {times} times: {:?}",
                    opened_pages()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    opened_times(1).await;
    app.click("#github-link").await;
    opened_times(2).await;
    assert_eq!(
        app.js("return document.getElementById('github-url').value")
            .await,
        Value::String(second.clone()),
        "the address is there to copy"
    );
    let page = reqwest::get(&second).await.unwrap();
    assert!(page.status().is_success(), "{}", page.status());
    let landing = page.text().await.unwrap();
    assert!(landing.contains("Return to Cairn"), "{landing}");
    app.wait_until(
        "the account view after GitHub sign-in",
        "return !document.getElementById('signed-in').hidden",
    )
    .await;
    // Said as a sentence; the raw id is behind it, for support.
    let summary = text_of(&app, "account-summary").await;
    // The name GitHub gives (the test's server answers `login: octocat`),
    // not the numeric id.
    assert!(
        summary.starts_with("GitHub account octocat on "),
        "{summary}"
    );
    assert_eq!(
        app.js("return document.getElementById('account-summary').title")
            .await,
        Value::String(format!("github:{GITHUB_ID}"))
    );
    app.wait_until(
        "the GitHub link to go once signed in",
        "return document.getElementById('github-waiting').hidden",
    )
    .await;
    app.screenshot("13-signed-in-with-github").await;
    close_dialog(&app).await;
    wait_for_synced(&app).await;

    // Changing the passphrase in Settings: a wrong current one and two
    // different new ones are each refused in words; then it changes.
    // Everything in, the device list included (it is read last).
    open_account(&app).await;
    assert_eq!(
        app.js("return document.querySelectorAll('#device-list li').length")
            .await,
        Value::from(1),
        "this device in the list"
    );
    const NEW_PASSPHRASE: &str = "cairns mark the trail";
    let attempt = |current: &'static str, new: &'static str, repeat: &'static str| {
        let app = &app;
        async move {
            app.js(&format!(
                "for (const [id, v] of [['pass-current', {}], ['pass-new', {}], ['pass-repeat', {}]]) \
                   document.getElementById(id).value = v; \
                 document.getElementById('pass-msg').textContent = ''; return true",
                serde_json::to_string(current).unwrap(),
                serde_json::to_string(new).unwrap(),
                serde_json::to_string(repeat).unwrap(),
            ))
            .await;
            app.click("#pass-change-btn").await;
            app.wait_until(
                "the passphrase change's answer",
                "const m = document.getElementById('pass-msg').textContent; \
                 return m.length > 0 && m !== 'Changing…'",
            )
            .await;
            text_of(app, "pass-msg").await
        }
    };
    let wrong = attempt("not my passphrase", NEW_PASSPHRASE, NEW_PASSPHRASE).await;
    assert!(wrong.contains("not the current passphrase"), "{wrong}");
    let differ = attempt(PASSPHRASE, NEW_PASSPHRASE, "cairns mark the trial").await;
    assert!(differ.contains("differ"), "{differ}");
    let short = attempt(PASSPHRASE, "short", "short").await;
    assert!(short.contains("8 characters"), "{short}");
    let changed = attempt(PASSPHRASE, NEW_PASSPHRASE, NEW_PASSPHRASE).await;
    assert_eq!(changed, "Passphrase changed");
    let shot = app.screenshot("14-passphrase-changed").await;
    refresh_readme_shot(&shot, "passphrase.png");

    // On the service: the envelope opens with the new passphrase, to the
    // key this device holds, and no longer with the old one.
    let credentials = cairn_scenarios::device::credential_store(data.path())
        .load()
        .unwrap()
        .expect("signed in");
    let record = service
        .key_envelope(&credentials.access_token)
        .await
        .unwrap()
        .expect("an envelope");
    let envelope: cairn_core::crypto::KeyEnvelope = serde_json::from_str(&record.envelope).unwrap();
    let local = cairn_client::encryption::load_content_key(data.path())
        .unwrap()
        .expect("the content key on this device");
    assert!(envelope.open(NEW_PASSPHRASE).unwrap() == local);
    assert!(envelope.open(PASSPHRASE).is_err());

    close_dialog(&app).await;
    wait_for_titles(&app, &["Written before signing in"]).await;
    app.quit().await;
    tokio::task::spawn_blocking(move || drop(cloud))
        .await
        .unwrap();
}

/// A new user makes their account in the app: the service is typed once,
/// the device gets the name they give it, the account key and the recovery
/// key are shown with a copy button until they say they saved them, the
/// account shows as a sentence rather than its raw id, and a device can be
/// renamed in the list.
#[tokio::test]
async fn creates_an_account_in_the_window_and_renames_a_device() {
    let _serial = SERIAL.lock().await;
    let cloud = CloudGuard(Some(
        tokio::task::spawn_blocking(Cloud::start).await.unwrap(),
    ));
    let url = cloud.0.as_ref().unwrap().url();
    let data = tempfile::tempdir().unwrap();
    let app = Desktop::launch(Launch::new(data.path())).await;
    open_sign_in_form(&app, &url).await;
    // The only place the service is typed.
    assert_eq!(
        app.js("return document.querySelectorAll('#account-dialog input[type=url]').length")
            .await,
        Value::from(1)
    );
    app.js("document.getElementById('signin-device-name').value = ''; return true")
        .await;
    app.type_into("#signin-device-name", "Kitchen laptop").await;
    // No passphrase: the recovery key is then what opens the notes elsewhere.
    app.click("#create-account-btn").await;
    app.wait_until(
        "the new account's keys",
        "return !document.getElementById('signed-in').hidden \
           && !document.getElementById('account-key-box').hidden \
           && !document.getElementById('recovery-key-box').hidden \
           && document.getElementById('account-key').textContent.length > 20",
    )
    .await;
    wait_for_account_loaded(&app).await;
    let why = text_of(&app, "recovery-key-why").await;
    assert!(why.contains("You chose no passphrase"), "{why}");
    let summary = text_of(&app, "account-summary").await;
    assert!(summary.starts_with("Account-key account "), "{summary}");
    assert!(
        !summary.contains("key:"),
        "the raw id is not the name: {summary}"
    );
    app.wait_until(
        "this device under the name given",
        "return [...document.querySelectorAll('#device-list .device-name')] \
           .some(e => e.textContent.startsWith('Kitchen laptop (this device)'))",
    )
    .await;
    let shot = app.screenshot("22-account-created").await;
    refresh_readme_shot(&shot, "sign-in.png");

    // The account key signs in to the service: it is the real one.
    let key = text_of(&app, "account-key").await;
    let client = cairn_client::ServiceClient::new(&url).unwrap();
    client
        .sign_in_with_account_key(&key, None)
        .await
        .expect("the account key shown signs in");

    app.click("#account-key-copy").await;
    app.wait_until(
        "the copy button to answer",
        "const t = document.getElementById('account-key-copy').textContent; \
         return t === 'Copied' || t === 'Press Ctrl+C'",
    )
    .await;
    // Closed and opened again, the keys are still there until saved.
    close_dialog(&app).await;
    open_account(&app).await;
    assert_eq!(
        app.js("return document.getElementById('account-key-box').hidden")
            .await,
        Value::Bool(false)
    );
    app.click("#secrets-saved-btn").await;
    app.wait_until(
        "the keys to go",
        "return document.getElementById('account-key-box').hidden \
           && document.getElementById('recovery-key-box').hidden \
           && document.getElementById('account-key').textContent === ''",
    )
    .await;

    app.click("#device-list .device-rename").await;
    app.wait_until(
        "the name field",
        "return document.activeElement && document.activeElement.classList.contains('device-name-input')",
    )
    .await;
    app.js("document.activeElement.value = ''; return true")
        .await;
    app.type_into(".device-name-input", "Study desktop").await;
    app.type_into(".device-name-input", keys::ENTER).await;
    app.wait_until(
        "the new name in the list",
        "return [...document.querySelectorAll('#device-list .device-name')] \
           .some(e => e.textContent.startsWith('Study desktop (this device)'))",
    )
    .await;
    app.screenshot("23-device-renamed").await;
    close_dialog(&app).await;
    app.quit().await;
    drop(cloud);
}

/// The open note's text as the editor holds it (not as it is drawn).
async fn editor_doc(app: &Desktop) -> String {
    app.js("return window.__cairnEditorText()")
        .await
        .as_str()
        .expect("editor text")
        .to_string()
}

async fn wait_for_doc(app: &Desktop, what: &str, condition: &str) {
    app.wait_until(
        what,
        &format!("const doc = window.__cairnEditorText(); return {condition};"),
    )
    .await;
}

async fn wait_for_count(app: &Desktop, css: &str, count: usize) {
    app.wait_until(
        &format!("{css} to count {count}"),
        &format!(
            "const el = document.querySelector({}); return !!el && el.querySelector('.nb-count, .nav-count')?.textContent === '{count}'",
            serde_json::to_string(css).unwrap()
        ),
    )
    .await;
}

/// Typed as a user would: Enter continues the task list, and Enter on
/// its empty item ends it.
const LAUNCH_PLAN: &str = "# Launch plan\n\nSome **bold**, *italic* and `code`; see [[Budget]].\n- [ ] write the brief\nbook the room\n\n\n| Item | Cost |\n|---|---:|\n| Hall | 120 |\n| Food | 80 |\n\n```js\nconst total = 120 + 80; // euros\n```\n---\n> Keep it short.";

#[tokio::test]
async fn notebooks_links_and_live_preview_in_the_window() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    let app = Desktop::launch(Launch::new(data.path())).await;

    // Nested notebooks: one from the sidebar's button, one inside it from
    // its context menu.
    app.click("#new-notebook").await;
    name_notebook(&app, "Work").await;
    app.wait_until(
        "the Work notebook",
        &format!(
            "return !!document.querySelector('{}')",
            notebook_row("Work")
        ),
    )
    .await;
    app.context_click(&notebook_row("Work")).await;
    app.click("[data-testid=menu-new-sub-notebook]").await;
    name_notebook(&app, "Projects").await;
    app.wait_until(
        "Work/Projects, selected",
        &format!(
            "const r = document.querySelector('{}'); return !!r && r.getAttribute('aria-selected') === 'true' && r.getAttribute('aria-level') === '2'",
            notebook_row("Work/Projects")
        ),
    )
    .await;

    // A note made under "All notes" is Unfiled; dragged onto Projects it moves there.
    app.click("#view-notes").await;
    app.click("#new-note").await;
    wait_for_editor_focus(&app).await;
    app.press_keys("Groceries\nmilk and bread").await;
    wait_for_titles(&app, &["Groceries"]).await;
    wait_for_count(&app, "#nav-unfiled", 1).await;
    app.drag(".note-row", &notebook_row("Work/Projects")).await;
    wait_for_count(&app, &notebook_row("Work/Projects"), 1).await;
    wait_for_count(&app, &notebook_row("Work"), 1).await;
    wait_for_count(&app, "#nav-unfiled", 0).await;
    app.click(&notebook_row("Work/Projects")).await;
    wait_for_titles(&app, &["Groceries"]).await;

    // Ctrl+N in a notebook makes the note there; typed Markdown is drawn
    // as what it means, its markers shown only on the cursor's line.
    app.press_keys(&format!("{}n{}", keys::CONTROL, keys::CONTROL))
        .await;
    app.wait_until(
        "a second note in Projects",
        "return document.querySelectorAll('.note-row').length === 2",
    )
    .await;
    wait_for_editor_focus(&app).await;
    app.press_keys(LAUNCH_PLAN).await;
    wait_for_doc(
        &app,
        "the whole plan typed",
        "doc.endsWith('> Keep it short.')",
    )
    .await;
    let doc = editor_doc(&app).await;
    assert!(
        doc.starts_with("# Launch plan\n\nSome **bold**, *italic* and `code`; see [[Budget]].\n- [ ] write the brief\n- [ ] book the room\n\n| Item"),
        "Enter continued the task list, and ended it: {doc:?}"
    );
    // The cursor to the empty second line, off every line with markers.
    app.press_keys(&format!(
        "{}{}{}{}",
        keys::CONTROL,
        keys::HOME,
        keys::CONTROL,
        keys::DOWN
    ))
    .await;
    wait_for_count(&app, &notebook_row("Work/Projects"), 2).await;
    // The rendering, looked at off the cursor's line.
    app.wait_until(
        "the live preview",
        "const q = s => document.querySelector('.cm-content ' + s);
         const h1 = q('.cm-lp-h1');
         return !!h1 && h1.innerText.trim() === 'Launch plan'
           && q('.cm-lp-strong')?.innerText === 'bold'
           && q('.cm-lp-em')?.innerText === 'italic'
           && q('.cm-lp-code')?.innerText === 'code'
           && !q('.cm-lp-strong').closest('.cm-line').innerText.includes('*')
           && q('.cm-lp-wikilink')?.innerText === 'Budget'
           && q('.cm-lp-wikilink')?.dataset.missing === 'true'
           && document.querySelectorAll('.cm-content input.cm-lp-task').length === 2
           && !!q('.cm-lp-table table')
           && q('.cm-lp-table th')?.innerText === 'Item'
           && document.querySelectorAll('.cm-content .cm-lp-table tbody tr').length === 2
           && document.querySelectorAll('.cm-content .cm-lp-codeblock').length === 3
           && !!q('.cm-lp-codeblock .tok-keyword')
           && !!q('.cm-lp-hr')
           && q('.cm-lp-quote')?.innerText === 'Keep it short.'",
    )
    .await;
    let shot = app.screenshot("live-preview").await;
    refresh_readme_shot(&shot, "live-preview.png");

    // A click on a checkbox ticks the task, in the text and in the store.
    app.click(".cm-content input.cm-lp-task").await;
    wait_for_doc(
        &app,
        "the task ticked",
        "doc.includes('- [x] write the brief')",
    )
    .await;
    app.wait_until(
        "the checkbox drawn ticked",
        "return document.querySelector('.cm-content input.cm-lp-task').checked",
    )
    .await;

    // Ctrl+click on [[Budget]], which names no note yet: the note is made
    // (in this notebook) and opened; it lists the plan among its backlinks.
    app.ctrl_click(".cm-content .cm-lp-wikilink").await;
    wait_for_doc(&app, "the Budget note", "doc === '# Budget\\n'").await;
    wait_for_count(&app, &notebook_row("Work/Projects"), 3).await;
    app.wait_until(
        "the plan among Budget's backlinks",
        "return [...document.querySelectorAll('#backlinks [data-testid=backlink]')].map(b => b.textContent).join() === 'Launch plan'",
    )
    .await;
    // Back through the backlink: the link now leads somewhere, and the
    // ticked task came back from the store.
    app.click("#backlinks [data-testid=backlink]").await;
    wait_for_doc(
        &app,
        "the plan again",
        "doc.startsWith('# Launch plan') && doc.includes('- [x] write the brief')",
    )
    .await;
    app.wait_until(
        "the link to Budget no longer missing",
        "const l = document.querySelector('.cm-content .cm-lp-wikilink'); return !!l && l.dataset.missing === undefined",
    )
    .await;

    // `[[` completes note titles from the store; Enter takes one.
    app.click(".cm-content").await;
    app.press_keys(&format!("{}{}{}", keys::CONTROL, keys::END, keys::CONTROL))
        .await;
    app.press_keys(" See [[Bud").await;
    app.wait_until(
        "the completion of Budget",
        "return [...document.querySelectorAll('.cm-tooltip-autocomplete li')].some(li => li.textContent === 'Budget')",
    )
    .await;
    app.press_keys(keys::ENTER).await;
    wait_for_doc(
        &app,
        "the completed link",
        "doc.endsWith('short. See [[Budget]]')",
    )
    .await;

    // The quick switcher: Ctrl+P, a few letters of a title, Enter.
    app.press_keys(&format!("{}p{}", keys::CONTROL, keys::CONTROL))
        .await;
    app.wait_until(
        "the quick switcher",
        "const d = document.getElementById('switcher'); return d.open && d.dataset.ready === 'true'",
    )
    .await;
    app.press_keys("grcr").await;
    app.wait_until(
        "Groceries first",
        "const r = document.querySelector('#switcher-list [data-testid=switcher-row]'); return !!r && r.querySelector('.switcher-title').textContent === 'Groceries'",
    )
    .await;
    app.screenshot("quick-switcher").await;
    app.press_keys(keys::ENTER).await;
    wait_for_doc(
        &app,
        "Groceries open",
        "doc === 'Groceries\\nmilk and bread'",
    )
    .await;

    // Search looks in every notebook and says where each result is.
    app.click("#view-notes").await;
    app.click("#search").await;
    app.press_keys("milk").await;
    app.wait_until(
        "the result's notebook path",
        "const p = document.querySelector('.note-row [data-testid=note-path]'); return !!p && p.textContent === 'Work/Projects'",
    )
    .await;
    clear_search(&app).await;

    // Collapse Work; the choice survives a restart.
    app.click(&format!("{} .nb-twisty", notebook_row("Work")))
        .await;
    app.wait_until(
        "Projects hidden under a collapsed Work",
        &format!(
            "return !document.querySelector('{}') && document.querySelector('{}').getAttribute('aria-expanded') === 'false'",
            notebook_row("Work/Projects"),
            notebook_row("Work")
        ),
    )
    .await;
    app.screenshot("notebooks").await;
    app.quit().await;

    let mut dark = Launch::new(data.path());
    dark.env.push(("GTK_THEME".into(), "Adwaita:dark".into()));
    let app = Desktop::launch(dark).await;
    app.wait_until(
        "Work still collapsed after a restart",
        &format!(
            "const w = document.querySelector('{}'); return !!w && w.getAttribute('aria-expanded') === 'false' && !document.querySelector('{}')",
            notebook_row("Work"),
            notebook_row("Work/Projects")
        ),
    )
    .await;
    app.click(&format!("{} .nb-twisty", notebook_row("Work")))
        .await;
    app.click(&notebook_row("Work/Projects")).await;
    wait_for_titles(&app, &["Launch plan", "Budget", "Groceries"]).await;
    app.click(".note-row").await;
    app.wait_until(
        "the plan drawn in the dark",
        "return !!document.querySelector('.cm-content .cm-lp-table table') && !!document.querySelector('.cm-content .cm-lp-codeblock .tok-keyword')",
    )
    .await;
    app.screenshot("live-preview-dark").await;

    // At 640x420 the notebooks give their column to the note, and come
    // back over the list from the toolbar's button.
    app.set_size(640, 420).await;
    app.wait_until(
        "the small layout",
        "return innerWidth <= 640 && getComputedStyle(document.getElementById('nav')).display === 'none'",
    )
    .await;
    app.screenshot("small-window").await;
    app.click("#nav-toggle").await;
    app.wait_until(
        "the notebooks over the list, inside the window",
        &format!(
            "const r = document.querySelector('{}').getBoundingClientRect(); return r.width > 0 && r.right <= innerWidth && r.bottom <= innerHeight",
            notebook_row("Work/Projects")
        ),
    )
    .await;
    let shot = app.screenshot("small-window-notebooks").await;
    refresh_readme_shot(&shot, "notebooks-small-dark.png");
    app.click(&notebook_row("Work")).await;
    app.wait_until(
        "the notebooks hidden again once one is chosen",
        "return getComputedStyle(document.getElementById('nav')).display === 'none'",
    )
    .await;
    app.quit().await;
}

/// A 20 KB note of mixed Markdown: headings, emphasis, links, tasks,
/// tables and code, so the live preview has all its kinds to draw.
fn markdown_note_of_20_kb() -> String {
    let mut body = String::from("# Field notes\n\n");
    let mut i = 0;
    while body.len() < 20 * 1024 {
        i += 1;
        body.push_str(&format!(
            "## Day {i}\n\nSome **bold** and *italic* words, `inline code` and a [[Link {i}]].\n\
             - [ ] a task for day {i}\n- [x] a task done\n\n\
             | Item | Cost |\n|---|---:|\n| Hall | {i} |\n\n\
             ```rust\nfn day_{i}() -> u32 {{ {i} }}\n```\n> A quote for day {i}.\n\n"
        ));
    }
    body
}

/// Keystroke to paint while typing into a 20 KB note with live preview: a
/// benchmark, not a pass mark. It prints (and writes to
/// tests/artifacts/typing-perf.json) the samples' percentiles, the parts
/// each keystroke's time went to, and the floor: a bare textarea typed
/// into the same way in the same run. It fails only when nothing was
/// measured.
#[tokio::test]
async fn typing_in_a_20_kb_note_with_live_preview_reports_keystroke_to_paint() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    // CAIRN_BENCH_PLAIN=1: the same size of plain text, as the baseline
    // of what the preview costs.
    let plain = std::env::var_os("CAIRN_BENCH_PLAIN").is_some();
    let body = if plain {
        let md = markdown_note_of_20_kb();
        let mut b = String::from("# Field notes\n\n## Day 1\n\n");
        while b.len() < md.len() {
            b.push_str("A plain line of a long note without any markup in it at all.\n");
        }
        b
    } else {
        markdown_note_of_20_kb()
    };
    {
        let mut store = Store::open(data.path()).expect("open store");
        store
            .create_note_with(NewNote {
                body: body.clone(),
                ..Default::default()
            })
            .expect("seed the note");
    }
    let release = std::env::var_os("CAIRN_BENCH_RELEASE").is_some();
    let mut launch = Launch::new(data.path());
    launch.release = release;
    let app = Desktop::launch(launch).await;
    app.click(".note-row").await;
    app.wait_until(
        "the note drawn with its preview",
        if plain {
            "return !!document.querySelector('.cm-content .cm-lp-h2')"
        } else {
            "return !!document.querySelector('.cm-content .cm-lp-h1') && !!document.querySelector('.cm-content .cm-lp-table table')"
        },
    )
    .await;
    // The floor first: the same typing into a bare textarea over the
    // window, measured the same way, under the same load. It is what this
    // window system costs with no editor at all (the frame clock's wait
    // and the compositor's paint), so the editor's figure can be read
    // against it.
    app.js(
        "const t = document.createElement('textarea');\
         t.id = 'floor'; t.style.cssText = 'position:fixed;inset:0;z-index:99999;width:100%;height:100%';\
         document.body.append(t); window.__floor = [];\
         t.addEventListener('keydown', () => { const at = performance.now();\
           requestAnimationFrame(() => { const ch = new MessageChannel();\
             ch.port1.onmessage = () => window.__floor.push(performance.now() - at);\
             ch.port2.postMessage(null); }); });\
         t.focus(); return true;",
    )
    .await;
    let floor_typed = "typing into a bare text box ".repeat(3);
    app.type_paced(&floor_typed, Duration::from_millis(90))
        .await;
    app.wait_until(
        "every key in the bare text box measured",
        &format!("return window.__floor.length >= {}", floor_typed.len()),
    )
    .await;
    let floor = app
        .js("const v = window.__floor.slice().sort((a, b) => a - b);\
             const pct = (p) => v[Math.min(v.length - 1, Math.ceil(p / 100 * v.length) - 1)];\
             document.getElementById('floor').remove();\
             return { keystrokes: v.length, p50_ms: pct(50), p95_ms: pct(95) };")
        .await;
    // Typing in the middle of the note, where the preview is around it.
    app.click(".cm-content .cm-lp-h2").await;
    app.press_keys(&format!("{}{}", keys::END, keys::ENTER))
        .await;
    app.js("window.__cairnPerf.clear(); return true").await;
    let typed = "typing in a long note with the live preview on ".repeat(4);
    // About eleven keys a second, a quick typist's pace.
    app.type_paced(&typed, Duration::from_millis(90)).await;
    let want = serde_json::to_string(typed.trim_end()).unwrap();
    wait_for_doc(&app, "everything typed", &format!("doc.includes({want})")).await;
    let summary = app
        .js("return window.__cairnPerf.summary()['keystroke-paint'] || null")
        .await;
    let count = summary["count"].as_u64().unwrap_or(0);
    assert!(
        count >= typed.len() as u64 / 2,
        "keystrokes measured: {summary}"
    );
    // Where the time went: p50 and p95 of each part of a keystroke.
    let parts = app
        .js(
            "const s = window.__cairnPerf.samples().filter((x) => x.name === 'keystroke-paint');\
             const pct = (v, p) => { v.sort((a, b) => a - b); return Math.round(v[Math.min(v.length - 1, Math.ceil(p / 100 * v.length) - 1)] * 10) / 10; };\
             const out = {};\
             for (const k of ['update_ms', 'frame_ms', 'paint_ms']) {\
               const v = s.map((x) => x.detail[k]);\
               out[k + '_p50'] = pct(v.slice(), 50); out[k + '_p95'] = pct(v.slice(), 95);\
             }\
             return out;",
        )
        .await;
    let report = serde_json::json!({
        "bench": "keystroke_to_paint_20kb_live_preview",
        "build": if release { "release" } else { "debug" },
        "markdown": !plain,
        "note_bytes": body.len(),
        "keystrokes": count,
        "p50_ms": summary["p50"],
        "p95_ms": summary["p95"],
        "max_ms": summary["max"],
        "key_gap_ms": 90,
        "target_p95_ms": 16,
        "parts": parts,
        "floor_bare_textarea": floor,
    });
    println!("{report}");
    std::fs::write(
        cairn_scenarios::desktop::artifacts_dir().join("typing-perf.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .expect("write typing-perf.json");
    app.quit().await;
}

/// The small things of a first hour: a new note left empty does not stay
/// behind as "Untitled", trashing offers Undo, a trashed note keeps its tags
/// and pin as they were, and the trash can be emptied (two clicks).
#[tokio::test]
async fn empty_new_notes_go_trash_undoes_and_the_trash_empties() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    let app = Desktop::launch(Launch::new(data.path())).await;
    let rows = "return document.querySelectorAll('#note-list .note-row').length";

    app.wait_until(
        "the first-note button of an empty store",
        "return !document.getElementById('first-note').hidden",
    )
    .await;
    app.screenshot("24-first-note").await;
    app.click("#first-note").await;
    wait_for_editor_focus(&app).await;
    // A second new note, with nothing typed into the first: one note.
    app.click("#new-note").await;
    wait_for_editor_focus(&app).await;
    app.wait_until("one row", &format!("{rows} === 1")).await;
    type_in_editor(&app, "Keep me").await;
    wait_for_titles(&app, &["Keep me"]).await;
    // Another new note, left for the one typed into: the empty one goes.
    app.click("#new-note").await;
    wait_for_editor_focus(&app).await;
    app.wait_until("two rows", &format!("{rows} === 2")).await;
    let keep = app
        .js("return [...document.querySelectorAll('.note-row')] \
               .find(r => r.querySelector('.note-title').textContent === 'Keep me').dataset.id")
        .await;
    app.click(&format!(".note-row[data-id='{}']", keep.as_str().unwrap()))
        .await;
    app.wait_until(
        "the empty note to go",
        &format!("{rows} === 1 && document.querySelector('.note-title').textContent === 'Keep me'"),
    )
    .await;
    wait_for_editor(&app, "Keep me").await;

    // Trash, then Undo from the toast.
    app.click("#trash").await;
    app.wait_until(
        "the toast's Undo",
        "const t = document.getElementById('toast'); \
         return !t.hidden && document.getElementById('toast-action')?.textContent === 'Undo'",
    )
    .await;
    app.click("#toast-action").await;
    wait_for_titles(&app, &["Keep me"]).await;
    wait_for_editor(&app, "Keep me").await;

    // In the trash, tags and pin are left alone; then the trash is emptied.
    app.click("#trash").await;
    app.click("#view-trash").await;
    app.wait_until("the trashed note", &format!("{rows} === 1"))
        .await;
    app.click(".note-row").await;
    app.wait_until(
        "the trashed note's toolbar",
        "return document.getElementById('pin').disabled \
           && document.getElementById('tag-input').disabled \
           && !document.getElementById('trash-actions').hidden",
    )
    .await;
    app.click("#empty-trash").await;
    app.wait_until(
        "the second click asked for",
        "return document.getElementById('empty-trash').textContent.startsWith('Click again')",
    )
    .await;
    app.click("#empty-trash").await;
    app.wait_until(
        "an empty trash",
        &format!(
            "{rows} === 0 && document.getElementById('list-status').textContent === 'The trash is empty'"
        ),
    )
    .await;
    app.screenshot("25-trash-emptied").await;
    app.quit().await;
    // Nothing left behind in the store either: no empty note, no trash.
    let store = Store::open(data.path()).unwrap();
    assert!(store.list(&Default::default()).unwrap().is_empty());
    let trash = cairn_core::ListQuery {
        trashed: true,
        ..Default::default()
    };
    assert!(store.list(&trash).unwrap().is_empty());
}

/// The editor's shortcuts from the keyboard alone: Ctrl+B, Ctrl+I, Ctrl+K
/// (a note link) and Ctrl+L (a task, then ticked); Enter on a link follows
/// it, making the note it names; Ctrl+Z takes back one shortcut at a time.
#[tokio::test]
async fn formatting_shortcuts_and_enter_on_a_link() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.wait_until(
        "the app ready",
        "return document.body.dataset.ready === 'true'",
    )
    .await;
    app.press_keys(&format!("{}n{}", keys::CONTROL, keys::CONTROL))
        .await;
    wait_for_editor_focus(&app).await;
    let ctrl = |k: &str| format!("{}{k}{}", keys::CONTROL, keys::CONTROL);

    app.press_keys(&format!("Plan{}", keys::ENTER)).await;
    app.press_keys(&format!("{}loud{} and ", ctrl("b"), keys::END))
        .await;
    app.press_keys(&format!("{}soft{}", ctrl("i"), keys::END))
        .await;
    wait_for_doc(
        &app,
        "bold and italic",
        "doc === 'Plan\\n**loud** and *soft*'",
    )
    .await;

    // Ctrl+L makes the line a task, and a second Ctrl+L ticks it.
    app.press_keys(&format!("{}{}call the printer", keys::ENTER, ctrl("l")))
        .await;
    wait_for_doc(&app, "a task", "doc.endsWith('\\n- [ ] call the printer')").await;
    app.press_keys(&ctrl("l")).await;
    wait_for_doc(
        &app,
        "the task ticked",
        "doc.endsWith('\\n- [x] call the printer')",
    )
    .await;
    app.press_keys(&ctrl("z")).await;
    wait_for_doc(
        &app,
        "the tick undone",
        "doc.endsWith('\\n- [ ] call the printer')",
    )
    .await;

    // Ctrl+K with nothing selected starts a note link, the cursor inside
    // (typed on the line above the task, where Enter starts no list item).
    app.press_keys(&format!(
        "{}{}{}See {}Printer",
        keys::UP,
        keys::END,
        keys::ENTER,
        ctrl("k")
    ))
    .await;
    wait_for_doc(
        &app,
        "the link typed",
        "doc.endsWith('\\nSee [[Printer]]\\n- [ ] call the printer')",
    )
    .await;
    app.wait_until(
        "the link drawn as one to a missing note",
        "const l = document.querySelector('.cm-content .cm-lp-wikilink'); return !!l && l.dataset.missing !== undefined",
    )
    .await;
    // Enter inside the link follows it: "Printer" is made and opened.
    app.press_keys(&format!("{}{}", keys::LEFT, keys::LEFT))
        .await;
    app.press_keys(keys::ENTER).await;
    wait_for_doc(&app, "the Printer note", "doc === '# Printer\\n'").await;
    app.wait_until(
        "both notes listed",
        "return [...document.querySelectorAll('.note-row .note-title')].map(t => t.textContent).sort().join() === 'Plan,Printer'",
    )
    .await;
    app.screenshot("26-link-followed-by-enter").await;
    app.quit().await;

    let mut store = Store::open(data.path()).unwrap();
    let ids: Vec<String> = store
        .list(&Default::default())
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    let bodies: Vec<String> = ids.iter().map(|id| store.get(id).unwrap().body).collect();
    assert!(
        bodies.contains(
            &"Plan\n**loud** and *soft*\nSee [[Printer]]\n- [ ] call the printer".to_string()
        ),
        "{bodies:?}"
    );
}

/// Keystroke in one window to paint in the other, with the app's default
/// sync settings (publish after 2 s of quiet): the typing travels on the
/// live lane. Every keystroke must arrive; the latencies are written to
/// `tests/artifacts/live-typing.json` (CAIRN_BENCH_RELEASE=1: release build).
#[tokio::test]
async fn keystrokes_reach_the_other_window_live_with_default_settings() {
    let _serial = SERIAL.lock().await;
    let (_cloud, url, key) = cloud_with_account().await;
    let release = std::env::var_os("CAIRN_BENCH_RELEASE").is_some();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let launch = |dir: &Path| {
        let mut l = Launch::new(dir);
        l.release = release;
        l
    };
    let a = signed_in_window(launch(dirs[0].path()), &url, &key).await;
    let b = signed_in_window(launch(dirs[1].path()), &url, &key).await;

    a.click("#new-note").await;
    wait_for_editor_focus(&a).await;
    type_in_editor(&a, "Live notes").await;
    b.wait_until(
        "the note in the second window",
        "return [...document.querySelectorAll('.note-title')].some(t => t.textContent === 'Live notes')",
    )
    .await;
    b.click(".note-row").await;
    wait_for_editor(&b, "Live notes").await;

    // Window A notes when each key goes down; window B when the text has
    // grown by one more character and the frame showing it is painted.
    // Both clocks are the machine's (performance.timeOrigin + now).
    a.js(
        "window.__keys = []; document.querySelector('.cm-content').addEventListener('keydown', \
          () => window.__keys.push(performance.timeOrigin + performance.now()), true); return true",
    )
    .await;
    b.js("window.__seen = []; const base = window.__cairnEditorText().length; \
          new MutationObserver(() => { const n = window.__cairnEditorText().length - base; \
            requestAnimationFrame(() => { const ch = new MessageChannel(); \
              ch.port1.onmessage = () => window.__seen.push([n, performance.timeOrigin + performance.now()]); \
              ch.port2.postMessage(null); }); }) \
          .observe(document.querySelector('.cm-content'), { subtree: true, childList: true, characterData: true }); \
          return true")
        .await;
    a.press_keys(&format!("{}{}", keys::CONTROL, keys::END))
        .await;
    a.press_keys(keys::CONTROL).await;
    let typed = " typed in one window and read in the other".repeat(3);
    // About eleven keys a second, a quick typist's pace.
    a.type_paced(&typed, Duration::from_millis(90)).await;
    let want = format!("Live notes{typed}");
    wait_for_editor(&b, &want).await;
    // The observer notes a growth after the frame that paints it: wait for
    // the last one to be noted, not only for the text.
    let grown = typed.chars().count();
    b.wait_until(
        "the last growth noted",
        &format!("return window.__seen.some(([n]) => n >= {grown})"),
    )
    .await;

    let keys_at: Vec<f64> = serde_json::from_value(a.js("return window.__keys").await).unwrap();
    let seen: Vec<(i64, f64)> = serde_json::from_value(b.js("return window.__seen").await).unwrap();
    // The last keys are the typed text (Ctrl+End came before).
    let n = typed.chars().count();
    assert!(keys_at.len() >= n, "keystrokes noted: {}", keys_at.len());
    let keys_at = &keys_at[keys_at.len() - n..];
    // Keystroke i shows once the text has grown by i + 1.
    let mut lat: Vec<f64> = keys_at
        .iter()
        .enumerate()
        .map(|(i, at)| {
            let shown = seen
                .iter()
                .find(|(n, _)| *n > i as i64)
                .map(|(_, t)| *t)
                .expect("every keystroke shows in the other window");
            (shown - at).max(0.0)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    let report = serde_json::json!({
        "bench": "keystroke_window_a_to_paint_window_b",
        "build": if release { "release" } else { "debug" },
        "settings": "defaults",
        "keystrokes": lat.len(),
        "key_gap_ms": 90,
        "p50_ms": pct(0.5).round(),
        "p99_ms": pct(0.99).round(),
        "max_ms": lat.last().copied().unwrap_or_default().round(),
        "target_p50_ms": 100,
        "target_p99_ms": 250,
    });
    println!("{report}");
    std::fs::write(
        cairn_scenarios::desktop::artifacts_dir().join("live-typing.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .expect("write live-typing.json");
    b.screenshot("27-live-typing-arrived").await;
    a.quit().await;
    b.quit().await;
}

/// Opens the list's last note, whose text starts with `title`.
async fn open_last_row(app: &Desktop, title: &str) {
    app.click(".note-row:nth-last-child(1)").await;
    app.wait_until(
        &format!("{title} in the editor"),
        &format!(
            "return window.__cairnEditorText().startsWith({})",
            serde_json::to_string(title).unwrap()
        ),
    )
    .await;
}

/// Notes for the search and appearance tests, written through the core
/// before the window opens.
fn seed_search_notes(dir: &Path) {
    // A second apart, so the list's order (newest first) is the order
    // written here; notes made in one millisecond would tie.
    let (mut store, clock) = store_on_manual_clock(dir);
    for body in [
        "Iceland trip\nWe walked along the frozen lake for hours, and at midnight we saw the aurora over the fjord.\n\n```rust\nfn main() { let x = 1; }\n```\nSee [[Packing list]] and [the map](https://example.org).",
        "Weekly meeting\nAgenda: budget, hiring, the new office.",
        "Groceries\nmilk, bread, eggs",
    ] {
        store.create_note(body).expect("note");
        clock.advance(Duration::from_secs(1));
    }
    let old = store
        .create_note("Old plans\nthe lighthouse project, dropped")
        .expect("note");
    store.trash(&old).expect("trash");
}

/// The contrast of an element's text with the background behind it (the
/// first ancestor with an opaque one), as WCAG defines it.
const CONTRAST: &str = "const lum = (c) => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const bgOf = (el) => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor; const a = c.match(/[\\d.]+/g); if (a && (a.length < 4 || Number(a[3]) > 0.9)) return c; } return 'rgb(255, 255, 255)'; };
    const contrast = (el) => { const a = lum(getComputedStyle(el).color), b = lum(bgOf(el)); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };";

/// Contrast of the first element matching `css` (panics when none does).
async fn contrast_of(app: &Desktop, css: &str) -> f64 {
    let css_json = serde_json::to_string(css).unwrap();
    // The editor's decorations come a frame or more after its text: wait
    // for the element rather than measure nothing.
    app.wait_until(
        &format!("{css} on the page"),
        &format!("return !!document.querySelector({css_json})"),
    )
    .await;
    app.js(&format!(
        "{CONTRAST} const el = document.querySelector({css_json}); return el ? contrast(el) : -1"
    ))
    .await
    .as_f64()
    .unwrap_or_else(|| panic!("no contrast for {css}"))
}

#[tokio::test]
async fn typos_are_forgiven_matches_marked_and_the_theme_chosen_in_settings() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    seed_search_notes(data.path());
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.set_size(1280, 800).await;
    wait_for_titles(&app, &["Groceries", "Weekly meeting", "Iceland trip"]).await;

    // Open another note first: Down from the search box must still open
    // the first result, not the note after the open one.
    app.click(".note-row").await;
    wait_for_editor(&app, "Groceries\nmilk, bread, eggs").await;

    // A typo: the close spelling is found, marked in the list's passage.
    app.type_into("#search", "aurroa").await;
    wait_for_titles(&app, &["Iceland trip"]).await;
    app.wait_until(
        "the passage around the match, marked",
        "const m = document.querySelector('.note-row .note-excerpt mark'); \
         return !!m && m.textContent === 'aurora' \
           && document.querySelector('.note-row .note-excerpt').textContent.includes('we saw the aurora over the fjord')",
    )
    .await;
    assert!(app
        .js("return document.getElementById('list-status').textContent")
        .await
        .as_str()
        .unwrap()
        .contains("Close spellings"));
    app.type_into("#search", keys::DOWN).await;
    app.wait_until(
        "Down to open the first result, its match marked in the note",
        "return window.__cairnEditorText().startsWith('Iceland trip') \
           && [...document.querySelectorAll('.cm-content .cm-found')].some(m => m.textContent === 'aurora') \
           && document.activeElement === document.getElementById('note-list')",
    )
    .await;
    app.wait_until(
        "the open row selected, for screen readers too",
        "const r = document.querySelector('.note-row.selected'); \
         return !!r && r.getAttribute('aria-selected') === 'true' \
           && document.getElementById('note-list').getAttribute('aria-activedescendant') === r.id",
    )
    .await;
    readme_screenshot(&app, "search-typo-1280-light", "search.png").await;
    app.set_size(640, 420).await;
    app.screenshot("search-typo-640-light").await;
    app.set_size(1280, 800).await;

    // The second typo of the issue.
    clear_search(&app).await;
    app.type_into("#search", "meetng").await;
    wait_for_titles(&app, &["Weekly meeting"]).await;

    // Nothing at all: said so in the list, not a blank.
    clear_search(&app).await;
    app.type_into("#search", "zqxvjw").await;
    app.wait_until(
        "the nothing-found message",
        "const e = document.getElementById('list-empty'); \
         return !e.hidden && e.textContent.includes('Nothing found for “zqxvjw”') \
           && document.querySelectorAll('.note-row').length === 0",
    )
    .await;
    app.screenshot("search-nothing-found").await;

    // The trash is searched by the same index, typos included.
    clear_search(&app).await;
    app.click("#view-trash").await;
    wait_for_titles(&app, &["Old plans"]).await;
    app.type_into("#search", "lighthuose").await;
    wait_for_titles(&app, &["Old plans"]).await;
    clear_search(&app).await;
    app.type_into("#search", "zqxvjw").await;
    wait_for_titles(&app, &[]).await;
    clear_search(&app).await;
    app.click("#view-notes").await;
    wait_for_titles(&app, &["Groceries", "Weekly meeting", "Iceland trip"]).await;

    // Dark and a larger text size, chosen in the settings dialog.
    open_account(&app).await;
    app.select("#theme-select", "dark").await;
    app.select("#font-size-select", "20").await;
    app.wait_until(
        "the dark theme and the larger text",
        "return document.documentElement.dataset.theme === 'dark' \
           && getComputedStyle(document.body).backgroundColor === 'rgb(28, 29, 31)'",
    )
    .await;
    app.screenshot("settings-dark-1280").await;
    close_dialog(&app).await;
    open_last_row(&app, "Iceland trip").await;
    assert_eq!(
        app.js("return getComputedStyle(document.querySelector('.cm-scroller')).fontSize")
            .await,
        Value::String("20px".into())
    );
    // The editor is dark too, and its links, code and find panel readable.
    assert_eq!(
        app.js("return getComputedStyle(document.querySelector('.cm-editor')).backgroundColor")
            .await,
        Value::String("rgb(28, 29, 31)".into())
    );
    app.click(".cm-content").await;
    type_in_editor(
        &app,
        &format!(
            "{}{}f{}{}",
            keys::CONTROL,
            keys::SHIFT,
            keys::SHIFT,
            keys::CONTROL
        ),
    )
    .await;
    app.wait_until(
        "the find panel",
        "return !!document.querySelector('.cm-panel.cm-search')",
    )
    .await;
    for css in [
        ".cm-lp-link",
        ".cm-panel.cm-search label",
        ".cm-panel.cm-search .cm-button",
        ".cm-panel.cm-search .cm-textfield",
        ".note-row.selected .note-excerpt",
        ".note-row .note-date",
    ] {
        let ratio = contrast_of(&app, css).await;
        assert!(ratio >= 4.5, "{css} has contrast {ratio:.2} in dark");
    }
    readme_screenshot(&app, "editor-dark-find-1280", "dark.png").await;
    app.set_size(640, 420).await;
    app.screenshot("editor-dark-find-640").await;
    app.quit().await;

    // Kept across a restart.
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.wait_until(
        "the dark theme after a restart",
        "return document.documentElement.dataset.theme === 'dark' \
           && getComputedStyle(document.documentElement).getPropertyValue('--editor-font-size').trim() === '20px'",
    )
    .await;
    // And back to light: the same checks hold there.
    choose_theme(&app, "light").await;
    assert_eq!(
        app.js("return getComputedStyle(document.body).backgroundColor")
            .await,
        Value::String("rgb(255, 255, 255)".into())
    );
    close_dialog(&app).await;
    open_last_row(&app, "Iceland trip").await;
    for css in [
        ".cm-lp-link",
        ".note-row.selected .note-excerpt",
        ".note-row .note-date",
    ] {
        let ratio = contrast_of(&app, css).await;
        assert!(ratio >= 4.5, "{css} has contrast {ratio:.2} in light");
    }
    app.screenshot("editor-light-1280").await;
    app.quit().await;
}

#[tokio::test]
async fn axe_finds_nothing_serious_on_the_main_views_in_light_and_dark() {
    let _serial = SERIAL.lock().await;
    let cloud = CloudGuard(Some(
        tokio::task::spawn_blocking(Cloud::start).await.unwrap(),
    ));
    let url = cloud.0.as_ref().unwrap().url();
    let data = tempfile::tempdir().expect("tempdir");
    seed_search_notes(data.path());
    seed_three_sessions(data.path());
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.set_size(1280, 800).await;
    let mut findings = Vec::new();
    for theme in ["light", "dark"] {
        // Signed out, the dialog is the sign-in form with the settings.
        choose_theme(&app, theme).await;
        findings.extend(axe_findings(&app, &format!("sign-in and settings ({theme})")).await);
        app.screenshot(&format!("a11y-sign-in-{theme}")).await;
        close_dialog(&app).await;

        // A search, with results marked, and a note open.
        app.type_into("#search", "aurroa").await;
        wait_for_titles(&app, &["Iceland trip"]).await;
        app.type_into("#search", keys::DOWN).await;
        app.wait_until(
            "the first result open",
            "return window.__cairnEditorText().startsWith('Iceland trip')",
        )
        .await;
        findings.extend(axe_findings(&app, &format!("search results and editor ({theme})")).await);
        clear_search(&app).await;
        wait_for_titles(
            &app,
            &["Plan", "Groceries", "Weekly meeting", "Iceland trip"],
        )
        .await;
        app.click(".note-row").await;
        wait_for_editor(&app, "Plan\nstep one\nstep two").await;
        findings.extend(axe_findings(&app, &format!("list and editor ({theme})")).await);

        // History.
        app.click("#history-toggle").await;
        app.wait_until(
            "the history panel",
            "return !document.getElementById('history-panel').hidden \
               && document.getElementById('history-preview').textContent.includes('step two')",
        )
        .await;
        app.type_into("#history-slider", keys::LEFT).await;
        app.wait_until(
            "an earlier version",
            "return document.getElementById('history-preview').dataset.changed === 'true'",
        )
        .await;
        findings.extend(axe_findings(&app, &format!("history ({theme})")).await);
        app.screenshot(&format!("a11y-history-{theme}")).await;
        app.click("#history-close").await;
    }

    // Signed in: the account view, in both themes.
    open_sign_in_form(&app, &url).await;
    app.click("#create-account-btn").await;
    app.wait_until(
        "the new account",
        "return !document.getElementById('signed-in').hidden \
           && document.getElementById('account-key').textContent.length > 20",
    )
    .await;
    wait_for_account_loaded(&app).await;
    app.wait_until(
        "the devices",
        "return document.querySelectorAll('#device-list li').length > 0",
    )
    .await;
    for theme in ["dark", "light"] {
        app.select("#theme-select", theme).await;
        app.wait_until(
            &format!("the {theme} theme"),
            &format!("return document.documentElement.dataset.theme === '{theme}'"),
        )
        .await;
        findings.extend(axe_findings(&app, &format!("account ({theme})")).await);
        app.screenshot(&format!("a11y-account-{theme}")).await;
    }
    close_dialog(&app).await;
    app.quit().await;
    assert!(
        findings.is_empty(),
        "axe-core found {} serious or critical problems:\n{}",
        findings.len(),
        findings.join("\n")
    );
}

/// Whether every element matching `css` that is shown lies wholly inside
/// the window (reachable without a scrollbar the window lacks).
async fn all_on_screen(app: &Desktop, css: &str) -> Vec<String> {
    let css_json = serde_json::to_string(css).unwrap();
    let off = app
        .js(&format!(
            "return [...document.querySelectorAll({css_json})]
               .filter(e => e.getClientRects().length > 0)
               .filter(e => {{ const r = e.getBoundingClientRect();
                 return r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5; }})
               .map(e => e.id || e.textContent.trim() || e.className)"
        ))
        .await;
    serde_json::from_value(off).unwrap()
}

#[tokio::test]
async fn columns_resize_and_stay_resized_and_everything_fits_at_640_by_420() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    seed_search_notes(data.path());
    seed_three_sessions(data.path());
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.set_size(1280, 800).await;
    let width = |id: &str| {
        format!("return Math.round(document.getElementById('{id}').getBoundingClientRect().width)")
    };
    let list_before = app.js(&width("sidebar")).await.as_f64().unwrap();
    let nav_before = app.js(&width("nav")).await.as_f64().unwrap();
    app.drag_by("#list-resizer", 80.0).await;
    app.drag_by("#nav-resizer", -40.0).await;
    let list = app.js(&width("sidebar")).await.as_f64().unwrap();
    let nav = app.js(&width("nav")).await.as_f64().unwrap();
    assert!(
        (list - list_before - 80.0).abs() <= 2.0,
        "list {list_before} → {list}"
    );
    assert!(
        (nav - nav_before + 40.0).abs() <= 2.0,
        "notebooks {nav_before} → {nav}"
    );
    // The keyboard moves the edge too.
    app.type_into("#list-resizer", keys::LEFT).await;
    app.wait_until(
        "the list 16 px narrower",
        &format!("return Math.round(document.getElementById('sidebar').getBoundingClientRect().width) === {}", list - 16.0),
    )
    .await;
    app.screenshot("columns-resized-1280-light").await;
    app.quit().await;

    // Kept across a restart.
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.set_size(1280, 800).await;
    app.wait_until(
        "the widths chosen before",
        &format!(
            "return Math.round(document.getElementById('sidebar').getBoundingClientRect().width) === {} \
               && Math.round(document.getElementById('nav').getBoundingClientRect().width) === {nav}",
            list - 16.0
        ),
    )
    .await;

    // The smallest window: the note's toolbar, the history bar and the
    // list's controls all on screen, in light and dark.
    app.set_size(640, 420).await;
    wait_for_titles(
        &app,
        &["Plan", "Groceries", "Weekly meeting", "Iceland trip"],
    )
    .await;
    app.click(".note-row").await;
    wait_for_editor(&app, "Plan\nstep one\nstep two").await;
    for theme in ["light", "dark"] {
        choose_theme(&app, theme).await;
        app.screenshot(&format!("settings-640-{theme}")).await;
        let off = all_on_screen(&app, "#account-dialog button, #account-dialog select").await;
        // The dialog scrolls; its close button and the theme choice stay reachable.
        assert!(
            !off.iter().any(|o| o == "✕"),
            "dialog close off screen: {off:?}"
        );
        close_dialog(&app).await;
        let off = all_on_screen(
            &app,
            "#note-toolbar button, #note-toolbar input, .sidebar-top > *, .sidebar-bottom > *",
        )
        .await;
        assert!(off.is_empty(), "off screen at 640x420 ({theme}): {off:?}");
        app.screenshot(&format!("editor-640-{theme}")).await;
        app.click("#history-toggle").await;
        app.wait_until(
            "the history panel",
            "return !document.getElementById('history-panel').hidden",
        )
        .await;
        let off = all_on_screen(&app, ".history-bar > *").await;
        assert!(
            off.is_empty(),
            "history bar off screen at 640x420 ({theme}): {off:?}"
        );
        app.screenshot(&format!("history-640-{theme}")).await;
        app.click("#history-close").await;
    }
    app.set_size(1280, 800).await;
    app.screenshot("columns-resized-1280-dark").await;
    app.quit().await;
}

/// Waits until the element `css` has the keyboard focus.
async fn wait_for_focus(app: &Desktop, css: &str) {
    let css_json = serde_json::to_string(css).unwrap();
    app.wait_until(
        &format!("the focus on {css}"),
        &format!("return document.activeElement === document.querySelector({css_json})"),
    )
    .await;
}

#[tokio::test]
async fn a_keyboard_only_walk_create_tag_search_history_restore_sign_in() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().expect("tempdir");
    seed_three_sessions(data.path());
    let app = Desktop::launch(Launch::new(data.path())).await;
    app.set_size(1280, 800).await;
    wait_for_titles(&app, &["Plan"]).await;
    // No clicks from here on: key actions only, to whatever has the focus.
    let ctrl = |k: &str| format!("{}{k}{}", keys::CONTROL, keys::CONTROL);
    let ctrl_shift = |k: &str| {
        format!(
            "{}{}{k}{}{}",
            keys::CONTROL,
            keys::SHIFT,
            keys::SHIFT,
            keys::CONTROL
        )
    };

    // Create a note and write in it; a #tag in the text is a tag.
    app.press_keys(&ctrl("n")).await;
    wait_for_editor_focus(&app).await;
    app.press_keys("Errands\nbuy stamps at the #post office")
        .await;
    // The plan was written on a clock ahead of this one: it stays first.
    wait_for_titles(&app, &["Plan", "Errands"]).await;

    // Tag it from the tag field.
    app.press_keys(&ctrl_shift("t")).await;
    wait_for_focus(&app, "#tag-input").await;
    app.press_keys("weekend\n").await;
    app.wait_until(
        "the tag chip",
        "return !!document.querySelector('#tags .tag[data-tag=\"weekend\"]')",
    )
    .await;
    app.wait_until(
        "both tags in the filter",
        "const v = [...document.querySelectorAll('#tag-filter option')].map(o => o.value); \
         return v.includes('weekend') && v.includes('post')",
    )
    .await;

    // Search, with a typo, and Down to the first result.
    app.press_keys(&ctrl("f")).await;
    wait_for_focus(&app, "#search").await;
    app.press_keys("paln").await;
    wait_for_titles(&app, &["Plan"]).await;
    app.press_keys(keys::DOWN).await;
    app.wait_until(
        "the plan open, the list focused",
        "return window.__cairnEditorText() === 'Plan\\nstep one\\nstep two' \
           && document.activeElement === document.getElementById('note-list')",
    )
    .await;
    app.screenshot("keyboard-search").await;

    // History: one sitting back, then Restore (Tab to it, Enter).
    app.press_keys(&ctrl_shift("h")).await;
    wait_for_focus(&app, "#history-slider").await;
    app.press_keys(keys::LEFT).await;
    app.wait_until(
        "the preview of the sitting before",
        "return document.getElementById('history-preview').dataset.changed === 'true'",
    )
    .await;
    app.press_keys(keys::TAB).await;
    wait_for_focus(&app, "#history-restore").await;
    app.screenshot("keyboard-history").await;
    app.press_keys(keys::ENTER).await;
    wait_for_editor(&app, "Plan\nstep one").await;

    // Sign-in: the account dialog, the focus inside it, Escape closes it.
    app.press_keys(&ctrl(",")).await;
    wait_for_account_loaded(&app).await;
    app.wait_until(
        "the focus in the sign-in dialog",
        "return document.getElementById('account-dialog').open \
           && document.getElementById('account-dialog').contains(document.activeElement) \
           && !document.getElementById('signed-out').hidden",
    )
    .await;
    // Tab reaches the service field.
    for _ in 0..4 {
        if app.js("return document.activeElement.id").await == Value::String("signin-url".into()) {
            break;
        }
        app.press_keys(keys::TAB).await;
    }
    wait_for_focus(&app, "#signin-url").await;
    app.screenshot("keyboard-sign-in").await;
    app.press_keys(keys::ESCAPE).await;
    app.wait_until(
        "the dialog closed",
        "return !document.getElementById('account-dialog').open",
    )
    .await;
    app.quit().await;
}

/// Pastes a file into the editor as the clipboard hands one over: a paste
/// event whose clipboard holds the file, handled by the app's own paste
/// handler. Each paste counts up `window.__pastes`.
const PASTE_FILE: &str =
    "window.__pasteFile = (f) => { const dt = new DataTransfer(); dt.items.add(f); \
    document.querySelector('.cm-content').dispatchEvent(new ClipboardEvent('paste', \
      { clipboardData: dt, bubbles: true, cancelable: true })); \
    window.__pastes = (window.__pastes || 0) + 1; };";

/// A 480x270 PNG drawn on a canvas by the test: a trail on a map.
const PASTE_PNG: &str = "const c = document.createElement('canvas'); c.width = 480; c.height = 270; \
    const g = c.getContext('2d'); const sky = g.createLinearGradient(0, 0, 480, 270); \
    sky.addColorStop(0, '#1d5fc9'); sky.addColorStop(1, '#2e8b57'); g.fillStyle = sky; g.fillRect(0, 0, 480, 270); \
    g.fillStyle = '#ffffff'; g.font = 'bold 40px sans-serif'; g.fillText('Trail map', 30, 70); \
    g.beginPath(); g.moveTo(40, 230); g.lineTo(160, 140); g.lineTo(260, 190); g.lineTo(440, 90); \
    g.lineWidth = 8; g.strokeStyle = '#ffe28a'; g.stroke(); \
    c.toBlob((b) => window.__pasteFile(new File([b], 'image.png', { type: 'image/png' })), 'image/png'); return true";

async fn wait_for_pastes(app: &Desktop, n: usize) {
    app.wait_until(
        &format!("{n} pastes handed to the editor"),
        &format!("return (window.__pastes || 0) >= {n}"),
    )
    .await;
}

/// Waits until the editor shows the pasted 480x270 image, decoded.
async fn wait_for_inline_image(app: &Desktop, what: &str) {
    app.wait_until(
        what,
        "return [...document.querySelectorAll('.cm-editor img[data-testid=attachment-img]')] \
           .some(i => i.complete && i.naturalWidth === 480 && i.naturalHeight === 270)",
    )
    .await;
}

/// Types `mb` into one of the settings dialog's attachment limits
/// (`attach-limit` or `background-limit`) and waits until it is saved.
async fn set_attachment_limit(app: &Desktop, input: &str, mb: u32) {
    open_account(app).await;
    app.js(&format!(
        "document.getElementById('attach-limits-msg').textContent = ''; \
         const i = document.getElementById('{input}'); i.value = '{mb}'; \
         i.dispatchEvent(new Event('change')); return true"
    ))
    .await;
    app.wait_until(
        &format!("{input} saved as {mb} MB"),
        "return document.getElementById('attach-limits-msg').textContent === 'Saved.'",
    )
    .await;
    close_dialog(app).await;
}

/// Every attachment of a device's store with its bytes, read as the app
/// reads them (chunks are named under the account's content key).
fn attachment_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut store = Store::open(dir).expect("open store");
    store.set_content_key(cairn_client::encryption::load_content_key(dir).unwrap());
    store
        .attachments(None)
        .unwrap()
        .into_iter()
        .map(|a| {
            let mut bytes = Vec::new();
            store.write_attachment(&a.id, &mut bytes).unwrap();
            (a.name, bytes)
        })
        .collect()
}

#[tokio::test]
async fn an_image_pasted_in_one_window_shows_inline_in_the_other() {
    let _serial = SERIAL.lock().await;
    let (_cloud, url, key) = cloud_with_account().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let launch = |dir: &Path| {
        let mut l = Launch::new(dir);
        l.env.push(("CAIRN_SYNC_SETTLE_MS".into(), "100".into()));
        l
    };
    let a = signed_in_window(launch(dirs[0].path()), &url, &key).await;
    let b = signed_in_window(launch(dirs[1].path()), &url, &key).await;
    // Window B downloads nothing by itself: what it shows, it fetches
    // because the note was opened.
    set_attachment_limit(&b, "background-limit", 0).await;
    wait_for_synced(&b).await;

    // Window A: a note, then a screenshot and a PDF pasted at its end.
    a.click("#new-note").await;
    wait_for_editor_focus(&a).await;
    type_in_editor(&a, "Trail notes\nThe route we took:\n").await;
    a.js(&format!("{PASTE_FILE} {PASTE_PNG}")).await;
    wait_for_pastes(&a, 1).await;
    a.wait_until(
        "the image's reference at the cursor",
        "return /^Trail notes\\nThe route we took:\\n!\\[Pasted image [0-9 .-]+\\.png\\]\\(attachment:[0-9a-f-]{36}\\)$/ \
           .test(window.__cairnEditorText())",
    )
    .await;
    wait_for_inline_image(&a, "the pasted image inline in window A").await;
    type_in_editor(&a, "\nWhat to bring: ").await;
    a.js(
        "window.__pasteFile(new File([new Uint8Array(42000).fill(37)], 'Packing list.pdf', \
           { type: 'application/pdf' })); return true",
    )
    .await;
    wait_for_pastes(&a, 2).await;
    a.wait_until(
        "the PDF's reference after the image's",
        "return /\\nWhat to bring: \\[Packing list\\.pdf\\]\\(attachment:[0-9a-f-]{36}\\)$/.test(window.__cairnEditorText())",
    )
    .await;
    // Off the line, the reference is a chip with its name and size.
    a.press_keys(&format!("{}{}", keys::CONTROL, keys::HOME))
        .await;
    a.press_keys(keys::CONTROL).await;
    a.wait_until(
        "the PDF as a chip",
        "const c = document.querySelector('.cm-editor [data-testid=attachment-file]'); \
         return !!c && c.textContent === 'Packing list.pdf42 KB' \
           && !document.querySelector('.cm-content').innerText.includes('attachment:')",
    )
    .await;

    // Window B, signed into the same account: the note, the image inline
    // once its bytes arrive, the chip.
    b.wait_until(
        "the note in window B",
        "return [...document.querySelectorAll('.note-title')].some(t => t.textContent === 'Trail notes')",
    )
    .await;
    // Known in B, and not downloaded: nothing asked for it yet.
    let image_id = a
        .js("return /\\(attachment:([0-9a-f-]{36})\\)/.exec(window.__cairnEditorText())[1]")
        .await;
    // Asks B's shell about the image anew each time the last answer is in.
    let known_in_b = format!(
        "if (!window.__asking) {{ window.__asking = true; \
           window.__TAURI_INTERNALS__.invoke('attachments_info', {{ ids: [{image_id}] }}) \
             .then((v) => {{ window.__info = v; window.__asking = false; }}); }} \
         return Array.isArray(window.__info) && window.__info.length === 1"
    );
    b.wait_until("the image's record in window B", &known_in_b)
        .await;
    // Read again once a round has run its downloads.
    wait_for_synced(&b).await;
    b.js("window.__info = null; return true").await;
    b.wait_until("the image's record in window B", &known_in_b)
        .await;
    assert_eq!(
        b.js("return window.__info[0].local").await,
        Value::Bool(false),
        "over B's background limit of 0, the image waits for its note to be opened"
    );
    b.click(".note-row").await;
    b.wait_until(
        "both references in window B",
        "return window.__cairnEditorText().split('(attachment:').length === 3",
    )
    .await;
    wait_for_inline_image(&b, "the image inline in window B").await;
    b.wait_until(
        "the PDF's chip in window B",
        "const c = document.querySelector('.cm-editor [data-testid=attachment-file]'); \
         return !!c && c.textContent === 'Packing list.pdf42 KB'",
    )
    .await;
    b.wait_until(
        "nothing left to move in window B",
        "const s = document.getElementById('sync-indicator'); \
         return s.dataset.bytesRemaining === '0' && !s.textContent.includes('attachments')",
    )
    .await;
    b.wait_until(
        "the sign-in message gone",
        "return document.getElementById('toast').hidden",
    )
    .await;
    readme_screenshot(&b, "30-attachments", "attachments.png").await;

    // A file over the limit (set to 1 MB in the settings) is refused in
    // words, and nothing is added; the shell refuses it too when asked
    // directly, before storing anything.
    set_attachment_limit(&a, "attach-limit", 1).await;
    let before = a.js("return window.__cairnEditorText()").await;
    a.js("window.__pasteFile(new File([new Uint8Array(1500000)], 'Big scan.png', { type: 'image/png' })); return true")
        .await;
    wait_for_pastes(&a, 3).await;
    a.wait_until(
        "the refusal in words",
        "const t = document.getElementById('toast'); return !t.hidden && t.dataset.kind === 'error' \
           && t.textContent === '\u{201c}Big scan.png\u{201d} is 1.5 MB, larger than the 1 MB limit for attachments (see Settings); nothing was added.'",
    )
    .await;
    readme_screenshot(&a, "31-attachment-too-large", "attachment-too-large.png").await;
    a.js("window.__TAURI_INTERNALS__.invoke('attach_pasted', new Uint8Array(1500000), \
           { headers: { 'cairn-note': encodeURIComponent(document.querySelector('.note-row').dataset.id), \
                        'cairn-name': 'direct.bin' } }) \
           .then(() => window.__direct = 'stored', (e) => window.__direct = e.code + ': ' + e.message); return true")
        .await;
    a.wait_until(
        "the shell's answer",
        "return typeof window.__direct === 'string'",
    )
    .await;
    let direct = a.js("return window.__direct").await;
    assert!(
        direct
            .as_str()
            .unwrap()
            .starts_with("attachment_too_large: \u{201c}direct.bin\u{201d} is 1.5 MB"),
        "{direct}"
    );
    assert_eq!(a.js("return window.__cairnEditorText()").await, before);

    // The limits as the settings show them.
    open_account(&a).await;
    a.js(
        "document.getElementById('attach-limit').scrollIntoView({ block: 'center' }); return true",
    )
    .await;
    a.wait_until(
        "the limits shown",
        "return document.getElementById('attach-limit').value === '1' \
           && document.getElementById('background-limit').value === '20'",
    )
    .await;
    a.screenshot("34-attachment-settings").await;
    close_dialog(&a).await;

    // The window at its smallest, and in the dark.
    b.set_size(640, 420).await;
    b.screenshot("32-attachments-640x420").await;
    b.set_size(1100, 720).await;
    choose_theme(&b, "dark").await;
    close_dialog(&b).await;
    wait_for_inline_image(&b, "the image in the dark").await;
    b.screenshot("33-attachments-dark").await;
    a.quit().await;
    b.quit().await;

    // Identical bytes on both devices; the refused files left nothing.
    let on_a = attachment_bytes(dirs[0].path());
    let on_b = attachment_bytes(dirs[1].path());
    assert_eq!(
        on_a.len(),
        2,
        "{:?}",
        on_a.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert_eq!(on_a, on_b);
    assert!(on_a[1].1.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", on_a[1].0);
    assert_eq!(on_a[0], ("Packing list.pdf".to_string(), vec![37u8; 42000]));
}
