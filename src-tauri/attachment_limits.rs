//! How large attachments may be: the largest file a note takes (pasting or
//! dropping a larger one is refused before anything is written), and the
//! largest that downloads in the background, without its note being
//! opened. In megabytes (10^6 bytes), as people read file sizes.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

const MB: u64 = 1000 * 1000;
/// The attach limit people may choose: at least 1 MB; at most 4,000 MB,
/// half of what a device's attachment slots hold in all.
pub const ATTACH_MB_RANGE: std::ops::RangeInclusive<u32> = 1..=4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AttachmentLimits {
    /// The largest file a note takes, in MB.
    pub attach_mb: u32,
    /// Files up to this many MB download without their note being opened;
    /// 0: only when it is.
    pub background_mb: u32,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            attach_mb: (cairn_core::blob::attach::DEFAULT_MAX_ATTACHMENT / MB) as u32,
            background_mb: (cairn_core::blob::transfer::DEFAULT_BACKGROUND_LIMIT / MB) as u32,
        }
    }
}

impl AttachmentLimits {
    pub fn attach_bytes(&self) -> u64 {
        u64::from(self.attach_mb) * MB
    }

    pub fn background_bytes(&self) -> u64 {
        u64::from(self.background_mb) * MB
    }

    pub fn validated(self) -> AppResult<AttachmentLimits> {
        if !ATTACH_MB_RANGE.contains(&self.attach_mb) {
            return Err(AppError::invalid(
                "attachment limit",
                format!(
                    "must be between {} and {} MB",
                    ATTACH_MB_RANGE.start(),
                    ATTACH_MB_RANGE.end()
                ),
            ));
        }
        // Larger than the attach limit is fine: another device may attach
        // larger files than this one does.
        if self.background_mb > *ATTACH_MB_RANGE.end() {
            return Err(AppError::invalid(
                "background download limit",
                format!("must be at most {} MB", ATTACH_MB_RANGE.end()),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_cores_and_nonsense_is_refused() {
        let d = AttachmentLimits::default();
        assert_eq!(
            d.attach_bytes(),
            cairn_core::blob::attach::DEFAULT_MAX_ATTACHMENT
        );
        assert_eq!(
            d.background_bytes(),
            cairn_core::blob::transfer::DEFAULT_BACKGROUND_LIMIT
        );
        assert_eq!(d.validated().unwrap(), d);
        let small = AttachmentLimits {
            attach_mb: 1,
            background_mb: 20,
        };
        assert_eq!(small.validated().unwrap(), small);
        for bad in [(0, 0), (4001, 1), (10, 4001)] {
            let e = AttachmentLimits {
                attach_mb: bad.0,
                background_mb: bad.1,
            }
            .validated()
            .unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad:?}");
        }
        let old: crate::settings::Settings = serde_json::from_str(r#"{"service_url":""}"#).unwrap();
        assert_eq!(
            old.attachments, d,
            "settings saved before the limits get the defaults"
        );
    }
}
