//! Where the notes live. `CAIRN_DATA_DIR` wins so tests (and people) can run
//! several instances side by side; otherwise the platform's data directory.

use std::path::PathBuf;

use crate::error::{AppError, AppResult};

pub const ENV_DATA_DIR: &str = "CAIRN_DATA_DIR";

pub fn resolve() -> AppResult<PathBuf> {
    if let Some(dir) = std::env::var_os(ENV_DATA_DIR).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("app", "cairn", "Cairn")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or(AppError::NoDataDir)
}
