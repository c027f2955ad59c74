//! `cairn bench sync`: the sync figures of a real setup on loopback. It
//! starts `cairn-server dev` (the service with its embedded S3 server) as a
//! child process, makes an account and two devices with this same `cairn`
//! binary, and measures with the same SyncAgent the CLI and app use.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use cairn_client::{FileCredentialStore, Session, SyncAgent, WatchEvent, WatchOptions};
use cairn_core::{NewNote, Store, StoreOptions};
use cairn_protocol::SystemClock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bench::{note_body, percentile, round2, Vocabulary};

/// The dev service as a child process, killed when dropped.
pub(super) struct DevServer {
    child: Child,
    pub(super) url: String,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("warning: stopping cairn-server: {e}");
        }
        if let Err(e) = self.child.wait() {
            eprintln!("warning: waiting for cairn-server: {e}");
        }
    }
}

fn sibling_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("executable has no folder"))?;
    let candidate = dir.join(name);
    if candidate.exists() {
        return Ok(candidate);
    }
    bail!(
        "{name} not found next to {}; build it with `cargo build --release -p cairn-server`",
        exe.display()
    )
}

pub(super) fn start_server(data: &Path) -> Result<DevServer> {
    let mut child = Command::new(sibling_binary("cairn-server")?)
        .args(["dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting cairn-server dev")?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow!("cairn-server exited before listening"))??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Ok(DevServer { child, url })
}

/// The passphrase of the benchmark's throwaway account.
const PASSPHRASE: &str = "benchmark passphrase";

pub(super) fn cairn(args: &[&str]) -> Result<String> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(args)
        .env("CAIRN_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!("cairn {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A throwaway account on `server`; returns its account key.
pub(super) fn create_account(server: &DevServer) -> Result<String> {
    Ok(cairn(&["account", "create", "--server", &server.url])?
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string())
}

/// Signs the device at `dir` in to the benchmark's account.
pub(super) fn login(dir: &Path, server: &str, key: &str, name: &str) -> Result<String> {
    cairn(&[
        "--data-dir",
        &dir.to_string_lossy(),
        "login",
        "--server",
        server,
        "--account-key",
        key,
        "--name",
        name,
    ])
}

fn fill(dir: &Path, n: usize) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(7);
    let w = Vocabulary::new(&mut rng);
    let mut store = Store::open_with(
        dir,
        StoreOptions {
            durable: false,
            ..StoreOptions::default()
        },
    )?;
    let notes = (0..n)
        .map(|_| cairn_core::ImportNote {
            note: NewNote {
                body: note_body(&mut rng, &w),
                ..NewNote::default()
            },
            ..cairn_core::ImportNote::default()
        })
        .collect();
    super::bench::bulk_create(&mut store, notes)?;
    // Ended as `cairn import` ends, with the database file synced.
    store.set_durable(true)?;
    store.checkpoint()?;
    Ok(())
}

pub(super) fn agent(dir: &Path, plaintext: bool) -> Result<(SyncAgent, Arc<Mutex<Store>>)> {
    let store = Arc::new(Mutex::new(Store::open(dir)?));
    let creds = Box::new(FileCredentialStore::new(dir.join("credentials.json")));
    let session = Session::load(creds, Arc::new(SystemClock))?
        .ok_or_else(|| anyhow!("the benchmark's device is not signed in"))?;
    let mut agent = SyncAgent::new(dir, Arc::new(session), store.clone())?;
    if plaintext {
        // Measure without encryption: forget the key, allow plaintext.
        store
            .lock()
            .map_err(|_| anyhow!("lock"))?
            .set_content_key(None);
        agent = agent.allow_plaintext_for_benchmarks();
    }
    Ok((agent, store))
}

/// The three slowest samples with their place in the run (the p99 of 40
/// is the slowest one, so where it falls tells a cold start from a
/// periodic cost).
fn slowest_samples(lat: &[f64]) -> serde_json::Value {
    let mut at: Vec<(usize, f64)> = lat.iter().copied().enumerate().collect();
    at.sort_by(|a, b| b.1.total_cmp(&a.1));
    at.iter()
        .take(3)
        .map(|(i, ms)| serde_json::json!({ "sample": i, "ms": round2(*ms) }))
        .collect()
}

pub fn run(n: usize, samples: usize, plaintext: bool) -> Result<serde_json::Value> {
    let tmp = tempfile::tempdir()?;
    let server = start_server(&tmp.path().join("server"))?;
    let key = create_account(&server)?;
    let (a_dir, b_dir, c_dir) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    fill(&a_dir, n)?;
    login(&a_dir, &server.url, &key, "bench-a")?;
    login(&b_dir, &server.url, &key, "bench-b")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (mut a, a_store) = agent(&a_dir, plaintext)?;
        let (mut b, b_store) = agent(&b_dir, plaintext)?;
        a.refresh_grant().await?; // sees B, which joined after A

        let t = Instant::now();
        let first = a.round().await?;
        let first_publish_s = t.elapsed().as_secs_f64();

        // The peak from here on is the bootstrap's (with A's store, open
        // in this same process, under it).
        let peak_reset = super::bench::reset_peak_rss();
        let t = Instant::now();
        let boot = b.round().await?;
        let bootstrap_s = t.elapsed().as_secs_f64();
        let bootstrap_rss_mb = peak_reset.then(super::bench::peak_rss_mb);
        let (got, bootstrap_docs_loaded) = {
            let s = b_store.lock().map_err(|_| anyhow!("lock"))?;
            (s.count(false)?, s.note_documents_loaded())
        };
        if got != n {
            bail!("bootstrap brought {got} of {n} notes");
        }
        // The same objects again, read into memory only, every document
        // loaded. Since a snapshot's digest lets a new device store its
        // notes without loading them, this no longer bounds the bootstrap
        // from below (`bootstrap_docs_loaded` says which path it took):
        // it is what a bootstrap without a digest could at best do.
        let grant = b
            .grant()
            .cloned()
            .ok_or_else(|| anyhow!("B has no grant"))?;
        let peer = grant
            .peers
            .first()
            .map(|p| p.device_id.to_string())
            .ok_or_else(|| anyhow!("B's grant names no peer"))?;
        let content_key = if plaintext {
            None
        } else {
            cairn_client::encryption::load_content_key(&b_dir)?
        };
        let handle = tokio::runtime::Handle::current();
        let (bootstrap_floor_s, floor_docs) = tokio::task::spawn_blocking(move || {
            super::bench_floor::bootstrap_floor(grant, &peer, content_key.as_ref(), handle)
        })
        .await??;
        if floor_docs < n {
            bail!("the floor read {floor_docs} of {n} documents");
        }
        // Let both sides settle: B republishes what it merged (a snapshot
        // of every note), and A reads it back, finding nothing new.
        let t = Instant::now();
        for _ in 0..3 {
            a.round().await?;
            b.round().await?;
        }
        let settle_s = t.elapsed().as_secs_f64();

        // A third device joins: it reads both A's and B's snapshot, each
        // with every note.
        login(&c_dir, &server.url, &key, "bench-c")?;
        let (mut c, c_store) = agent(&c_dir, plaintext)?;
        let t = Instant::now();
        let boot_c = c.round().await?;
        let bootstrap_two_peers_s = t.elapsed().as_secs_f64();
        let got = c_store.lock().map_err(|_| anyhow!("lock"))?.count(false)?;
        if got != n || boot_c.peers.len() != 2 {
            bail!(
                "the third device got {got} of {n} notes from {} peers",
                boot_c.peers.len()
            );
        }
        // A and B keep their grants from before C joined: the figures below
        // stay those of a pair of devices.
        drop(c);

        // One character typed into one note.
        let id = a_store
            .lock()
            .map_err(|_| anyhow!("lock"))?
            .list(&Default::default())?[0]
            .id
            .clone();
        a_store
            .lock()
            .map_err(|_| anyhow!("lock"))?
            .splice(&id, 3, 0, "x")?;
        let edit = a.round().await?;

        // An idle round: first let both sides go quiet (B republishes the
        // edit it merged, A acknowledges), then one more round of B.
        for _ in 0..10 {
            let rb = b.round().await?;
            let ra = a.round().await?;
            let quiet =
                |r: &cairn_core::sync::RoundReport| r.bytes_up == 0 && r.changed_notes() == 0;
            if quiet(&rb) && quiet(&ra) {
                break;
            }
        }
        let idle = b.round().await?;
        let idle_per_peer = idle.requests as f64 / idle.peers.len().max(1) as f64;
        let idle_1 = idle_round_ms(&mut b, 1).await?;

        // Edit to peer, with notifications and no publish delay: B watches,
        // A edits and publishes; time until B has merged it.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let watch = tokio::spawn(async move {
            let options = WatchOptions {
                settle: Duration::ZERO,
                poll: Duration::from_secs(3600),
                ..WatchOptions::default()
            };
            let changes = Arc::new(tokio::sync::Notify::new());
            b.watch(options, changes, move |e| {
                let WatchEvent::Round(r) = e else { return };
                if r.as_ref().is_ok_and(|r| r.changed_notes() > 0) {
                    if let Err(e) = tx.send(()) {
                        eprintln!("warning: {e}");
                    }
                }
            })
            .await
        });
        // Give the watcher its first round and its socket.
        tokio::time::sleep(Duration::from_millis(500)).await;
        while rx.try_recv().is_ok() {}
        let mut rng = StdRng::seed_from_u64(3);
        let mut lat = Vec::new();
        for _ in 0..samples {
            let t = Instant::now();
            {
                let mut s = a_store.lock().map_err(|_| anyhow!("lock"))?;
                let len = s.get(&id)?.body.encode_utf16().count();
                s.splice(&id, rng.gen_range(0..len), 0, "y")?;
            }
            a.round().await?;
            tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .map_err(|_| anyhow!("the peer did not get an edit within 10 s"))?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            // Drain B's echo rounds before the next sample.
            tokio::time::sleep(Duration::from_millis(50)).await;
            while rx.try_recv().is_ok() {}
        }
        watch.abort();

        // Idle rounds with four peers: B, C and two more devices that
        // never published. Their heads are read at once, so the round
        // should take about as long as with one.
        login(&tmp.path().join("d"), &server.url, &key, "bench-d")?;
        login(&tmp.path().join("e"), &server.url, &key, "bench-e")?;
        a.refresh_grant().await?;
        for _ in 0..10 {
            let r = a.round().await?;
            if r.bytes_up == 0 && r.changed_notes() == 0 {
                break;
            }
        }
        let idle_4 = idle_round_ms(&mut a, 4).await?;
        let typing = if plaintext {
            None
        } else {
            Some(live_typing(&a_dir, &b_dir, &id, TYPING_SECS).await?)
        };
        // Shared notebooks are always sealed: no plaintext figure.
        let space = if plaintext {
            None
        } else {
            Some(super::bench_sync_space::space_edit_to_peer(&server, tmp.path(), samples).await?)
        };

        // Last, a new device as a process of its own, as it is on a user's
        // machine: `cairn sync` of a fresh store, with that process's own
        // peak memory (the in-process figure above also holds A's store and
        // both agents). It reads the snapshots of A, B and C, each with
        // every note, as a user's new device reads all their others; D and
        // E never published.
        let f_dir = tmp.path().join("f");
        login(&f_dir, &server.url, &key, "bench-f")?;
        let own = tokio::task::spawn_blocking(move || new_device_sync(&f_dir)).await??;

        Ok(serde_json::json!({
            "notes": n,
            "first_publish_s": round2(first_publish_s),
            "first_publish_requests": first.publish_requests,
            "first_publish_bytes": first.bytes_up,
            "bootstrap_s": round2(bootstrap_s),
            "bootstrap_floor_s": round2(bootstrap_floor_s),
            "bootstrap_over_floor": round2(bootstrap_s / bootstrap_floor_s.max(1e-9)),
            "bootstrap_docs_loaded": bootstrap_docs_loaded,
            "bootstrap_requests": boot.requests,
            "bootstrap_rss_mb_peak": bootstrap_rss_mb.map(round2),
            "bootstrap_bytes": boot.bytes_down,
            "settle_after_bootstrap_s": round2(settle_s),
            "bootstrap_two_peers_s": round2(bootstrap_two_peers_s),
            "bootstrap_two_peers_requests": boot_c.requests,
            "edit_publish_bytes": edit.bytes_up,
            "edit_publish_requests": edit.publish_requests,
            "idle_round_requests_per_peer": idle_per_peer,
            "idle_round_ms_1_peer": round2(idle_1),
            "idle_round_ms_4_peers": round2(idle_4),
            "edit_to_peer_ms_p50": round2(percentile(&mut lat.clone(), 0.5)),
            "edit_to_peer_ms_p99": round2(percentile(&mut lat.clone(), 0.99)),
            "edit_to_peer_slowest": slowest_samples(&lat),
            "live_edit_to_peer_ms_p50": typing.as_ref().map(|t| round2(t.p50_ms)),
            "live_edit_to_peer_ms_p99": typing.as_ref().map(|t| round2(t.p99_ms)),
            "live_edits_missed": typing.as_ref().map(|t| t.missed),
            "typing_bucket_requests_per_min": typing.as_ref().map(|t| round2(t.requests_per_min)),
            "space_edit_to_peer_ms_p50": space.as_ref().map(|s| round2(s.p50_ms)),
            "space_edit_to_peer_ms_p99": space.as_ref().map(|s| round2(s.p99_ms)),
            "space_live_edit_to_peer_ms_p50": space.as_ref().map(|s| round2(s.live.p50_ms)),
            "space_live_edit_to_peer_ms_p99": space.as_ref().map(|s| round2(s.live.p99_ms)),
            "space_live_edits_missed": space.as_ref().map(|s| s.live.missed),
            "new_device_process_s": round2(own.seconds),
            "new_device_process_rss_mb_peak": round2(own.peak_rss_mb),
            "encrypted": !plaintext,
        }))
    })
}

/// A first `cairn sync` in a process of its own.
struct NewDeviceSync {
    /// From starting the process to its exit: opening the store, the
    /// bootstrap from A's and B's snapshots, and its own first publish.
    seconds: f64,
    peak_rss_mb: f64,
}

/// Runs `cairn sync` on the signed-in store at `dir`, reading that
/// process's peak resident memory (VmHWM, which only grows) from /proc
/// while it runs. Only the last few milliseconds before it exits could be
/// missed, and the bootstrap's peak is well before that.
fn new_device_sync(dir: &Path) -> Result<NewDeviceSync> {
    let t = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--data-dir")
        .arg(dir)
        .arg("sync")
        .env("CAIRN_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `cairn sync` for a new device")?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak_kb = 0.0_f64;
    let status = loop {
        if let Some(kb) = std::fs::read_to_string(&status_file)
            .ok()
            .as_deref()
            .and_then(super::bench::vm_hwm_kb)
        {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = t.elapsed().as_secs_f64();
    if !status.success() {
        bail!("`cairn sync` of a new device failed ({status})");
    }
    Ok(NewDeviceSync {
        seconds,
        peak_rss_mb: peak_kb / 1024.0,
    })
}

/// What continuous typing on A costs and how soon B has each keystroke,
/// with the app's default watch settings.
pub(super) struct LiveTyping {
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Keystrokes B had not merged live within a second.
    pub missed: usize,
    /// Bucket requests of both devices' rounds while A typed, per minute.
    requests_per_min: f64,
}

/// Keystrokes a second, a quick typist's pace, and how long they go on.
const TYPING_KEYS_PER_SEC: u64 = 11;
const TYPING_SECS: u64 = 60;

/// A types into note `id` at a typist's pace for `secs` seconds while
/// both devices watch with the default settings: each keystroke goes on
/// the live lane; B's merge of it is timed, and both devices' bucket
/// requests are counted.
pub(super) async fn live_typing(
    a_dir: &Path,
    b_dir: &Path,
    id: &str,
    secs: u64,
) -> Result<LiveTyping> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let (mut a, a_store) = agent(a_dir, false)?;
    let (mut b, _b_store) = agent(b_dir, false)?;
    let requests = Arc::new(AtomicU64::new(0));
    let rounds = Arc::new(AtomicU64::new(0));
    let connected = Arc::new(AtomicU64::new(0));
    let (tx, mut merged) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let typed = Arc::new(tokio::sync::Notify::new());
    let count = |requests: Arc<AtomicU64>, rounds: Arc<AtomicU64>| {
        move |r: &cairn_core::sync::RoundReport| {
            requests.fetch_add(r.requests, Ordering::Relaxed);
            rounds.fetch_add(1, Ordering::Relaxed);
        }
    };
    let on_b = count(requests.clone(), rounds.clone());
    let b_connected = connected.clone();
    let watch_b = tokio::spawn(async move {
        b.watch(
            WatchOptions::default(),
            Arc::new(tokio::sync::Notify::new()),
            move |e| match e {
                WatchEvent::Round(Ok(r)) => on_b(r),
                WatchEvent::Round(Err(_)) => {}
                WatchEvent::LiveMerged { .. } => {
                    // The benchmark may have stopped listening.
                    tx.send(Instant::now()).ok();
                }
                WatchEvent::Connected => {
                    b_connected.fetch_add(1, Ordering::Relaxed);
                }
                WatchEvent::SpaceSynced { .. } => {}
            },
        )
        .await
    });
    let on_a = count(requests.clone(), rounds.clone());
    let notify = typed.clone();
    let a_connected = connected.clone();
    let watch_a = tokio::spawn(async move {
        a.watch(WatchOptions::default(), notify, move |e| match e {
            WatchEvent::Round(Ok(r)) => on_a(r),
            WatchEvent::Connected => {
                a_connected.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        })
        .await
    });
    // Both sockets subscribed, and each watcher's first round done.
    let deadline = Instant::now() + Duration::from_secs(30);
    while connected.load(Ordering::Relaxed) < 2 || rounds.load(Ordering::Relaxed) < 2 {
        if Instant::now() > deadline {
            bail!("the watchers did not start within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    while merged.try_recv().is_ok() {}
    requests.store(0, Ordering::Relaxed);

    let gap = Duration::from_millis(1000 / TYPING_KEYS_PER_SEC);
    let mut rng = StdRng::seed_from_u64(11);
    let mut lat = Vec::new();
    let mut missed = 0;
    let started = Instant::now();
    for _ in 0..TYPING_KEYS_PER_SEC * secs {
        let tick = Instant::now();
        {
            let mut s = a_store.lock().map_err(|_| anyhow!("lock"))?;
            let len = s.get(id)?.body.encode_utf16().count();
            s.splice(id, rng.gen_range(0..len), 0, "z")?;
        }
        typed.notify_one();
        match tokio::time::timeout(Duration::from_secs(1), merged.recv()).await {
            Ok(Some(at)) => lat.push(at.duration_since(tick).as_secs_f64() * 1000.0),
            _ => missed += 1,
        }
        if let Some(rest) = gap.checked_sub(tick.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let requests_per_min = requests.load(Ordering::Relaxed) as f64 / minutes;
    watch_a.abort();
    watch_b.abort();
    if lat.is_empty() {
        bail!("no keystroke reached the other device live");
    }
    Ok(LiveTyping {
        p50_ms: percentile(&mut lat.clone(), 0.5),
        p99_ms: percentile(&mut lat, 0.99),
        missed,
        requests_per_min,
    })
}

/// The median time of an idle round (every head unchanged) of a device
/// with `peers` peers.
async fn idle_round_ms(agent: &mut SyncAgent, peers: usize) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..25 {
        let t = Instant::now();
        let r = agent.round().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if r.peers.len() != peers || r.bytes_down > 0 || r.bytes_up > 0 {
            bail!(
                "an idle round with {peers} peers read {} peers and moved {} bytes",
                r.peers.len(),
                r.bytes_down + r.bytes_up
            );
        }
    }
    Ok(percentile(&mut times, 0.5))
}
