//! `#tags` written in a note's text count as its tags, beside the ones
//! added with the tag field: a word that starts with `#` and a letter,
//! at the start of a line or after a space or an opening bracket. Headings
//! (`# Title`), numbers (`#1`), links' fragments (`page#part`) and code
//! (fenced blocks and `inline` spans) are not tags.

/// The longest tag taken; longer words are left as text (`validate_tag`'s bound).
const MAX_CHARS: usize = 64;

/// The tags a note's row shows (list, filter, counts): the tag field's
/// and those written in the text, sorted, each once.
pub(crate) fn row_tags(s: &crate::note_doc::NoteState) -> Vec<String> {
    let mut tags = s.tags.clone();
    for t in inline_tags(&s.body) {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    tags.sort();
    tags
}

/// The tags written in `body`, in order of first appearance, each once.
pub(crate) fn inline_tags(body: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let mut fence: Option<&str> = None;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            continue;
        }
        tags_in_line(line, &mut tags);
    }
    tags
}

fn tags_in_line(line: &str, tags: &mut Vec<String>) {
    let chars: Vec<char> = line.chars().collect();
    let mut in_code = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            in_code = !in_code;
        } else if c == '#'
            && !in_code
            && (i == 0 || chars[i - 1].is_whitespace() || matches!(chars[i - 1], '(' | '['))
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
        {
            let mut end = i + 1;
            while end < chars.len() && is_tag_char(chars[end]) {
                end += 1;
            }
            // A trailing slash or dash ends a sentence more often than a tag.
            while end > i + 1 && matches!(chars[end - 1], '/' | '-') {
                end -= 1;
            }
            let tag: String = chars[i + 1..end].iter().collect();
            if tag.chars().count() <= MAX_CHARS && !tags.contains(&tag) {
                tags.push(tag);
            }
            i = end;
            continue;
        }
        i += 1;
    }
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_with_a_hash_are_tags_headings_numbers_and_code_are_not() {
        let body = "# Trip plan\n\
                    Ideas for the #summer trip, see #travel/europe and (#budget).\n\
                    ## Not a tag\n\
                    Issue #42 and page.html#section and C# are text.\n\
                    `#inline` code, then #after-code.\n\
                    ```\n#in-a-block\n```\n\
                    End: #summer again, and #todo-";
        assert_eq!(
            inline_tags(body),
            vec!["summer", "travel/europe", "budget", "after-code", "todo"]
        );
    }

    #[test]
    fn letters_of_any_script_and_a_bound_on_length() {
        assert_eq!(inline_tags("#café #日本"), vec!["café", "日本"]);
        let long = format!("#{}", "a".repeat(65));
        assert!(inline_tags(&long).is_empty());
        assert!(inline_tags("").is_empty());
    }
}
