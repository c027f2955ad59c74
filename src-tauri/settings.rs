//! The app's own settings (the service URL, how the window looks), a small JSON file in the
//! data directory, replaced atomically so a crash never leaves half a file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::appearance::Appearance;
use crate::attachment_limits::AttachmentLimits;
use crate::error::{AppError, AppResult};

const FILE: &str = "settings.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Settings {
    /// Where the Cairn service runs; empty until the user sets one.
    pub service_url: String,
    /// Notebooks the sidebar shows collapsed (the rest are expanded).
    pub collapsed_notebooks: Vec<String>,
    /// Theme, font size and column widths.
    pub appearance: Appearance,
    /// How large attachments may be, and which download by themselves.
    pub attachments: AttachmentLimits,
}

impl Settings {
    fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    pub fn load(dir: &Path) -> AppResult<Settings> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AppError::SettingsRead {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(AppError::SettingsRead {
                path,
                reason: e.to_string(),
            }),
        }
    }

    pub fn save(&self, dir: &Path) -> AppResult<()> {
        let path = Self::path(dir);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| AppError::SettingsWrite {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        // 0600 whatever the umask: the file names the user's service.
        let write = cairn_core::private_files::prepare_file(&tmp)
            .and_then(|()| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        write.map_err(|source| AppError::SettingsWrite { path, source })
    }

    /// Trims and checks what the user typed.
    pub fn validated(self) -> AppResult<Settings> {
        let url = self.service_url.trim().trim_end_matches('/').to_string();
        validate_service_url(&url)?;
        Ok(Settings {
            service_url: url,
            ..self
        })
    }
}

/// Empty (no service) or an http(s) URL without spaces.
pub fn validate_service_url(url: &str) -> AppResult<()> {
    if url.is_empty() {
        return Ok(());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| AppError::invalid("service URL", "must start with http:// or https://"))?;
    if rest.is_empty() || rest.chars().any(char::is_whitespace) {
        return Err(AppError::invalid(
            "service URL",
            "needs a host and no spaces",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_default_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(dir.path()).unwrap(), Settings::default());
        let s = Settings {
            service_url: " http://127.0.0.1:8787/ ".into(),
            collapsed_notebooks: vec!["nb1".into()],
            appearance: Appearance {
                theme: crate::appearance::Theme::Dark,
                font_size: 18,
                nav_width: Some(200),
                list_width: None,
            },
            attachments: AttachmentLimits {
                attach_mb: 5,
                background_mb: 2,
            },
        }
        .validated()
        .unwrap();
        s.save(dir.path()).unwrap();
        let loaded = Settings::load(dir.path()).unwrap();
        assert_eq!(loaded.service_url, "http://127.0.0.1:8787");
        assert_eq!(loaded.collapsed_notebooks, vec!["nb1".to_string()]);
        assert_eq!(loaded.appearance, s.appearance);
        assert_eq!(loaded.attachments, s.attachments);
    }

    /// Even under a umask that lets others read new files (this process's
    /// umask is not changed: `main` narrows it, the test must not rely on it).
    #[cfg(unix)]
    #[test]
    fn the_settings_file_is_readable_by_its_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Settings {
            service_url: "http://127.0.0.1:8787".into(),
            ..Settings::default()
        }
        .save(dir.path())
        .unwrap();
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for bad in ["ftp://x", "localhost:8787", "http://", "http://a b"] {
            let e = validate_service_url(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad}");
        }
    }
}
