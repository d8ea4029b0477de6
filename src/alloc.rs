//! Host port allocation: turns the bindings Docker's parser leaves (empty host port,
//! host ranges, explicit ports) into concrete host ports, and records them as the
//! `io.berth.ports` label.
//!
//! A port is taken when a DNAT rule of the nat table (berth's or anyone's), a
//! container's berth label, or a bound socket holds it, per (host IP, protocol), with
//! wildcard overlap: 0.0.0.0 clashes with every IPv4 address. Ephemeral ports come from
//! the kernel's range (`ip_local_port_range` minus `ip_local_reserved_ports`) unless the
//! config names one. A lock file serialises allocate + apply across berth processes.

use std::collections::HashSet;
use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::portspec::PortSpecs;

/// The label holding a container's resolved bindings.
pub const PORTS_LABEL: &str = "io.berth.ports";

/// A published run of ports: host `host_ip:host_port..+count` -> container
/// `container_port..+count`, one protocol. `count` is 1 for a single port; a range
/// costs one entry (and one rule) whatever its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub proto: String,
    pub container_port: u16,
    pub host_ip: IpAddr,
    pub host_port: u16,
    #[serde(default = "one")]
    pub count: u16,
}

fn one() -> u16 {
    1
}

impl Published {
    /// The last host port of the run.
    pub fn host_end(&self) -> u16 {
        self.host_port + (self.count - 1)
    }

    /// The last container port of the run.
    pub fn container_end(&self) -> u16 {
        self.container_port + (self.count - 1)
    }

    /// Every (host port, container port) pair of the run.
    pub fn pairs(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        (0..self.count).map(|i| (self.host_port + i, self.container_port + i))
    }
}

/// The label text for a container's bindings.
pub fn to_label(published: &[Published]) -> String {
    serde_json::to_string(published).expect("bindings serialise")
}

/// A container's bindings from its label; `None` when it has none or it is unreadable.
pub fn from_label(text: &str) -> Option<Vec<Published>> {
    serde_json::from_str(text).ok()
}

/// Why a port could not be had, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocError(pub String);

/// Ports already held on this host.
#[derive(Debug, Default, Clone)]
pub struct Taken {
    /// (address, protocol, first port, last port)
    held: Vec<(IpAddr, String, u16, u16)>,
    /// Exact (address, protocol, port) of every single port held, for the fast path.
    exact: HashSet<(IpAddr, String, u16)>,
}

impl Taken {
    pub fn add(&mut self, ip: IpAddr, proto: &str, first: u16, last: u16) {
        if first == last {
            self.exact.insert((ip, proto.to_string(), first));
        }
        self.held.push((ip, proto.to_string(), first, last));
    }

    /// Whether `ip:port/proto` clashes with anything held (wildcards overlap).
    pub fn is_taken(&self, ip: IpAddr, proto: &str, port: u16) -> bool {
        if self.exact.contains(&(ip, proto.to_string(), port)) {
            return true;
        }
        self.held.iter().any(|(hip, hproto, first, last)| {
            hproto == proto && (*first..=*last).contains(&port) && overlaps(*hip, ip)
        })
    }

    /// Ports held by DNAT rules in iptables-save text (any table; only DNAT counts).
    pub fn add_dnat_rules(&mut self, save_text: &str) {
        for line in save_text.lines().filter(|l| l.contains("-j DNAT")) {
            let words = split_save_words(line);
            let mut dst: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            let mut proto = String::new();
            let mut ports: Vec<(u16, u16)> = Vec::new();
            let mut negated = false;
            let mut i = 0;
            while i < words.len() {
                let w = words[i].as_str();
                let next = words.get(i + 1).map(String::as_str).unwrap_or("");
                match w {
                    "!" => {
                        negated = true;
                        i += 1;
                        continue;
                    }
                    "-d" if !negated => {
                        if let Some(ip) = next.split('/').next().and_then(|s| s.parse().ok()) {
                            dst = ip;
                        }
                    }
                    "-p" if !negated => proto = next.to_string(),
                    "--dport" | "--destination-port" if !negated => {
                        ports.extend(parse_port_range(next));
                    }
                    "--dports" | "--destination-ports" if !negated => {
                        ports.extend(next.split(',').filter_map(parse_port_range));
                    }
                    _ => {}
                }
                negated = false;
                i += 1;
            }
            if proto.is_empty() {
                continue;
            }
            for (first, last) in ports {
                self.add(dst, &proto, first, last);
            }
        }
    }

    /// Ports held by berth labels.
    pub fn add_published(&mut self, published: &[Published]) {
        for p in published {
            self.add(p.host_ip, &p.proto, p.host_port, p.host_end());
        }
    }

    /// Sockets bound on this host (listening TCP, bound UDP), from /proc/net.
    pub fn add_sockets(&mut self) {
        for (file, proto, listen_only) in [
            ("/proc/net/tcp", "tcp", true),
            ("/proc/net/tcp6", "tcp", true),
            ("/proc/net/udp", "udp", false),
            ("/proc/net/udp6", "udp", false),
        ] {
            if let Ok(text) = fs::read_to_string(file) {
                for (ip, port) in parse_proc_net(&text, listen_only) {
                    self.add(ip, proto, port, port);
                }
            }
        }
    }
}

/// Two host addresses clash when equal or when either is a wildcard of the same
/// family; `::` also covers IPv4 (dual-stack sockets).
fn overlaps(a: IpAddr, b: IpAddr) -> bool {
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

/// `80`, `80:90` (iptables) or `80-90`.
fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    match s.split_once([':', '-']) {
        Some((a, b)) => {
            let a = if a.is_empty() { 0 } else { a.parse().ok()? };
            let b = if b.is_empty() { 65535 } else { b.parse().ok()? };
            Some((a, b))
        }
        None => s.parse().ok().map(|p| (p, p)),
    }
}

/// Words of an iptables-save line; double-quoted words (comments) kept whole.
pub fn split_save_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_quotes => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => in_quotes = !in_quotes,
            ' ' if !in_quotes => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// (address, port) of the sockets in a /proc/net/{tcp,udp}[6] table.
fn parse_proc_net(text: &str, listen_only: bool) -> Vec<(IpAddr, u16)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        if listen_only && fields[3] != "0A" {
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

/// The range ephemeral host ports come from.
pub fn ephemeral_range(configured: Option<(u16, u16)>) -> (u16, u16) {
    if let Some(r) = configured {
        return r;
    }
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|w| w.parse().ok());
            Some((it.next()?, it.next()?))
        })
        .unwrap_or((32768, 60999))
}

/// Ports the kernel keeps out of the ephemeral range (`ip_local_reserved_ports`).
pub fn reserved_ports() -> Vec<(u16, u16)> {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports")
        .map(|s| {
            s.trim()
                .split(',')
                .filter_map(|w| parse_port_range(w.trim()))
                .collect()
        })
        .unwrap_or_default()
}

/// Resolve every binding to concrete host ports, in binding order, and merge runs of
/// consecutive ports into one entry. `default_ip` stands for an empty host IP.
pub fn allocate(
    specs: &PortSpecs,
    taken: &Taken,
    default_ip: IpAddr,
    range: (u16, u16),
    reserved: &[(u16, u16)],
) -> Result<Vec<Published>, AllocError> {
    let mut taken = taken.clone();
    let mut singles: Vec<Published> = Vec::new();
    let is_reserved = |p: u16| reserved.iter().any(|(a, b)| (*a..=*b).contains(&p));
    for m in &specs.bindings {
        let ip = if m.binding.host_ip.is_empty() {
            default_ip
        } else {
            m.binding
                .host_ip
                .parse()
                .map_err(|_| AllocError(format!("invalid IP address: {}", m.binding.host_ip)))?
        };
        let proto = m.port.proto.as_str();
        let host_port = match m.binding.host_port.split_once('-') {
            None if m.binding.host_port.is_empty() => (range.0..=range.1)
                .find(|p| *p != 0 && !is_reserved(*p) && !taken.is_taken(ip, proto, *p))
                .ok_or_else(|| AllocError("all ports are allocated".to_string()))?,
            None => {
                let p: u16 = m.binding.host_port.parse().map_err(|_| {
                    AllocError(format!("invalid hostPort: {}", m.binding.host_port))
                })?;
                if p != 0 && taken.is_taken(ip, proto, p) {
                    return Err(already_allocated(ip, &p.to_string()));
                }
                if p == 0 {
                    (range.0..=range.1)
                        .find(|p| !is_reserved(*p) && !taken.is_taken(ip, proto, *p))
                        .ok_or_else(|| AllocError("all ports are allocated".to_string()))?
                } else {
                    p
                }
            }
            Some((a, b)) => {
                let (a, b): (u16, u16) = (
                    a.parse()
                        .map_err(|_| AllocError(format!("invalid hostPort: {a}")))?,
                    b.parse()
                        .map_err(|_| AllocError(format!("invalid hostPort: {b}")))?,
                );
                (a..=b)
                    .find(|p| *p != 0 && !taken.is_taken(ip, proto, *p))
                    .ok_or_else(|| already_allocated(ip, &m.binding.host_port))?
            }
        };
        taken.add(ip, proto, host_port, host_port);
        singles.push(Published {
            proto: proto.to_string(),
            container_port: m.port.number,
            host_ip: ip,
            host_port,
            count: 1,
        });
    }
    Ok(merge_runs(singles))
}

fn already_allocated(ip: IpAddr, port: &str) -> AllocError {
    let ip = match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    AllocError(format!(
        "Bind for {ip}:{port} failed: port is already allocated"
    ))
}

/// Merge consecutive single ports (same address and protocol, host and container
/// ports both +1) into runs.
fn merge_runs(singles: Vec<Published>) -> Vec<Published> {
    let mut out: Vec<Published> = Vec::new();
    for p in singles {
        if let Some(last) = out.last_mut()
            && last.proto == p.proto
            && last.host_ip == p.host_ip
            && u32::from(last.host_end()) + 1 == u32::from(p.host_port)
            && u32::from(last.container_end()) + 1 == u32::from(p.container_port)
        {
            last.count += 1;
            continue;
        }
        out.push(p);
    }
    out
}

/// An exclusive lock held while ports are allocated and rules written, so parallel
/// berth processes never hand out one port twice. The kernel drops it when the holder
/// exits, however it exits, so a dead holder never blocks the next berth.
pub struct Lock {
    _file: File,
}

/// Where the lock lives (`BERTH_LOCK` overrides, for tests).
pub fn lock_path() -> PathBuf {
    std::env::var_os("BERTH_LOCK")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/berth/lock"))
}

impl Lock {
    pub fn acquire(path: &Path) -> std::io::Result<Lock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // SAFETY: flock on a file descriptor we own; blocks until the lock is ours.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Lock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portspec::parse_all;

    fn specs(publish: &[&str]) -> PortSpecs {
        let publish: Vec<String> = publish.iter().map(|s| s.to_string()).collect();
        parse_all(&publish, &[], false).unwrap()
    }

    const ANY: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

    fn alloc(publish: &[&str], taken: &Taken) -> Result<Vec<Published>, AllocError> {
        allocate(&specs(publish), taken, ANY, (40000, 40010), &[])
    }

    #[test]
    fn explicit_ports_and_ranges_become_runs() {
        let got = alloc(&["8000-8999:8000-8999", "9000:90/udp"], &Taken::default()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].container_port, got[0].host_port, got[0].count),
            (90, 9000, 1)
        );
        assert_eq!(
            (got[1].container_port, got[1].host_port, got[1].count),
            (8000, 8000, 1000)
        );
    }

    #[test]
    fn ephemeral_ports_skip_what_is_taken() {
        let mut taken = Taken::default();
        taken.add(ANY, "tcp", 40000, 40001);
        let got = alloc(&["80", "127.0.0.1::81"], &taken).unwrap();
        assert_eq!(got[0].host_port, 40002);
        // 127.0.0.1 overlaps the wildcard holder of 40000-40001, and 40002 is ours now
        assert_eq!(got[1].host_port, 40003);
    }

    #[test]
    fn taken_explicit_port_is_dockers_error() {
        let mut taken = Taken::default();
        taken.add("127.0.0.1".parse().unwrap(), "tcp", 8080, 8080);
        let e = alloc(&["8080:80"], &taken).unwrap_err();
        assert_eq!(
            e.0,
            "Bind for 0.0.0.0:8080 failed: port is already allocated"
        );
        // another protocol or another specific address does not clash
        assert!(alloc(&["8080:80/udp"], &taken).is_ok());
        assert!(alloc(&["10.0.0.1:8080:80"], &taken).is_ok());
        // the same port twice in one run clashes with itself
        let e = alloc(&["8081:80", "8081:81"], &Taken::default()).unwrap_err();
        assert_eq!(
            e.0,
            "Bind for 0.0.0.0:8081 failed: port is already allocated"
        );
    }

    #[test]
    fn host_range_takes_first_free() {
        let mut taken = Taken::default();
        taken.add(ANY, "tcp", 9090, 9090);
        let got = alloc(&["9090-9092:80"], &taken).unwrap();
        assert_eq!(got[0].host_port, 9091);
        taken.add(ANY, "tcp", 9091, 9092);
        let e = alloc(&["9090-9092:80"], &taken).unwrap_err();
        assert_eq!(
            e.0,
            "Bind for 0.0.0.0:9090-9092 failed: port is already allocated"
        );
    }

    #[test]
    fn dnat_rules_hold_ports() {
        let save = "*nat\n\
            -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n\
            -A BERTH -d 127.0.0.1/32 ! -i docker0 -p udp -m udp --dport 7000:7010 -m comment --comment \"berth:abc\" -j DNAT --to-destination 172.17.0.3\n\
            -A X -p tcp -m multiport --dports 81,82:83 -j DNAT --to-destination 1.2.3.4\n\
            -A POSTROUTING -p tcp --dport 99 -j MASQUERADE\n";
        let mut taken = Taken::default();
        taken.add_dnat_rules(save);
        assert!(taken.is_taken(ANY, "tcp", 8080));
        assert!(taken.is_taken("127.0.0.1".parse().unwrap(), "udp", 7005));
        assert!(!taken.is_taken("10.0.0.1".parse().unwrap(), "udp", 7005));
        assert!(taken.is_taken(ANY, "tcp", 83));
        assert!(!taken.is_taken(ANY, "tcp", 99));
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
    }

    #[test]
    fn labels_round_trip() {
        let got = alloc(
            &["127.0.0.1:8080:80", "9000-9001:9000-9001/udp"],
            &Taken::default(),
        )
        .unwrap();
        assert_eq!(from_label(&to_label(&got)).unwrap(), got);
    }
}
