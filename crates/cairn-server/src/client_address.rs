//! Who is on the other end of a request, for the sign-in rate limit.
//!
//! The TCP peer, unless the peer is one of the configured reverse proxies
//! (`trusted_proxies`): then `X-Forwarded-For` is read from the right,
//! past every trusted hop, and the first address no proxy of ours added
//! is the client. Entries further left were written by the client itself
//! and prove nothing, so they are never used. Without trusted proxies the
//! header is ignored: anyone could send one to dodge the limit.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;
use crate::ServerError;

/// The client's address as far as the service can tell.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| ServerError::Internal("no peer address on the request".to_owned()))?;
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientAddress(client_address(
            peer.ip(),
            &forwarded.join(","),
            &state.config.trusted_proxies,
        )))
    }
}

/// The client behind `peer`, given the `X-Forwarded-For` values (joined
/// with commas) and the trusted proxies.
pub fn client_address(peer: IpAddr, forwarded_for: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    let mut client = canonical(peer);
    if !is_trusted(&client) {
        return client;
    }
    for hop in forwarded_for.rsplit(',').map(str::trim) {
        // Something our own proxy would not write: stop at the last
        // address we can vouch for.
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = canonical(ip);
        if !is_trusted(&client) {
            return client;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, or an address with the port
/// some proxies add (`192.0.2.1:5678`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// IPv4 clients reaching a dual-stack socket show up as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().expect("net")).collect()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let proxies = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // A client writing the header itself changes nothing.
        assert_eq!(
            client_address(ip("203.0.113.9"), "198.51.100.1", &proxies),
            ip("203.0.113.9")
        );
        // Through our proxy: the address it saw.
        assert_eq!(
            client_address(ip("127.0.0.1"), "198.51.100.1", &proxies),
            ip("198.51.100.1")
        );
        // What the client wrote on the left is skipped; our two hops are
        // passed on the right.
        assert_eq!(
            client_address(ip("127.0.0.1"), "1.2.3.4, 198.51.100.1, 10.1.2.3", &proxies),
            ip("198.51.100.1")
        );
        // No trusted proxies: never read.
        assert_eq!(
            client_address(ip("127.0.0.1"), "198.51.100.1", &[]),
            ip("127.0.0.1")
        );
        // A header that is not a list of addresses: the last sure one.
        assert_eq!(
            client_address(ip("127.0.0.1"), "garbage, 10.0.0.5", &proxies),
            ip("10.0.0.5")
        );
        // Nothing forwarded at all: the proxy itself.
        assert_eq!(
            client_address(ip("127.0.0.1"), "", &proxies),
            ip("127.0.0.1")
        );
        // Entries with ports.
        assert_eq!(
            client_address(ip("127.0.0.1"), "198.51.100.1:5678", &proxies),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), "[2001:db8::7]:443", &proxies),
            ip("2001:db8::7")
        );
        // IPv4 through a dual-stack socket.
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), "198.51.100.1", &proxies),
            ip("198.51.100.1")
        );
    }
}
