//! Images in notes reach the webview through a URI scheme of the app's own,
//! `cairn-attachment://localhost/{id}` (`http://cairn-attachment.localhost/…`
//! on Windows), rather than as base64 through a command: the webview
//! fetches, decodes and caches them like any image, and the bytes cross
//! once. Only images that are wholly on this device are served; anything
//! else answers 404, and the placeholder says why.

use tauri::http::{header, Response, StatusCode};
use tauri::{Builder, Manager, Runtime};

use crate::error::AppError;
use crate::state::AppState;

pub const SCHEME: &str = "cairn-attachment";

pub fn register<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder.register_asynchronous_uri_scheme_protocol(SCHEME, |ctx, request, responder| {
        let app = ctx.app_handle().clone();
        let id = attachment_id(request.uri().path());
        tauri::async_runtime::spawn(async move {
            let answer = match (id, app.try_state::<AppState>()) {
                (Some(id), Some(state)) => serve(&state, id).await,
                _ => refusal(StatusCode::NOT_FOUND),
            };
            responder.respond(answer);
        });
    })
}

/// The attachment id a path names: one UUID, nothing else.
fn attachment_id(path: &str) -> Option<String> {
    let id = path.trim_start_matches('/');
    uuid::Uuid::parse_str(id)
        .ok()
        .map(|u| u.hyphenated().to_string())
        .filter(|u| u == id)
}

async fn serve(state: &AppState, id: String) -> Response<Vec<u8>> {
    let read = state
        .with_store(move |s| {
            let a = s.attachment(&id)?;
            if !a.local || !cairn_core::blob::media_type::is_image(&a.media_type) {
                return Ok(None);
            }
            let mut bytes = Vec::with_capacity(usize::try_from(a.size).unwrap_or(0));
            s.write_attachment(&id, &mut bytes)?;
            Ok(Some((a.media_type, bytes)))
        })
        .await;
    match read {
        Ok(Some((media_type, bytes))) => Response::builder()
            .header(header::CONTENT_TYPE, media_type)
            // An SVG is an image here, never a page that runs scripts.
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            )
            .header(
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            )
            .body(bytes)
            .unwrap_or_else(|_| refusal(StatusCode::INTERNAL_SERVER_ERROR)),
        Ok(None) => refusal(StatusCode::NOT_FOUND),
        Err(e) => {
            // The placeholder asks for the reason itself; the log keeps it.
            if !matches!(&e, AppError::Core(c) if c.code() == "attachment_not_found") {
                eprintln!("cairn-desktop: serving an attachment: {e}");
            }
            refusal(StatusCode::NOT_FOUND)
        }
    }
}

fn refusal(status: StatusCode) -> Response<Vec<u8>> {
    let mut r = Response::new(Vec::new());
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_uuid_names_an_attachment() {
        let id = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
        assert_eq!(attachment_id(&format!("/{id}")).as_deref(), Some(id));
        for bad in [
            "/",
            "/../db",
            "/6F9619FF-8B86-4011-B42D-00C04FC964FF",
            "/x/y",
        ] {
            assert_eq!(attachment_id(bad), None, "{bad}");
        }
    }
}
