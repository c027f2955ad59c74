//! What the window says when removing a device fails: a code to branch on
//! and a sentence that says whether anything changed. The error itself
//! goes to the log.

use cairn_client::device_removal::{RemoveError, RevokeError};
use cairn_client::encryption::KeyError;
use cairn_client::ClientError;

pub fn code(e: &RemoveError) -> &'static str {
    match e {
        RemoveError::WrongSecret => "wrong_passphrase",
        RemoveError::PassphraseNeeded => "passphrase_needed",
        RemoveError::ThisDevice => "this_device",
        RemoveError::NoSuchDevice => "no_such_device",
        RemoveError::AlreadyRemoved { .. } => "already_removed",
        RemoveError::Devices(c) | RemoveError::Rotation(KeyError::Service(c)) => {
            crate::error::service_code(c)
        }
        RemoveError::Rotation(_) => "key_error",
        RemoveError::NotRevoked { .. } => "removal_unfinished",
    }
}

pub fn message(e: &RemoveError) -> String {
    match code(e) {
        "wrong_passphrase" => {
            "That passphrase does not open your notes. Nothing was removed.".into()
        }
        "passphrase_needed" => {
            "This account has a passphrase: enter it, not the recovery key. Nothing was removed."
                .into()
        }
        "this_device" => "That is this device: sign out here instead.".into(),
        "service_unreachable" => {
            "The sync service cannot be reached. Nothing was removed; try again when you are online."
                .into()
        }
        "key_error" | "service_error" => {
            "Your notes could not get their new key, so nothing was removed. Try again.".into()
        }
        _ => {
            let mut s = e.to_string();
            if let Some(first) = s.get(..1) {
                let upper = first.to_uppercase();
                s.replace_range(..1, &upper);
            }
            format!("{s}.")
        }
    }
}

/// Why finishing a removal failed, as part of a sentence.
pub fn unfinished(e: &RevokeError) -> &'static str {
    match e {
        RevokeError::Service(ClientError::Http { .. }) => "the sync service cannot be reached",
        RevokeError::Service(_) => "the sync service refused",
        RevokeError::Grant(_) => "this device could not drop its old storage grant",
    }
}
