//! Host port allocation: turns the bindings Docker's parser leaves (empty host port,
//! host ranges, explicit ports) into concrete runs of host ports, recorded as the
//! `io.berth.ports` label. Pure: what is taken comes in as a [`Taken`] value.
//!
//! A port is taken when a DNAT rule (berth's or anyone's, either family), a
//! container's berth label, or a bound socket holds it, per (host IP, protocol), with
//! wildcard overlap: 0.0.0.0 clashes with every IPv4 address, `::` with every address.
//! A binding that names no address holds its port in both families (`dual`), so `-P`
//! gives IPv4 and IPv6 the same port. Everything works on ranges: a range of 27,000
//! ports costs what one port costs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::firewall::host::{Socket, overlaps};
use crate::model::Published;
use crate::nat::save::{Line, parse_line};
use crate::portspec::{Mapping, PortSpecs};

pub use crate::model::{PORTS_LABEL, from_label, to_label};

/// Why a port could not be had, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocError(pub String);

/// Ports already held on this host, as runs.
#[derive(Debug, Default, Clone)]
pub struct Taken {
    /// (address, protocol, first port, last port)
    held: Vec<(IpAddr, String, u16, u16)>,
}

impl Taken {
    /// Hold `first..=last`; a run that continues the last one held is merged into it.
    pub fn add(&mut self, ip: IpAddr, proto: &str, first: u16, last: u16) {
        if let Some(prev) = self.held.last_mut()
            && prev.0 == ip
            && prev.1 == proto
            && u32::from(prev.3) + 1 == u32::from(first)
        {
            prev.3 = last;
            return;
        }
        self.held.push((ip, proto.to_string(), first, last));
    }

    /// The first held port of `first..=last` for `ip`/`proto`, if any.
    pub fn clash(&self, ip: IpAddr, proto: &str, first: u16, last: u16) -> Option<u16> {
        self.held
            .iter()
            .filter(|(hip, hproto, a, b)| {
                hproto == proto && *a <= last && first <= *b && overlaps(*hip, ip)
            })
            .map(|(_, _, a, _)| (*a).max(first))
            .min()
    }

    /// Whether `ip:port/proto` clashes with anything held (wildcards overlap).
    pub fn is_taken(&self, ip: IpAddr, proto: &str, port: u16) -> bool {
        self.clash(ip, proto, port, port).is_some()
    }

    /// Ports held by the DNAT rules of iptables-save text (any table, either family).
    pub fn add_dnat_rules(&mut self, save_text: &str) {
        for line in save_text.lines() {
            let Line::Rule(rule) = parse_line(line) else {
                continue;
            };
            if rule.target_name() != "DNAT" {
                continue;
            }
            let Some(proto) = rule.protocol.filter(|p| !p.negated).map(|p| p.value) else {
                continue;
            };
            let v6 = rule
                .target
                .as_ref()
                .and_then(|t| t.option("to-destination"))
                .is_some_and(|o| o.value.starts_with('[') || o.value.matches(':').count() > 1);
            let dst: IpAddr = match rule.destination.filter(|d| !d.negated) {
                Some(d) => match d.value.split('/').next().and_then(|s| s.parse().ok()) {
                    Some(ip) => ip,
                    None => continue,
                },
                None if v6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            };
            for m in &rule.matches {
                for o in &m.options {
                    if o.negated {
                        continue;
                    }
                    let runs: Vec<(u16, u16)> = match o.name {
                        "dport" | "destination-port" => {
                            parse_port_range(&o.value).into_iter().collect()
                        }
                        "dports" | "destination-ports" => {
                            o.value.split(',').filter_map(parse_port_range).collect()
                        }
                        _ => continue,
                    };
                    for (a, b) in runs {
                        self.add(dst, proto, a, b);
                    }
                }
            }
        }
    }

    /// Ports held by berth labels.
    pub fn add_published(&mut self, published: &[Published]) {
        for p in published {
            self.add(p.host_ip, &p.proto, p.host_port, p.host_end());
            if p.dual {
                self.add(
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    &p.proto,
                    p.host_port,
                    p.host_end(),
                );
            }
        }
    }

    /// Ports held by sockets of this host.
    pub fn add_sockets(&mut self, sockets: &[Socket]) {
        for s in sockets {
            self.add(s.ip, s.proto, s.port, s.port);
        }
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

/// The range ephemeral host ports come from: the configured one, else the kernel's
/// `ip_local_port_range` (given as its text).
pub fn ephemeral_range(configured: Option<(u16, u16)>, kernel: Option<&str>) -> (u16, u16) {
    if let Some(r) = configured {
        return r;
    }
    kernel
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|w| w.parse().ok());
            Some((it.next()?, it.next()?))
        })
        .unwrap_or((32768, 60999))
}

/// Ports the kernel keeps out of the ephemeral range (`ip_local_reserved_ports` text).
pub fn reserved_ports(text: &str) -> Vec<(u16, u16)> {
    text.trim()
        .split(',')
        .filter_map(|w| parse_port_range(w.trim()))
        .collect()
}

/// What allocation needs to know of the host.
#[derive(Debug, Clone)]
pub struct Pool {
    /// The host address of a binding that names none.
    pub default_ip: IpAddr,
    /// Where free host ports come from.
    pub range: (u16, u16),
    /// Ports never handed out as free ones.
    pub reserved: Vec<(u16, u16)>,
}

/// A run of bindings that map consecutive container ports to consecutive explicit host
/// ports (what `-p 8000-8999:8000-8999` parses into, or single ports one after another),
/// or one container port of a binding without a fixed host port.
struct Run<'a> {
    first: &'a Mapping,
    /// the first container port
    port: u16,
    count: u16,
}

fn runs(bindings: &[Mapping]) -> Vec<Run<'_>> {
    let mut out: Vec<Run> = Vec::new();
    // the binding the last run ends with: its protocol/address, last container and host port
    let mut last: Option<(&Mapping, u16, u16)> = None;
    for m in bindings {
        let count = m.count.min(65535) as u16;
        let host: Option<u16> = m.binding.host_port.parse().ok().filter(|p| *p != 0);
        let Some(h) = host else {
            // a free port (or one from a pool) for each container port on its own
            for i in 0..count {
                out.push(Run {
                    first: m,
                    port: m.port.number.saturating_add(i),
                    count: 1,
                });
            }
            last = None;
            continue;
        };
        let ends = (m, m.last_port(), h.saturating_add(count - 1));
        if let (Some(run), Some((prev, prev_port, prev_host))) = (out.last_mut(), last)
            && prev.port.proto == m.port.proto
            && prev.binding.host_ip == m.binding.host_ip
            && u32::from(prev_port) + 1 == u32::from(m.port.number)
            && u32::from(prev_host) + 1 == u32::from(h)
        {
            run.count += count;
            last = Some(ends);
            continue;
        }
        out.push(Run {
            first: m,
            port: m.port.number,
            count,
        });
        last = Some(ends);
    }
    out
}

/// Resolve every binding to concrete host ports, in binding order, and merge runs of
/// consecutive ports into one entry.
pub fn allocate(
    specs: &PortSpecs,
    taken: &Taken,
    pool: &Pool,
) -> Result<Vec<Published>, AllocError> {
    let mut taken = taken.clone();
    let mut out: Vec<Published> = Vec::new();
    let is_reserved = |a: u16, b: u16| pool.reserved.iter().any(|(x, y)| *x <= b && a <= *y);
    for run in runs(&specs.bindings) {
        let m = run.first;
        let (ip, dual) = if m.binding.host_ip.is_empty() {
            (pool.default_ip, pool.default_ip.is_unspecified())
        } else {
            let ip: IpAddr =
                m.binding.host_ip.parse().map_err(|_| {
                    AllocError(format!("invalid IP address: {}", m.binding.host_ip))
                })?;
            (ip, false)
        };
        let proto = m.port.proto.as_str();
        let ips: Vec<IpAddr> = if dual {
            vec![ip, IpAddr::V6(Ipv6Addr::UNSPECIFIED)]
        } else {
            vec![ip]
        };
        let clash = |t: &Taken, a: u16, b: u16| ips.iter().find_map(|ip| t.clash(*ip, proto, a, b));
        let count = run.count;
        // one free port (a run without a fixed host port is one port: see `runs`)
        let free_in = |t: &Taken, lo: u16, hi: u16, skip_reserved: bool| -> Option<u16> {
            let mut p = lo.max(1);
            loop {
                if p > hi {
                    return None;
                }
                if skip_reserved && is_reserved(p, p) {
                    p = p.checked_add(1)?;
                    continue;
                }
                match clash(t, p, p) {
                    None => return Some(p),
                    // jump past the holder's run instead of one port at a time
                    Some(at) => p = next_after(t, ips.as_slice(), proto, at)?,
                }
            }
        };
        let host_port = match m.binding.host_port.split_once('-') {
            None if m.binding.host_port.is_empty() || m.binding.host_port == "0" => {
                free_in(&taken, pool.range.0, pool.range.1, true)
                    .ok_or_else(|| AllocError("all ports are allocated".to_string()))?
            }
            None => {
                let p: u16 = m.binding.host_port.parse().map_err(|_| {
                    AllocError(format!("invalid hostPort: {}", m.binding.host_port))
                })?;
                let end = p.checked_add(count - 1).ok_or_else(|| {
                    AllocError(format!("invalid hostPort: {}", m.binding.host_port))
                })?;
                if let Some(at) = clash(&taken, p, end) {
                    return Err(already_allocated(ip, &at.to_string()));
                }
                p
            }
            Some((a, b)) => {
                let (a, b): (u16, u16) = (
                    a.parse()
                        .map_err(|_| AllocError(format!("invalid hostPort: {a}")))?,
                    b.parse()
                        .map_err(|_| AllocError(format!("invalid hostPort: {b}")))?,
                );
                free_in(&taken, a, b, false)
                    .ok_or_else(|| already_allocated(ip, &m.binding.host_port))?
            }
        };
        let end = host_port + (count - 1);
        for ip in &ips {
            taken.add(*ip, proto, host_port, end);
        }
        let p = Published {
            proto: proto.to_string(),
            container_port: run.port,
            host_ip: ip,
            host_port,
            count,
            dual,
        };
        // a run that continues the previous one (ephemeral ports one after another)
        if let Some(last) = out.last_mut()
            && last.proto == p.proto
            && last.host_ip == p.host_ip
            && last.dual == p.dual
            && u32::from(last.host_end()) + 1 == u32::from(p.host_port)
            && u32::from(last.container_end()) + 1 == u32::from(p.container_port)
        {
            last.count += p.count;
            continue;
        }
        out.push(p);
    }
    Ok(out)
}

/// The port after the run that holds `at` (for any of `ips`).
fn next_after(t: &Taken, ips: &[IpAddr], proto: &str, at: u16) -> Option<u16> {
    let end = t
        .held
        .iter()
        .filter(|(hip, hproto, a, b)| {
            hproto == proto && *a <= at && at <= *b && ips.iter().any(|ip| overlaps(*hip, *ip))
        })
        .map(|(_, _, _, b)| *b)
        .max()
        .unwrap_or(at);
    end.checked_add(1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portspec::parse_all;

    fn specs(publish: &[&str]) -> PortSpecs {
        let publish: Vec<String> = publish.iter().map(|s| s.to_string()).collect();
        parse_all(&publish, &[], false).unwrap()
    }

    const ANY: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

    fn pool() -> Pool {
        Pool {
            default_ip: ANY,
            range: (40000, 40010),
            reserved: vec![],
        }
    }

    fn alloc(publish: &[&str], taken: &Taken) -> Result<Vec<Published>, AllocError> {
        allocate(&specs(publish), taken, &pool())
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
        assert!(got[1].dual, "no address named: both families");
    }

    #[test]
    fn the_search_jumps_only_past_holders_of_its_own_protocol() {
        // udp holds 40000-40005 and tcp only 40000: the first free tcp port is 40001
        let mut t = Taken::default();
        t.add(ANY, "udp", 40000, 40005);
        t.add(ANY, "tcp", 40000, 40000);
        let got = alloc(&["80"], &t).unwrap();
        assert_eq!(got[0].host_port, 40001, "{got:?}");
        let got = alloc(&["80/udp"], &t).unwrap();
        assert_eq!(got[0].host_port, 40006, "{got:?}");
    }

    #[test]
    fn consecutive_explicit_bindings_merge_into_one_run_and_only_those() {
        let got = alloc(
            &[
                "8000:80",
                "8001:81",
                "8002-8003:82-83",
                "8004:84",
                "8010:85",
            ],
            &Taken::default(),
        )
        .unwrap();
        let runs: Vec<(u16, u16, u16)> = got
            .iter()
            .map(|p| (p.container_port, p.host_port, p.count))
            .collect();
        assert_eq!(runs, [(80, 8000, 5), (85, 8010, 1)]);
        // a run ends where its host ports end: one past it does not continue it
        let got = alloc(&["8000-8001:80-81", "8003:82"], &Taken::default()).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn a_huge_range_is_one_run_and_clashes_name_the_first_taken_port() {
        let got = alloc(&["1024-65535:1024-65535"], &Taken::default()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].count, 64512);
        let mut taken = Taken::default();
        taken.add(ANY, "tcp", 30000, 30000);
        let e = alloc(&["1024-65535:1024-65535"], &taken).unwrap_err();
        assert_eq!(
            e.0,
            "Bind for 0.0.0.0:30000 failed: port is already allocated"
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
    fn an_ipv6_holder_blocks_a_dual_binding_but_not_an_ipv4_one() {
        let mut taken = Taken::default();
        taken.add("fd00::1".parse().unwrap(), "tcp", 8080, 8080);
        let e = alloc(&["8080:80"], &taken).unwrap_err();
        assert_eq!(
            e.0,
            "Bind for 0.0.0.0:8080 failed: port is already allocated"
        );
        assert!(alloc(&["0.0.0.0:8080:80"], &taken).is_ok());
        // -P gets one port for both families
        let mut taken = Taken::default();
        taken.add("::1".parse().unwrap(), "tcp", 40000, 40000);
        let got = alloc(&["80"], &taken).unwrap();
        assert_eq!(got[0].host_port, 40001);
    }

    #[test]
    fn reserved_ports_are_not_handed_out() {
        let p = Pool {
            reserved: vec![(40000, 40004)],
            ..pool()
        };
        let got = allocate(&specs(&["80"]), &Taken::default(), &p).unwrap();
        assert_eq!(got[0].host_port, 40005);
        assert_eq!(
            reserved_ports("40000-40004,50000\n"),
            vec![(40000, 40004), (50000, 50000)]
        );
        assert_eq!(
            ephemeral_range(None, Some("32768\t60999\n")),
            (32768, 60999)
        );
        assert_eq!(ephemeral_range(Some((1, 2)), Some("3 4")), (1, 2));
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
            -A POSTROUTING -p tcp --dport 99 -j MASQUERADE\n\
            -A Y ! -p tcp -m udp --dport 98 -j DNAT --to-destination 1.2.3.4\n";
        let mut taken = Taken::default();
        taken.add_dnat_rules(save);
        assert!(taken.is_taken(ANY, "tcp", 8080));
        assert!(taken.is_taken("127.0.0.1".parse().unwrap(), "udp", 7005));
        assert!(!taken.is_taken("10.0.0.1".parse().unwrap(), "udp", 7005));
        assert!(taken.is_taken(ANY, "tcp", 83));
        assert!(!taken.is_taken(ANY, "tcp", 99));
        assert!(!taken.is_taken(ANY, "udp", 98));
        // an IPv6 DNAT without -d holds the port on every IPv6 address (and, to be
        // safe, on IPv4 too, as a dual-stack socket on [::] would)
        let mut t6 = Taken::default();
        t6.add_dnat_rules(
            "*nat\n-A B -p tcp -m tcp --dport 8443 -j DNAT --to-destination [fd00::2]:443\n",
        );
        assert!(t6.is_taken("fd00::9".parse().unwrap(), "tcp", 8443));
        assert!(!t6.is_taken("fd00::9".parse().unwrap(), "tcp", 8444));
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

    #[test]
    fn held_runs_merge_only_on_the_same_address_and_protocol() {
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let mut t = Taken::default();
        t.add(a, "tcp", 10, 10);
        t.add(b, "tcp", 11, 11);
        t.add(b, "udp", 12, 12);
        t.add(b, "udp", 14, 14);
        assert!(t.is_taken(a, "tcp", 10));
        assert!(!t.is_taken(a, "tcp", 11), "{t:?}");
        assert!(t.is_taken(b, "tcp", 11));
        assert!(!t.is_taken(b, "tcp", 12), "{t:?}");
        assert!(t.is_taken(b, "udp", 12));
        assert!(!t.is_taken(b, "udp", 13), "{t:?}");
        assert!(t.is_taken(b, "udp", 14));
        // adjacent on the same address and protocol: one run
        t.add(b, "udp", 15, 20);
        assert_eq!(t.clash(b, "udp", 16, 30), Some(16));
        assert_eq!(t.held.len(), 4, "{t:?}");
    }

    #[test]
    fn dnat_rules_labels_and_sockets_hold_their_ports_in_their_family() {
        let lo4: IpAddr = "127.0.0.1".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let mut t = Taken::default();
        t.add_dnat_rules(
            "*nat\n\
             -A DOCKER ! -i docker0 -p tcp -m tcp --dport 9090 -j DNAT --to-destination 172.17.0.2:80\n\
             -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination fd00::2\n\
             -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8081 -j DNAT --to-destination [fd00::3]:80\n\
             COMMIT\n",
        );
        // an IPv4 rule holds its port on IPv4 only; an IPv6 one on every address
        assert!(t.is_taken(lo4, "tcp", 9090));
        assert!(!t.is_taken(lo6, "tcp", 9090), "{t:?}");
        assert!(t.is_taken(lo6, "tcp", 8080), "{t:?}");
        assert!(t.is_taken(lo6, "tcp", 8081), "{t:?}");
        assert!(!t.is_taken(lo4, "udp", 9090));

        let mut t = Taken::default();
        let p = |ip: &str, port: u16, count: u16, dual: bool| Published {
            proto: "tcp".to_string(),
            container_port: 80,
            host_ip: ip.parse().unwrap(),
            host_port: port,
            count,
            dual,
        };
        t.add_published(&[p("127.0.0.1", 7000, 3, false), p("0.0.0.0", 7100, 1, true)]);
        assert!(t.is_taken(lo4, "tcp", 7002));
        assert!(!t.is_taken(lo4, "tcp", 7003));
        assert!(!t.is_taken(lo6, "tcp", 7000));
        // a dual binding holds the IPv6 wildcard too
        assert!(t.is_taken(lo6, "tcp", 7100), "{t:?}");

        let mut t = Taken::default();
        t.add_sockets(&[Socket {
            ip: lo4,
            proto: "udp",
            port: 5353,
        }]);
        assert!(t.is_taken(lo4, "udp", 5353));
        assert!(!t.is_taken(lo4, "tcp", 5353));
    }

    #[test]
    fn an_ephemeral_run_fits_exactly_and_skips_a_held_port_inside_it() {
        // the pool is 40000-40010: eleven ports fit exactly
        let got = alloc(&["80-90"], &Taken::default()).unwrap();
        assert_eq!((got[0].host_port, got[0].count), (40000, 11), "{got:?}");
        // a held port: free ports go around it, an explicit range over it is refused
        let mut t = Taken::default();
        t.add(ANY, "tcp", 40002, 40002);
        let got = alloc(&["80-82"], &t).unwrap();
        let ports: Vec<(u16, u16)> = got.iter().map(|p| (p.host_port, p.count)).collect();
        assert_eq!(ports, [(40000, 2), (40003, 1)]);
        assert!(alloc(&["40000-40002:80-82"], &t).is_err());
        assert!(alloc(&["40003-40005:80-82"], &t).is_ok());
    }
}
