//! Opening a web page in the user's browser, for GitHub sign-in. Callers
//! also show the address itself: over SSH, or on a desktop without an
//! opener, the user opens it by hand.

use std::process::{Command, Stdio};

use crate::ClientError;

/// Asks the desktop to show `url`. Returns once the opener has started;
/// whether a browser really appeared cannot be known.
///
/// On Linux and other Unix desktops `$BROWSER` comes first when set (the
/// usual convention: a `:`-separated list of commands, of which the first
/// is used, with `%s` standing for the address if present), then
/// `xdg-open`.
pub fn open(url: &str) -> Result<(), ClientError> {
    spawn(opener(url, std::env::var("BROWSER").ok().as_deref()))
}

/// Asks the desktop to show the file at `path` in the application it
/// opens that kind of file with (`xdg-open` on Linux: `$BROWSER` is for
/// web pages, not for a PDF or a photo).
pub fn open_file(path: &std::path::Path) -> Result<(), ClientError> {
    spawn(opener(&path.to_string_lossy(), None))
}

fn spawn((program, args): (String, Vec<String>)) -> Result<(), ClientError> {
    Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_child| ())
        .map_err(|e| ClientError::Browser(format!("could not start {program}: {e}")))
}

/// The command that opens `url`, given `$BROWSER`.
fn opener(url: &str, browser_var: Option<&str>) -> (String, Vec<String>) {
    if cfg!(target_os = "macos") {
        return ("open".into(), vec![url.into()]);
    }
    if cfg!(target_os = "windows") {
        return ("explorer".into(), vec![url.into()]);
    }
    let chosen = browser_var
        .and_then(|v| v.split(':').map(str::trim).find(|c| !c.is_empty()))
        .map(str::to_owned);
    match chosen {
        Some(command) => {
            let mut words = command.split_whitespace().map(str::to_owned);
            let program = words.next().unwrap_or_default();
            let mut args: Vec<String> = words.collect();
            if let Some(slot) = args.iter_mut().find(|a| a.contains("%s")) {
                *slot = slot.replace("%s", url);
            } else {
                args.push(url.into());
            }
            (program, args)
        }
        None => ("xdg-open".into(), vec![url.into()]),
    }
}

#[cfg(all(test, unix, not(target_os = "macos")))]
mod tests {
    use super::opener;

    #[test]
    fn browser_variable_first_then_xdg_open() {
        let url = "https://example.test/a?b=c";
        assert_eq!(opener(url, None), ("xdg-open".into(), vec![url.into()]));
        assert_eq!(opener(url, Some("")), ("xdg-open".into(), vec![url.into()]));
        assert_eq!(
            opener(url, Some("firefox:chromium")),
            ("firefox".into(), vec![url.into()])
        );
        assert_eq!(
            opener(url, Some("my-browser --new-tab %s")),
            ("my-browser".into(), vec!["--new-tab".into(), url.into()])
        );
    }
}
