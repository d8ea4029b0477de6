//! The host around the rules: kernel switches berth needs (route_localnet for
//! 127.0.0.1, IPv6 forwarding), the sockets that hold host ports, stale UDP conntrack
//! entries, the permission to change the firewall, and other firewalls that would
//! drop what berth accepts (Docker 29's nftables backend).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};

use crate::model::Published;

fn route_localnet_path(bridge: &str) -> String {
    format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet")
}

/// Whether a bridge still needs route_localnet (needed for 127.0.0.1 -> container).
pub fn route_localnet_off(bridge: &str) -> bool {
    std::fs::read_to_string(route_localnet_path(bridge)).is_ok_and(|v| v.trim() != "1")
}

/// Turn route_localnet on for a bridge.
pub fn set_route_localnet(bridge: &str) -> std::io::Result<()> {
    std::fs::write(route_localnet_path(bridge), "1")
}

/// Interfaces whose route_localnet is on.
pub fn route_localnet_on() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/sys/net/ipv4/conf") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "all" || name == "default" {
                continue;
            }
            if std::fs::read_to_string(e.path().join("route_localnet"))
                .is_ok_and(|v| v.trim() == "1")
            {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

/// Whether the host forwards IPv6 (needed for IPv6 DNAT to a bridge).
pub fn ipv6_forwarding() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding").is_ok_and(|v| v.trim() == "1")
}

/// A socket of this host that holds a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Socket {
    pub ip: IpAddr,
    pub proto: &'static str,
    pub port: u16,
}

/// Sockets bound on this host (listening TCP, unconnected bound UDP), from /proc/net.
pub fn sockets() -> Vec<Socket> {
    let mut out = Vec::new();
    for (file, proto, tcp) in [
        ("/proc/net/tcp", "tcp", true),
        ("/proc/net/tcp6", "tcp", true),
        ("/proc/net/udp", "udp", false),
        ("/proc/net/udp6", "udp", false),
    ] {
        if let Ok(text) = std::fs::read_to_string(file) {
            for (ip, port) in parse_proc_net(&text, tcp) {
                out.push(Socket { ip, proto, port });
            }
        }
    }
    let mut seen = HashSet::new();
    out.retain(|s| seen.insert(*s));
    out
}

/// (address, port) of the sockets in a /proc/net/{tcp,udp}[6] table: for TCP the
/// listening ones, for UDP the ones not connected to a peer (a server's).
pub fn parse_proc_net(text: &str, tcp: bool) -> Vec<(IpAddr, u16)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        if tcp && fields[3] != "0A" {
            continue;
        }
        if !tcp
            && fields[2]
                .split_once(':')
                .is_some_and(|(_, port)| port != "0000")
        {
            continue;
        }
        let Some((addr, port)) = fields[1].split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port, 16) else {
            continue;
        };
        if let Some(ip) = parse_proc_addr(addr) {
            out.push((ip, port));
        }
    }
    out
}

/// /proc/net addresses are 32-bit words in host (little-endian) order.
fn parse_proc_addr(hex: &str) -> Option<IpAddr> {
    match hex.len() {
        8 => {
            let v = u32::from_str_radix(hex, 16).ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(v.swap_bytes())))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for w in 0..4 {
                let v = u32::from_str_radix(&hex[w * 8..w * 8 + 8], 16).ok()?;
                bytes[w * 4..w * 4 + 4].copy_from_slice(&v.to_le_bytes());
            }
            let v6 = std::net::Ipv6Addr::from(bytes);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            })
        }
        _ => None,
    }
}

/// Two host addresses clash when equal or when either is a wildcard of the same
/// family; `::` also covers IPv4 (dual-stack sockets).
pub fn overlaps(a: IpAddr, b: IpAddr) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (IpAddr::V6(x), _) if x.is_unspecified() => true,
        (_, IpAddr::V6(y)) if y.is_unspecified() => true,
        (IpAddr::V4(x), IpAddr::V4(y)) => x.is_unspecified() || y.is_unspecified(),
        _ => false,
    }
}

/// The first socket of this host that holds a port of `p` on `host_ip`.
pub fn socket_on<'a>(sockets: &'a [Socket], p: &Published, host_ip: IpAddr) -> Option<&'a Socket> {
    sockets.iter().find(|s| {
        s.proto == p.proto
            && (p.host_port..=p.host_end()).contains(&s.port)
            && overlaps(s.ip, host_ip)
    })
}

/// Stale UDP conntrack entries keep sending a flow to the container's old address after
/// its rules change: drop them for these host ports (best effort; the first 64 ports
/// of a long range, the rest time out on their own).
pub fn flush_udp_conntrack(published: &[Published]) {
    for p in published.iter().filter(|p| p.proto == "udp") {
        for port in p.host_port..=p.host_end().min(p.host_port.saturating_add(63)) {
            for family in ["ipv4", "ipv6"] {
                let _ = Command::new("conntrack")
                    .args([
                        "-f",
                        family,
                        "-D",
                        "-p",
                        "udp",
                        "--orig-port-dst",
                        &port.to_string(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// Changing the firewall needs root or CAP_NET_ADMIN.
pub fn may_change_firewall() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// The message for a user who may not change the firewall.
pub const NEED_ROOT: &str =
    "publishing ports changes the firewall: run berth as root (or with CAP_NET_ADMIN)";

/// nftables tables of Docker 29's nftables firewall backend (`ip docker-bridges`,
/// `ip6 docker-bridges`), from `nft list tables`; empty when nft is missing.
pub fn docker_nft_tables() -> Vec<String> {
    let Ok(out) = Command::new("nft")
        .args(["list", "tables"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .filter(|t| t.ends_with(" docker-bridges"))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_sockets() {
        let tcp = "  sl  local_address rem_address   st\n\
           0: 0100007F:1F90 00000000:0000 0A 0\n\
           1: 00000000:0050 00000000:0000 01 0\n";
        assert_eq!(
            parse_proc_net(tcp, true),
            vec![("127.0.0.1".parse().unwrap(), 8080)]
        );
        let tcp6 = "h\n 0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A\n";
        assert_eq!(
            parse_proc_net(tcp6, true),
            vec![("::".parse().unwrap(), 8081)]
        );
        // a UDP server socket counts, a connected client's does not
        let udp = "h\n 0: 00000000:0035 00000000:0000 07\n 1: 0100007F:A000 0100007F:0035 01\n";
        assert_eq!(
            parse_proc_net(udp, false),
            vec![("0.0.0.0".parse().unwrap(), 53)]
        );
    }

    #[test]
    fn wildcards_overlap() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(overlaps(ip("0.0.0.0"), ip("127.0.0.1")));
        assert!(overlaps(ip("::"), ip("127.0.0.1")));
        assert!(!overlaps(ip("127.0.0.1"), ip("10.0.0.1")));
        assert!(!overlaps(ip("::1"), ip("0.0.0.0")));
        let p = Published {
            proto: "tcp".into(),
            container_port: 80,
            host_ip: ip("0.0.0.0"),
            host_port: 8000,
            count: 10,
            dual: false,
        };
        let s = [Socket {
            ip: ip("127.0.0.1"),
            proto: "tcp",
            port: 8005,
        }];
        assert!(socket_on(&s, &p, ip("0.0.0.0")).is_some());
        assert!(socket_on(&s, &p, ip("10.0.0.1")).is_none());
    }
}
