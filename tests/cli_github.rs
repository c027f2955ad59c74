//! `cairn login --github` from a terminal, against the real service, the
//! real S3 server and a real OAuth2 server on loopback (oauth2-mock-server
//! standing in for GitHub). The "browser" is curl, started through
//! `$BROWSER` as a desktop starts one: it follows the authorize page's
//! redirect back to the CLI's loopback listener, as a person's browser
//! would after they approve.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_scenarios::cloud::{Cloud, CloudOptions};
use cairn_scenarios::device::Device;
use cairn_scenarios::oauth_server::OauthServer;

const GITHUB_ID: u64 = 4_242_017;

/// A `$BROWSER` that fetches the page with curl in the background (a
/// browser does not keep the opener waiting) and saves the last page it
/// lands on.
fn curl_browser(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let script = dir.join(format!("{name}-browser.sh"));
    let landing = dir.join(format!("{name}-landing.html"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncurl -sS -L --max-redirs 5 --max-time 30 -o '{}' \"$1\" &\n",
            landing.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (script, landing)
}

fn wait_for_file(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cairn_login_with_github_signs_two_devices_into_one_account() {
    let oauth = OauthServer::start(GITHUB_ID);
    let cloud = Cloud::start_with(CloudOptions {
        github: Some(oauth.github_config()),
        ..CloudOptions::default()
    });
    let pages = tempfile::tempdir().unwrap();
    let (browser, landing) = curl_browser(pages.path(), "laptop");
    let laptop = Device::new("laptop").with_env("BROWSER", &browser.display().to_string());
    let login = ["login", "--server", &cloud.url(), "--github"];

    let out = laptop.ok(&[&login[..], &["--name", "laptop"]].concat());
    let user = format!("github:{GITHUB_ID}");
    assert!(out.contains(&format!("as {user}")), "{out}");
    assert!(
        wait_for_file(&landing).contains("Signed in to Cairn"),
        "the browser lands on the CLI's own page"
    );
    laptop.ok(&["new", "written in a terminal"]);
    laptop.sync_ok();

    // A second device signs in with the same GitHub account: same user,
    // a device of its own, and the first device's note arrives.
    let (browser, _) = curl_browser(pages.path(), "desk");
    let desk = Device::new("desk").with_env("BROWSER", &browser.display().to_string());
    let out = desk.ok(&[&login[..], &["--name", "desk"]].concat());
    assert!(out.contains(&format!("as {user}")), "{out}");
    desk.sync_ok();
    let bodies: Vec<String> = desk.notes().values().map(|n| n.body.clone()).collect();
    assert_eq!(bodies, ["written in a terminal"]);

    let devices: serde_json::Value =
        serde_json::from_str(&desk.ok(&["devices", "--json"])).unwrap();
    let mut names: Vec<&str> = devices
        .as_array()
        .expect("an array")
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["desk", "laptop"]);

    // Signing in again on the laptop resumes its device rather than
    // adding a third.
    laptop.ok(&[&login[..], &["--name", "laptop"]].concat());
    let devices: serde_json::Value =
        serde_json::from_str(&laptop.ok(&["devices", "--json"])).unwrap();
    assert_eq!(devices.as_array().unwrap().len(), 2, "{devices}");
}
