//! Validated identifiers and names that cross the wire.
//!
//! Device ids end up inside object keys and URL paths, so they are checked
//! strictly wherever they are parsed: deserializing one runs the same check
//! as [`DeviceId::parse`]. Names are shown to people, so they may hold any
//! printable text but no control or bidi-override characters.

use serde::{Deserialize, Serialize};

use crate::ProtocolError;

/// Longest accepted device id, in bytes.
pub const DEVICE_ID_MAX_LEN: usize = 64;
/// Longest accepted device name, in characters.
pub const DEVICE_NAME_MAX_CHARS: usize = 100;
/// Longest accepted platform string, in bytes.
pub const PLATFORM_MAX_LEN: usize = 32;

/// A device id: 1 to 64 characters of `[A-Za-z0-9_-]`.
///
/// That charset excludes `/`, `.`, `%`, whitespace and control characters,
/// so an id can never climb out of its prefix in an object key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        let reason = if value.is_empty() {
            Some("empty")
        } else if value.len() > DEVICE_ID_MAX_LEN {
            Some("too long")
        } else if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            Some("only A-Z, a-z, 0-9, '_' and '-' are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ProtocolError::InvalidDeviceId {
                value: truncate_for_error(value),
                reason,
            }),
            None => Ok(DeviceId(value.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeviceId {
    type Error = ProtocolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DeviceId::parse(&value)
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> String {
        id.0
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device's display name: 1 to 100 characters, not only whitespace, with
/// no control characters and no bidi overrides (which can disguise a name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceName(String);

impl DeviceName {
    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        let reason = if value.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
            Some("empty or only invisible characters")
        } else if value.chars().count() > DEVICE_NAME_MAX_CHARS {
            Some("too long")
        } else if value.chars().any(is_forbidden_in_name) {
            Some("control or bidi-override characters are not allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ProtocolError::InvalidDeviceName {
                value: truncate_for_error(value),
                reason,
            }),
            None => Ok(DeviceName(value.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that take no space on screen: a name of only these would
/// show as blank in every device list.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{034F}' // combining grapheme joiner
            | '\u{061C}' // Arabic letter mark
            | '\u{115F}' | '\u{1160}' // Hangul fillers
            | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}' // Mongolian selectors and vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space, (non-)joiner, marks
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{3164}' // Hangul filler
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FEFF}' // zero-width no-break space
            | '\u{FFA0}' // halfwidth Hangul filler
            | '\u{E0000}'..='\u{E007F}' // tags
    )
}

fn is_forbidden_in_name(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl TryFrom<String> for DeviceName {
    type Error = ProtocolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DeviceName::parse(&value)
    }
}

impl From<DeviceName> for String {
    fn from(name: DeviceName) -> String {
        name.0
    }
}

impl std::fmt::Display for DeviceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of machine a device is (`linux`, `macos`, `windows`, ...):
/// 1 to 32 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Platform(String);

impl Platform {
    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        let ok = !value.is_empty()
            && value.len() <= PLATFORM_MAX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Platform(value.to_owned()))
        } else {
            Err(ProtocolError::InvalidPlatform {
                value: truncate_for_error(value),
                reason: "1 to 32 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
            })
        }
    }

    /// The platform this binary was built for.
    pub fn current() -> Self {
        Platform(std::env::consts::OS.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Platform {
    type Error = ProtocolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Platform::parse(&value)
    }
}

impl From<Platform> for String {
    fn from(p: Platform) -> String {
        p.0
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Error messages echo the rejected value; cap it so a huge hostile value
/// does not end up in logs whole.
pub(crate) fn truncate_for_error(value: &str) -> String {
    value.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids() {
        for ok in ["a", "abc-DEF_123", &"x".repeat(64)] {
            assert!(DeviceId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "..",
            "a/b",
            "../x",
            "a.b",
            "a b",
            "a\nb",
            "a\u{0}b",
            "é",
            "%2e%2e",
            &"x".repeat(65),
        ] {
            assert!(DeviceId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn device_id_deserialization_validates() {
        assert!(serde_json::from_str::<DeviceId>(r#""../etc""#).is_err());
        assert!(serde_json::from_str::<DeviceId>(r#""dev-1""#).is_ok());
    }

    #[test]
    fn device_names() {
        for ok in [
            "Laptop",
            "Zoë's phone 📱",
            "\u{1F469}\u{200D}\u{1F4BB}",
            &"n".repeat(100),
        ] {
            assert!(DeviceName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "   ",
            "a\tb",
            "bell\u{7}",
            "evil\u{202E}txt",
            "\u{200B}",
            " \u{200B}\u{200D}\u{FEFF} ",
            "\u{2060}\u{00AD}",
            &"n".repeat(101),
        ] {
            assert!(DeviceName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn platforms() {
        assert!(Platform::parse("linux").is_ok());
        assert!(Platform::parse("mac os").is_err());
        assert!(Platform::current().as_str() == std::env::consts::OS);
    }
}
