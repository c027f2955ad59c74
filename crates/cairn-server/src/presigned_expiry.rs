//! The embedded S3 server's check of a presigned URL's time window, made
//! against the injected [`Clock`].
//!
//! s3s checks `X-Amz-Date` + `X-Amz-Expires` against the wall clock, and
//! cannot be given another. So the embedded server asks this module first,
//! with the service's clock, and tells s3s to tolerate any distance from
//! its own clock (its signature checks stay as they are). Then a test that
//! moves the service's clock past a grant's expiry sees storage refuse the
//! grant's URLs exactly as a real store would once that time had passed,
//! and a grant issued at a moved clock is not refused as "from the future".

use chrono::NaiveDateTime;
use hyper::{Response, StatusCode, Uri};

use crate::Clock;

/// How far in the future a URL's signing time may be, as S3 allows (and
/// s3s's default).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Why a presigned URL is refused now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Past `X-Amz-Date` + `X-Amz-Expires`.
    Expired,
    /// Signed more than [`MAX_SKEW_SECS`] after now.
    FromTheFuture,
}

/// Whether the presigned URL in `uri` is outside its time window at
/// `clock`'s now. A request that is not presigned, or whose fields do not
/// parse, is left to s3s, which refuses malformed ones itself.
pub fn check(uri: &Uri, clock: &dyn Clock) -> Option<Refusal> {
    let query = uri.query()?;
    let mut date = None;
    let mut expires = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("X-Amz-Date", v)) => date = Some(v),
            Some(("X-Amz-Expires", v)) => expires = Some(v),
            _ => {}
        }
    }
    let signed_at = NaiveDateTime::parse_from_str(date?, "%Y%m%dT%H%M%SZ")
        .ok()?
        .and_utc()
        .timestamp();
    let expires: i64 = expires?.parse().ok()?;
    let now = clock.now_secs();
    if signed_at - now > MAX_SKEW_SECS {
        Some(Refusal::FromTheFuture)
    } else if now - signed_at > expires {
        Some(Refusal::Expired)
    } else {
        None
    }
}

/// The answer S3 gives for `refusal`: 403 with an S3 error document.
pub fn response(refusal: Refusal) -> Response<s3s::Body> {
    let (code, message) = match refusal {
        Refusal::Expired => ("AccessDenied", "Request has expired"),
        Refusal::FromTheFuture => (
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
        ),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut response = Response::new(s3s::Body::from(body));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    /// 2026-01-01T00:00:00Z
    const SIGNED_AT: i64 = 1_767_225_600;

    fn uri(expires: u32) -> Uri {
        format!(
            "/cairn/u/d/head?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z\
             &X-Amz-Expires={expires}&X-Amz-Signature=00"
        )
        .parse()
        .expect("uri")
    }

    #[test]
    fn a_url_works_until_its_expiry_by_the_injected_clock() {
        let clock = ManualClock::new(SIGNED_AT * 1000);
        assert_eq!(check(&uri(60), &clock), None);
        clock.set_ms((SIGNED_AT + 60) * 1000);
        assert_eq!(check(&uri(60), &clock), None);
        clock.set_ms((SIGNED_AT + 61) * 1000);
        assert_eq!(check(&uri(60), &clock), Some(Refusal::Expired));
    }

    #[test]
    fn a_url_signed_far_ahead_of_the_clock_is_refused() {
        let clock = ManualClock::new((SIGNED_AT - MAX_SKEW_SECS) * 1000);
        assert_eq!(check(&uri(60), &clock), None);
        clock.set_ms((SIGNED_AT - MAX_SKEW_SECS - 1) * 1000);
        assert_eq!(check(&uri(60), &clock), Some(Refusal::FromTheFuture));
    }

    #[test]
    fn requests_that_are_not_presigned_are_left_to_s3s() {
        let clock = ManualClock::new(0);
        let plain: Uri = "/cairn/u/d/head".parse().expect("uri");
        assert_eq!(check(&plain, &clock), None);
        let garbled: Uri = "/k?X-Amz-Date=yesterday&X-Amz-Expires=60"
            .parse()
            .expect("uri");
        assert_eq!(check(&garbled, &clock), None);
    }

    #[test]
    fn the_refusal_is_an_s3_403() {
        let response = response(Refusal::Expired);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = response.body().bytes().expect("a whole body");
        assert!(String::from_utf8_lossy(&body).contains("<Code>AccessDenied</Code>"));
    }
}
