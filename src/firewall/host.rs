//! The host around the rules: kernel switches berth needs (route_localnet for
//! 127.0.0.1, IPv6 forwarding), the sockets that hold host ports, stale UDP conntrack
//! entries, the permission to change the firewall, and other firewalls that would
//! drop what berth accepts (Docker 29's nftables backend).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
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

/// Sockets bound on this host (listening TCP, unconnected bound UDP): asked of the
/// kernel over netlink (sock_diag, which lists only those), else read from /proc/net.
pub fn sockets() -> Vec<Socket> {
    let mut out = Vec::new();
    let mut all_answered = true;
    for (family, proto, tcp) in [
        (libc::AF_INET, "tcp", true),
        (libc::AF_INET6, "tcp", true),
        (libc::AF_INET, "udp", false),
        (libc::AF_INET6, "udp", false),
    ] {
        let states = if tcp { 1 << TCP_LISTEN } else { 1 << TCP_CLOSE };
        match sock_diag(family, tcp, states) {
            Ok(found) => out.extend(found.into_iter().map(|s| Socket {
                ip: s.local.ip(),
                proto,
                port: s.local.port(),
            })),
            Err(_) => all_answered = false,
        }
    }
    if all_answered {
        let mut seen = HashSet::new();
        out.retain(|s| seen.insert(*s));
        return out;
    }
    sockets_from_proc()
}

/// What `sockets` reads where netlink does not answer.
pub fn sockets_from_proc() -> Vec<Socket> {
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

/// Listening TCP sockets of this network namespace: (address, port, inode).
pub fn listening_inodes() -> Vec<(IpAddr, u16, u64)> {
    let mut out = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        out.extend(
            sock_diag(family, true, 1 << TCP_LISTEN)
                .unwrap_or_default()
                .into_iter()
                .map(|s| (s.local.ip(), s.local.port(), s.inode)),
        );
    }
    out
}

/// The inode of the established TCP socket of this network namespace whose local
/// address is `local` and whose peer is `peer`: the other end of a connection this
/// process made, when that end is in this namespace.
pub fn established_inode(local: SocketAddr, peer: SocketAddr) -> Option<u64> {
    const TCP_ESTABLISHED: u32 = 1;
    let norm = |a: SocketAddr| match a.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => a,
        },
        _ => a,
    };
    let (local, peer) = (norm(local), norm(peer));
    [libc::AF_INET, libc::AF_INET6]
        .into_iter()
        .find_map(|family| {
            sock_diag(family, true, 1 << TCP_ESTABLISHED)
                .unwrap_or_default()
                .into_iter()
                .find(|s| s.local == local && s.peer == peer)
                .map(|s| s.inode)
        })
}

const TCP_LISTEN: u32 = 10;
const TCP_CLOSE: u32 = 7;

/// One socket as sock_diag reports it.
struct DiagSocket {
    local: SocketAddr,
    peer: SocketAddr,
    inode: u64,
}

/// TCP (or UDP) sockets of one family in the given states (a bit mask of TCP states),
/// from NETLINK_SOCK_DIAG. IPv4-mapped IPv6 addresses come back as IPv4.
fn sock_diag(family: libc::c_int, tcp: bool, states: u32) -> std::io::Result<Vec<DiagSocket>> {
    use std::io;
    const NETLINK_SOCK_DIAG: libc::c_int = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    // SAFETY: a plain socket call; closed by the guard.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    struct Fd(libc::c_int);
    impl Drop for Fd {
        fn drop(&mut self) {
            // SAFETY: we own it.
            unsafe { libc::close(self.0) };
        }
    }
    let fd = Fd(fd);
    // nlmsghdr (16) + inet_diag_req_v2 (56)
    let mut req = [0u8; 72];
    req[0..4].copy_from_slice(&72u32.to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req[6..8].copy_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = family as u8;
    req[17] = if tcp {
        libc::IPPROTO_TCP as u8
    } else {
        libc::IPPROTO_UDP as u8
    };
    req[20..24].copy_from_slice(&states.to_ne_bytes());
    // SAFETY: sending a buffer we own.
    if unsafe { libc::send(fd.0, req.as_ptr() as *const libc::c_void, req.len(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let ip_of = |fam: u8, b: &[u8]| -> IpAddr {
        if fam as libc::c_int == libc::AF_INET {
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        } else {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[..16]);
            let v6 = std::net::Ipv6Addr::from(a);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: receiving into a buffer we own.
        let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut at = 0usize;
        let n = n as usize;
        while at + 16 <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
            let typ = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
            if len < 16 || at + len > n {
                return Err(io::Error::other("a short netlink message"));
            }
            match typ as libc::c_int {
                libc::NLMSG_DONE => return Ok(out),
                libc::NLMSG_ERROR => return Err(io::Error::other("sock_diag refused the request")),
                _ => {}
            }
            // inet_diag_msg: family, state, timer, retrans, then inet_diag_sockid:
            // sport (be16) dport (be16) src[16] dst[16] if cookie[2], then expires,
            // rqueue, wqueue, uid, inode
            let m = &buf[at + 16..at + len];
            if m.len() >= 72 {
                let sport = u16::from_be_bytes([m[4], m[5]]);
                let dport = u16::from_be_bytes([m[6], m[7]]);
                let local = SocketAddr::new(ip_of(m[0], &m[8..24]), sport);
                let peer = SocketAddr::new(ip_of(m[0], &m[24..40]), dport);
                let inode = u64::from(u32::from_ne_bytes(m[68..72].try_into().expect("4 bytes")));
                // UDP: only sockets not connected to a peer (a server's)
                if tcp || dport == 0 {
                    out.push(DiagSocket { local, peer, inode });
                }
            }
            at += (len + 3) & !3;
        }
    }
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

/// Stale UDP conntrack entries keep sending a flow to the container's old address (or
/// to nowhere, for a flow that came before the port was published) after its rules
/// change: drop them for these host ports (best effort). One listing per family, then a
/// deletion only for the ports that have entries, so a range costs what its entries
/// cost, whatever its length.
pub fn flush_udp_conntrack(published: &[Published]) {
    let udp: Vec<&Published> = published.iter().filter(|p| p.proto == "udp").collect();
    if udp.is_empty() {
        return;
    }
    for family in ["ipv4", "ipv6"] {
        let Ok(out) = Command::new("conntrack")
            .args(["-f", family, "-L", "-p", "udp"])
            .stderr(Stdio::null())
            .output()
        else {
            return;
        };
        let listed = String::from_utf8_lossy(&out.stdout);
        for port in stale_udp_ports(&listed, &udp) {
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

/// The original destination ports of `conntrack -L` lines that fall in these bindings'
/// host ports, each once, in order.
fn stale_udp_ports(listed: &str, udp: &[&Published]) -> Vec<u16> {
    let mut ports: Vec<u16> = listed
        .lines()
        .filter_map(|line| {
            // the first dport= is the original direction's
            let word = line.split_whitespace().find(|w| w.starts_with("dport="))?;
            word["dport=".len()..].parse::<u16>().ok()
        })
        .filter(|port| {
            udp.iter()
                .any(|p| (p.host_port..=p.host_end()).contains(port))
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
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
/// `ip6 docker-bridges`), asked of nf_tables directly.
pub fn docker_nft_tables() -> Vec<String> {
    crate::firewall::nftables::tables()
        .into_iter()
        .filter(|(_, name)| name == "docker-bridges")
        .map(|(family, name)| format!("{family} {name}"))
        .collect()
}

/// Refuse to publish where another firewall would drop what berth's rules accept:
/// Docker 29's nftables backend (its tables, or the engine saying so).
pub fn check_other_firewall(engine_backend: Option<&str>) -> Result<(), String> {
    let tables = docker_nft_tables();
    let engine_says = engine_backend.is_some_and(|d| d.contains("nftables"));
    if tables.is_empty() && !engine_says {
        return Ok(());
    }
    let seen = if engine_says {
        format!(
            "the engine reports FirewallBackend {}",
            engine_backend.unwrap_or("")
        )
    } else {
        format!("nftables table {} is present", tables.join(", "))
    };
    Err(format!(
        "cannot publish ports here: the engine uses Docker's nftables firewall backend ({seen}), whose own rules drop what berth's iptables rules would accept; run dockerd with --firewall-backend=iptables, or let the engine publish (docker run -p)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_udp_ports_are_the_original_destinations_in_the_published_ranges() {
        let listed = "\
udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=45629 dport=18121 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=18121 dport=45629 mark=0 use=1
udp      17 20 src=10.0.0.5 dst=10.0.0.1 sport=5000 dport=40000 src=172.17.0.2 dst=10.0.0.5 sport=53 dport=5000 mark=0 use=1
udp      17 20 src=10.0.0.6 dst=10.0.0.1 sport=5001 dport=40000 src=172.17.0.2 dst=10.0.0.6 sport=53 dport=5001 mark=0 use=1
udp      17 20 src=10.0.0.6 dst=10.0.0.1 sport=18121 dport=9999 src=10.0.0.1 dst=10.0.0.6 sport=9999 dport=18121 mark=0 use=1
";
        let one = Published {
            proto: "udp".into(),
            container_port: 80,
            host_ip: "0.0.0.0".parse().unwrap(),
            host_port: 18121,
            count: 1,
            dual: false,
        };
        let range = Published {
            host_port: 30000,
            count: 20000,
            ..one.clone()
        };
        // a reply port of 18121 does not count, only the original destination
        assert_eq!(stale_udp_ports(listed, &[&one]), vec![18121]);
        assert_eq!(stale_udp_ports(listed, &[&range]), vec![40000]);
        assert_eq!(stale_udp_ports(listed, &[&one, &range]), vec![18121, 40000]);
        assert!(stale_udp_ports("", &[&range]).is_empty());
    }

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
    fn netlink_and_proc_agree() {
        // a listener of this test's own, seen both ways
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let want = Socket {
            ip: "127.0.0.1".parse().unwrap(),
            proto: "tcp",
            port,
        };
        assert!(sockets().contains(&want));
        assert!(sockets_from_proc().contains(&want));
        drop(l);
        assert!(!sockets().contains(&want));
        let u = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let port = u.local_addr().unwrap().port();
        let want = Socket {
            ip: "::1".parse().unwrap(),
            proto: "udp",
            port,
        };
        assert!(sockets().contains(&want));
        assert!(sockets_from_proc().contains(&want));
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
