//! `cairn bench sync`'s figure for shared notebooks: how soon an edit one
//! person makes in a shared notebook is merged on the other person's
//! device, measured as `edit_to_peer_ms` is between one person's devices
//! (notifications on, no publish delay).
//!
//! Two new accounts, one device each, on the benchmark's service: the
//! owner makes a notebook with one note and shares it, the other accepts,
//! both through this same `cairn` binary as a user would. Then the owner's
//! SyncAgent publishes each edit and the member's watches; the member's
//! store is read until the edit is in it.
//!
//! Then the same two devices watch with the app's default settings (a
//! publish waits for edits to settle) while the owner types at a typist's
//! pace, as `live_typing` does between one person's devices: each
//! keystroke travels on the shared notebook's live lane, and the member's
//! merge of it is timed (`space_live_edit_to_peer_ms_*`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use cairn_client::WatchOptions;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bench::percentile;
use super::bench_sync::{agent, cairn, create_account, live_typing, login, DevServer, LiveTyping};

/// Edit-to-peer times across two accounts, in milliseconds.
pub(super) struct SpaceFigures {
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Keystrokes on the live lane, default watch settings.
    pub live: LiveTyping,
}

/// How long the owner types on the live lane.
const SPACE_TYPING_SECS: u64 = 20;

fn last_line(out: &str) -> String {
    out.trim()
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Shares a notebook from a new account to another and times `samples`
/// edits from the owner's device to the member's.
pub(super) async fn space_edit_to_peer(
    server: &DevServer,
    tmp: &Path,
    samples: usize,
) -> Result<SpaceFigures> {
    let owner = tmp.join("space-owner");
    let member = tmp.join("space-member");
    let run = |dir: &Path, args: &[&str]| -> Result<String> {
        let dir = dir.to_string_lossy().into_owned();
        let mut all = vec!["--data-dir", dir.as_str()];
        all.extend_from_slice(args);
        cairn(&all)
    };
    login(&owner, &server.url, &create_account(server)?, "space-owner")?;
    login(
        &member,
        &server.url,
        &create_account(server)?,
        "space-member",
    )?;
    run(&owner, &["notebook", "create", "Shared"])?;
    let id = last_line(&run(
        &owner,
        &["new", "--notebook", "Shared", "A note two people edit"],
    )?);
    let me: serde_json::Value = serde_json::from_str(&run(&member, &["identity", "--json"])?)?;
    let (account, fingerprint) = match (me["account"].as_str(), me["fingerprint"].as_str()) {
        (Some(a), Some(f)) => (a.to_string(), f.to_string()),
        _ => bail!("`cairn identity --json` gave no account and fingerprint: {me}"),
    };
    let invitation = last_line(&run(
        &owner,
        &[
            "share",
            "Shared",
            "--with",
            &account,
            "--role",
            "editor",
            "--fingerprint",
            &fingerprint,
        ],
    )?);
    run(&member, &["accept", &invitation])?;

    let (mut a, a_store) = agent(&owner, false)?;
    let (mut b, b_store) = agent(&member, false)?;
    let has = |want: &str| -> Result<bool> {
        let mut s = b_store.lock().map_err(|_| anyhow!("lock"))?;
        Ok(s.get(&id).is_ok_and(|n| n.body.contains(want)))
    };
    // The note reaches the member before anything is timed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !has("two people")? {
        if Instant::now() > deadline {
            bail!("the shared note did not reach the member within 30 s");
        }
        a.round().await?;
        b.round().await?;
    }

    let connected = Arc::new(tokio::sync::Notify::new());
    let on_connect = connected.clone();
    let watch = tokio::spawn(async move {
        let options = WatchOptions {
            settle: Duration::ZERO,
            poll: Duration::from_secs(3600),
            ..WatchOptions::default()
        };
        b.watch(options, Arc::new(tokio::sync::Notify::new()), move |e| {
            if matches!(e, cairn_client::WatchEvent::Connected) {
                on_connect.notify_one();
            }
        })
        .await
    });
    tokio::time::timeout(Duration::from_secs(30), connected.notified())
        .await
        .map_err(|_| anyhow!("the member's event socket did not connect within 30 s"))?;

    let mut rng = StdRng::seed_from_u64(5);
    let mut lat = Vec::with_capacity(samples);
    for i in 0..samples {
        let mark = format!(" m{i}q");
        let t = Instant::now();
        {
            let mut s = a_store.lock().map_err(|_| anyhow!("lock"))?;
            let len = s.get(&id)?.body.encode_utf16().count();
            s.splice(&id, rng.gen_range(0..=len), 0, &mark)?;
        }
        a.round().await?;
        let deadline = t + Duration::from_secs(10);
        // The member's store is what its window shows; read it until the
        // edit is in, a millisecond apart.
        while !has(&mark)? {
            if Instant::now() > deadline {
                watch.abort();
                bail!("an edit in the shared notebook did not reach the member within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    watch.abort();
    drop(a);
    let live = live_typing(&owner, &member, &id, SPACE_TYPING_SECS).await?;
    Ok(SpaceFigures {
        p50_ms: percentile(&mut lat.clone(), 0.5),
        p99_ms: percentile(&mut lat, 0.99),
        live,
    })
}
