//! End-to-end encryption through the real service and the real S3 server:
//! after notes sync, neither the bucket nor the service's registry holds a
//! byte of their text, titles or tags, nor of an attachment's bytes, file
//! name or media type; a wrong passphrase changes nothing;
//! a changed passphrase opens the same notes on a new device.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use cairn_scenarios::cloud::Cloud;
use cairn_scenarios::device::Device;
use cairn_scenarios::stored_bytes::{all_bytes, contains};

const PHRASE: &str = "Quixotic-Marmalade-Telescope";
const TITLE: &str = "Zanzibar itinerary";
const TAG: &str = "secretplans";
const ATTACHMENT_NAME: &str = "Zanzibar-harbour-map.png";

#[test]
fn the_service_and_storage_never_see_note_text_titles_or_tags() {
    let cloud = Cloud::start();
    let (laptop, phone) = (Device::new("laptop"), Device::new("phone"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(&cloud, &key);
    phone.login(&cloud, &key);
    let id = laptop
        .ok(&["new", &format!("{TITLE}\nThe password is {PHRASE}.")])
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    laptop.ok(&["tag", &id, &format!("+{TAG}")]);
    // An attachment whose bytes, name and media type must stay unreadable
    // too: the phrase repeated through a file called after the trip.
    let file = laptop.dir().join(ATTACHMENT_NAME);
    let contents = format!("{PHRASE} ").repeat(20_000);
    std::fs::write(&file, &contents).unwrap();
    let attachment = laptop
        .ok(&["attach", &id, file.to_str().unwrap()])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    std::fs::remove_file(&file).unwrap();
    for _ in 0..3 {
        laptop.sync_ok();
        phone.sync_ok();
    }
    // The phone has it all, in clear, locally.
    assert_eq!(
        phone.ok(&["show", &id]),
        format!(
            "{TITLE}\nThe password is {PHRASE}.\n![{ATTACHMENT_NAME}](attachment:{attachment})\n"
        )
    );
    assert!(phone.ok(&["list"]).contains(TAG));
    let copy = phone.dir().join("copy.bin");
    phone.ok(&["attachment", "get", &attachment, copy.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), contents);
    std::fs::remove_file(&copy).unwrap();

    // The search below does find text where it is: in the phone's own store.
    let local = all_bytes(phone.dir());
    assert!(
        local.iter().any(|(_, b)| contains(b, PHRASE)),
        "control: phrase not found locally"
    );

    let files = all_bytes(cloud.data_dir());
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert!(
        files.iter().any(|(p, _)| p.contains("registry")),
        "registry not found"
    );
    assert!(
        files.iter().any(|(p, _)| p.ends_with("head")),
        "no head objects found"
    );
    assert!(
        files
            .iter()
            .any(|(p, b)| p.contains("/blob/") && b.len() > 20_000 * PHRASE.len()),
        "no attachment slot found"
    );
    assert!(total > 1000, "only {total} bytes stored");
    for (path, bytes) in &files {
        for needle in [
            PHRASE,
            "Zanzibar",
            "itinerary",
            TAG,
            ATTACHMENT_NAME,
            "image/png",
        ] {
            assert!(!contains(bytes, needle), "{needle:?} is readable in {path}");
        }
    }
}

#[test]
fn a_wrong_passphrase_is_refused_and_changes_nothing_and_a_new_one_works() {
    let cloud = Cloud::start();
    let laptop = Device::new("laptop");
    let key = cloud.create_account(laptop.dir());
    laptop.login(&cloud, &key);
    let id = laptop.ok(&["new", "shared note"]).trim().to_owned();
    laptop.sync_ok();

    // A device with the wrong passphrase: refused, and its own notes and
    // sign-in state are as they were.
    let tablet = Device::new("tablet").with_env("CAIRN_PASSPHRASE", "not the passphrase");
    let local = tablet.ok(&["new", "tablet's own note"]).trim().to_owned();
    let out = tablet.run(&["login", "--server", &cloud.url(), "--account-key", &key]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not open"), "{err}");
    assert!(!tablet.dir().join("credentials.json").exists());
    assert!(!tablet.dir().join("content-key").exists());
    assert_eq!(tablet.ok(&["show", &local]), "tablet's own note");
    let status: serde_json::Value =
        serde_json::from_str(&tablet.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["signed_in"], false);

    // Changing it needs the current passphrase: holding an unlocked device
    // is not enough. A wrong one changes nothing.
    let out = cairn_scenarios::device::run_cairn(
        laptop.dir(),
        &["key", "change"],
        &[
            (
                "CAIRN_PASSPHRASE".to_owned(),
                "not the passphrase".to_owned(),
            ),
            (
                "CAIRN_NEW_PASSPHRASE".to_owned(),
                "a much newer passphrase".to_owned(),
            ),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not open"), "{err}");

    // The passphrase changes: the old one stops working, the new one opens
    // the same notes, nothing was re-encrypted.
    let out = laptop.run_with_env(
        &["key", "change"],
        "CAIRN_NEW_PASSPHRASE",
        "a much newer passphrase",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let old = Device::new("old-pass");
    let out = old.run(&["login", "--server", &cloud.url(), "--account-key", &key]);
    assert!(
        !out.status.success(),
        "the old passphrase still opens the key"
    );
    let fresh = Device::new("fresh").with_env("CAIRN_PASSPHRASE", "a much newer passphrase");
    fresh.login(&cloud, &key);
    fresh.sync_ok();
    assert_eq!(fresh.ok(&["show", &id]), "shared note");
}
