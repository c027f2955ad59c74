//! The passage of a note's text around the first match of a search, for
//! the result list: a line or so, cut at word boundaries.

/// Characters kept before the match, so it reads in context.
const BEFORE: usize = 32;
/// Characters in a passage (the list shows about two lines of it).
const LENGTH: usize = 150;

/// The passage around the first word of `body` after its title line that
/// starts with one of `terms` (case-insensitively); None when only the
/// title matched, or nothing did (the list then shows the usual excerpt).
pub(crate) fn snippet_of(body: &str, terms: &[String]) -> Option<String> {
    let terms: Vec<Vec<char>> = terms
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().collect())
        .collect();
    let text: Vec<char> = body.chars().collect();
    // The title is on the row already; the passage is from the rest.
    let first_line = body.trim_start().find('\n').map(|i| {
        let skipped = body.len() - body.trim_start().len();
        body[..skipped + i].chars().count()
    })?;
    let at = (first_line..text.len()).find(|&i| {
        (i == 0 || !text[i - 1].is_alphanumeric())
            && terms.iter().any(|t| starts_with(&text[i..], t))
    })?;
    let mut start = at.saturating_sub(BEFORE).max(first_line);
    // Not from the middle of a word: from the next one.
    if start > first_line && text[start - 1].is_alphanumeric() {
        while start < at && text[start - 1].is_alphanumeric() {
            start += 1;
        }
    }
    let mut end = (start + LENGTH).min(text.len());
    while end < text.len() && end > at && text[end].is_alphanumeric() {
        end -= 1;
    }
    let mut out = String::new();
    if start > first_line
        && !text[..start]
            .iter()
            .skip(first_line)
            .all(|c| c.is_whitespace())
    {
        out.push('…');
    }
    let mut space = false;
    for &c in &text[start..end] {
        if c.is_whitespace() {
            space = !out.is_empty() && !out.ends_with('…');
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if end < text.len() && text[end..].iter().any(|c| !c.is_whitespace()) {
        out.push('…');
    }
    Some(out)
}

fn starts_with(text: &[char], term: &[char]) -> bool {
    text.len() >= term.len()
        && text
            .iter()
            .zip(term)
            .all(|(a, b)| a == b || a.to_lowercase().eq(b.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_passage_is_around_the_match_cut_at_words() {
        let body = format!(
            "Trip\n{}the northern lights (aurora) were bright {}",
            "we walked for hours along the frozen lake and then ".repeat(3),
            "and cold ".repeat(30)
        );
        let s = snippet_of(&body, &terms(&["aurora"])).unwrap();
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("(aurora)"), "{s}");
        assert!(s.chars().count() <= LENGTH + 2, "{s}");
        // Whole words at both ends.
        let inner = s.trim_matches('…');
        assert!(body.contains(inner), "{inner}");
        assert!(!inner.starts_with(' ') && !inner.ends_with(' '));
    }

    #[test]
    fn case_and_line_breaks_do_not_matter_and_the_title_is_skipped() {
        let s = snippet_of(
            "Meeting\n\nAgenda:\n  the MEETING room",
            &terms(&["meeting"]),
        );
        assert_eq!(s.as_deref(), Some("Agenda: the MEETING room"));
        assert_eq!(
            snippet_of("Meeting only in the title\n", &terms(&["meeting"])),
            None
        );
        assert_eq!(snippet_of("one line", &terms(&["line"])), None);
        assert_eq!(snippet_of("T\nnothing", &terms(&["zebra"])), None);
        // A word that merely contains the term does not count.
        assert_eq!(snippet_of("T\nbigmeeting", &terms(&["meeting"])), None);
    }
}
