//! What can go wrong with an attachment, in words a user can act on.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("no attachment with id {id}")]
    NotFound { id: String },
    #[error("the attachment {name:?} is not on this device yet ({missing} of {total} pieces missing); sync to download it")]
    NotLocal {
        name: String,
        missing: usize,
        total: usize,
    },
    #[error("the attachment's data in storage was altered or damaged, so it was refused (chunk {chunk}: {reason})")]
    Altered { chunk: String, reason: String },
    #[error("no device has uploaded chunk {chunk} yet")]
    NotUploaded { chunk: String },
    #[error(
        "{name:?} is {size} bytes, larger than the limit of {limit} bytes; nothing was stored"
    )]
    TooLarge { name: String, size: u64, limit: u64 },
    #[error("every attachment slot of this device is in use; remove attachments and empty the trash to free some")]
    SlotsFull,
    #[error("cannot read or write {path}: {reason}")]
    Io { path: String, reason: String },
    #[error(
        "the attachment was stored by a newer Cairn (format {found}); update Cairn to open it"
    )]
    NewerFormat { found: String },
    #[error("malformed attachment data: {0}")]
    Malformed(String),
}

impl BlobError {
    /// A stable machine-readable code, as `CoreError::code`.
    pub fn code(&self) -> &'static str {
        match self {
            BlobError::NotFound { .. } => "attachment_not_found",
            BlobError::NotLocal { .. } => "attachment_not_local",
            BlobError::Altered { .. } => "attachment_altered",
            BlobError::NotUploaded { .. } => "attachment_not_uploaded",
            BlobError::TooLarge { .. } => "attachment_too_large",
            BlobError::SlotsFull => "attachment_slots_full",
            BlobError::Io { .. } => "attachment_io",
            BlobError::Malformed(_) => "attachment_malformed",
            BlobError::NewerFormat { .. } => "attachment_newer_format",
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> BlobError {
        BlobError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}
