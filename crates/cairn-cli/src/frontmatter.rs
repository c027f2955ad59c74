//! Markdown files with a small front matter block, for import and export:
//!
//! ```text
//! ---
//! id: 6f1c…
//! created: 2026-11-22T05:24:43.123Z
//! modified: 2026-11-22T06:00:00.000Z
//! tags: [work, ideas]
//! pinned: true
//! trashed: true
//! ---
//! The body, byte for byte.
//! ```
//!
//! Only these keys are written; unknown keys on import are ignored. The
//! body after the closing `---` line is kept exactly, so a round trip
//! changes nothing.

use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub id: Option<String>,
    pub created_ms: Option<i64>,
    pub modified_ms: Option<i64>,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub trashed: bool,
    pub body: String,
}

fn fmt_date(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_date(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.timestamp_millis())
}

pub fn render(doc: &Document) -> String {
    let mut out = String::from("---\n");
    if let Some(id) = &doc.id {
        out.push_str(&format!("id: {id}\n"));
    }
    if let Some(c) = doc.created_ms {
        out.push_str(&format!("created: {}\n", fmt_date(c)));
    }
    if let Some(m) = doc.modified_ms {
        out.push_str(&format!("modified: {}\n", fmt_date(m)));
    }
    out.push_str(&format!("tags: [{}]\n", doc.tags.join(", ")));
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
/// body.
pub fn parse(text: &str) -> Document {
    let mut doc = Document::default();
    let Some(rest) = text.strip_prefix("---\n") else {
        doc.body = text.to_string();
        return doc;
    };
    let Some(end) = rest
        .find("\n---\n")
        .map(|i| (i, i + 5))
        .or_else(|| rest.strip_suffix("\n---").map(|r| (r.len(), rest.len())))
    else {
        doc.body = text.to_string();
        return doc;
    };
    let (head, body_start) = (&rest[..end.0], end.1);
    for line in head.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "id" => doc.id = Some(value.to_string()),
            "created" => doc.created_ms = parse_date(value),
            "modified" => doc.modified_ms = parse_date(value),
            "pinned" => doc.pinned = value == "true",
            "trashed" => doc.trashed = value == "true",
            "tags" => {
                doc.tags = value
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .split(',')
                    .map(|t| t.trim().trim_matches('"').to_string())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            _ => {}
        }
    }
    doc.body = rest[body_start..].to_string();
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_everything() {
        let d = Document {
            id: Some("abc".into()),
            created_ms: Some(1_700_000_000_123),
            modified_ms: Some(1_700_000_100_456),
            tags: vec!["a".into(), "b-c".into()],
            pinned: true,
            trashed: true,
            body: "# Title\n\n---\nnot front matter\n".into(),
        };
        assert_eq!(parse(&render(&d)), d);
    }

    #[test]
    fn plain_markdown_is_all_body() {
        let d = parse("# Hello\nworld");
        assert_eq!(d.body, "# Hello\nworld");
        assert!(d.tags.is_empty());
        assert_eq!(parse("---\nunterminated").body, "---\nunterminated");
    }

    #[test]
    fn empty_body_round_trips() {
        let d = Document {
            tags: vec!["x".into()],
            ..Document::default()
        };
        assert_eq!(parse(&render(&d)), d);
    }
}
