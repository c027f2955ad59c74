//! What the window says when a sharing operation fails: a code to branch
//! on (a changed key is its own, shown as a warning, never folded into a
//! generic failure) and a sentence. The error itself goes to the log.

use cairn_client::sharing::ShareError;
use cairn_client::sharing_identity::IdentityFetchError;
use cairn_client::ClientError;
use cairn_core::space::pins::PinError;

/// The service's answer when an account has no sharing identity (or does
/// not exist: it does not tell which).
const NOT_FOUND: u16 = 404;

fn no_identity(e: &ShareError) -> bool {
    matches!(
        e,
        ShareError::Identity(IdentityFetchError::Service(c)) if c.status() == Some(NOT_FOUND)
    )
}

fn client_of(e: &ShareError) -> Option<&ClientError> {
    match e {
        ShareError::Service(c) | ShareError::Identity(IdentityFetchError::Service(c)) => Some(c),
        _ => None,
    }
}

pub fn code(e: &ShareError) -> &'static str {
    match e {
        ShareError::Pin(PinError::KeyChanged { .. }) => "key_changed",
        ShareError::FingerprintMismatch { .. } => "fingerprint_mismatch",
        ShareError::NotEncrypted => "not_encrypted",
        ShareError::NotSignedIn => "not_signed_in",
        _ if no_identity(e) => "no_such_account",
        _ => match client_of(e) {
            Some(c) => crate::error::service_code(c),
            None => "share_failed",
        },
    }
}

pub fn message(e: &ShareError) -> String {
    match e {
        ShareError::Pin(PinError::KeyChanged { account, .. }) => format!(
            "Warning: the key of {account} is not the one Cairn saw when you first shared \
             with them. Someone may be posing as them. Nothing was sent. Compare the safety \
             number with them in person or on a call before you share anything with them."
        ),
        ShareError::FingerprintMismatch { account, .. } => format!(
            "The identity of {account} changed while you were checking it. Nothing was sent. \
             Check them again and compare the new safety number with them."
        ),
        ShareError::NotSignedIn => {
            "Sign in first: sharing goes through your sync account.".to_owned()
        }
        _ if no_identity(e) => "No one with that account id has set up sharing yet. Ask them \
             to open Share… in Cairn once and send you the account id it shows."
            .to_owned(),
        _ => match client_of(e) {
            Some(ClientError::Http { .. }) => "The sync service cannot be reached. Check this \
                 computer's connection and try again; nothing was changed."
                .to_owned(),
            _ => sentence(&e.to_string()),
        },
    }
}

/// The client's own words, as a sentence: capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return "Sharing failed.".to_owned(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cairn_protocol::UserId;

    #[test]
    fn a_changed_key_is_its_own_code_and_a_warning() {
        let e = ShareError::Pin(PinError::KeyChanged {
            account: UserId::new("key", "bob").unwrap(),
            pinned: "1".into(),
            offered: "2".into(),
        });
        assert_eq!(code(&e), "key_changed");
        let said = message(&e);
        assert!(said.starts_with("Warning:"), "{said}");
        assert!(said.contains("Nothing was sent"), "{said}");
    }

    #[test]
    fn other_failures_read_as_sentences() {
        let e = ShareError::NotOwner;
        assert_eq!(code(&e), "share_failed");
        assert_eq!(
            message(&e),
            "Only the owner of a shared notebook can do that."
        );
    }
}
