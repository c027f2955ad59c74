//! Catching the OAuth redirect on `http://127.0.0.1:{port}/callback`.
//!
//! The browser comes back with `?code=...&state=...` (or `?error=...`).
//! Only a request carrying the state this client expects is accepted; any
//! other request (a favicon, a stale tab) is answered and ignored. The
//! listener closes after the first accepted redirect or the timeout.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::ClientError;

const CALLBACK_PATH: &str = "/callback";

pub struct LoopbackRedirect {
    listener: TcpListener,
    redirect_uri: String,
}

enum Outcome {
    Code(String),
    ProviderError(String),
    Ignored,
}

impl LoopbackRedirect {
    /// Listens on a free loopback port.
    pub async fn bind() -> Result<Self, ClientError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| ClientError::io("127.0.0.1:0", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| ClientError::io("127.0.0.1", e))?
            .port();
        Ok(LoopbackRedirect {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the redirect carrying `expected_state`; returns its code.
    pub async fn wait_for_code(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<String, ClientError> {
        let wait = async {
            loop {
                let (stream, _) = self
                    .listener
                    .accept()
                    .await
                    .map_err(|e| ClientError::io(&self.redirect_uri, e))?;
                match handle(stream, expected_state).await {
                    Ok(Outcome::Code(code)) => return Ok(code),
                    Ok(Outcome::ProviderError(e)) => return Err(ClientError::OauthRedirect(e)),
                    Ok(Outcome::Ignored) => continue,
                    // One broken connection must not end the sign-in.
                    Err(_) => continue,
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            ClientError::OauthRedirect("timed out waiting for the browser".to_owned())
        })?
    }
}

async fn handle(mut stream: TcpStream, expected_state: &str) -> std::io::Result<Outcome> {
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    // Read until the end of the request line; the rest is of no interest.
    while !buf[..len].windows(2).any(|w| w == b"\r\n") {
        if len == buf.len() {
            return respond(
                &mut stream,
                "414 URI Too Long",
                "Request too long.",
                Outcome::Ignored,
            )
            .await;
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf[len..]))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow client"))??;
        if n == 0 {
            return Ok(Outcome::Ignored);
        }
        len += n;
    }
    let line = String::from_utf8_lossy(&buf[..len]);
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else {
        return respond(
            &mut stream,
            "400 Bad Request",
            "Bad request.",
            Outcome::Ignored,
        )
        .await;
    };
    if url.path() != CALLBACK_PATH {
        return respond(&mut stream, "404 Not Found", "Not found.", Outcome::Ignored).await;
    }
    match classify(&url, expected_state) {
        Redirect::WrongState => {
            respond(
                &mut stream,
                "400 Bad Request",
                "This sign-in link is not the one Cairn started.",
                Outcome::Ignored,
            )
            .await
        }
        Redirect::Refused(message) => {
            respond(
                &mut stream,
                "200 OK",
                "Sign-in was refused. You can close this window.",
                Outcome::ProviderError(message),
            )
            .await
        }
        Redirect::Code(code) => {
            respond(
                &mut stream,
                "200 OK",
                "Signed in to Cairn. You can close this window.",
                Outcome::Code(code),
            )
            .await
        }
        Redirect::NoCode => {
            respond(
                &mut stream,
                "400 Bad Request",
                "The redirect carried no code.",
                Outcome::Ignored,
            )
            .await
        }
    }
}

/// What a redirect's query says, judged against the state we expect.
enum Redirect {
    WrongState,
    Refused(String),
    Code(String),
    NoCode,
}

fn classify(url: &url::Url, expected_state: &str) -> Redirect {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(expected_state) {
        return Redirect::WrongState;
    }
    if let Some(error) = param("error") {
        let description = param("error_description").unwrap_or_default();
        return Redirect::Refused(format!("{error} {description}").trim().to_owned());
    }
    match param("code") {
        Some(code) => Redirect::Code(code),
        None => Redirect::NoCode,
    }
}

/// The code from a redirect that some other listener caught (the desktop
/// app's one-shot loopback server hands over the URL it was called with).
/// Unlike [`LoopbackRedirect`], which can ignore strays and keep waiting,
/// a one-shot listener has only this answer: a wrong `state` ends the
/// attempt, since that request did not come from the sign-in we started.
pub fn code_from_redirect(redirect_url: &str, expected_state: &str) -> Result<String, ClientError> {
    let url = url::Url::parse(redirect_url).map_err(|e| {
        ClientError::OauthRedirect(format!(
            "the browser came back with an unreadable address: {e}"
        ))
    })?;
    match classify(&url, expected_state) {
        Redirect::Code(code) => Ok(code),
        Redirect::WrongState => Err(ClientError::OauthRedirect(
            "the answer did not belong to the sign-in Cairn started (its state did not match); nothing was changed, try again"
                .to_owned(),
        )),
        Redirect::Refused(message) => Err(ClientError::OauthRedirect(format!(
            "GitHub did not allow the sign-in: {message}"
        ))),
        Redirect::NoCode => Err(ClientError::OauthRedirect(
            "the browser came back without a sign-in code".to_owned(),
        )),
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    text: &str,
    outcome: Outcome,
) -> std::io::Result<Outcome> {
    let body = format!("<!doctype html><meta charset=utf-8><title>Cairn</title><p>{text}</p>");
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(outcome)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_gives_its_code_only_with_our_state() {
        let ok = "http://127.0.0.1:4567/callback?code=abc&state=s1";
        assert_eq!(code_from_redirect(ok, "s1").unwrap(), "abc");
        let forged = "http://127.0.0.1:4567/callback?code=abc&state=s2";
        let e = code_from_redirect(forged, "s1").unwrap_err().to_string();
        assert!(e.contains("state did not match"), "{e}");
        let missing = "http://127.0.0.1:4567/callback?code=abc";
        assert!(code_from_redirect(missing, "s1").is_err());
    }

    #[test]
    fn a_refusal_and_a_missing_code_are_errors_that_say_so() {
        let refused =
            "http://127.0.0.1:1/callback?state=s1&error=access_denied&error_description=no";
        let e = code_from_redirect(refused, "s1").unwrap_err().to_string();
        assert!(e.contains("access_denied no"), "{e}");
        let e = code_from_redirect("http://127.0.0.1:1/callback?state=s1", "s1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("without a sign-in code"), "{e}");
        assert!(code_from_redirect("not a url", "s1").is_err());
    }
}
