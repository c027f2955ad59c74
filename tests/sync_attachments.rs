//! Attachments between devices against the real service and the real S3
//! server, every device driven through the real `cairn` binary:
//!
//! - an image attached on A opens on B with identical bytes; one over the
//!   background limit waits until it is asked for;
//! - the same file attached twice, or on two devices, is uploaded once;
//! - through a proxy injecting 5xx, stalls and cut bodies, every device
//!   ends with identical bytes;
//! - a slot altered in the bucket is refused with a clear error and its
//!   attachment never written out;
//! - attachments removed and the trash emptied on A are gone from the
//!   bucket (their slot emptied once B caught up), while one a note on B
//!   still refers to stays readable;
//! - the grant of a five-device user stays under 256 KB;
//! - a 100 MB file syncs with each `cairn sync` under 150 MB of memory;
//! - an upload killed (SIGKILL) half way resumes without starting over.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_scenarios::cloud::{Cloud, CloudOptions};
use cairn_scenarios::device::Device;
use cairn_scenarios::fault_proxy::FaultRates;

fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or_default().trim().to_owned()
}

/// Writes `data` as `name` in the device's scratch folder and attaches it.
fn attach(d: &Device, note: &str, name: &str, data: &[u8]) -> String {
    let dir = d.dir().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    last_line(&d.ok(&["attach", note, path.to_str().unwrap()]))
}

fn get(d: &Device, id: &str) -> Result<Vec<u8>, String> {
    let out_path = d.dir().join(format!("out-{id}"));
    let out = d.run(&["attachment", "get", id, out_path.to_str().unwrap()]);
    if out.status.success() {
        Ok(std::fs::read(&out_path).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn listed(d: &Device) -> Vec<serde_json::Value> {
    serde_json::from_str(&d.ok(&["attachments", "--json"])).unwrap()
}

fn is_local(d: &Device, id: &str) -> bool {
    listed(d)
        .iter()
        .any(|a| a["id"] == id && a["local"] == true)
}

/// The blob slot objects in the bucket, with their sizes.
fn slot_objects(cloud: &Cloud) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![cloud.bucket_dir()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.parent().is_some_and(|dir| dir.ends_with("blob")) {
                out.push((p.clone(), std::fs::metadata(&p).unwrap().len()));
            }
        }
    }
    out.sort();
    out
}

fn slot_bytes(cloud: &Cloud) -> u64 {
    slot_objects(cloud).iter().map(|(_, n)| n).sum()
}

/// Syncs the devices in turn until `done` holds, or fails after `deadline`.
fn sync_until(devices: &[&Device], deadline: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    loop {
        for d in devices {
            d.sync();
        }
        if done() {
            return;
        }
        assert!(Instant::now() < end, "not done after {deadline:?}");
    }
}

fn sealed_size(plain: usize) -> u64 {
    cairn_core::blob::seal::sealed_len(plain) as u64
}

#[test]
fn an_image_attached_on_a_opens_on_b_with_identical_bytes() {
    let cloud = Cloud::start();
    let (a, b) = (Device::new("att-a"), Device::new("att-b"));
    let key = cloud.create_account(a.dir());
    a.login(&cloud, &key);
    b.login(&cloud, &key);
    let note = last_line(&a.ok(&["new", "Holiday\nphotos below"]));
    let photo = bytes(6 * 1024 * 1024 + 333, 1);
    let big = bytes(21 * 1000 * 1000, 2);
    let photo_id = attach(&a, &note, "beach.png", &photo);
    let big_id = attach(&a, &note, "video.mp4", &big);
    a.sync_ok();
    let run = b.sync_ok();
    assert!(run.stdout.contains("attachments:"), "{}", run.stdout);
    // Under the background limit: already here. Over it: listed, not here.
    assert!(is_local(&b, &photo_id));
    assert!(!is_local(&b, &big_id));
    assert_eq!(get(&b, &photo_id).unwrap(), photo);
    assert!(b
        .ok(&["show", &note])
        .contains(&format!("![beach.png](attachment:{photo_id})")));
    // Asked for: downloaded, identical.
    assert_eq!(get(&b, &big_id).unwrap(), big);
    assert!(is_local(&b, &big_id));
    let row = listed(&b)
        .into_iter()
        .find(|a| a["id"] == big_id.as_str())
        .unwrap();
    assert_eq!(row["media_type"], "video/mp4");
    assert_eq!(row["size"], big.len() as u64);
}

#[test]
fn the_same_file_twice_or_on_two_devices_is_uploaded_once() {
    let cloud = Cloud::start();
    let (a, b) = (Device::new("dup-a"), Device::new("dup-b"));
    let key = cloud.create_account(a.dir());
    a.login(&cloud, &key);
    b.login(&cloud, &key);
    let data = bytes(5 * 1024 * 1024, 3);
    let n1 = last_line(&a.ok(&["new", "one"]));
    let n2 = last_line(&a.ok(&["new", "two"]));
    attach(&a, &n1, "scan.pdf", &data);
    attach(&a, &n2, "scan-copy.pdf", &data);
    // B attaches the same bytes too, before it ever synced.
    let n3 = last_line(&b.ok(&["new", "three"]));
    let on_b = attach(&b, &n3, "mine.pdf", &data);
    a.sync_ok();
    b.sync_ok();
    a.sync_ok();
    let once = sealed_size(4 * 1024 * 1024) + sealed_size(1024 * 1024);
    assert_eq!(slot_bytes(&cloud), once, "{:?}", slot_objects(&cloud));
    assert_eq!(slot_objects(&cloud).len(), 1);
    assert_eq!(listed(&a).len(), 3);
    assert_eq!(get(&a, &on_b).unwrap(), data);
}

#[test]
fn faults_between_devices_and_storage_end_with_identical_bytes() {
    let cloud = Cloud::start_with(CloudOptions {
        proxy_seed: Some(12),
        ..CloudOptions::default()
    });
    let flaky = |name: &str| {
        Device::new(name)
            .with_env("CAIRN_SYNC_TIMEOUT_MS", "3000")
            .with_env("CAIRN_SYNC_RETRY_BASE_MS", "10")
    };
    let (a, b, c) = (flaky("flt-a"), flaky("flt-b"), flaky("flt-c"));
    let key = cloud.create_account(a.dir());
    for d in [&a, &b, &c] {
        d.login(&cloud, &key);
    }
    let files: Vec<Vec<u8>> = vec![bytes(9 * 1024 * 1024, 4), bytes(70_000, 5), bytes(1, 6)];
    let note = last_line(&a.ok(&["new", "faulty"]));
    let ids: Vec<String> = files
        .iter()
        .enumerate()
        .map(|(i, f)| attach(&a, &note, &format!("f{i}.bin"), f))
        .collect();
    let from_c = bytes(300_000, 7);
    let note_c = last_line(&c.ok(&["new", "from c"]));
    let id_c = attach(&c, &note_c, "c.bin", &from_c);
    cloud.proxy().set_rates(FaultRates {
        server_error: 15,
        stall: 2,
        truncate: 15,
        drop: 10,
    });
    let everyone_has_everything = || {
        [&a, &b, &c]
            .iter()
            .all(|d| ids.iter().chain([&id_c]).all(|id| is_local(d, id)))
    };
    sync_until(
        &[&a, &b, &c],
        Duration::from_secs(240),
        everyone_has_everything,
    );
    let [_, errors, stalls, cuts, drops] = cloud.proxy().counts().snapshot();
    eprintln!("faults: {errors} 5xx, {stalls} stalls, {cuts} cut bodies, {drops} drops");
    assert!(
        errors + stalls + cuts + drops > 0,
        "the proxy injected no faults"
    );
    cloud.proxy().set_rates(FaultRates::default());
    for d in [&a, &b, &c] {
        for (id, data) in ids.iter().zip(&files).chain([(&id_c, &from_c)]) {
            assert_eq!(&get(d, id).unwrap(), data, "{id}");
        }
    }
}

#[test]
fn a_slot_altered_in_the_bucket_is_refused_with_a_clear_error() {
    let cloud = Cloud::start();
    let (a, b) = (Device::new("alt-a"), Device::new("alt-b"));
    let key = cloud.create_account(a.dir());
    a.login(&cloud, &key);
    b.login(&cloud, &key);
    let note = last_line(&a.ok(&["new", "evidence"]));
    let id = attach(&a, &note, "photo.jpg", &bytes(200_000, 8));
    a.sync_ok();
    let (slot, _) = slot_objects(&cloud).pop().unwrap();
    let mut sealed = std::fs::read(&slot).unwrap();
    sealed[100_000] ^= 0x20;
    std::fs::write(&slot, &sealed).unwrap();
    let run = b.sync();
    assert!(!run.success);
    assert!(run.stderr.contains("altered or damaged"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("http"),
        "no URL in the message: {}",
        run.stderr
    );
    assert!(!is_local(&b, &id));
    let err = get(&b, &id).unwrap_err();
    assert!(err.contains("altered or damaged"), "{err}");
    assert!(!b.dir().join(format!("out-{id}")).exists());
}

#[test]
fn removed_attachments_leave_the_bucket_but_one_b_still_needs_stays() {
    let cloud = Cloud::start();
    let (a, b, c) = (
        Device::new("gc-a"),
        Device::new("gc-b"),
        Device::new("gc-c"),
    );
    let key = cloud.create_account(a.dir());
    a.login(&cloud, &key);
    b.login(&cloud, &key);
    let kept = bytes(150_000, 9);
    let dropped = bytes(160_000, 10);
    let n1 = last_line(&a.ok(&["new", "kept elsewhere"]));
    attach(&a, &n1, "shared.png", &kept);
    a.sync_ok();
    let n2 = last_line(&a.ok(&["new", "dropped"]));
    attach(&a, &n2, "gone.png", &dropped);
    a.sync_ok();
    b.sync_ok();
    // B keeps the first file in a note of its own.
    let n3 = last_line(&b.ok(&["new", "B's copy"]));
    let on_b = attach(&b, &n3, "shared-too.png", &kept);
    b.sync_ok();
    for n in [&n1, &n2] {
        a.ok(&["trash", n]);
    }
    empty_trash(a.dir());
    let a_id = a.device_id();
    let a_slot = |n: &str| {
        slot_objects(&cloud)
            .into_iter()
            .find(|(p, _)| p.to_string_lossy().contains(&a_id) && p.ends_with(n))
            .map(|(_, len)| len)
    };
    assert_eq!(a_slot("001"), Some(sealed_size(dropped.len())));
    // The dropped file's slot is emptied once B has merged its removal; the
    // shared file's stays, since B's note still refers to it.
    sync_until(&[&a, &b], Duration::from_secs(60), || {
        a_slot("001") == Some(0)
    });
    assert_eq!(a_slot("000"), Some(sealed_size(kept.len())));
    assert_eq!(
        listed(&a)
            .iter()
            .map(|x| x["id"].clone())
            .collect::<Vec<_>>(),
        vec![serde_json::json!(on_b)]
    );
    // A third device still gets the shared file, identical.
    c.login(&cloud, &key);
    c.sync_ok();
    assert_eq!(get(&c, &on_b).unwrap(), kept);
    assert_eq!(slot_bytes(&cloud), sealed_size(kept.len()));
}

fn empty_trash(data: &Path) {
    let mut s = cairn_core::Store::open(data).unwrap();
    s.empty_trash().unwrap();
}

#[test]
fn a_five_device_grant_stays_small() {
    let cloud = Cloud::start();
    let devices: Vec<Device> = (0..5).map(|i| Device::new(&format!("g{i}"))).collect();
    let key = cloud.create_account(devices[0].dir());
    for d in &devices {
        d.login(&cloud, &key);
    }
    devices[0].sync_ok();
    let grant_bytes = std::fs::read(devices[0].dir().join("grant.json"))
        .unwrap()
        .len();
    eprintln!("grant of a five-device user: {grant_bytes} bytes");
    assert!(grant_bytes <= 256 * 1024, "{grant_bytes} bytes");
    let g = devices[0].grant();
    assert_eq!(g.peers.len(), 4);
    assert!(g.peers.iter().all(|p| p.blob_get.is_some()));
}

/// The peak resident memory of a running process, in MB (`VmHWM`).
fn peak_rss_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Runs `cairn sync` on `d` to its end, sampling its peak memory; returns
/// (success, the highest peak seen).
fn sync_measuring_memory(d: &Device) -> (bool, u64) {
    let mut child = d.spawn(&["sync"]);
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(mb) = peak_rss_mb(child.id()) {
            peak = peak.max(mb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.success(), peak);
        }
        assert!(Instant::now() < deadline, "cairn sync did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_100_mb_file_syncs_with_memory_under_150_mb() {
    let cloud = Cloud::start();
    let (a, b) = (Device::new("big-a"), Device::new("big-b"));
    let key = cloud.create_account(a.dir());
    a.login(&cloud, &key);
    b.login(&cloud, &key);
    let data = bytes(100 * 1000 * 1000, 11);
    let note = last_line(&a.ok(&["new", "big"]));
    let id = attach(&a, &note, "film.mov", &data);
    let (ok_a, peak_a) = sync_measuring_memory(&a);
    assert!(ok_a);
    // Asked for on B (it is over the background limit), then synced.
    b.sync_ok();
    {
        let mut s = b.store();
        s.want_attachment(&id).unwrap();
    }
    let (ok_b, peak_b) = sync_measuring_memory(&b);
    assert!(ok_b);
    eprintln!("peak memory: uploading {peak_a} MB, downloading {peak_b} MB");
    assert!(peak_a > 0 && peak_b > 0, "memory was never sampled");
    assert!(peak_a < 150, "uploading 100 MB peaked at {peak_a} MB");
    assert!(peak_b < 150, "downloading 100 MB peaked at {peak_b} MB");
    assert!(is_local(&b, &id));
    assert!(get(&b, &id).unwrap() == data, "the bytes differ");
}

#[test]
fn an_upload_killed_half_way_resumes_and_finishes() {
    let cloud = Cloud::start();
    let (a, b) = (Device::new("kill-a"), Device::new("kill-b"));
    let key = cloud.create_account(a.dir());
    a.login(&cloud, &key);
    b.login(&cloud, &key);
    a.sync_ok();
    let data = bytes(60 * 1000 * 1000, 12);
    let note = last_line(&a.ok(&["new", "killed"]));
    let id = attach(&a, &note, "scan.tiff", &data);
    // Kill the upload once its first slot is in storage and recorded, and
    // before it is done (60 MB make two slots).
    let db = rusqlite::Connection::open(a.dir().join(cairn_core::DB_FILE)).unwrap();
    let recorded = || -> i64 {
        db.query_row("SELECT count(*) FROM blob_slot WHERE live = 1", [], |r| {
            r.get(0)
        })
        .unwrap_or(0)
    };
    let mut child = a.spawn(&["sync"]);
    let deadline = Instant::now() + Duration::from_secs(300);
    let killed = loop {
        if recorded() > 0 {
            let done = child.try_wait().unwrap().is_some();
            child.kill().unwrap();
            child.wait().unwrap();
            break !done;
        }
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        assert!(Instant::now() < deadline, "no slot reached storage");
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(killed, "the sync finished before it could be killed");
    drop(db);
    let before = slot_bytes(&cloud);
    assert!(
        before < sealed_size(4 * 1024 * 1024) * 15,
        "all slots were in already"
    );
    // The next run uploads what is missing, not everything again.
    let run = a.sync_ok();
    let up_kb: u64 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("attachments: "))
        .and_then(|l| l.split(" KB up").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no attachment figures in {}", run.stdout));
    assert!(
        up_kb * 1024 < data.len() as u64,
        "uploaded {up_kb} KB again: all of it"
    );
    b.sync_ok();
    {
        let mut s = b.store();
        s.want_attachment(&id).unwrap();
    }
    b.sync_ok();
    assert!(get(&b, &id).unwrap() == data, "the bytes differ");
}
