//! The client's address, as the per-address password-attempt limit counts it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

use crate::config::ClientAddress;

/// The attempt-limit key of the request's client: `addr:<ip>`, or for IPv6 the /64 network
/// (`addr:2001:db8:1:2::/64`), since one household or host gets a whole /64. `None` when the
/// address is unknown (no `ConnectInfo`, or the configured header is missing or malformed).
pub(crate) fn address_key(parts: &Parts, from: &ClientAddress) -> Option<String> {
    let ip = match from {
        ClientAddress::Socket => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip()),
        ClientAddress::TrustedProxyHeader(name) => parts
            .headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok()),
    }?;
    Some(match ip.to_canonical() {
        IpAddr::V4(v4) => format!("addr:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, Request};

    fn parts(header: Option<&str>, socket: Option<&str>) -> Parts {
        let mut builder = Request::builder();
        if let Some(value) = header {
            builder = builder.header("x-real-ip", value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        if let Some(socket) = socket {
            parts
                .extensions
                .insert(ConnectInfo(socket.parse::<SocketAddr>().unwrap()));
        }
        parts
    }

    #[test]
    fn addresses_from_the_socket_or_the_proxy_header() {
        let socket = ClientAddress::Socket;
        let header = ClientAddress::TrustedProxyHeader(HeaderName::from_static("x-real-ip"));
        let p = parts(Some("203.0.113.9"), Some("198.51.100.1:5000"));
        assert_eq!(
            address_key(&p, &socket).as_deref(),
            Some("addr:198.51.100.1")
        );
        assert_eq!(
            address_key(&p, &header).as_deref(),
            Some("addr:203.0.113.9")
        );
        let v6 = parts(None, Some("[2001:db8:1:2:3:4:5:6]:80"));
        assert_eq!(
            address_key(&v6, &socket).as_deref(),
            Some("addr:2001:db8:1:2::/64")
        );
        let mapped = parts(None, Some("[::ffff:198.51.100.7]:80"));
        assert_eq!(
            address_key(&mapped, &socket).as_deref(),
            Some("addr:198.51.100.7")
        );
        assert_eq!(address_key(&parts(None, None), &socket), None);
        assert_eq!(address_key(&parts(Some("nonsense"), None), &header), None);
        let chain = parts(Some("10.0.0.1, 203.0.113.5"), None);
        assert_eq!(
            address_key(&chain, &header).as_deref(),
            Some("addr:203.0.113.5")
        );
    }
}
