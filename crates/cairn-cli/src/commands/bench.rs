//! `cairn bench …`: measurements that print one JSON object. Not tests:
//! they report figures; the targets live in the issues and the README.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use cairn_core::{ImportNote, ListQuery, NewNote, Store, StoreOptions};
use clap::Subcommand;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// The local store: import, open, search, edit, history.
    Local {
        #[arg(long, default_value_t = 10_000)]
        notes: usize,
        /// Print JSON (the only output format; kept for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Sync through the dev service and its embedded S3, on loopback:
    /// first publish, a new device's bootstrap, one typed character,
    /// idle rounds, and edit-to-peer latency with notifications.
    Sync {
        #[arg(long, default_value_t = 10_000)]
        notes: usize,
        #[arg(long)]
        json: bool,
        /// How many edits to time from one device to the other.
        #[arg(long, default_value_t = 40)]
        samples: usize,
        /// Turn end-to-end encryption off, to measure what it costs.
        #[arg(long)]
        plaintext: bool,
    },
    /// Attachments through the dev service and its embedded S3, on
    /// loopback: 1,000 files of 1 KB to 5 MB plus one of 100 MB, up from
    /// one device and down to another of a five-device user.
    Attachments {
        #[arg(long, default_value_t = 1000)]
        files: usize,
        /// The size of the one large file, in MB.
        #[arg(long, default_value_t = 100)]
        big_mb: u64,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(which: BenchCommand) -> Result<()> {
    match which {
        BenchCommand::Local { notes, json: _ } => {
            let mut report = local(notes)?;
            if let (Some(all), serde_json::Value::Object(more)) =
                (report.as_object_mut(), super::bench_notebooks::run()?)
            {
                all.extend(more);
            }
            crate::outln!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        BenchCommand::Sync {
            notes,
            json: _,
            samples,
            plaintext,
        } => {
            let report = super::bench_sync::run(notes, samples, plaintext)?;
            crate::outln!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        BenchCommand::Attachments {
            files,
            big_mb,
            json: _,
        } => {
            let report = super::bench_attachments::run(files, big_mb)?;
            crate::outln!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}

const WORDS: &str = "the of and to in is that it for on with as was at by an be this \
have from or one had not but what all were when we there can your which their said if do \
will each about how up out them then she many some so these would other into has more her \
two like him see time could no make than first been its who now people my made over did \
down only way find use may water long little very after words called just where most know \
garden kitchen meeting project budget travel Lisbon recipe tomato basil morning evening \
deadline release sprint review design sketch chapter novel poem letter invoice contract \
mountain river forest cabin winter summer autumn spring coffee bread cheese olive lemon \
database index query schema migration server client network latency throughput benchmark \
automerge replica merge conflict history version snapshot segment keyboard shortcut editor \
markdown heading bullet checklist reminder birthday anniversary holiday flight hotel museum \
library concert guitar piano painting photograph camera lens battery charger bicycle train";

/// A vocabulary with a long tail, as real writing has: the common words
/// above, then a few thousand made-up but pronounceable words (names,
/// jargon, places). Words are drawn with a Zipf distribution, so some are
/// in every note and most are in a few.
pub(crate) struct Vocabulary {
    words: Vec<String>,
    /// Cumulative weights for the Zipf draw.
    cumulative: Vec<f64>,
}

impl Vocabulary {
    pub(crate) fn new(rng: &mut StdRng) -> Vocabulary {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "ri", "ten", "mar", "vo", "sel", "an", "dre", "qui", "to", "ba", "nel",
            "os", "fi", "ur", "gan", "pe", "shi", "mo", "rak", "el", "zu", "dor",
        ];
        let mut words: Vec<String> = WORDS.split_whitespace().map(str::to_string).collect();
        while words.len() < 6000 {
            let n = rng.gen_range(2..4);
            let w: String = (0..n)
                .map(|_| SYLLABLES[rng.gen_range(0..SYLLABLES.len())])
                .collect();
            words.push(w);
        }
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    fn draw(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.gen_range(0.0..total);
        let i = self.cumulative.partition_point(|c| *c < x);
        &self.words[i.min(self.words.len() - 1)]
    }

    /// A word for a query: any rank, so some queries hit thousands of
    /// notes and some a handful.
    fn any(&self, rng: &mut StdRng) -> &str {
        &self.words[rng.gen_range(0..self.words.len())]
    }
}

fn sentence(rng: &mut StdRng, v: &Vocabulary) -> String {
    let n = rng.gen_range(6..18);
    let s: Vec<String> = (0..n).map(|_| v.draw(rng).to_string()).collect();
    let mut out = s.join(" ");
    if let Some(first) = out.get(..1) {
        out = first.to_uppercase() + &out[1..];
    }
    out.push('.');
    out
}

/// A realistic note of 1 to 5 KB: a heading, paragraphs, a list.
pub(crate) fn note_body(rng: &mut StdRng, w: &Vocabulary) -> String {
    let target = rng.gen_range(1024..5 * 1024);
    let mut body = format!("# {}\n\n", sentence(rng, w).trim_end_matches('.'));
    while body.len() < target {
        if rng.gen_bool(0.2) {
            for _ in 0..rng.gen_range(2..6) {
                body.push_str(&format!("- {}\n", sentence(rng, w)));
            }
            body.push('\n');
        } else {
            for _ in 0..rng.gen_range(2..6) {
                body.push_str(&sentence(rng, w));
                body.push(' ');
            }
            body.push_str("\n\n");
        }
    }
    body
}

pub(crate) fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(idx).copied().unwrap_or(0.0)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Peak resident memory of this process, from /proc (Linux).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(vm_hwm_kb)
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// The peak resident memory in a /proc status file, in kilobytes.
pub(crate) fn vm_hwm_kb(status: &str) -> Option<f64> {
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
}

/// Starts the peak over from the current resident memory (Linux: writing
/// 5 to clear_refs resets VmHWM), so `peak_rss_mb` afterwards is the peak
/// of what follows. False where that is not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn db_mb(dir: &Path) -> f64 {
    ["cairn.db", "cairn.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / (1024.0 * 1024.0)
}

/// Notes per transaction of a bulk write: large enough that the search
/// index is flushed in big segments, small enough that the write-ahead
/// log of one transaction stays a few hundred megabytes at most.
pub(crate) const BULK_BATCH: usize = 10_000;

/// Creates `notes` in transactions of [`BULK_BATCH`].
pub(crate) fn bulk_create(store: &mut Store, mut notes: Vec<ImportNote>) -> Result<()> {
    while !notes.is_empty() {
        let rest = notes.split_off(notes.len().min(BULK_BATCH));
        store.create_notes(notes)?;
        notes = rest;
    }
    Ok(())
}

fn local(n: usize) -> Result<serde_json::Value> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let mut rng = StdRng::seed_from_u64(7);
    let w = Vocabulary::new(&mut rng);
    let tags = ["work", "home", "ideas", "travel", "recipes", "reading"];

    // Import: bulk, one fsync at the end, through the store's bulk path
    // as `cairn import` writes (documents made on every core, large
    // transactions). The notes are generated first: making up text is not
    // what is measured.
    let notes: Vec<ImportNote> = (0..n)
        .map(|i| {
            let body = note_body(&mut rng, &w);
            let tag_count = rng.gen_range(0..3);
            let note_tags = (0..tag_count)
                .map(|_| tags[rng.gen_range(0..tags.len())].to_string())
                .collect();
            ImportNote {
                note: NewNote {
                    body,
                    tags: note_tags,
                    pinned: i % 97 == 0,
                    ..NewNote::default()
                },
                ..ImportNote::default()
            }
        })
        .collect();
    let t = Instant::now();
    {
        let mut store = Store::open(dir)?;
        store.set_durable(false)?;
        bulk_create(&mut store, notes)?;
        // As `cairn import` ends: the checkpoint syncs the database file,
        // so the import's writes are on disk when it is timed as done
        // (not left for the first edit's fsync to pay).
        store.set_durable(true)?;
        store.checkpoint()?;
    }
    let import_s = t.elapsed().as_secs_f64();

    // Open and the first screenful of the list.
    let t = Instant::now();
    let mut store = Store::open(dir)?;
    let first = store.list(&ListQuery {
        limit: Some(100),
        ..ListQuery::default()
    })?;
    let open_ms = ms(t);
    let t = Instant::now();
    let all = store.list(&ListQuery::default())?;
    let list_all_ms = ms(t);
    anyhow::ensure!(first.len() == 100.min(n) && all.len() == n, "list is short");

    // 100 varied queries: one word, two words, prefixes.
    let mut search = Vec::new();
    let mut exact = Vec::new();
    let mut index_only = Vec::new();
    let mut hits = 0usize;
    let mut slowest: Vec<(f64, String)> = Vec::new();
    for i in 0..100 {
        let a = w.any(&mut rng).to_string();
        let b = w.any(&mut rng).to_string();
        let q = match i % 4 {
            0 => a.clone(),
            1 => format!("{a} {b}"),
            2 => a.chars().take(3).collect(),
            _ => format!("{a} {}", b.chars().take(2).collect::<String>()),
        };
        let t = Instant::now();
        let found = store.search_notes(&q, false, 50)?;
        let took = ms(t);
        hits += found.hits.len();
        search.push(took);
        slowest.push((took, q.clone()));
        // The queries that found enough never looked up close spellings:
        // their time is the exact path's (index, passages). The index
        // alone, as it answered before passages and typos, for comparison.
        if !found.fuzzy && found.hits.len() >= cairn_core::FUZZY_BELOW {
            exact.push(took);
            let t = Instant::now();
            store.search(&q, 50)?;
            index_only.push(ms(t));
        }
    }
    // The slowest queries, to tell where the tail comes from.
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest: Vec<serde_json::Value> = slowest
        .iter()
        .take(5)
        .map(|(t, q)| serde_json::json!({ "query": q, "ms": round2(*t) }))
        .collect();
    // The same words with one letter swapped: the exact search finds
    // little, and close spellings are looked up.
    let mut fuzzy = Vec::new();
    let mut fuzzy_hits = 0usize;
    for _ in 0..50 {
        let mut word: Vec<char> = w.any(&mut rng).chars().collect();
        if word.len() >= 4 {
            word.swap(1, 2);
        }
        let q: String = word.into_iter().collect();
        let t = Instant::now();
        fuzzy_hits += store.search_notes(&q, false, 50)?.hits.len();
        fuzzy.push(ms(t));
    }

    // One-character edits on a 20 KB note, each committed and durable.
    let mut big = String::new();
    while big.len() < 20 * 1024 {
        big.push_str(&note_body(&mut rng, &w));
    }
    let id = store.create_note(&big)?;
    let mut edits = Vec::new();
    for i in 0..300 {
        let len = store.get(&id)?.body.encode_utf16().count();
        let at = (len / 2 + i) % len;
        let t = Instant::now();
        store.splice(&id, at, 0, "x")?;
        edits.push(ms(t));
    }

    // History of a note with 1,000 edits, read cold from disk.
    let hid = {
        let mut s = Store::open_with(
            dir,
            StoreOptions {
                durable: false,
                ..StoreOptions::default()
            },
        )?;
        let hid = s.create_note("history\n")?;
        for i in 0..1000 {
            s.splice(&hid, 8 + i, 0, "y")?;
        }
        s.checkpoint()?;
        hid
    };
    drop(store);
    let mut store = Store::open(dir)?;
    let t = Instant::now();
    let versions = store.history(&hid)?;
    let history_ms = ms(t);
    anyhow::ensure!(
        versions.len() == 1001,
        "history has {} versions",
        versions.len()
    );

    Ok(serde_json::json!({
        "notes": n,
        "import_s": round2(import_s),
        "open_ms": round2(open_ms),
        "list_all_ms": round2(list_all_ms),
        "search_p50_ms": round2(percentile(&mut search, 0.5)),
        "search_p99_ms": round2(percentile(&mut search, 0.99)),
        "search_hits": hits,
        "search_slowest": slowest,
        "search_exact_queries": exact.len(),
        "search_exact_p50_ms": round2(percentile(&mut exact, 0.5)),
        "search_exact_p99_ms": round2(percentile(&mut exact, 0.99)),
        "search_index_only_p50_ms": round2(percentile(&mut index_only, 0.5)),
        "search_index_only_p99_ms": round2(percentile(&mut index_only, 0.99)),
        "fuzzy_search_p50_ms": round2(percentile(&mut fuzzy, 0.5)),
        "fuzzy_search_p99_ms": round2(percentile(&mut fuzzy, 0.99)),
        "fuzzy_search_hits": fuzzy_hits,
        "edit_p50_ms": round2(percentile(&mut edits, 0.5)),
        "edit_p99_ms": round2(percentile(&mut edits, 0.99)),
        "history_ms": round2(history_ms),
        "db_mb": round2(db_mb(dir)),
        "rss_mb": round2(peak_rss_mb()),
    }))
}
