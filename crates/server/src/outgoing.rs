//! Where the server may send requests of its own (exchange venues now, webhooks later): never to
//! a loopback, private, link-local or otherwise internal address, neither as written in the URL
//! nor as its host name resolves at the moment of sending, and never through a redirect.
//! Otherwise whoever may configure a URL could make the server call its own network (a cloud's
//! metadata service at 169.254.169.254, an admin port on 127.0.0.1) and read, from the delivery
//! status, what answered there. `--allow-private-targets` lifts the rule, for tests and for
//! deployments whose venues live on a private network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// The longest URL accepted, in bytes.
pub const URL_BYTES_MAX: usize = 2048;

/// Whether `ip` is an address the server must not send to unless allowed.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || ip.to_ipv4().is_some_and(is_internal_v4) // IPv4-compatible
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 of a v4 address
}

/// The host and port of an `http://` or `https://` URL, or why it is not one.
fn host_and_port(url: &str) -> Result<(String, u16), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("the URL must begin with http:// or https://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return Err("the URL must begin with http:// or https://".into()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("the URL must not hold a user name or password".into());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("an IPv6 host needs its ]")?;
            let port = after.strip_prefix(':');
            (host.to_string(), port)
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        },
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("{p:?} is not a port"))?,
        None => default_port,
    };
    Ok((host, port))
}

/// Checks a URL given to the server to send to: its form, and, unless `allow_private`, that
/// its host is not, and does not resolve to, an internal address.
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    if url.len() > URL_BYTES_MAX || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the URL must be at most {URL_BYTES_MAX} bytes, without spaces"
        ));
    }
    let (host, port) = host_and_port(url)?;
    if allow_private {
        return Ok(());
    }
    resolve_public(&format!("{host}:{port}")).map(|_| ())
}

/// Resolves `host:port` and keeps only public addresses; an error when none is left. The
/// sender connects to these addresses only, so a name that changes its answer after the check
/// (DNS rebinding) still cannot reach inside.
pub fn resolve_public(netloc: &str) -> Result<Vec<SocketAddr>, String> {
    let host = netloc.rsplit_once(':').map_or(netloc, |(h, _)| h);
    let addrs: Vec<SocketAddr> = netloc
        .to_socket_addrs()
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    let public: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| !is_internal(a.ip()))
        .collect();
    if public.is_empty() {
        let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        return Err(format!(
            "{host} is an internal address ({}): the server sends only to public addresses (a deployment whose venues are on a private network starts the server with --allow-private-targets)",
            shown.join(", ")
        ));
    }
    Ok(public)
}

/// An HTTP agent for the server's own requests: no redirects followed, and, unless
/// `allow_private`, every host resolved to public addresses only.
pub fn agent(timeout: std::time::Duration, allow_private: bool) -> ureq::Agent {
    let builder = ureq::AgentBuilder::new().timeout(timeout).redirects(0);
    if allow_private {
        return builder.build();
    }
    builder
        .resolver(|netloc: &str| resolve_public(netloc).map_err(std::io::Error::other))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_and_public_ones_taken() {
        for url in [
            "http://127.0.0.1:9/",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1:8080/x",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://localhost:8080/",
            "http://224.0.0.1/",
        ] {
            assert!(check_url(url, false).is_err(), "{url} was taken");
            assert!(check_url(url, true).is_ok(), "{url} with the flag");
        }
        for url in [
            "https://93.184.216.34/hook",
            "http://8.8.8.8:8080/x?y=1",
            "https://[2606:4700::1]/",
        ] {
            assert!(check_url(url, false).is_ok(), "{url}");
        }
        for bad in [
            "ftp://8.8.8.8/",
            "http://",
            "http://user:pw@8.8.8.8/",
            "http://8.8.8.8:99999/",
            "8.8.8.8",
            "http://8.8.8.8/ x",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_are_resolved() {
        assert!(resolve_public("127.0.0.1:80").is_err());
        assert_eq!(
            resolve_public("8.8.8.8:443").unwrap(),
            vec!["8.8.8.8:443".parse().unwrap()]
        );
        let refused = resolve_public("localhost:80").unwrap_err();
        assert!(refused.contains("internal address"), "{refused}");
    }
}
