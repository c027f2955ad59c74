//! Finding links in a note's Markdown: `[[Title]]`, `[[Title|shown text]]`,
//! `[[Title#Heading]]`, and Markdown links to another note's file by
//! relative path, `[text](../Work/Plan.md)`.
//!
//! A link's *text* is its target as typed (`Title`, or the path as
//! written). The note's document maps that text to the id of the note it
//! points to, so renaming the target keeps the link: the id is stored, the
//! text is left as the user wrote it, and nothing else has to be rewritten
//! (rewriting every linking note on a rename would be one write per
//! linking note, racing with their own edits on other devices).
//!
//! Links inside code (inline or fenced) are not links.

/// How a link was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Wiki,
    Markdown,
}

/// One link found in a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpan {
    /// Byte range of the whole link in the body.
    pub start: usize,
    pub end: usize,
    pub kind: LinkKind,
    /// The target as typed: the key of the document's `links` map.
    pub text: String,
    pub heading: Option<String>,
    /// `[[target|alias]]`, or the text of a Markdown link.
    pub alias: Option<String>,
}

impl LinkSpan {
    /// The title this link looks for when it has no stored target: the
    /// last path segment, without a `.md` extension, percent-decoded for
    /// Markdown links.
    pub fn title(&self) -> String {
        title_for(&self.text, self.kind)
    }
}

/// The title a link text looks for (see `LinkSpan::title`).
pub fn title_for(text: &str, kind: LinkKind) -> String {
    let decoded = match kind {
        LinkKind::Wiki => text.to_string(),
        LinkKind::Markdown => percent_decode(text),
    };
    let last = decoded.rsplit('/').next().unwrap_or(&decoded);
    let last = strip_md(last);
    last.trim().to_string()
}

/// The key under which titles are compared: ASCII case folded, like
/// SQLite's NOCASE that the title index uses.
pub fn fold(title: &str) -> String {
    title.trim().to_ascii_lowercase()
}

fn strip_md(s: &str) -> &str {
    for ext in [".md", ".markdown", ".MD", ".Md"] {
        if let Some(stem) = s.strip_suffix(ext) {
            return stem;
        }
    }
    s
}

/// Decodes `%20`-style escapes; text that does not decode to UTF-8 is
/// kept as written.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| s.to_string())
}

/// Whether a Markdown link's destination is a relative path to a Markdown
/// file (not a URL, not an anchor in the same note).
fn is_note_path(dest: &str) -> bool {
    let path = dest.split('#').next().unwrap_or("");
    !path.is_empty()
        && !dest.contains("://")
        && !dest.starts_with("mailto:")
        && !dest.starts_with('/')
        && !dest.starts_with('#')
        && strip_md(path).len() != path.len()
}

/// Every link in `body`, in order.
pub fn parse(body: &str) -> Vec<LinkSpan> {
    let mut out = Vec::new();
    for_lines_outside_code_blocks(body, |line, start| parse_line(line, start, &mut out));
    out
}

/// Calls `f` with each line of `body` (and its byte offset) that is not
/// inside a fenced code block, nor a fence itself.
pub(crate) fn for_lines_outside_code_blocks(body: &str, mut f: impl FnMut(&str, usize)) {
    let mut fence: Option<&str> = None;
    let mut line_start = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = if trimmed.starts_with("```") {
            Some("```")
        } else if trimmed.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(f), Some(m)) if f == m => fence = None,
            (None, None) => f(line, line_start),
            _ => {}
        }
        line_start += line.len();
    }
}

/// Where the inline code span opened by the backticks at `i` ends: the
/// same run of backticks closes it (unclosed, only the run is skipped).
pub(crate) fn past_inline_code(line: &str, i: usize) -> usize {
    let run = line.as_bytes()[i..]
        .iter()
        .take_while(|c| **c == b'`')
        .count();
    let ticks = &line[i..i + run];
    match line[i + run..].find(ticks) {
        Some(close) => i + run + close + run,
        None => i + run,
    }
}

fn parse_line(line: &str, offset: usize, out: &mut Vec<LinkSpan>) {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'`' => i = past_inline_code(line, i),
            b'[' if b.get(i + 1) == Some(&b'[') => match line[i + 2..].find("]]") {
                Some(close) => {
                    let inner = &line[i + 2..i + 2 + close];
                    let end = i + 2 + close + 2;
                    if !inner.contains('[') {
                        let embed_of_file = i > 0 && b[i - 1] == b'!' && has_other_ext(inner);
                        if let Some(span) = wiki(inner, offset + i, offset + end) {
                            if !embed_of_file {
                                out.push(span);
                            }
                        }
                        i = end;
                    } else {
                        i += 1;
                    }
                }
                None => i += 2,
            },
            b'[' => {
                if let Some((span, end)) = markdown(line, i, offset) {
                    out.push(span);
                    i = end;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
}

/// `![[photo.png]]` embeds a file, not a note.
fn has_other_ext(inner: &str) -> bool {
    let target = inner.split(['|', '#']).next().unwrap_or("");
    let last = target.rsplit('/').next().unwrap_or(target);
    match last.rsplit_once('.') {
        Some((_, ext)) => !ext.eq_ignore_ascii_case("md") && !ext.contains(' ') && ext.len() <= 5,
        None => false,
    }
}

fn wiki(inner: &str, start: usize, end: usize) -> Option<LinkSpan> {
    let (target, alias) = match inner.split_once('|') {
        Some((t, a)) => (t, Some(a.trim().to_string())),
        None => (inner, None),
    };
    let (text, heading) = match target.split_once('#') {
        Some((t, h)) => (t, Some(h.trim().to_string())),
        None => (target, None),
    };
    let text = text.trim();
    if text.is_empty() {
        return None; // [[#Heading]]: a place in this note
    }
    Some(LinkSpan {
        start,
        end,
        kind: LinkKind::Wiki,
        text: text.to_string(),
        heading,
        alias: alias.filter(|a| !a.is_empty()),
    })
}

/// `[shown](dest)` starting at byte `i` of `line`: the span and where it ends.
fn markdown(line: &str, i: usize, offset: usize) -> Option<(LinkSpan, usize)> {
    if i > 0 && line.as_bytes()[i - 1] == b'!' {
        return None; // an image
    }
    let close = line[i + 1..].find("](")? + i + 1;
    let shown = &line[i + 1..close];
    if shown.contains('[') || shown.contains(']') {
        return None;
    }
    let rest = &line[close + 2..];
    let (dest, used) = if let Some(r) = rest.strip_prefix('<') {
        let e = r.find('>')?;
        if !r[e + 1..].starts_with(')') {
            return None;
        }
        (&r[..e], e + 3)
    } else {
        let e = rest.find(')')?;
        let d = &rest[..e];
        if d.contains(' ') {
            return None; // a title or not a link; keep it simple
        }
        (d, e + 1)
    };
    if !is_note_path(dest) {
        return None;
    }
    let (path, heading) = match dest.split_once('#') {
        Some((p, h)) => (p, Some(percent_decode(h))),
        None => (dest, None),
    };
    let end = close + 2 + used;
    Some((
        LinkSpan {
            start: offset + i,
            end: offset + end,
            kind: LinkKind::Markdown,
            text: path.to_string(),
            heading,
            alias: Some(shown.to_string()).filter(|s| !s.is_empty()),
        },
        end,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str) -> Vec<(String, Option<String>, Option<String>)> {
        parse(body)
            .into_iter()
            .map(|l| (l.text, l.heading, l.alias))
            .collect()
    }

    #[test]
    fn wikilinks_with_headings_and_aliases() {
        let body = "See [[Plan]], [[Plan#Goals|the goals]] and [[ Other |x]].\n[[#Local]] [[]]";
        assert_eq!(
            texts(body),
            vec![
                ("Plan".into(), None, None),
                (
                    "Plan".into(),
                    Some("Goals".into()),
                    Some("the goals".into())
                ),
                ("Other".into(), None, Some("x".into())),
            ]
        );
        let spans = parse(body);
        assert_eq!(&body[spans[0].start..spans[0].end], "[[Plan]]");
    }

    #[test]
    fn relative_markdown_links_to_notes_only() {
        let body = "[a](../Work/My%20Plan.md#Top) [b](https://x.org/a.md) [c](pic.png) ![d](e.md) [f](<g h.md>)";
        let got = parse(body);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].text, "../Work/My%20Plan.md");
        assert_eq!(got[0].title(), "My Plan");
        assert_eq!(got[0].heading.as_deref(), Some("Top"));
        assert_eq!(got[1].text, "g h.md");
    }

    #[test]
    fn code_is_not_links_and_embeds_of_files_are_skipped() {
        let body = "`[[A]]` [[B]]\n```\n[[C]]\n```\n![[pic.png]] ![[Note D]] ``x`[[E]]`` [[F";
        let got: Vec<String> = parse(body).into_iter().map(|l| l.text).collect();
        assert_eq!(got, vec!["B".to_string(), "Note D".to_string()]);
    }

    #[test]
    fn titles_of_link_texts() {
        assert_eq!(title_for("Work/Plan", LinkKind::Wiki), "Plan");
        assert_eq!(title_for("Plan.md", LinkKind::Wiki), "Plan");
        assert_eq!(title_for("a%2Fb/x%20y.md", LinkKind::Markdown), "x y");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
