//! How the window looks: light, dark or the system's choice, the editor's
//! font size and the widths the user dragged the columns to. Kept in the
//! settings file so a restart looks the same.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// Smallest and largest editor font size offered (px): below 12 text is
/// hard to read, above 28 a line holds a few words.
pub const FONT_SIZE_RANGE: std::ops::RangeInclusive<u16> = 12..=28;
/// The notebooks column, dragged (px); narrower hides the names.
pub const NAV_WIDTH_RANGE: std::ops::RangeInclusive<u16> = 140..=420;
/// The note list column, dragged (px).
pub const LIST_WIDTH_RANGE: std::ops::RangeInclusive<u16> = 180..=560;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum Theme {
    /// Follows the system's light or dark preference, also when it changes.
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Appearance {
    pub theme: Theme,
    /// The editor's text size in px.
    pub font_size: u16,
    /// The notebooks column's width in px; null: the layout's own.
    pub nav_width: Option<u16>,
    /// The note list column's width in px; null: the layout's own.
    pub list_width: Option<u16>,
}

impl Default for Appearance {
    fn default() -> Self {
        Appearance {
            theme: Theme::System,
            font_size: 15,
            nav_width: None,
            list_width: None,
        }
    }
}

impl Appearance {
    /// Refuses sizes outside what the window can show sensibly.
    pub fn validated(self) -> AppResult<Appearance> {
        let within = |what: &'static str, v: u16, range: &std::ops::RangeInclusive<u16>| {
            if range.contains(&v) {
                Ok(())
            } else {
                Err(AppError::invalid(
                    what,
                    format!("must be between {} and {}", range.start(), range.end()),
                ))
            }
        };
        within("font size", self.font_size, &FONT_SIZE_RANGE)?;
        if let Some(w) = self.nav_width {
            within("notebooks width", w, &NAV_WIDTH_RANGE)?;
        }
        if let Some(w) = self.list_width {
            within("note list width", w, &LIST_WIDTH_RANGE)?;
        }
        Ok(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_outside_the_ranges_are_refused() {
        assert!(Appearance::default().validated().is_ok());
        for bad in [
            Appearance {
                font_size: 8,
                ..Appearance::default()
            },
            Appearance {
                nav_width: Some(2000),
                ..Appearance::default()
            },
            Appearance {
                list_width: Some(10),
                ..Appearance::default()
            },
        ] {
            assert_eq!(bad.validated().unwrap_err().code(), "invalid_input");
        }
    }

    #[test]
    fn themes_are_written_as_words() {
        let a = Appearance {
            theme: Theme::Dark,
            ..Appearance::default()
        };
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("\"theme\":\"dark\""), "{json}");
        // An older settings file has no appearance: the defaults apply.
        let old: Appearance = serde_json::from_str("{}").unwrap();
        assert_eq!(old, Appearance::default());
    }
}
