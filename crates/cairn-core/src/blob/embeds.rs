//! References to files in Markdown, as Obsidian vaults and Joplin exports
//! write them: `![[image.png]]` (with an optional `|size`), `![alt](path)`
//! and `[text](path)`, where the path is a relative file path that is not
//! a note (`.md`), not a URL and not already an `attachment:` reference.
//! Import turns them into attachments; code blocks and inline code are
//! left alone.

/// One reference to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// Byte range of the whole reference in the body.
    pub start: usize,
    pub end: usize,
    /// `![[…]]` or `![…](…)`: shown inline rather than as a link.
    pub embed: bool,
    /// The path as written (percent-decoded for Markdown links).
    pub target: String,
    /// A wikilink names its file by name; a Markdown link by relative path.
    pub wiki: bool,
}

fn is_file_target(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    !(t.is_empty()
        || t.starts_with('#')
        || lower.contains("://")
        || lower.starts_with("mailto:")
        || lower.starts_with("attachment:")
        || lower.starts_with("data:")
        || lower.ends_with(".md")
        || lower.ends_with(".markdown")
        || !t.rsplit('/').next().unwrap_or(t).contains('.'))
}

/// Every file reference in `body`, in order.
pub fn file_refs(body: &str) -> Vec<FileRef> {
    let mut out = Vec::new();
    crate::links::for_lines_outside_code_blocks(body, |line, at| scan_line(line, at, &mut out));
    out
}

fn scan_line(line: &str, offset: usize, out: &mut Vec<FileRef>) {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'`' => i = crate::links::past_inline_code(line, i),
            b'!' if line[i..].starts_with("![[") => {
                if let Some(close) = line[i + 3..].find("]]") {
                    let inner = &line[i + 3..i + 3 + close];
                    let target = inner.split('|').next().unwrap_or("").trim();
                    if is_file_target(target) {
                        out.push(FileRef {
                            start: offset + i,
                            end: offset + i + 3 + close + 2,
                            embed: true,
                            target: target.to_owned(),
                            wiki: true,
                        });
                    }
                    i += 3 + close + 2;
                } else {
                    i += 1;
                }
            }
            b'[' if !line[i..].starts_with("[[") => {
                let embed = i > 0 && b[i - 1] == b'!';
                match markdown_link(line, i) {
                    Some((dest, end)) => {
                        let target = crate::links::percent_decode(dest.trim());
                        if is_file_target(&target) {
                            out.push(FileRef {
                                start: offset + if embed { i - 1 } else { i },
                                end: offset + end,
                                embed,
                                target,
                                wiki: false,
                            });
                        }
                        i = end;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
}

/// `[text](dest)` or `[text](<dest>)` starting at `open`: the destination
/// and the byte after the closing parenthesis.
fn markdown_link(line: &str, open: usize) -> Option<(&str, usize)> {
    let close = open + line[open..].find("](")?;
    if line[open + 1..close].contains('[') {
        return None;
    }
    let rest = &line[close + 2..];
    if let Some(angled) = rest.strip_prefix('<') {
        let end = angled.find('>')?;
        if !angled[end + 1..].starts_with(')') {
            return None;
        }
        return Some((&angled[..end], close + 2 + 1 + end + 2));
    }
    let end = rest.find(')')?;
    let dest = rest[..end].split(' ').next().unwrap_or("");
    Some((dest, close + 2 + end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_embeds_and_file_links_only() {
        let body = "a ![[pic one.png|300]] b ![x](img/a%20b.jpg) [doc](<files/r 1.pdf>)\n\
                    [[Note]] [n](Other.md) [w](https://x.org/a.png) ![[Note B]] `![[code.png]]`\n\
                    ```\n![[fenced.png]]\n```\n[done](attachment:1) [a](#top)";
        let refs = file_refs(body);
        let targets: Vec<(&str, bool, bool)> = refs
            .iter()
            .map(|r| (r.target.as_str(), r.embed, r.wiki))
            .collect();
        assert_eq!(
            targets,
            vec![
                ("pic one.png", true, true),
                ("img/a b.jpg", true, false),
                ("files/r 1.pdf", false, false)
            ]
        );
        assert_eq!(&body[refs[0].start..refs[0].end], "![[pic one.png|300]]");
        assert_eq!(&body[refs[1].start..refs[1].end], "![x](img/a%20b.jpg)");
        assert_eq!(&body[refs[2].start..refs[2].end], "[doc](<files/r 1.pdf>)");
    }
}
