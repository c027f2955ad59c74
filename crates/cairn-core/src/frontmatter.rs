//! Markdown files with a YAML front matter block, for import and export:
//!
//! ```text
//! ---
//! id: 6f1c…
//! title: Lisbon
//! created: 2026-11-22T05:24:43.123Z
//! modified: 2026-11-22T06:00:00.000Z
//! tags: [work, ideas]
//! pinned: true
//! trashed: true
//! ---
//! The body, byte for byte.
//! ```
//!
//! The block is read as YAML by a YAML parser, so what Obsidian and
//! Joplin write is understood: block or flow lists, a tag string, quoted
//! values, `aliases`, dates with or without a time, nested maps. Keys that
//! Cairn has no place for are named back to the caller, so an import can
//! say what it left out. The body after the closing `---` line is kept
//! exactly, so a round trip changes nothing.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_norway::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub id: Option<String>,
    pub title: Option<String>,
    pub created_ms: Option<i64>,
    pub modified_ms: Option<i64>,
    pub tags: Vec<String>,
    pub aliases: Vec<String>,
    pub pinned: bool,
    pub trashed: bool,
    pub body: String,
}

/// What reading the front matter found that it could not use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Keys with no place in a note, in file order.
    pub unknown_keys: Vec<String>,
    /// Values that were there but could not be read, with why.
    pub problems: Vec<String>,
}

fn fmt_date(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// RFC 3339, `2020-05-04 10:11:12Z` (Joplin), a time without a zone (read
/// as UTC), a bare date, or milliseconds since the epoch.
fn parse_date(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.fZ"] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(d.timestamp_millis());
        }
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

/// A list of strings, from a YAML list or one string of words separated by
/// commas or spaces (both are written for `tags`).
fn strings(v: &Value, split_words: bool) -> Option<Vec<String>> {
    match v {
        Value::Sequence(items) => Some(
            items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.trim().to_string()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .filter(|s| !s.is_empty())
                .collect(),
        ),
        Value::String(s) => {
            let parts: Vec<String> = if split_words {
                s.split(|c: char| c == ',' || c.is_whitespace())
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            } else {
                vec![s.trim().to_string()]
            };
            Some(parts)
        }
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

fn yaml_str(s: &str) -> String {
    // A one-line scalar, quoted by the YAML writer when it needs quoting.
    serde_norway::to_string(s)
        .map(|y| y.trim_end().to_string())
        .unwrap_or_else(|_| format!("{s:?}"))
}

pub fn render(doc: &Document) -> String {
    let mut out = String::from("---\n");
    if let Some(id) = &doc.id {
        out.push_str(&format!("id: {id}\n"));
    }
    if let Some(t) = &doc.title {
        out.push_str(&format!("title: {}\n", yaml_str(t)));
    }
    if let Some(c) = doc.created_ms {
        out.push_str(&format!("created: {}\n", fmt_date(c)));
    }
    if let Some(m) = doc.modified_ms {
        out.push_str(&format!("modified: {}\n", fmt_date(m)));
    }
    let tags: Vec<String> = doc.tags.iter().map(|t| yaml_str(t)).collect();
    out.push_str(&format!("tags: [{}]\n", tags.join(", ")));
    if doc.pinned {
        out.push_str("pinned: true\n");
    }
    if doc.trashed {
        out.push_str("trashed: true\n");
    }
    out.push_str("---\n");
    out.push_str(&doc.body);
    out
}

/// Splits front matter from the body. A file without front matter is all
/// body; front matter that is not valid YAML is an error naming the
/// problem (the caller keeps the whole text as the body then).
pub fn parse(text: &str) -> Result<(Document, Leftovers), String> {
    let mut doc = Document::default();
    let mut left = Leftovers::default();
    let normalized;
    let text = if text.contains("\r\n") {
        normalized = text.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        text
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text.strip_prefix("---\n") else {
        doc.body = text.to_string();
        return Ok((doc, left));
    };
    let Some((head, body_start)) = rest
        .find("\n---\n")
        .map(|i| (&rest[..i], i + 5))
        .or_else(|| rest.strip_suffix("\n---").map(|r| (r, rest.len())))
        .or_else(|| rest.strip_prefix("---\n").map(|_| ("", 4)))
    else {
        doc.body = text.to_string();
        return Ok((doc, left));
    };
    doc.body = rest[body_start..].to_string();
    if head.trim().is_empty() {
        return Ok((doc, left));
    }
    let value: Value =
        serde_norway::from_str(head).map_err(|e| format!("front matter is not valid YAML: {e}"))?;
    let map = match value {
        Value::Mapping(m) => m,
        Value::Null => return Ok((doc, left)),
        _ => return Err("front matter is not a set of `key: value` lines".into()),
    };
    for (k, v) in &map {
        let Some(key) = k.as_str() else {
            left.unknown_keys.push(format!("{k:?}"));
            continue;
        };
        let mut bad = |what: &str| left.problems.push(format!("{key}: {what}"));
        match key.to_ascii_lowercase().as_str() {
            "id" => match v {
                Value::String(s) => doc.id = Some(s.trim().to_string()),
                _ => bad("not a string"),
            },
            "title" => match v {
                Value::String(s) => doc.title = Some(s.trim().to_string()),
                Value::Number(n) => doc.title = Some(n.to_string()),
                _ => bad("not a string"),
            },
            "created" | "date" | "created_at" | "creation_date" => match parse_date(v) {
                Some(ms) => doc.created_ms = Some(ms),
                None => bad("not a date"),
            },
            "modified" | "updated" | "updated_at" | "last_modified" => match parse_date(v) {
                Some(ms) => doc.modified_ms = Some(ms),
                None => bad("not a date"),
            },
            "tags" | "tag" => match strings(v, true) {
                Some(t) => doc
                    .tags
                    .extend(t.into_iter().map(|t| t.trim_start_matches('#').to_string())),
                None => bad("not a list of tags"),
            },
            "aliases" | "alias" => match strings(v, false) {
                Some(a) => doc.aliases.extend(a),
                None => bad("not a list of names"),
            },
            "pinned" => doc.pinned = v.as_bool().unwrap_or(false),
            "trashed" => doc.trashed = v.as_bool().unwrap_or(false),
            _ => left.unknown_keys.push(key.to_string()),
        }
    }
    Ok((doc, left))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_everything() {
        let d = Document {
            id: Some("abc".into()),
            title: Some("Odd: \"quoted\" # title".into()),
            created_ms: Some(1_700_000_000_123),
            modified_ms: Some(1_700_000_100_456),
            tags: vec!["a".into(), "b-c".into(), "x/y".into()],
            aliases: Vec::new(),
            pinned: true,
            trashed: true,
            body: "# Title\n\n---\nnot front matter\n".into(),
        };
        let (got, left) = parse(&render(&d)).unwrap();
        assert_eq!(got, d);
        assert_eq!(left, Leftovers::default());
    }

    #[test]
    fn plain_markdown_is_all_body() {
        let (d, _) = parse("# Hello\nworld").unwrap();
        assert_eq!(d.body, "# Hello\nworld");
        assert!(d.tags.is_empty());
        assert_eq!(
            parse("---\nunterminated").unwrap().0.body,
            "---\nunterminated"
        );
    }

    #[test]
    fn obsidian_and_joplin_front_matter() {
        let text = "---\ntitle: Trip\ntags:\n  - travel\n  - \"#ideas\"\naliases: [Lisbon trip, Portugal]\n\
                    created: 2020-05-04 10:11:12Z\nupdated: 2021-01-02\nauthor: Ann\n\
                    location:\n  lat: 38.7\n  lon: -9.1\ncompleted?: no\n---\nBody\n";
        let (d, left) = parse(text).unwrap();
        assert_eq!(d.title.as_deref(), Some("Trip"));
        assert_eq!(d.tags, vec!["travel".to_string(), "ideas".to_string()]);
        assert_eq!(
            d.aliases,
            vec!["Lisbon trip".to_string(), "Portugal".to_string()]
        );
        assert_eq!(d.created_ms, Some(1_588_587_072_000));
        assert_eq!(d.modified_ms, Some(1_609_545_600_000));
        assert_eq!(left.unknown_keys, vec!["author", "location", "completed?"]);
        assert_eq!(d.body, "Body\n");
        let (d, _) = parse("---\ntags: one, two three\n---\n").unwrap();
        assert_eq!(d.tags, vec!["one", "two", "three"]);
    }

    #[test]
    fn bad_yaml_is_an_error_and_bad_values_are_named() {
        let err = parse("---\ntags: [unclosed\n---\nbody").unwrap_err();
        assert!(err.contains("not valid YAML"), "{err}");
        let (_, left) = parse("---\ncreated: someday\ntags: {a: 1}\n---\nx").unwrap();
        assert_eq!(
            left.problems,
            vec!["created: not a date", "tags: not a list of tags"]
        );
    }

    #[test]
    fn empty_body_round_trips() {
        let d = Document {
            tags: vec!["x".into()],
            ..Document::default()
        };
        assert_eq!(parse(&render(&d)).unwrap().0, d);
    }
}
