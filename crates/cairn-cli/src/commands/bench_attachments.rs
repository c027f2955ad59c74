//! `cairn bench attachments`: attachment sync on loopback through the dev
//! service and its embedded S3, with the same SyncAgent the CLI and the
//! app use. 1,000 files from 1 KB to 5 MB (about 500 MB) and one of
//! 100 MB go up from one device and down to another; a user with five
//! devices, so the grant is measured at its size for five.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::bench::round2;
use super::bench_sync::{agent, create_account, login, start_server};

const SMALLEST: f64 = 1_000.0;
const LARGEST: f64 = 5_000_000.0;

/// The peak resident memory of this process so far, in MB.
fn rss_mb_peak() -> Option<f64> {
    Some(super::bench::peak_rss_mb()).filter(|mb| *mb > 0.0)
}

/// Writes `len` pseudo-random bytes to `path` through a small buffer.
fn write_file(path: &Path, len: u64, rng: &mut StdRng) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

/// Sizes from 1 KB to 5 MB, spread so that `files` of them add up to
/// about `total` bytes: log-uniform, scaled.
fn sizes(rng: &mut StdRng, files: usize, total: u64) -> Vec<u64> {
    let raw: Vec<f64> = (0..files)
        .map(|_| (SMALLEST.ln() + rng.gen::<f64>() * (LARGEST.ln() - SMALLEST.ln())).exp())
        .collect();
    let sum: f64 = raw.iter().sum();
    let scale = total as f64 / sum;
    raw.iter()
        .map(|s| (s * scale).clamp(SMALLEST, LARGEST) as u64)
        .collect()
}

pub fn run(files: usize, big_mb: u64) -> Result<serde_json::Value> {
    let tmp = tempfile::tempdir()?;
    let server = start_server(&tmp.path().join("server"))?;
    let key = create_account(&server)?;
    let dirs: Vec<_> = (0..5).map(|i| tmp.path().join(format!("d{i}"))).collect();
    for (i, dir) in dirs.iter().enumerate() {
        login(dir, &server.url, &key, &format!("bench-{i}"))?;
    }
    let sources = tmp.path().join("files");
    std::fs::create_dir_all(&sources)?;
    let mut rng = StdRng::seed_from_u64(12);
    let mut paths = Vec::new();
    let mut all_sizes = sizes(&mut rng, files, 500_000_000);
    all_sizes.push(big_mb * 1_000_000);
    for (i, size) in all_sizes.iter().enumerate() {
        let p = sources.join(format!("file-{i:04}.bin"));
        write_file(&p, *size, &mut rng)?;
        paths.push(p);
    }
    let total: u64 = all_sizes.iter().sum();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (mut a, a_store) = agent(&dirs[0], false)?;
        let (mut b, b_store) = agent(&dirs[1], false)?;
        a.refresh_grant().await?; // sees the devices that joined after it
        let grant_bytes = std::fs::metadata(dirs[0].join("grant.json"))?.len();
        {
            let mut s = a_store.lock().map_err(|_| anyhow!("lock"))?;
            let note = s.create_note("Benchmark attachments")?;
            for p in &paths {
                s.attach_file(&note, p, u64::MAX)?;
            }
        }
        for p in &paths {
            std::fs::remove_file(p)?;
        }

        let t = Instant::now();
        a.round().await?;
        let upload_s = t.elapsed().as_secs_f64();
        let up = a.blob_report().clone();
        let rss_after_upload = rss_mb_peak();
        if !up.errors.is_empty() || up.bytes_remaining > 0 {
            bail!("the upload did not finish: {:?}", up.errors);
        }

        b.set_background_limit(u64::MAX);
        let t = Instant::now();
        b.round().await?;
        let download_s = t.elapsed().as_secs_f64();
        let down = b.blob_report().clone();
        if !down.errors.is_empty() || down.bytes_remaining > 0 {
            bail!("the download did not finish: {:?}", down.errors);
        }
        let s = b_store.lock().map_err(|_| anyhow!("lock"))?;
        let listed = s.attachments(None)?;
        if listed.len() != all_sizes.len() || listed.iter().any(|x| !x.local) {
            bail!("B has {} attachments, not all of them here", listed.len());
        }
        let mb = total as f64 / 1e6;
        Ok(serde_json::json!({
            "files": all_sizes.len(),
            "total_mb": round2(mb),
            "upload_mb_s": round2(mb / upload_s),
            "download_mb_s": round2(mb / download_s),
            "requests": up.requests + down.requests,
            "upload_requests": up.requests,
            "download_requests": down.requests,
            "grant_bytes": grant_bytes,
            "devices": dirs.len(),
            "rss_mb_peak": rss_mb_peak().map(round2),
            "rss_mb_peak_upload": rss_after_upload.map(round2),
        }))
    })
}
