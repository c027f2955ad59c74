//! Attachments in the window: files dropped (Tauri gives their paths) or
//! pasted (the clipboard's bytes, sent once as the raw body of one call)
//! into a note; what an image's placeholder or a file's chip shows; asking
//! for downloads; opening a file in the system's viewer.
//!
//! Each stores the attachment's record in the note and answers the
//! reference for the editor to put at the cursor, as an edit of its own,
//! so the reference lands where the user is, not at the end of the note.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use cairn_core::blob::attach::{attachable, reference, Attachment};
use cairn_core::blob::{AttachmentRecord, BlobError};
use cairn_core::{CoreError, Store};
use serde::Serialize;
use tauri::ipc::{InvokeBody, Request};
use tauri::State;

use crate::commands::notes::validate_id;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Files dropped at once; more is not a person dropping files.
const MAX_FILES: usize = 100;
/// Ids asked about at once (the attachments a note's screen shows).
const MAX_IDS: usize = 1000;
/// Where opened files are written, under the data directory.
const OPENED_DIR: &str = "opened";

/// What a placeholder or a chip shows of an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AttachmentView {
    pub id: String,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    /// Bytes of it on this device so far.
    pub local_bytes: u64,
    pub local: bool,
    /// Why its download failed, in words, if it did.
    pub error: Option<String>,
}

/// An attachment just added, and the text that refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Attached {
    pub reference: String,
    pub attachment: AttachmentView,
}

fn view(s: &Store, a: Attachment) -> AppResult<AttachmentView> {
    let local_bytes = if a.local {
        a.size
    } else {
        s.attachment_local_bytes(&a.id)?
    };
    let error = if a.local {
        None
    } else {
        s.attachment_error(&a.id)?
    };
    Ok(AttachmentView {
        id: a.id,
        name: a.name,
        media_type: a.media_type,
        size: a.size,
        local_bytes,
        local: a.local,
        error,
    })
}

fn attached(s: &Store, record: &AttachmentRecord) -> AppResult<Attached> {
    Ok(Attached {
        reference: reference(record),
        attachment: view(s, s.attachment(&record.id)?)?,
    })
}

/// A file over the limit, said as people read sizes (the core counts bytes).
fn in_words(e: CoreError) -> AppError {
    match e {
        CoreError::Attachment(BlobError::TooLarge { name, size, limit }) => {
            AppError::AttachmentTooLarge { name, size, limit }
        }
        other => other.into(),
    }
}

/// Attaches dropped files to note `note_id`. Every file is checked against
/// the limit before the first is stored, so a drop with one too large
/// stores none of them.
#[tauri::command]
pub async fn attach_files(
    state: State<'_, AppState>,
    note_id: String,
    paths: Vec<PathBuf>,
) -> AppResult<Vec<Attached>> {
    validate_id(&note_id)?;
    if paths.is_empty() || paths.len() > MAX_FILES {
        return Err(AppError::invalid(
            "files",
            format!("{} at once; drop 1 to {MAX_FILES}", paths.len()),
        ));
    }
    let limit = state.settings()?.attachments.attach_bytes();
    state
        .with_store(move |s| {
            let named = paths
                .iter()
                .map(|p| attachable(p, limit).map(|(name, _)| name))
                .collect::<Result<Vec<_>, _>>()
                .map_err(in_words)?;
            let mut out = Vec::with_capacity(paths.len());
            for (path, name) in paths.iter().zip(named) {
                let file = std::fs::File::open(path).map_err(|e| {
                    CoreError::from(BlobError::Io {
                        path: name.clone(),
                        reason: e.to_string(),
                    })
                })?;
                let record = s
                    .attach_unreferenced(&note_id, &name, BufReader::new(file), limit)
                    .map_err(in_words)?;
                out.push(attached(s, &record)?);
            }
            Ok(out)
        })
        .await
}

/// One header of a raw call, percent-decoded (header values are ASCII; a
/// file name may not be).
fn header(request: &Request<'_>, name: &'static str) -> AppResult<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(cairn_core::links::percent_decode)
        .ok_or_else(|| AppError::invalid("paste", format!("no {name} header")))
}

/// Attaches pasted bytes (the raw body) to the note named by the
/// `cairn-note` header, as a file named by `cairn-name`.
#[tauri::command]
pub async fn attach_pasted(
    state: State<'_, AppState>,
    request: Request<'_>,
) -> AppResult<Attached> {
    let note_id = header(&request, "cairn-note")?;
    validate_id(&note_id)?;
    let name = header(&request, "cairn-name")?;
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(AppError::invalid("paste", "the file's bytes were not sent"));
    };
    let limit = state.settings()?.attachments.attach_bytes();
    let size = bytes.len() as u64;
    if size > limit {
        return Err(AppError::AttachmentTooLarge { name, size, limit });
    }
    let bytes = bytes.clone();
    state
        .with_store(move |s| {
            let record = s
                .attach_unreferenced(&note_id, &name, &bytes[..], limit)
                .map_err(in_words)?;
            attached(s, &record)
        })
        .await
}

fn validate_attachment_ids(ids: &[String]) -> AppResult<()> {
    if ids.len() > MAX_IDS {
        return Err(AppError::invalid("ids", format!("{} at once", ids.len())));
    }
    match ids.iter().find(|id| uuid::Uuid::parse_str(id).is_err()) {
        Some(bad) => Err(AppError::invalid(
            "attachment id",
            format!("{:?} is not one", bad.chars().take(40).collect::<String>()),
        )),
        None => Ok(()),
    }
}

/// What the placeholders and chips of these attachments show; an id this
/// device does not know (yet) is left out.
#[tauri::command]
pub async fn attachments_info(
    state: State<'_, AppState>,
    ids: Vec<String>,
) -> AppResult<Vec<AttachmentView>> {
    validate_attachment_ids(&ids)?;
    state
        .with_store(move |s| {
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                match s.attachment(id) {
                    Ok(a) => out.push(view(s, a)?),
                    Err(CoreError::Attachment(BlobError::NotFound { .. })) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(out)
        })
        .await
}

/// A note was opened: its attachments not here yet are asked for, whatever
/// their size, and sync is woken to fetch them. Answers how many.
#[tauri::command]
pub async fn note_want_attachments(
    state: State<'_, AppState>,
    note_id: String,
) -> AppResult<usize> {
    validate_id(&note_id)?;
    let wanted = state
        .with_store(move |s| {
            let missing: Vec<String> = s
                .attachments(Some(&note_id))?
                .into_iter()
                .filter(|a| !a.local)
                .map(|a| a.id)
                .collect();
            for id in &missing {
                s.want_attachment(id)?;
            }
            Ok(missing.len())
        })
        .await?;
    if wanted > 0 {
        state.sync().local_changes.notify_one();
    }
    Ok(wanted)
}

/// Removes the copies written for the system viewer on an earlier run:
/// plaintext outside the store should not outlive the session that needed
/// it. Best effort; what cannot be removed now is tried again next start.
pub fn forget_opened_copies(data_dir: &Path) {
    match std::fs::remove_dir_all(data_dir.join(OPENED_DIR)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("cairn-desktop: could not remove opened copies: {e}"),
    }
}

/// Writes the attachment's bytes to a file only this user reads and asks
/// the desktop to open it.
#[tauri::command]
pub async fn attachment_open(state: State<'_, AppState>, id: String) -> AppResult<()> {
    validate_attachment_ids(std::slice::from_ref(&id))?;
    let dir = state.data_dir().join(OPENED_DIR);
    let path = state
        .with_store(move |s| write_for_opening(s, &id, &dir))
        .await?;
    cairn_client::browser::open_file(&path).map_err(|e| AppError::Service(Box::new(e)))
}

/// `dir/{id}/{name}`, 0600 in folders 0700, written in full before it is
/// opened (a viewer never sees half a file).
fn write_for_opening(s: &Store, id: &str, dir: &Path) -> AppResult<PathBuf> {
    let a = s.attachment(id)?;
    let folder = dir.join(&a.id);
    let path = folder.join(&a.name);
    let io = |e: std::io::Error| {
        AppError::from(CoreError::from(BlobError::Io {
            path: a.name.clone(),
            reason: e.to_string(),
        }))
    };
    cairn_core::private_files::create_dir_all(&folder).map_err(io)?;
    let tmp = folder.join(".partial");
    cairn_core::private_files::prepare_file(&tmp).map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io)?;
    s.write_attachment(id, &mut file)?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_file_to_open_is_whole_and_for_its_user_only() {
        let data = tempfile::tempdir().unwrap();
        let mut s = Store::open(data.path()).unwrap();
        let note = s.create_note("Receipt").unwrap();
        let rec = s
            .attach_unreferenced(&note, "r 1.pdf", &b"%PDF-1.7 receipt"[..], 1000)
            .unwrap();
        let opened = data.path().join(OPENED_DIR);
        let path = write_for_opening(&s, &rec.id, &opened).unwrap();
        assert_eq!(path, opened.join(&rec.id).join("r 1.pdf"));
        assert_eq!(std::fs::read(&path).unwrap(), b"%PDF-1.7 receipt");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let v = view(&s, s.attachment(&rec.id).unwrap()).unwrap();
        assert!(v.local);
        assert_eq!(v.local_bytes, 16);
    }

    #[test]
    fn copies_opened_on_an_earlier_run_are_removed_at_start() {
        let data = tempfile::tempdir().unwrap();
        let folder = data.path().join(OPENED_DIR).join("some-id");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("r 1.pdf"), b"plaintext").unwrap();
        forget_opened_copies(data.path());
        assert!(!data.path().join(OPENED_DIR).exists());
        // And nothing to remove is fine.
        forget_opened_copies(data.path());
    }

    #[test]
    fn too_large_is_said_in_megabytes() {
        let e = in_words(CoreError::Attachment(BlobError::TooLarge {
            name: "film.mov".into(),
            size: 2_500_000,
            limit: 1_000_000,
        }));
        assert_eq!(e.code(), "attachment_too_large");
        assert_eq!(
            e.to_string(),
            "\u{201c}film.mov\u{201d} is 2.5 MB, larger than the 1 MB limit for attachments (see Settings); nothing was added."
        );
    }
}
