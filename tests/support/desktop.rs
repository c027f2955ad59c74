//! Runs the real Cairn desktop app in a virtual X display and drives its
//! window through tauri-driver (which fronts WebKitWebDriver) with
//! fantoccini, the way a user would: clicks, keys, screenshots.
//!
//! Each `Desktop` owns its own Xvfb, its own tauri-driver on free ports and
//! one app instance with its own data directory, so tests do not share
//! state. tauri-driver is stopped with SIGTERM: a SIGKILL leaves
//! WebKitWebDriver behind, holding its port.
//!
//! Prerequisites (the launch fails with a message naming the missing one):
//! Xvfb, WebKitWebDriver (Debian: `xvfb webkit2gtk-driver`), tauri-driver
//! (`cargo install tauri-driver --locked --version 2.1.0`), and the app
//! built with its UI (`npm ci --prefix ui && npm run --prefix ui build &&
//! cargo build -p cairn-desktop`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long the app may take to show its UI (a debug build, cold caches).
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a UI condition may take to become true.
pub const UI_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(25);
/// How many times to start tauri-driver and ask it for a session.
const SESSION_ATTEMPTS: u32 = 3;

/// WebDriver key codes (W3C WebDriver, "keyboard actions").
pub mod keys {
    pub const CONTROL: &str = "\u{E009}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ENTER: &str = "\u{E007}";
    pub const BACKSPACE: &str = "\u{E003}";
    pub const LEFT: &str = "\u{E012}";
    pub const HOME: &str = "\u{E011}";
    pub const END: &str = "\u{E010}";
    pub const DOWN: &str = "\u{E015}";
    pub const UP: &str = "\u{E013}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const TAB: &str = "\u{E004}";
}

/// The workspace root (tests/ is one level down).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Screenshots and other outputs a person should look at; gitignored.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("create tests/artifacts");
    dir
}

/// The built app: `CAIRN_DESKTOP_BIN`, else `debug/cairn-desktop` (or
/// `release/` when `release`) under `CARGO_TARGET_DIR` or the workspace's
/// `target/`.
pub fn app_binary(release: bool) -> PathBuf {
    if let Some(p) = std::env::var_os("CAIRN_DESKTOP_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target
        .join(if release { "release" } else { "debug" })
        .join("cairn-desktop")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn tauri_driver() -> PathBuf {
    find_on_path("tauri-driver")
        .or_else(|| {
            let p = PathBuf::from(std::env::var_os("HOME")?).join(".cargo/bin/tauri-driver");
            p.is_file().then_some(p)
        })
        .unwrap_or_else(|| {
            panic!(
                "tauri-driver is not installed: run `cargo install tauri-driver --locked --version 2.1.0`"
            )
        })
}

fn check_prerequisites(release: bool) -> (PathBuf, PathBuf) {
    let app = app_binary(release);
    assert!(
        app.is_file(),
        "the app binary {} is missing: run `npm ci --prefix ui && npm run --prefix ui build && cargo build -p cairn-desktop{}` \
         (with the same CARGO_TARGET_DIR), or point CAIRN_DESKTOP_BIN at it",
        app.display(),
        if release { " --release" } else { "" }
    );
    assert!(
        find_on_path("Xvfb").is_some(),
        "Xvfb is not installed: `apt-get install xvfb`"
    );
    assert!(
        find_on_path("WebKitWebDriver").is_some(),
        "WebKitWebDriver is not installed: `apt-get install webkit2gtk-driver`"
    );
    (app, tauri_driver())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts Xvfb on a display it picks itself and returns the display name.
pub fn start_xvfb() -> (Child, String) {
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Xvfb");
    let stdout = xvfb.stdout.take().expect("Xvfb stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the display number from Xvfb");
    let n = line.trim();
    assert!(!n.is_empty(), "Xvfb did not report a display");
    (xvfb, format!(":{n}"))
}

/// Options for one app instance.
#[derive(Debug, Clone)]
pub struct Launch {
    pub data_dir: PathBuf,
    /// Extra environment for the app (tauri-driver passes its own on).
    pub env: Vec<(String, String)>,
    /// Run the optimised build: timings of a debug build say little.
    pub release: bool,
}

impl Launch {
    pub fn new(data_dir: &Path) -> Launch {
        Launch {
            data_dir: data_dir.to_path_buf(),
            env: Vec::new(),
            release: false,
        }
    }
}

pub struct Desktop {
    pub client: Client,
    driver: Child,
    xvfb: Child,
}

impl Desktop {
    pub async fn launch(opts: Launch) -> Desktop {
        let (app, driver_bin) = check_prerequisites(opts.release);
        let (mut xvfb, display) = start_xvfb();
        let mut last_error = String::new();
        for attempt in 1..=SESSION_ATTEMPTS {
            let mut driver = spawn_driver(&driver_bin, &display, &opts);
            match open_session(&app, &mut driver).await {
                Ok(client) => {
                    let desktop = Desktop {
                        client,
                        driver: driver.child,
                        xvfb,
                    };
                    desktop
                        .wait_until(
                            "the UI to be ready",
                            "return document.body.dataset.ready === 'true'",
                        )
                        .await;
                    return desktop;
                }
                Err(e) => {
                    // The WebDriver pair (tauri-driver in front of
                    // WebKitWebDriver) occasionally drops the very first
                    // request on a loaded machine. That is the harness, not
                    // the app: an app that cannot start fails every attempt.
                    eprintln!("WebDriver session attempt {attempt} failed: {e}");
                    stop_driver(&mut driver.child);
                    last_error = e;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        stop(&mut xvfb);
        panic!(
            "could not open a WebDriver session on the app after {SESSION_ATTEMPTS} attempts: {last_error}"
        )
    }

    /// Runs `script` (a function body) in the window and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns true; panics after `UI_TIMEOUT`
    /// with a screenshot saved for the failure. A script that throws
    /// counts as not yet: what it reads may not be drawn yet (the editor
    /// is made after a click on a note, later under load), and the last
    /// error is in the failure's message.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + UI_TIMEOUT;
        let mut last_error = None;
        loop {
            match self.client.execute(script, vec![]).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => {}
                Err(e) => last_error = Some(e.to_string()),
            }
            if Instant::now() > deadline {
                let shot = self.screenshot(&format!("timeout-{}", slug(what))).await;
                let error = last_error
                    .map(|e| format!("; the script's last error: {e}"))
                    .unwrap_or_default();
                panic!(
                    "timed out waiting for {what}; screenshot {}{error}\n{script}",
                    shot.display()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the element `css`. A view may re-render between finding the
    /// element and clicking it (the note list updates rows as changes
    /// arrive): then the element is found again, until [`UI_TIMEOUT`].
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let element = self
                .client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no element {css}: {e}"));
            match element.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline && e.to_string().contains("not found") => {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => panic!("could not click {css}: {e}"),
            }
        }
    }

    /// Types into the element `css` (focusing it first, as a click would).
    pub async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("could not type into {css}: {e}"));
    }

    /// Types `text` with key actions into whatever has the focus. As with
    /// `type_into`, CONTROL and SHIFT in the text are held from where they
    /// appear to where they appear again; a newline is Enter.
    ///
    /// Once a test has used the mouse through actions (a drag, a right
    /// click), WebKitWebDriver's element typing sent the first capital
    /// without Shift; key actions with Shift pressed explicitly do not.
    pub async fn press_keys(&self, text: &str) {
        self.key_actions(text, None).await;
    }

    async fn key_actions(&self, text: &str, gap: Option<Duration>) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut keyboard = KeyActions::new("keyboard".into());
        let shift = keys::SHIFT.chars().next().expect("a key");
        let control = keys::CONTROL.chars().next().expect("a key");
        let enter = keys::ENTER.chars().next().expect("a key");
        let mut held: Vec<char> = Vec::new();
        for c in text.chars() {
            let c = if c == '\n' { enter } else { c };
            if c == shift || c == control {
                if let Some(i) = held.iter().position(|h| *h == c) {
                    held.remove(i);
                    keyboard = keyboard.then(KeyAction::Up { value: c });
                } else {
                    held.push(c);
                    keyboard = keyboard.then(KeyAction::Down { value: c });
                }
                continue;
            }
            // A key action names a key, not a character: what Shift makes on
            // a US keyboard needs Shift held.
            let shifted = c.is_uppercase() || "~!@#$%^&*()_+{}|:\"<>?".contains(c);
            let add_shift = shifted && !held.contains(&shift);
            if add_shift {
                keyboard = keyboard.then(KeyAction::Down { value: shift });
            }
            keyboard = keyboard
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
            if add_shift {
                keyboard = keyboard.then(KeyAction::Up { value: shift });
            }
            if let Some(gap) = gap {
                keyboard = keyboard.pause(gap);
            }
        }
        for c in held {
            keyboard = keyboard.then(KeyAction::Up { value: c });
        }
        self.client
            .perform_actions(keyboard)
            .await
            .unwrap_or_else(|e| panic!("could not type {text:?}: {e}"));
    }

    /// Types like `press_keys`, one key every `gap`, as a typist does: a
    /// benchmark of typing measures keys a person sends, not a burst that
    /// queues up behind itself.
    pub async fn type_paced(&self, text: &str, gap: Duration) {
        self.key_actions(text, Some(gap)).await;
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("could not select {value} in {css}: {e}"));
    }

    /// Performs input actions, then releases every key and button.
    async fn perform(&self, actions: impl Into<fantoccini::actions::Actions>, what: &str) {
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("could not {what}: {e}"));
        self.client
            .release_actions()
            .await
            .unwrap_or_else(|e| panic!("could not release the input after {what}: {e}"));
    }

    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Presses the mouse on `from`, moves it (in steps, as a hand does)
    /// onto `to` and lets go there.
    pub async fn drag(&self, from: &str, to: &str) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
        let source = self.element(from).await;
        let target = self.element(to).await;
        let step = Some(Duration::from_millis(100));
        let mouse = MouseActions::new("mouse".into())
            .then(move_to(source, None, 0.0))
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::MoveBy {
                duration: step,
                x: 12.0,
                y: 6.0,
            })
            .then(move_to(target.clone(), step, 0.0))
            .then(move_to(target, step, 2.0))
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.perform(mouse, &format!("drag {from} onto {to}")).await;
    }

    /// Presses the mouse on `css`, moves it `dx` pixels sideways in a few
    /// steps and lets go (a column's edge, dragged).
    pub async fn drag_by(&self, css: &str, dx: f64) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
        let handle = self.element(css).await;
        let step = Some(Duration::from_millis(60));
        let mut mouse = MouseActions::new("mouse".into())
            .then(move_to(handle, None, 0.0))
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        for _ in 0..4 {
            mouse = mouse.then(PointerAction::MoveBy {
                duration: step,
                x: dx / 4.0,
                y: 0.0,
            });
        }
        let mouse = mouse.then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
        self.perform(mouse, &format!("drag {css} by {dx}px")).await;
    }

    /// A right click on `css` (the context menu's).
    pub async fn context_click(&self, css: &str) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_RIGHT};
        let element = self.element(css).await;
        let mouse = MouseActions::new("mouse".into())
            .then(move_to(element, None, 0.0))
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_RIGHT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_RIGHT,
            });
        self.perform(mouse, &format!("right-click {css}")).await;
    }

    /// A click on `css` with Control held.
    pub async fn ctrl_click(&self, css: &str) {
        use fantoccini::actions::{
            InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
        };
        let element = self.element(css).await;
        let ctrl = keys::CONTROL.chars().next().expect("a key");
        let tick = Duration::from_millis(0);
        let keyboard = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: ctrl })
            .pause(tick)
            .pause(tick)
            .pause(tick)
            .then(KeyAction::Up { value: ctrl });
        let mouse = MouseActions::new("mouse".into())
            .pause(tick)
            .then(move_to(element, None, 0.0))
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            })
            .pause(tick);
        self.perform(
            fantoccini::actions::Actions::from(keyboard).and(mouse),
            &format!("Ctrl+click {css}"),
        )
        .await;
    }

    /// Resizes the window (the page's viewport follows).
    pub async fn set_size(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("could not resize the window to {width}x{height}: {e}"));
    }

    /// Saves a screenshot of the window under tests/artifacts/.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = artifacts_dir().join(format!("{name}.png"));
        // Let the page paint what the last action changed before the
        // snapshot; WebKit otherwise can hand back the previous frame (two
        // frames were seen not to be always enough under load).
        let painted = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => done(true), 60)));",
                vec![],
            )
            .await;
        if let Err(e) = painted {
            eprintln!("waiting for a paint before screenshot {name} failed: {e}");
        }
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(&path, png).expect("write screenshot"),
            Err(e) => eprintln!("screenshot {name} failed: {e}"),
        }
        path
    }

    /// Ends the session (closing the app), then stops tauri-driver and Xvfb.
    pub async fn quit(mut self) {
        let client = self.client.clone();
        if let Err(e) = client.close().await {
            eprintln!("closing the WebDriver session failed: {e}");
        }
        stop_driver(&mut self.driver);
        stop(&mut self.xvfb);
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        stop_driver(&mut self.driver);
        stop(&mut self.xvfb);
    }
}

/// The pointer onto `element`, `x` pixels right of its centre.
fn move_to(
    element: fantoccini::elements::Element,
    duration: Option<Duration>,
    x: f64,
) -> fantoccini::actions::PointerAction {
    fantoccini::actions::PointerAction::MoveToElement {
        element,
        duration,
        x,
        y: 0.0,
    }
}

/// SIGTERM, so tauri-driver stops WebKitWebDriver (and the app) with it.
/// A running tauri-driver and the two ports it uses.
struct Driver {
    child: Child,
    port: u16,
    native_port: u16,
}

fn spawn_driver(bin: &Path, display: &str, opts: &Launch) -> Driver {
    let port = free_port();
    let native_port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["--port", &port.to_string()])
        .args(["--native-port", &native_port.to_string()])
        .env("DISPLAY", display)
        .env("CAIRN_DATA_DIR", &opts.data_dir)
        // Sessions in files, never in the keychain of whoever runs the
        // tests.
        .env("CAIRN_CREDENTIAL_STORE", "file")
        // WebKit's defaults work under Xvfb; WEBKIT_DISABLE_DMABUF_RENDERER,
        // a common tip, makes WebKitWebDriver's screenshots hang there.
        .env_remove("WEBKIT_DISABLE_DMABUF_RENDERER")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    Driver {
        child: cmd.spawn().expect("start tauri-driver"),
        port,
        native_port,
    }
}

/// Waits until tauri-driver and the WebKitWebDriver behind it both listen,
/// then opens a session, which starts the app.
async fn open_session(app: &Path, driver: &mut Driver) -> Result<Client, String> {
    let deadline = Instant::now() + LAUNCH_TIMEOUT;
    for port in [driver.port, driver.native_port] {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                return Err(format!("tauri-driver exited ({status})"));
            }
            if Instant::now() > deadline {
                return Err(format!("nothing listened on port {port}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    let mut caps = serde_json::Map::new();
    // tauri-driver refuses a browserName other than "wry"; leave it out.
    caps.insert(
        "tauri:options".into(),
        json!({ "application": app.to_string_lossy() }),
    );
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .map_err(|e| e.to_string())
}

fn stop_driver(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let termed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    if !matches!(termed, Ok(s) if s.success()) {
        eprintln!("could not SIGTERM tauri-driver {}", child.id());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("tauri-driver {} ignored SIGTERM", child.id());
}

fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Err(e) = child.kill() {
        eprintln!("could not stop process {}: {e}", child.id());
    }
    if let Err(e) = child.wait() {
        eprintln!("could not reap process {}: {e}", child.id());
    }
}

/// A file-name-safe, bounded form of `s` (a "what" may quote a long text).
fn slug(s: &str) -> String {
    s.chars()
        .take(80)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
