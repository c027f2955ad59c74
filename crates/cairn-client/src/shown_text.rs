//! Error text as the UI may show it: behind a "details" toggle, a person
//! may read what went wrong, but never an address (a presigned URL carries
//! its signature in the query) or anything shaped like a token. The log
//! gets the same text: it is read by people too, and copied into reports.

/// What replaces an address.
const ADDRESS: &str = "(address hidden)";
/// What replaces a run of characters long enough to be a key or a token.
const SECRET: &str = "(hidden)";
/// Runs of letters, digits, `-`, `_` this long are taken for tokens: ids
/// shown to users (device ids, note ids) are shorter, and hyphenated UUIDs
/// are split into short runs.
const TOKEN_LEN: usize = 40;

/// `text` with every URL and token-like run replaced.
pub fn without_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = next_address(rest) {
        out.push_str(&hide_tokens(&rest[..at]));
        out.push_str(ADDRESS);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ']' | ','))
            .unwrap_or(tail.len());
        // A sentence's own punctuation after the address is kept.
        let end = tail[..end].trim_end_matches([':', '.', ';']).len();
        rest = &tail[end..];
    }
    out.push_str(&hide_tokens(rest));
    out
}

fn next_address(text: &str) -> Option<usize> {
    ["http://", "https://", "ws://", "wss://"]
        .iter()
        .filter_map(|scheme| find_ignore_case(text, scheme))
        .min()
}

fn find_ignore_case(text: &str, needle: &str) -> Option<usize> {
    text.to_ascii_lowercase().find(needle)
}

fn hide_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= TOKEN_LEN {
            out.push_str(SECRET);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        // Not `/`: a long path is not a secret, and must stay readable.
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '=' || c == '+' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    // A query string's names survive without their URL only by accident;
    // the signature's name is never worth showing.
    out.replace("X-Amz-", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_clean(shown: &str) {
        for bad in ["http://", "https://", "X-Amz-", "ws://"] {
            assert!(!shown.contains(bad), "{bad} in {shown:?}");
        }
    }

    #[test]
    fn addresses_and_signatures_are_hidden() {
        let raw = "storage: uploading log/06: cannot connect: error sending request for url \
                   (http://127.0.0.1:9000/b/users/k%3A1/devices/d/log/06?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                   &X-Amz-Signature=0f3a9c5e1d7b2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d)";
        let shown = without_secrets(raw);
        assert_clean(&shown);
        assert!(
            shown.starts_with("storage: uploading log/06: cannot connect"),
            "{shown}"
        );
        assert!(shown.contains("(address hidden)"), "{shown}");
    }

    #[test]
    fn service_errors_keep_their_sentence() {
        let shown =
            without_secrets("cannot reach HTTPS://sync.example.org/v1/devices: connection refused");
        assert_eq!(shown, "cannot reach (address hidden): connection refused");
    }

    #[test]
    fn tokens_are_hidden_and_short_ids_kept() {
        let token = "ck_Yq3Jb8Vd0pXw4Rt7Lm2Nk9Hs5Gf1Ea6Zc8Ub3Io7Py";
        let shown = without_secrets(&format!(
            "refused token {token} for device 09c64efd049267d1776f0a8d"
        ));
        assert!(!shown.contains(token), "{shown}");
        assert!(shown.contains("09c64efd049267d1776f0a8d"), "{shown}");
        let note = "e73d7109-9710-4296-9878-91959a2a8eaa";
        assert!(without_secrets(note).contains(note));
        let path = "/home/someone/notes/cairn/store/database/cairn.sqlite3";
        assert!(without_secrets(path).contains(path));
    }

    proptest::proptest! {
        /// Whatever the text, no address survives.
        #[test]
        fn no_address_survives(prefix in ".{0,20}", host in "[a-z0-9.:]{1,20}", query in "[A-Za-z0-9=&%-]{0,60}") {
            let raw = format!("{prefix}http://{host}/p?X-Amz-Signature={query} trailing");
            let shown = without_secrets(&raw);
            proptest::prop_assert!(!shown.contains("http://"), "{}", shown);
            proptest::prop_assert!(!shown.contains("X-Amz-Signature"));
        }
    }
}
