//! Removing a device from the real app window, through the real service
//! and S3 server: one account on two windows (A and B) and a third device
//! C on the CLI. In A's window, "Remove…" on C with a wrong passphrase
//! says so and removes nothing; with the right one C leaves the list and
//! a new recovery key is shown once. B's window says a device was removed
//! and offers "Enter passphrase": a wrong one says so, the right one
//! resumes sync at once, and a note A writes afterwards reaches B. C's
//! `cairn sync` fails with a sentence, and nothing C holds opens what A
//! wrote after. Screenshots of the remove dialog at the smallest window
//! and in dark mode; axe on both dialogs in both themes.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_core::sync::object::{self, ObjectError};
use cairn_core::sync::personal_object::PersonalKeys;
use cairn_scenarios::app_window::*;
use cairn_scenarios::desktop::{Desktop, Launch};
use cairn_scenarios::device::Device;
use serde_json::Value;

const WRONG: &str = "not the passphrase at all";

fn device_row(id: &str) -> String {
    format!(
        "#device-list .device-row[data-id={}]",
        serde_json::to_string(id).unwrap()
    )
}

/// A window signed in to the account as the device called `name`.
async fn window(dir: &std::path::Path, url: &str, key: &str, name: &str) -> Desktop {
    let mut launch = Launch::new(dir);
    // Publishes soon after typing stops: the test waits on states, and
    // this only makes them come sooner.
    launch
        .env
        .push(("CAIRN_SYNC_SETTLE_MS".into(), "100".into()));
    let app = Desktop::launch(launch).await;
    sign_in_as(&app, url, key, Some(name)).await;
    close_dialog(&app).await;
    wait_for_synced(&app).await;
    app
}

/// Opens the remove dialog on `row` from the account dialog.
async fn open_remove(app: &Desktop, row: &str) {
    open_account(app).await;
    app.wait_until(
        "the device to remove, listed",
        &format!("return !!document.querySelector('{row} .device-remove')"),
    )
    .await;
    app.click(&format!("{row} .device-remove")).await;
    app.wait_until(
        "the remove dialog",
        "const d = document.getElementById('remove-device-dialog'); return d.open && d.dataset.state === 'ready'",
    )
    .await;
}

/// Types `secret` into a dialog's one field, presses its button, and
/// waits for the dialog's `state` (`failed`, `done`).
async fn submit(app: &Desktop, dialog: &str, field: &str, button: &str, secret: &str, state: &str) {
    app.js(&format!(
        "document.getElementById('{field}').value = ''; return true"
    ))
    .await;
    app.type_into(&format!("#{field}"), secret).await;
    app.click(&format!("#{button}")).await;
    app.wait_until(
        &format!("the {dialog} to be {state}"),
        &format!("return document.getElementById('{dialog}').dataset.state === '{state}'"),
    )
    .await;
}

async fn remove_with(app: &Desktop, secret: &str, state: &str) {
    submit(
        app,
        "remove-device-dialog",
        "remove-device-secret",
        "remove-device-yes",
        secret,
        state,
    )
    .await;
}

async fn unlock_with(app: &Desktop, secret: &str, state: &str) {
    submit(
        app,
        "passphrase-dialog",
        "passphrase-secret",
        "passphrase-ok",
        secret,
        state,
    )
    .await;
}

async fn open_passphrase_dialog(app: &Desktop) {
    app.click("#sync-passphrase").await;
    app.wait_until(
        "the passphrase dialog",
        "const d = document.getElementById('passphrase-dialog'); return d.open && d.dataset.state === 'ready'",
    )
    .await;
}

/// Whether C's `cairn devices --json` lists C as one of the account's
/// devices, not revoked (a removed C cannot ask at all).
fn c_is_listed(c: &Device, id: &str) -> bool {
    let out = c.run(&["devices", "--json"]);
    if !out.status.success() {
        return false;
    }
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .any(|r| r["id"] == id && r["revoked_at"].is_null())
}

#[tokio::test]
async fn a_window_removes_a_device_and_the_other_window_takes_the_passphrase() {
    let (cloud, url, key) = cloud_with_account().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = window(dirs[0].path(), &url, &key, "Laptop").await;
    let b = window(dirs[1].path(), &url, &key, "Desktop").await;

    // A note from before, which C receives.
    a.click("#new-note").await;
    wait_for_editor_focus(&a).await;
    type_in_editor(&a, "Before\nwritten while c was ours").await;
    wait_for_editor(&a, "Before\nwritten while c was ours").await;
    wait_for_synced(&a).await;

    // C, on the CLI, with the same passphrase.
    let c = Device::new("phone").with_env("CAIRN_PASSPHRASE", PASSPHRASE);
    c.login_at(&url, &key);
    c.sync_ok();
    let c_id = c.device_id();
    let listed = c.ok(&["list"]);
    assert!(listed.contains("Before"), "c has the note: {listed}");

    // A's window lists C with "Remove…"; its own row has none.
    open_remove(&a, &device_row(&c_id)).await;
    let what = element_text(&a, "#remove-device-what").await;
    assert!(
        what.contains("cannot read anything you write from now on")
            && what.contains("Notes it already has stay on it"),
        "{what}"
    );
    assert!(element_text(&a, "#remove-device-title")
        .await
        .contains("phone"));
    assert_eq!(
        a.js("return [...document.querySelectorAll('#device-list .device-row')].filter(r => r.querySelector('.device-name').textContent.includes('(this device)') && r.querySelector('.device-remove')).length")
            .await,
        Value::from(0),
        "this device's row offers no removal"
    );
    let a_id = a
        .js("return [...document.querySelectorAll('#device-list .device-row')].find(r => r.querySelector('.device-name').textContent.includes('(this device)')).dataset.id")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let mut findings = axe_findings(&a, "remove dialog (light)").await;
    a.set_size(640, 420).await;
    a.screenshot("devices-01-remove-dialog-640x420").await;
    a.set_size(1280, 800).await;

    // A wrong passphrase: a sentence, and C stays.
    remove_with(&a, WRONG, "failed").await;
    let said = element_text(&a, "#remove-device-error").await;
    assert!(said.contains("does not open"), "{said}");
    assert!(said.contains("Nothing was removed"), "{said}");
    assert!(c_is_listed(&c, &c_id), "a wrong passphrase removed c");
    a.screenshot("devices-02-remove-wrong-passphrase").await;

    // The dialog in dark mode, with axe's check there too.
    a.click("#remove-device-no").await;
    choose_theme(&a, "dark").await;
    open_remove(&a, &device_row(&c_id)).await;
    a.screenshot("devices-03-remove-dialog-dark").await;
    findings.extend(axe_findings(&a, "remove dialog (dark)").await);

    // The right one: C leaves the list, and the new recovery key shows.
    remove_with(&a, PASSPHRASE, "done").await;
    a.wait_until(
        "c gone from the list, the new recovery key shown",
        &format!(
            "return !document.querySelector('{}') \
             && document.getElementById('account-dialog').dataset.state === 'ready' \
             && !document.getElementById('recovery-key-box').hidden",
            device_row(&c_id)
        ),
    )
    .await;
    let recovery = element_text(&a, "#recovery-key").await;
    assert!(
        cairn_core::crypto::parse_recovery_key(&recovery).is_some(),
        "a recovery key shown: {recovery:?}"
    );
    assert!(element_text(&a, "#recovery-key-why")
        .await
        .contains("A device was removed"));
    a.screenshot("devices-04-removed-recovery-key").await;
    assert!(!c_is_listed(&c, &c_id), "c still on the account");
    a.click("#secrets-saved-btn").await;
    choose_theme(&a, "light").await;
    close_dialog(&a).await;

    // B: the indicator says a device was removed, and offers the field.
    b.wait_until(
        "b's indicator to ask for the passphrase",
        "return document.getElementById('sync-indicator').dataset.code === 'key_rotated' \
         && !document.getElementById('sync-passphrase').hidden",
    )
    .await;
    let said = element_text(&b, "#sync-indicator .label").await;
    assert!(said.contains("A device was removed"), "{said}");
    b.screenshot("devices-05-key-rotated").await;
    open_passphrase_dialog(&b).await;
    findings.extend(axe_findings(&b, "passphrase dialog (light)").await);
    unlock_with(&b, WRONG, "failed").await;
    let said = element_text(&b, "#passphrase-error").await;
    assert!(said.contains("does not open"), "{said}");
    assert_eq!(
        b.js("return document.getElementById('sync-indicator').dataset.code")
            .await,
        Value::from("key_rotated"),
        "a wrong passphrase changed the state"
    );
    b.click("#passphrase-cancel").await;
    choose_theme(&b, "dark").await;
    close_dialog(&b).await;
    open_passphrase_dialog(&b).await;
    b.screenshot("devices-06-passphrase-dark").await;
    findings.extend(axe_findings(&b, "passphrase dialog (dark)").await);

    // The right one: sync resumes at once, without a restart.
    unlock_with(&b, PASSPHRASE, "done").await;
    b.wait_until(
        "b synced again",
        "return document.getElementById('sync-indicator').dataset.state === 'synced' \
         && document.getElementById('sync-passphrase').hidden",
    )
    .await;

    // A writes after the removal; B receives it.
    a.click("#new-note").await;
    wait_for_editor_focus(&a).await;
    type_in_editor(&a, "After\nwritten once c was gone").await;
    wait_for_editor(&a, "After\nwritten once c was gone").await;
    let after = a
        .js("return document.getElementById('note-pane').dataset.noteId")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    b.wait_until(
        "a's new note in b's list",
        "return [...document.querySelectorAll('.note-title')].some(t => t.textContent === 'After')",
    )
    .await;
    wait_for_synced(&a).await;

    // C: its sync fails with a sentence; it has not the new note, and
    // nothing it holds opens what A published since.
    let out = c.run(&["sync"]);
    let why = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "a removed device synced");
    assert!(!why.contains("panicked"), "{why}");
    assert!(why.contains("removed") || why.contains("sign in"), "{why}");
    assert!(
        c.store().get(&after).is_err(),
        "c has the note written after"
    );
    let c_keys = cairn_client::encryption::load_account_keys(c.dir())
        .unwrap()
        .unwrap();
    let c_holds = PersonalKeys {
        content: Some(c_keys.content().clone()),
        epochs: c_keys.epoch_keys(),
    };
    let a_keys = cairn_client::encryption::load_account_keys(dirs[0].path())
        .unwrap()
        .unwrap();
    assert_eq!(a_keys.epoch().0, 1, "a holds the new epoch");
    let users = cloud.0.as_ref().unwrap().bucket_dir().join("users");
    let marker = format!("/devices/{a_id}/");
    let mut sealed_after = 0;
    for (path, bytes) in cairn_scenarios::stored_bytes::all_bytes(&users) {
        let Some((_, slot)) = path.split_once(&marker) else {
            continue;
        };
        let obj = object::decode(&bytes).unwrap();
        let Some(binding) = obj.space.as_ref() else {
            continue;
        };
        if binding.epoch.0 < 1 {
            continue;
        }
        sealed_after += 1;
        assert_eq!(
            c_holds.open(&obj, &a_id, slot),
            Err(ObjectError::NoPersonalKey { epoch: 1 }),
            "{slot} opened with what c holds"
        );
    }
    assert!(sealed_after >= 1, "nothing of a's sealed with the new key");

    assert!(
        findings.is_empty(),
        "axe-core found {} serious or critical problems:\n{}",
        findings.len(),
        findings.join("\n")
    );
    a.quit().await;
    b.quit().await;
    drop(cloud);
}
