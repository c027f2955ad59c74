//! Two people, each in their own window of the real app, share a notebook
//! through the real service and S3 server: Alice shares it with Bob by the
//! account id Bob's window shows, both see the same safety number, Bob
//! accepts and the note arrives in his tree, what Alice types appears in
//! Bob's open editor key by key (with the app's default settings, before
//! her window publishes), and when Alice removes him Bob's window says the
//! notebook is no longer shared with him (his copy stays, as he would
//! expect of notes he already had). See `support/desktop.rs` for what must
//! be installed.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;

use cairn_scenarios::app_window::*;
use cairn_scenarios::desktop::{keys, Desktop, Launch};
use serde_json::Value;

const NOTEBOOK: &str = "Expedition";
const VIEWED: &str = "Recipes";

/// The app's default settings: a publish waits 2 s for typing to pause,
/// so what reaches the other person sooner came on the live lane.
fn launch(dir: &Path) -> Launch {
    Launch::new(dir)
}

/// Digits only: the two windows may group a number differently.
fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The account id the window's account dialog offers to share with.
async fn account_id(app: &Desktop) -> String {
    open_account(app).await;
    app.wait_until(
        "the account id to share with",
        "return document.getElementById('account-share-id').textContent.includes(':')",
    )
    .await;
    let id = element_text(app, "#account-share-id").await;
    close_dialog(app).await;
    id
}

async fn wait_for_share_dialog(app: &Desktop) {
    app.wait_until(
        "the share dialog to finish loading",
        "const d = document.getElementById('share-dialog'); return d.open && d.dataset.state === 'ready'",
    )
    .await;
}

async fn open_share_dialog(app: &Desktop, notebook: &str) {
    app.context_click(&notebook_row(notebook)).await;
    app.click("[data-testid=menu-share-notebook]").await;
    wait_for_share_dialog(app).await;
}

/// A new notebook, selected, with a new note typed into it.
async fn notebook_with_note(app: &Desktop, notebook: &str, note: &str) {
    app.click("#new-notebook").await;
    name_notebook(app, notebook).await;
    app.wait_until(
        &format!("{notebook}, selected"),
        &format!(
            "return document.querySelector('{}')?.getAttribute('aria-selected') === 'true'",
            notebook_row(notebook)
        ),
    )
    .await;
    app.click("#new-note").await;
    wait_for_editor_focus(app).await;
    // Key actions: after a right click, element typing can lose a
    // capital's Shift (see `Desktop::press_keys`).
    app.press_keys(note).await;
    wait_for_editor(app, note).await;
}

fn member_row(account: &str) -> String {
    format!(
        "#share-members .member-row[data-account={}]",
        serde_json::to_string(account).unwrap()
    )
}

#[tokio::test]
async fn two_people_share_a_notebook_type_live_and_the_owner_removes_one() {
    let (cloud, url, alice_key) = cloud_with_account().await;
    let bob_key = new_account(&url).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let alice = signed_in_window(launch(dirs[0].path()), &url, &alice_key).await;
    let bob = signed_in_window(launch(dirs[1].path()), &url, &bob_key).await;

    // Bob reads his account id from his window, to give it to Alice.
    let bob_id = account_id(&bob).await;
    println!("bob's account id: {bob_id}");

    // Alice makes a notebook with a note in it.
    notebook_with_note(&alice, NOTEBOOK, "Packing list\nrope").await;

    // Share…: Bob's id, as editor; the safety number shows before
    // anything is sent.
    open_share_dialog(&alice, NOTEBOOK).await;
    let alice_id = element_text(&alice, "#share-my-id").await;
    assert!(alice_id.contains(':'), "alice's own id shown: {alice_id:?}");
    assert_eq!(
        alice
            .js("return document.getElementById('share-check-box').hidden")
            .await,
        Value::Bool(true)
    );
    // Key actions, as after any right click (see `Desktop::press_keys`).
    alice.click("#share-with").await;
    alice.press_keys(&bob_id).await;
    alice.select("#share-role", "editor").await;
    alice.click("#share-check").await;
    alice
        .wait_until(
            "the safety number for alice and bob",
            "return !document.getElementById('share-check-box').hidden \
             && document.getElementById('share-safety').textContent.length > 20",
        )
        .await;
    let alice_safety = digits(&element_text(&alice, "#share-safety").await);
    assert_eq!(alice_safety.len(), 60, "two fingerprints of 30 digits");
    let shot = alice.screenshot("sharing-01-share-dialog").await;
    refresh_readme_shot(&shot, "sharing.png");
    alice.click("#share-invite").await;
    alice
        .wait_until(
            "bob invited, not yet answered",
            &format!(
                "const r = document.querySelector('{}'); return !!r && r.dataset.pending === 'true' \
                 && document.getElementById('share-dialog').dataset.state === 'ready'",
                member_row(&bob_id)
            ),
        )
        .await;
    alice.screenshot("sharing-01-share-dialog-invited").await;

    // The dialog at the smallest window, and in dark mode, with axe's
    // check in both themes.
    let mut findings = axe_findings(&alice, "share dialog (light)").await;
    alice.set_size(640, 420).await;
    alice.screenshot("sharing-02-share-dialog-640x420").await;
    alice.set_size(1280, 800).await;
    alice
        .js("document.getElementById('share-dialog').close(); return true")
        .await;
    choose_theme(&alice, "dark").await;
    close_dialog(&alice).await;
    open_share_dialog(&alice, NOTEBOOK).await;
    alice
        .wait_until(
            "bob in the reopened dialog",
            &format!("return !!document.querySelector('{}')", member_row(&bob_id)),
        )
        .await;
    alice.screenshot("sharing-03-share-dialog-dark").await;
    findings.extend(axe_findings(&alice, "share dialog (dark)").await);
    alice
        .js("document.getElementById('share-dialog').close(); return true")
        .await;

    // Bob's window says an invitation waits; it names the notebook and
    // Alice, with the safety number Alice saw.
    bob.wait_until(
        "the invitation in bob's sidebar",
        "return !document.getElementById('invitations-banner').hidden",
    )
    .await;
    assert_eq!(
        element_text(&bob, "#invitations-count").await,
        "1 invitation"
    );
    bob.click("#invitations-banner").await;
    bob.wait_until(
        "the invitation listed",
        "return !!document.querySelector('#invitations-list .invitation-row')",
    )
    .await;
    let what = element_text(&bob, ".invitation-row .invitation-what").await;
    assert!(what.contains(NOTEBOOK), "{what}");
    assert!(what.contains(&alice_id), "{what}");
    assert!(what.contains("can edit"), "{what}");
    let bob_safety = digits(&element_text(&bob, ".invitation-row .hint").await);
    assert_eq!(
        bob_safety, alice_safety,
        "the same safety number on both sides"
    );
    bob.screenshot("sharing-04-invitation").await;
    findings.extend(axe_findings(&bob, "invitations").await);
    bob.click(".invitation-accept").await;

    // The notebook joins Bob's tree, marked shared, and the note arrives.
    bob.wait_until(
        "the shared notebook in bob's tree",
        &format!(
            "return document.querySelector('{}')?.dataset.shared === 'yes'",
            notebook_row(NOTEBOOK)
        ),
    )
    .await;
    let title = bob
        .js(&format!(
            "return document.querySelector('{}').title",
            notebook_row(NOTEBOOK)
        ))
        .await;
    assert!(
        title.as_str().unwrap().contains(&alice_id),
        "the row names who shared it: {title}"
    );
    bob.click(&notebook_row(NOTEBOOK)).await;
    bob.wait_until(
        "the shared note in bob's list",
        "return [...document.querySelectorAll('.note-title')].some(t => t.textContent === 'Packing list')",
    )
    .await;
    bob.click(".note-row").await;
    wait_for_editor(&bob, "Packing list\nrope").await;
    assert_eq!(
        bob.js("return document.getElementById('share-line').hidden")
            .await,
        Value::Bool(true),
        "an editor sees no read-only line"
    );

    // Alice types; Bob's open editor shows it.
    alice.click(".cm-content").await;
    alice
        .press_keys(&format!("{}{}{}", keys::CONTROL, keys::END, keys::CONTROL))
        .await;
    // At a typist's pace; her window publishes only 2 s after the last
    // key, so what Bob's editor shows the moment she stops came key by key.
    alice
        .type_paced("\nclimbing boots", std::time::Duration::from_millis(90))
        .await;
    // Some of the new line must be there already (how much depends on
    // the machine's load: the last keys may still be on their way).
    let shown = bob.js("return window.__cairnEditorText()").await;
    let typed = "Packing list\nrope\nclimbing boots";
    assert!(
        shown.as_str().is_some_and(|t| {
            let t = t.trim_end_matches('\n');
            t.len() > "Packing list\nrope\n".len() && typed.starts_with(t)
        }),
        "Bob's editor when Alice stopped typing: {shown}"
    );
    wait_for_editor(&bob, "Packing list\nrope\nclimbing boots").await;
    bob.screenshot("sharing-05-alice-typed").await;

    // A second notebook, shared with Bob to read only: his editor is not
    // editable there, and a line says why.
    notebook_with_note(&alice, VIEWED, "Soup\nleeks").await;
    open_share_dialog(&alice, VIEWED).await;
    alice.click("#share-with").await;
    alice.press_keys(&bob_id).await;
    alice.select("#share-role", "viewer").await;
    alice.click("#share-check").await;
    alice
        .wait_until(
            "the safety number again",
            "return !document.getElementById('share-check-box').hidden",
        )
        .await;
    alice.click("#share-invite").await;
    alice
        .wait_until(
            "bob invited to read",
            &format!("return !!document.querySelector('{}')", member_row(&bob_id)),
        )
        .await;
    alice
        .js("document.getElementById('share-dialog').close(); return true")
        .await;
    bob.wait_until(
        "the second invitation",
        "return !document.getElementById('invitations-banner').hidden",
    )
    .await;
    bob.click("#invitations-banner").await;
    bob.wait_until(
        "the invitation to read",
        "return document.querySelector('#invitations-list .invitation-what')?.textContent.includes('can only read')",
    )
    .await;
    bob.click(".invitation-accept").await;
    bob.wait_until(
        "the viewed notebook's note in bob's list",
        &format!(
            "return document.querySelector('{}')?.dataset.shared === 'yes'              && [...document.querySelectorAll('.note-title')].some(t => t.textContent === 'Soup')",
            notebook_row(VIEWED)
        ),
    )
    .await;
    bob.click(".note-row").await;
    wait_for_editor(&bob, "Soup\nleeks").await;
    bob.wait_until(
        "the read-only line",
        "return !document.getElementById('share-line').hidden          && document.getElementById('share-line').textContent.includes('You can view this notebook')          && document.querySelector('.cm-content').getAttribute('contenteditable') === 'false'",
    )
    .await;
    bob.screenshot("sharing-05b-viewer").await;
    // Nothing in the window offers to change a viewer's note: not its
    // tags, pin, place, trash or attachments.
    bob.wait_until(
        "the note's controls disabled for a viewer",
        "return ['pin', 'tag-input', 'trash'].every(id => document.getElementById(id).disabled)",
    )
    .await;
    // The shortcuts past the disabled buttons say why, and change nothing.
    bob.click(".note-row").await;
    bob.press_keys(&format!(
        "{}{}p{}{}",
        keys::CONTROL,
        keys::SHIFT,
        keys::SHIFT,
        keys::CONTROL
    ))
    .await;
    bob.wait_until(
        "the viewer's sentence for a pin",
        "const t = document.getElementById('toast'); return !t.hidden && t.textContent.includes('You can view this notebook')",
    )
    .await;
    assert_eq!(
        element_text(&bob, "#pin").await,
        "Pin",
        "a viewer's shortcut pinned the note"
    );
    // Moving it out by dragging: refused in the window, before anything
    // is asked or sent.
    let hide_toast = "document.getElementById('toast').hidden = true; return true";
    bob.js(hide_toast).await;
    bob.drag(".note-row", "#nav-unfiled").await;
    bob.wait_until(
        "the viewer's sentence for a move",
        "const t = document.getElementById('toast'); return !t.hidden && t.textContent.includes('cannot be changed here')",
    )
    .await;
    assert_eq!(
        bob.js("return document.getElementById('ask-dialog').open")
            .await,
        Value::Bool(false)
    );
    assert_eq!(
        bob.js(&format!(
            "return document.querySelector('{}').querySelector('.nb-count').textContent",
            notebook_row(VIEWED)
        ))
        .await,
        Value::String("1".into()),
        "the viewer's note left the notebook"
    );
    // A file pasted on it is refused too, with a sentence, and the text
    // stays as it was.
    bob.js(hide_toast).await;
    bob.js(
        "const dt = new DataTransfer(); \
         dt.items.add(new File(['a photo'], 'photo.png', { type: 'image/png' })); \
         document.querySelector('.cm-content').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true })); \
         return true",
    )
    .await;
    bob.wait_until(
        "the viewer's sentence for an attachment",
        "const t = document.getElementById('toast'); return !t.hidden && t.textContent.includes('cannot be attached')",
    )
    .await;
    wait_for_editor(&bob, "Soup\nleeks").await;

    // Moving a note out of a shared notebook asks first; Cancel keeps it.
    alice.drag(".note-row", "#nav-unfiled").await;
    alice
        .wait_until(
            "the question before the note leaves the share",
            "return document.getElementById('ask-dialog').open",
        )
        .await;
    let detail = element_text(&alice, "#ask-detail").await;
    assert!(
        detail.contains("no longer be shared with") && detail.contains(&bob_id),
        "{detail}"
    );
    alice.screenshot("sharing-05c-move-out-asks").await;
    alice.click("#ask-no").await;
    alice
        .wait_until(
            "the question gone",
            "return !document.getElementById('ask-dialog').open",
        )
        .await;
    assert_eq!(
        alice
            .js(&format!(
                "return document.querySelector('{}').querySelector('.nb-count').textContent",
                notebook_row(VIEWED)
            ))
            .await,
        Value::String("1".into()),
        "the note stayed in the shared notebook"
    );

    // Alice removes Bob, with a second click.
    open_share_dialog(&alice, NOTEBOOK).await;
    alice
        .wait_until(
            "bob a member now",
            &format!(
                "return document.querySelector('{}')?.dataset.pending === 'false'",
                member_row(&bob_id)
            ),
        )
        .await;
    let remove = format!("{} .member-remove", member_row(&bob_id));
    alice.click(&remove).await;
    assert!(element_text(&alice, &remove).await.contains("Click again"));
    alice.click(&remove).await;
    alice
        .wait_until(
            "bob gone from the people",
            &format!(
                "return !document.querySelector('{}') && document.getElementById('share-dialog').dataset.state === 'ready'",
                member_row(&bob_id)
            ),
        )
        .await;

    // Bob's window says the notebook is no longer shared with him; his
    // copy stays, as he had it.
    bob.wait_until(
        "bob's sidebar to mark the notebook no longer shared",
        &format!(
            "return document.querySelector('{}')?.dataset.shared === 'ended'",
            notebook_row(NOTEBOOK)
        ),
    )
    .await;
    bob.click(&notebook_row(NOTEBOOK)).await;
    bob.wait_until(
        "bob's copy of the note, still in his list",
        "return [...document.querySelectorAll('.note-title')].some(t => t.textContent === 'Packing list')",
    )
    .await;
    bob.click(".note-row").await;
    wait_for_editor(&bob, "Packing list\nrope\nclimbing boots").await;
    bob.wait_until(
        "the line saying it is no longer shared",
        "return !document.getElementById('share-line').hidden \
         && document.getElementById('share-line').textContent.includes('no longer shared')",
    )
    .await;
    let shot = bob.screenshot("sharing-06-removed").await;
    refresh_readme_shot(&shot, "sharing-removed.png");

    assert!(
        findings.is_empty(),
        "axe-core found {} serious or critical problems:\n{}",
        findings.len(),
        findings.join("\n")
    );
    alice.quit().await;
    bob.quit().await;
    drop(cloud);
}
