//! Opening a web page in the user's browser, for GitHub sign-in. Callers
//! also show the address itself: over SSH, or on a desktop without an
//! opener, the user opens it by hand.

use std::process::{Command, Stdio};

use crate::ClientError;

/// Asks the desktop's opener to show `url`. Returns once the opener has
/// started; whether a browser really appeared cannot be known.
pub fn open(url: &str) -> Result<(), ClientError> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_child| ())
        .map_err(|e| ClientError::Browser(format!("could not start {opener}: {e}")))
}
