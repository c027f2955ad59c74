//! An HTTP/1.1 relay on 127.0.0.1 between devices and the S3 server that
//! injects faults: 5xx answers, stalls past the client's timeout, bodies
//! cut short, and connections dropped before any answer.
//!
//! Presigned URLs are signed for the host the service presigned them for,
//! so the service presigns for the proxy's address; the proxy passes the
//! request through unchanged (Host header included), so the S3 server checks
//! the very signature the device sent. One request per client connection
//! (`Connection: close` both ways) keeps the relay simple and makes every
//! fault land on exactly one request.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Passed through untouched.
    None,
    /// Answered `503 Service Unavailable` without reaching S3.
    ServerError,
    /// Held without an answer until the client gives up.
    Stall,
    /// Passed through, but the answer's body is cut in half.
    Truncate,
    /// The connection is closed without an answer.
    Drop,
}

/// How often each fault happens, in percent of requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultRates {
    pub server_error: u32,
    pub stall: u32,
    pub truncate: u32,
    pub drop: u32,
}

impl FaultRates {
    pub const NONE: FaultRates = FaultRates {
        server_error: 0,
        stall: 0,
        truncate: 0,
        drop: 0,
    };
}

#[derive(Debug, Default)]
pub struct FaultCounts {
    pub passed: AtomicU64,
    pub server_error: AtomicU64,
    pub stall: AtomicU64,
    pub truncate: AtomicU64,
    pub drop: AtomicU64,
}

impl FaultCounts {
    fn count(&self, f: Fault) {
        let c = match f {
            Fault::None => &self.passed,
            Fault::ServerError => &self.server_error,
            Fault::Stall => &self.stall,
            Fault::Truncate => &self.truncate,
            Fault::Drop => &self.drop,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// (passed, 5xx, stalled, truncated, dropped)
    pub fn snapshot(&self) -> [u64; 5] {
        [
            self.passed.load(Ordering::Relaxed),
            self.server_error.load(Ordering::Relaxed),
            self.stall.load(Ordering::Relaxed),
            self.truncate.load(Ordering::Relaxed),
            self.drop.load(Ordering::Relaxed),
        ]
    }
}

struct Shared {
    upstream: Mutex<Option<SocketAddr>>,
    rates: Mutex<FaultRates>,
    rng: Mutex<StdRng>,
    counts: FaultCounts,
    /// How long each request is held before it is passed on.
    hold: Mutex<Duration>,
    /// Requests being relayed now, and the most there have been at once.
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
}

/// The running relay. Dropping it does not stop it; it lives as long as
/// the runtime that started it.
#[derive(Clone)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

/// A stall lasts at most this long (the client gives up well before).
const STALL_LIMIT: Duration = Duration::from_secs(20);

impl FaultProxy {
    /// Binds 127.0.0.1 on a free port. The upstream is set later with
    /// [`FaultProxy::set_upstream`] (the S3 server may start after it).
    pub async fn start(seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(None),
            rates: Mutex::new(FaultRates::NONE),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            counts: FaultCounts::default(),
            hold: Mutex::new(Duration::ZERO),
            in_flight: AtomicU64::new(0),
            most_in_flight: AtomicU64::new(0),
        });
        let accept_shared = shared.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let shared = accept_shared.clone();
                tokio::spawn(async move { relay(socket, shared).await });
            }
        });
        FaultProxy { addr, shared }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_upstream(&self, addr: SocketAddr) {
        *self.shared.upstream.lock().expect("lock") = Some(addr);
    }

    pub fn set_rates(&self, rates: FaultRates) {
        *self.shared.rates.lock().expect("lock") = rates;
    }

    pub fn counts(&self) -> &FaultCounts {
        &self.shared.counts
    }

    /// Holds every request this long before passing it on, so requests a
    /// client sends together are all in the proxy at once.
    pub fn set_hold(&self, hold: Duration) {
        *self.shared.hold.lock().expect("lock") = hold;
    }

    /// The most requests relayed at once since the last call.
    pub fn take_most_in_flight(&self) -> u64 {
        self.shared.most_in_flight.swap(0, Ordering::SeqCst)
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn new(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn pick(shared: &Shared) -> Fault {
    let rates = *shared.rates.lock().expect("lock");
    let roll = shared.rng.lock().expect("lock").gen_range(0..100u32);
    let mut edge = 0;
    for (rate, fault) in [
        (rates.server_error, Fault::ServerError),
        (rates.stall, Fault::Stall),
        (rates.truncate, Fault::Truncate),
        (rates.drop, Fault::Drop),
    ] {
        edge += rate;
        if roll < edge {
            return fault;
        }
    }
    Fault::None
}

/// Where the header block ends (index just past `\r\n\r\n`).
fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The header block with any `Connection` header replaced by `close`.
fn with_connection_close(head: &str) -> String {
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if line
            .split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("connection"))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// Reads one request (header block and Content-Length body).
async fn read_request(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        if let Some(end) = header_end(&buf) {
            break end;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut body = buf[end..].to_vec();
    let want = content_length(&head);
    while body.len() < want {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

async fn relay(mut client: TcpStream, shared: Arc<Shared>) {
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    let _counted = InFlight::new(&shared);
    let hold = *shared.hold.lock().expect("lock");
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let fault = pick(&shared);
    let is_get = head.starts_with("GET ");
    // Only a body can be cut short; other requests pass.
    let fault = if fault == Fault::Truncate && !is_get {
        Fault::None
    } else {
        fault
    };
    shared.counts.count(fault);
    match fault {
        Fault::ServerError => {
            let answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            if client.write_all(answer.as_bytes()).await.is_ok() {
                client.shutdown().await.ok();
            }
        }
        Fault::Drop => drop(client),
        Fault::Stall => {
            // Hold the connection until the client gives up on it.
            let mut sink = [0u8; 1024];
            tokio::time::timeout(STALL_LIMIT, async {
                while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await
            .ok();
        }
        Fault::None | Fault::Truncate => {
            let Some(upstream) = *shared.upstream.lock().expect("lock") else {
                return;
            };
            let Some(answer) = forward(upstream, &head, &body).await else {
                return;
            };
            let answer = if fault == Fault::Truncate {
                cut_body(&answer)
            } else {
                answer
            };
            if client.write_all(&answer).await.is_ok() {
                client.shutdown().await.ok();
            }
        }
    }
}

/// Sends the request to S3 and reads the whole answer (S3 closes after it).
async fn forward(upstream: SocketAddr, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut s3 = TcpStream::connect(upstream).await.ok()?;
    s3.write_all(with_connection_close(head).as_bytes())
        .await
        .ok()?;
    s3.write_all(body).await.ok()?;
    let mut answer = Vec::new();
    s3.read_to_end(&mut answer).await.ok()?;
    let end = header_end(&answer)?;
    let answer_head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let mut out = with_connection_close(&answer_head).into_bytes();
    out.extend_from_slice(&answer[end..]);
    Some(out)
}

/// The answer with its body cut in half (the headers still promise all of it).
fn cut_body(answer: &[u8]) -> Vec<u8> {
    let end = header_end(answer).unwrap_or(answer.len());
    let body_len = answer.len() - end;
    answer[..end + body_len / 2].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_header_is_replaced() {
        let h = "GET /x HTTP/1.1\r\nHost: a\r\nconnection: keep-alive\r\n\r\n";
        assert_eq!(
            with_connection_close(h),
            "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            content_length("PUT / HTTP/1.1\r\nContent-Length: 12\r\n"),
            12
        );
    }
}
