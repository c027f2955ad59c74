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
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(expected_state) {
        return respond(
            &mut stream,
            "400 Bad Request",
            "This sign-in link is not the one Cairn started.",
            Outcome::Ignored,
        )
        .await;
    }
    if let Some(error) = param("error") {
        let message = format!("{error} {}", param("error_description").unwrap_or_default());
        return respond(
            &mut stream,
            "200 OK",
            "Sign-in was refused. You can close this window.",
            Outcome::ProviderError(message),
        )
        .await;
    }
    match param("code") {
        Some(code) => {
            respond(
                &mut stream,
                "200 OK",
                "Signed in to Cairn. You can close this window.",
                Outcome::Code(code),
            )
            .await
        }
        None => {
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
