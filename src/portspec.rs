//! Docker's port grammar, exactly: `-p/--publish` (short and long form) and `--expose`.
//!
//! Pure: strings in, values or Docker's error texts out, with no system access. The rules
//! follow the current docker CLI (v29 line): `-p` values go through docker/cli's
//! `convertToStandardNotation` and go-connections v0.8's `ParsePortSpec`; `--expose`
//! values through moby's `network.ParsePortRange`. Error texts are Docker's, word for
//! word, because scripts match on them. The two grammars differ on purpose (Docker's):
//! `-p +80` is accepted, `--expose +80` is not; `--expose` takes any protocol name.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// A container port: number and protocol, printed as Docker prints it (`80/tcp`).
///
/// `--expose` accepts any protocol text (lower-cased), so the protocol is a string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub number: u16,
    pub proto: String,
}

impl Port {
    pub fn new(number: u16, proto: &str) -> Self {
        Port {
            number,
            proto: proto.to_string(),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.proto)
    }
}

/// The host side of a published port, as Docker's parser leaves it: an empty `host_ip`
/// means every address (the default host IP), an empty `host_port` an ephemeral port,
/// and `"8000-8010"` a host range offered to one container port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Binding {
    pub host_ip: String,
    pub host_port: String,
}

/// One container port and one of its host bindings, or a run of them: `count`
/// consecutive container ports from `port`, each bound like the first (a host port,
/// when given, is the first of as many consecutive host ports). A range stays one
/// value from the parser to the rules, so its cost does not grow with its length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mapping {
    pub port: Port,
    /// 1 for one port; more for `-p 8000-8999:8000-8999` or `-p 8000-8999`.
    pub count: u32,
    pub binding: Binding,
}

impl Mapping {
    /// One container port and its binding.
    pub fn one(port: Port, binding: Binding) -> Self {
        Mapping {
            port,
            count: 1,
            binding,
        }
    }

    /// The last container port of the run.
    pub fn last_port(&self) -> u16 {
        (u32::from(self.port.number) + self.count - 1) as u16
    }

    /// The run port by port, as Docker's parser gives it.
    pub fn ports(&self) -> impl Iterator<Item = Mapping> + '_ {
        let first_host: Option<u32> = match self.count {
            1 => None,
            _ => self.binding.host_port.parse().ok(),
        };
        (0..self.count).map(move |i| Mapping {
            port: Port::new((u32::from(self.port.number) + i) as u16, &self.port.proto),
            count: 1,
            binding: Binding {
                host_ip: self.binding.host_ip.clone(),
                host_port: match first_host {
                    Some(h) => (h + i).to_string(),
                    None => self.binding.host_port.clone(),
                },
            },
        })
    }
}

/// Container ports as runs of consecutive ports per protocol: what `exposed` holds.
/// Runs are kept apart and merged on insert, so a range of any length is one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposed {
    /// (protocol, first) -> last; no two runs of a protocol overlap or touch
    runs: BTreeMap<(String, u16), u16>,
}

impl Exposed {
    /// Add `first..=last` of `proto`, merged with the runs it overlaps or touches.
    pub fn insert(&mut self, proto: &str, first: u16, last: u16) {
        let (mut lo, mut hi) = (first, last);
        let key = (proto.to_string(), last.saturating_add(1));
        let merged: Vec<(String, u16)> = self
            .runs
            .range(..=key)
            .rev()
            .take_while(|((p, _), l)| p == proto && u32::from(**l) + 1 >= u32::from(first))
            .map(|(k, _)| k.clone())
            .collect();
        for k in merged {
            let l = self.runs.remove(&k).unwrap_or(k.1);
            lo = lo.min(k.1);
            hi = hi.max(l);
        }
        self.runs.insert((proto.to_string(), lo), hi);
    }

    /// The runs, by protocol, then first port.
    pub fn runs(&self) -> impl Iterator<Item = (&str, u16, u16)> + '_ {
        self.runs.iter().map(|((p, a), b)| (p.as_str(), *a, *b))
    }

    /// The runs of `proto` that share a port with `a..=b`, in order.
    fn overlapping(&self, proto: &str, a: u16, b: u16) -> impl Iterator<Item = (u16, u16)> + '_ {
        let start = self
            .runs
            .range(..=(proto.to_string(), a))
            .next_back()
            .filter(|((p, _), last)| p == proto && **last >= a)
            .map_or(a, |((_, first), _)| *first);
        self.runs
            .range((proto.to_string(), start)..=(proto.to_string(), b))
            .map(|((_, first), last)| (*first, *last))
    }

    /// Every port, sorted as Docker sorts them (number, then protocol).
    pub fn ports(&self) -> Vec<Port> {
        let mut out: Vec<Port> = self
            .runs()
            .flat_map(|(p, a, b)| (a..=b).map(move |n| Port::new(n, p)))
            .collect();
        out.sort();
        out
    }

    /// Every port as the engine's `ExposedPorts` key (`80/tcp`), runs one after another.
    pub fn keys(&self) -> Vec<String> {
        self.runs()
            .flat_map(|(p, a, b)| (a..=b).map(move |n| format!("{n}/{p}")))
            .collect()
    }
}

/// A port specification Docker would refuse, with Docker's message (without the
/// `docker: ` prefix and help hint that the caller adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

fn err<T>(msg: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(msg.into()))
}

/// Everything a `run` command line says about ports, resolved as Docker resolves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSpecs {
    /// Every container port exposed (published ports included), as runs.
    pub exposed: Exposed,
    /// One entry per run of container ports per binding, sorted by container port
    /// number, protocol, host IP and host port. A run that shares a port with another
    /// binding of its protocol is split into single ports, so each port's bindings are
    /// in Docker's order (Docker has one entry per port). Duplicates are kept, as Docker
    /// keeps them.
    pub bindings: Vec<Mapping>,
}

/// Parse all `-p` and `--expose` values of one command line, in Docker's order: every
/// `-p` long form is converted first, then each `-p` is parsed, then each `--expose`.
/// With `publish_all` (`-P`), every exposed port without a binding gets an ephemeral one
/// on every address (the image's own EXPOSE ports are added by the caller, which knows
/// the image).
pub fn parse_all(
    publish: &[String],
    expose: &[String],
    publish_all: bool,
) -> Result<PortSpecs, SpecError> {
    let converted = publish
        .iter()
        .map(|p| to_standard_notation(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut specs = PortSpecs::default();
    for raw in &converted {
        let m = parse_port_run(raw)?;
        specs
            .exposed
            .insert(&m.port.proto, m.port.number, m.last_port());
        specs.bindings.push(m);
    }
    for raw in expose {
        let (proto, first, last) = parse_expose_run(raw)
            .map_err(|e| SpecError(format!("invalid range format for --expose: {e}")))?;
        specs.exposed.insert(&proto, first, last);
    }
    if publish_all {
        specs.publish_all();
    }
    specs.normalize();
    specs.validate()?;
    Ok(specs)
}

impl PortSpecs {
    /// `-P`: every exposed port that has no binding gets an ephemeral one.
    pub fn publish_all(&mut self) {
        let mut bound = Exposed::default();
        for m in &self.bindings {
            bound.insert(&m.port.proto, m.port.number, m.last_port());
        }
        let mut free: Vec<(String, u16, u32)> = Vec::new();
        for (proto, a, b) in self.exposed.runs() {
            let mut next = u32::from(a);
            for (ba, bb) in bound.overlapping(proto, a, b) {
                if u32::from(ba) > next {
                    free.push((proto.to_string(), next as u16, u32::from(ba) - next));
                }
                next = next.max(u32::from(bb) + 1);
            }
            if next <= u32::from(b) {
                free.push((proto.to_string(), next as u16, u32::from(b) + 1 - next));
            }
        }
        for (proto, first, count) in free {
            self.bindings.push(Mapping {
                port: Port::new(first, &proto),
                count,
                binding: Binding::default(),
            });
        }
        self.normalize();
    }

    /// Split the runs that share a container port with another binding of their
    /// protocol into single ports, then sort: the order Docker's one-entry-per-port list
    /// has.
    fn normalize(&mut self) {
        let mut order: Vec<usize> = (0..self.bindings.len()).collect();
        let b = &self.bindings;
        order.sort_by(|&i, &j| {
            (&b[i].port.proto, b[i].port.number).cmp(&(&b[j].port.proto, b[j].port.number))
        });
        let mut split = vec![false; b.len()];
        let mut k = 0;
        while k < order.len() {
            let proto = &b[order[k]].port.proto;
            let mut end = b[order[k]].last_port();
            let mut j = k + 1;
            while j < order.len()
                && &b[order[j]].port.proto == proto
                && b[order[j]].port.number <= end
            {
                end = end.max(b[order[j]].last_port());
                j += 1;
            }
            if j - k > 1 {
                for &x in &order[k..j] {
                    split[x] = true;
                }
            }
            k = j;
        }
        if split.iter().zip(b).any(|(s, m)| *s && m.count > 1) {
            let bindings = std::mem::take(&mut self.bindings);
            for (m, s) in bindings.into_iter().zip(split) {
                if s && m.count > 1 {
                    self.bindings.extend(m.ports());
                } else {
                    self.bindings.push(m);
                }
            }
        }
        self.bindings.sort_by(in_docker_order);
    }

    /// Every binding port by port, as Docker's parser lists them.
    pub fn each_binding(&self) -> impl Iterator<Item = Mapping> + '_ {
        let mut all: Vec<Mapping> = self.bindings.iter().flat_map(Mapping::ports).collect();
        all.sort_by(in_docker_order);
        all.into_iter()
    }

    /// The engine's own check on published ports: port 0 cannot be published.
    fn validate(&self) -> Result<(), SpecError> {
        match self.bindings.iter().find(|m| m.port.number == 0) {
            Some(m) => err(format!("invalid port specification: \"{}\"", m.port)),
            None => Ok(()),
        }
    }
}

/// Docker's order of bindings: container port number, protocol, host IP, host port.
fn in_docker_order(a: &Mapping, b: &Mapping) -> std::cmp::Ordering {
    (&a.port, &a.binding).cmp(&(&b.port, &b.binding))
}

/// docker/cli's `convertToStandardNotation`: a value with any `=` is the long form
/// `published=8080,target=80,protocol=udp`, turned into `8080:80/udp`. Other keys
/// (`mode`, `host_ip`, ...) are accepted and ignored, as the docker CLI does.
pub fn to_standard_notation(publish: &str) -> Result<String, SpecError> {
    if !publish.contains('=') {
        return Ok(publish.to_string());
    }
    let (mut published, mut target, mut protocol) = ("", "", "tcp");
    for param in publish.split(',') {
        match param.split_once('=') {
            Some((k, v)) if !k.is_empty() => match k {
                "published" => published = v,
                "target" => target = v,
                "protocol" => protocol = v,
                _ => {}
            },
            _ => {
                return err(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                ));
            }
        }
    }
    Ok(format!("{published}:{target}/{protocol}"))
}

/// A mapping written back as a `-p` value (`[IP:][HOST:]PORT/PROTO`, IPv6 in brackets);
/// `parse_port_spec` reads it back to the same mapping.
pub fn render(m: &Mapping) -> String {
    let port = match m.count {
        1 => m.port.to_string(),
        _ => format!("{}-{}/{}", m.port.number, m.last_port(), m.port.proto),
    };
    let host_port = match (m.count, m.binding.host_port.parse::<u32>()) {
        (1, _) | (_, Err(_)) => m.binding.host_port.clone(),
        (n, Ok(h)) => format!("{h}-{}", h + n - 1),
    };
    match (m.binding.host_ip.as_str(), host_port.as_str()) {
        ("", "") => port,
        ("", host) => format!("{host}:{port}"),
        (ip, host) if ip.contains(':') => format!("[{ip}]:{host}:{port}"),
        (ip, host) => format!("{ip}:{host}:{port}"),
    }
}

/// go-connections' `ParsePortSpec`: `[ip:][hostPort:]containerPort[/proto]`, where each
/// port may be a range `a-b` and ip may be bracketed (`[::1]`) or bare IPv6 (`::1:80:80`).
pub fn parse_port_spec(raw: &str) -> Result<Vec<Mapping>, SpecError> {
    Ok(parse_port_run(raw)?.ports().collect())
}

/// [`parse_port_spec`] with a range kept as one [`Mapping`] run.
pub fn parse_port_run(raw: &str) -> Result<Mapping, SpecError> {
    let (ip, host_port, container_port) = split_parts(raw);
    let (proto, container_port) = split_proto_port(container_port);
    if container_port.is_empty() {
        return err(format!("no port specified: {raw}<empty>"));
    }
    let proto = proto.to_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return err(format!("invalid proto: {proto}"));
    }

    let mut ip = ip.to_string();
    if ip.starts_with('[') {
        let with_port = format!("{ip}:");
        ip = match split_host_port(&with_port) {
            Ok(host) => host.to_string(),
            Err(why) => {
                return err(format!(
                    "invalid IP address {ip}: address {with_port}: {why}"
                ));
            }
        };
    }
    if !ip.is_empty() {
        match ip.parse::<IpAddr>() {
            Ok(addr) => ip = addr.to_string(),
            Err(_) => return err(format!("invalid IP address: {ip}")),
        }
    }

    let Some((start, end)) = nat_port_range(container_port) else {
        return err(format!("invalid containerPort: {container_port}"));
    };
    let mut host = None;
    if !host_port.is_empty() {
        let Some((hstart, hend)) = nat_port_range(host_port) else {
            return err(format!("invalid hostPort: {host_port}"));
        };
        // A host range for one container port is a pool to allocate from; otherwise the
        // two ranges must have the same length.
        if end - start != hend - hstart && end != start {
            return err(format!(
                "invalid ranges specified for container and host Ports: {container_port} and {host_port}"
            ));
        }
        host = Some((hstart, hend));
    }

    let count = end - start + 1;
    let host_port = match host {
        None => String::new(),
        Some((hstart, hend)) if count == 1 && hstart != hend => format!("{hstart}-{hend}"),
        Some((hstart, _)) => hstart.to_string(),
    };
    Ok(Mapping {
        port: Port::new(start as u16, &proto),
        count,
        binding: Binding {
            host_ip: ip,
            host_port,
        },
    })
}

/// moby's `network.ParsePortRange` for `--expose`: `port[-end][/proto]`. The protocol is
/// lower-cased but not checked; errors carry strconv's reason (`invalid syntax`, ...).
pub fn parse_expose(raw: &str) -> Result<Vec<Port>, SpecError> {
    let (proto, first, last) = parse_expose_run(raw)?;
    Ok((first..=last).map(|n| Port::new(n, &proto)).collect())
}

/// [`parse_expose`] as one run: protocol, first and last port.
pub fn parse_expose_run(raw: &str) -> Result<(String, u16, u16), SpecError> {
    if raw.is_empty() {
        return err("invalid port range: value is empty");
    }
    let (range, proto) = raw.split_once('/').unwrap_or((raw, ""));
    let proto = if proto.is_empty() {
        "tcp".to_string()
    } else {
        proto.to_lowercase()
    };
    let (start, end) = match range.split_once('-') {
        Some((s, e)) => (s, Some(e)),
        None => (range, None),
    };
    let first = parse_uint16(start)
        .map_err(|why| SpecError(format!("invalid start port '{start}': {why}")))?;
    let last = match end {
        Some(end) if end != start => {
            let last = parse_uint16(end)
                .map_err(|why| SpecError(format!("invalid end port '{end}': {why}")))?;
            if last < first {
                return err(format!("invalid port range: {raw}"));
            }
            last
        }
        _ => first,
    };
    Ok((proto, first, last))
}

/// go-connections' `splitParts`: the last field is the container port, the one before
/// it the host port, and all earlier fields (joined by `:`) the IP.
fn split_parts(raw: &str) -> (&str, &str, &str) {
    let Some(last) = raw.rfind(':') else {
        return ("", "", raw);
    };
    let container = &raw[last + 1..];
    match raw[..last].rfind(':') {
        None => ("", &raw[..last], container),
        Some(prev) => (&raw[..prev], &raw[prev + 1..last], container),
    }
}

/// go-connections' `SplitProtoPort`: `port[/proto]`, proto defaulting to tcp; both
/// empty when there is no port.
fn split_proto_port(raw: &str) -> (&str, &str) {
    let (port, proto) = raw.split_once('/').unwrap_or((raw, ""));
    if port.is_empty() {
        return ("", "");
    }
    (if proto.is_empty() { "tcp" } else { proto }, port)
}

/// Go's `net.SplitHostPort`, host part only, with Go's reasons for failure.
fn split_host_port(hostport: &str) -> Result<&str, &'static str> {
    const MISSING_PORT: &str = "missing port in address";
    const TOO_MANY_COLONS: &str = "too many colons in address";
    let Some(i) = hostport.rfind(':') else {
        return Err(MISSING_PORT);
    };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return Err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return Err(MISSING_PORT);
        } else if end + 1 != i {
            return Err(if hostport.as_bytes()[end + 1] == b':' {
                TOO_MANY_COLONS
            } else {
                MISSING_PORT
            });
        }
        host = &hostport[1..end];
        (j, k) = (1, end + 1);
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return Err(TOO_MANY_COLONS);
        }
        (j, k) = (0, 0);
    }
    if hostport[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok(host)
}

/// go-connections' `parsePortRange` for `-p`: `a` or `a-b`, each a signed decimal in
/// 0..=65535 (so `+80` is 80). Docker drops the reason, so only success matters here.
fn nat_port_range(ports: &str) -> Option<(u32, u32)> {
    if ports.is_empty() {
        return None;
    }
    let (start, end) = match ports.split_once('-') {
        Some((s, e)) => (s, Some(e)),
        None => (ports, None),
    };
    let first = nat_port_number(start)?;
    match end {
        Some(end) if end != start => {
            let last = nat_port_number(end)?;
            (last >= first).then_some((first, last))
        }
        _ => Some((first, first)),
    }
}

/// `strconv.ParseInt(s, 10, 0)` then a 0..=65535 check.
fn nat_port_number(raw: &str) -> Option<u32> {
    // Rust's i64 parse takes what ParseInt(s, 10, 0) takes: digits with one optional sign
    let value: i64 = raw.parse().ok()?;
    (0..=65535).contains(&value).then_some(value as u32)
}

/// moby's `parsePortNumber`: `strconv.ParseUint(s, 10, 16)` with its reason unwrapped.
/// Like Go, it reads left to right and reports whichever problem it meets first.
fn parse_uint16(raw: &str) -> Result<u16, &'static str> {
    if raw.is_empty() {
        return Err("value is empty");
    }
    let mut n: u32 = 0;
    for b in raw.bytes() {
        if !b.is_ascii_digit() {
            return Err("invalid syntax");
        }
        n = n * 10 + u32::from(b - b'0');
        if n > u32::from(u16::MAX) {
            return Err("value out of range");
        }
    }
    Ok(n as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hostIP|hostPort|port/proto` joined by `;`, the shape of the conformance tables.
    fn show(mappings: &[Mapping]) -> String {
        mappings
            .iter()
            .map(|m| format!("{}|{}|{}", m.binding.host_ip, m.binding.host_port, m.port))
            .collect::<Vec<_>>()
            .join(";")
    }

    fn publish(raw: &str) -> Result<String, String> {
        let converted = to_standard_notation(raw).map_err(|e| e.0)?;
        parse_port_spec(&converted)
            .map(|m| show(&m))
            .map_err(|e| e.0)
    }

    fn expose(raw: &str) -> Result<String, String> {
        parse_expose(raw)
            .map(|ports| {
                ports
                    .iter()
                    .map(Port::to_string)
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .map_err(|e| e.0)
    }

    #[test]
    fn split_parts_takes_the_last_two_fields_as_ports() {
        for (raw, want) in [
            ("80", ("", "", "80")),
            ("8080:80", ("", "8080", "80")),
            ("1.2.3.4:8080:80", ("1.2.3.4", "8080", "80")),
            ("::1:8080:80", ("::1", "8080", "80")),
            ("[::1]:8080:80", ("[::1]", "8080", "80")),
            (":", ("", "", "")),
        ] {
            assert_eq!(split_parts(raw), want, "{raw}");
        }
    }

    #[test]
    fn split_host_port_gives_go_reasons() {
        for (raw, want) in [
            ("[::1]:", Ok("::1")),
            ("[]:", Ok("")),
            ("[::1:", Err("missing ']' in address")),
            ("[::1]x:", Err("missing port in address")),
            ("[::1]:1:", Err("too many colons in address")),
            ("[a[b]:", Err("unexpected '[' in address")),
            ("[ab]]:", Err("missing port in address")),
            // nothing after the bracket (berth always passes `IP:`; Go's own reason)
            ("[::1]", Err("missing port in address")),
        ] {
            assert_eq!(split_host_port(raw), want, "{raw}");
        }
    }

    #[test]
    fn publish_short_form() {
        for (raw, want) in [
            ("80", "||80/tcp"),
            ("8080:80", "|8080|80/tcp"),
            ("127.0.0.1:8080:80", "127.0.0.1|8080|80/tcp"),
            ("127.0.0.1::80", "127.0.0.1||80/tcp"),
            ("[::1]:8080:80", "::1|8080|80/tcp"),
            ("[2001:DB8::1]:8080:80", "2001:db8::1|8080|80/tcp"),
            ("[1.2.3.4]:80:80", "1.2.3.4|80|80/tcp"),
            ("[]:80:80", "|80|80/tcp"),
            ("8000-8001:80-81", "|8000|80/tcp;|8001|81/tcp"),
            ("8000-8010:80", "|8000-8010|80/tcp"),
            ("80-80:8080/tcp", "|80|8080/tcp"),
            ("+8080:+80", "|8080|80/tcp"),
            ("80/", "||80/tcp"),
            ("80/UDP", "||80/udp"),
            ("80/sctp", "||80/sctp"),
            ("0/udp", "||0/udp"),
        ] {
            assert_eq!(publish(raw), Ok(want.to_string()), "{raw}");
        }
    }

    #[test]
    fn publish_errors_are_dockers() {
        for (raw, want) in [
            ("", "no port specified: <empty>"),
            (":", "no port specified: :<empty>"),
            ("80/foo", "invalid proto: foo"),
            ("80/tcp/x", "invalid proto: tcp/x"),
            ("80/FOO", "invalid proto: foo"),
            ("-1", "invalid containerPort: -1"),
            ("-0", "invalid containerPort: -0"),
            ("90-80", "invalid containerPort: 90-80"),
            ("65536", "invalid containerPort: 65536"),
            ("0x50", "invalid containerPort: 0x50"),
            ("1_000", "invalid containerPort: 1_000"),
            ("1.2.3.4:80", "invalid hostPort: 1.2.3.4"),
            (":::80", "invalid IP address: :"),
            ("fe80::1%eth0:80:80", "invalid IP address: fe80::1%eth0"),
            ("010.0.0.1:80:80", "invalid IP address: 010.0.0.1"),
            (
                "[::1]:80",
                "invalid IP address [:: address [::: missing ']' in address",
            ),
            (
                "[::1]x:80:80",
                "invalid IP address [::1]x: address [::1]x:: missing port in address",
            ),
            (
                "80:90-91",
                "invalid ranges specified for container and host Ports: 90-91 and 80",
            ),
            (
                "8000-8002:80-81",
                "invalid ranges specified for container and host Ports: 80-81 and 8000-8002",
            ),
        ] {
            assert_eq!(publish(raw), Err(want.to_string()), "{raw:?}");
        }
    }

    #[test]
    fn publish_long_form() {
        for (raw, want) in [
            ("target=80", Ok("||80/tcp")),
            ("published=8080,target=80,protocol=UDP", Ok("|8080|80/udp")),
            ("published=8080,target=80,protocol=", Ok("|8080|80/tcp")),
            (
                "published=8080,target=80,host_ip=127.0.0.1,mode=host",
                Ok("|8080|80/tcp"),
            ),
            ("published=8080", Err("no port specified: 8080:/tcp<empty>")),
            ("a=b", Err("no port specified: :/tcp<empty>")),
            ("target=80=1", Err("invalid containerPort: 80=1")),
            (
                "=80",
                Err("invalid publish opts format (should be name=value but got '=80')"),
            ),
            (
                "published=8080,target=80,",
                Err("invalid publish opts format (should be name=value but got '')"),
            ),
        ] {
            assert_eq!(
                publish(raw),
                want.map(str::to_string).map_err(str::to_string),
                "{raw}"
            );
        }
    }

    #[test]
    fn expose_ranges_and_errors() {
        for (raw, want) in [
            ("80", Ok("80/tcp")),
            ("80/", Ok("80/tcp")),
            ("80/UDP", Ok("80/udp")),
            ("80/foo", Ok("80/foo")),
            ("0", Ok("0/tcp")),
            ("080-80", Ok("80/tcp")),
            ("80-81", Ok("80/tcp;81/tcp")),
            ("65535", Ok("65535/tcp")),
            ("65534-65535/udp", Ok("65534/udp;65535/udp")),
            ("", Err("invalid port range: value is empty")),
            ("/udp", Err("invalid start port '': value is empty")),
            ("-80", Err("invalid start port '': value is empty")),
            ("80-", Err("invalid end port '': value is empty")),
            ("81-80/udp", Err("invalid port range: 81-80/udp")),
            (
                "65536",
                Err("invalid start port '65536': value out of range"),
            ),
            (
                "99999x",
                Err("invalid start port '99999x': value out of range"),
            ),
            (
                "80-65536",
                Err("invalid end port '65536': value out of range"),
            ),
            ("+80", Err("invalid start port '+80': invalid syntax")),
            ("80:90", Err("invalid start port '80:90': invalid syntax")),
            ("80-abc", Err("invalid end port 'abc': invalid syntax")),
        ] {
            assert_eq!(
                expose(raw),
                want.map(str::to_string).map_err(str::to_string),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn parse_all_merges_sorts_and_checks_port_zero() {
        let specs = parse_all(
            &[
                "127.0.0.1:9000:90".into(),
                "8080:80".into(),
                "0.0.0.0:8081:80".into(),
            ],
            &["443".into(), "80".into()],
            false,
        )
        .unwrap();
        let exposed: Vec<String> = specs.exposed.ports().iter().map(Port::to_string).collect();
        assert_eq!(exposed, ["80/tcp", "90/tcp", "443/tcp"]);
        assert_eq!(
            show(&specs.bindings),
            "|8080|80/tcp;0.0.0.0|8081|80/tcp;127.0.0.1|9000|90/tcp"
        );

        let all = parse_all(&["8080:80".into()], &["443".into()], true).unwrap();
        assert_eq!(show(&all.bindings), "|8080|80/tcp;||443/tcp");

        let zero = parse_all(&["0/udp".into()], &[], false).unwrap_err();
        assert_eq!(zero.0, "invalid port specification: \"0/udp\"");
        // --expose 0 alone publishes nothing, so the engine accepts it
        assert!(parse_all(&[], &["0".into()], false).is_ok());
    }

    fn runs(specs: &PortSpecs) -> String {
        specs
            .bindings
            .iter()
            .map(|m| format!("{}|{}", m.count, render(m)))
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn render_brackets_ipv6_and_reads_back() {
        for (spec, shown) in [
            ("[::1]:8000:80", "[::1]:8000:80/tcp"),
            ("[::]::80/udp", "[::]::80/udp"),
            (
                "[2001:db8::1]:8000-8001:80-81",
                "[2001:db8::1]:8000-8001:80-81/tcp",
            ),
            ("127.0.0.1::80", "127.0.0.1::80/tcp"),
            ("8000-8010:80", "8000-8010:80/tcp"),
        ] {
            let m = parse_port_run(spec).unwrap();
            assert_eq!(render(&m), shown, "{spec}");
            assert_eq!(parse_port_run(&render(&m)).unwrap(), m, "{spec}");
        }
    }

    #[test]
    fn a_range_stays_one_run_from_the_parser_on() {
        let specs = parse_all(
            &[
                "1024-65535:1024-65535/udp".into(),
                "127.0.0.1::80-89".into(),
            ],
            &["7000-7999".into()],
            false,
        )
        .unwrap();
        assert_eq!(
            runs(&specs),
            "10|127.0.0.1::80-89/tcp;64512|1024-65535:1024-65535/udp"
        );
        let exposed: Vec<(&str, u16, u16)> = specs.exposed.runs().collect();
        assert_eq!(
            exposed,
            [("tcp", 80, 89), ("tcp", 7000, 7999), ("udp", 1024, 65535)]
        );
        assert_eq!(specs.exposed.keys().len(), 10 + 1000 + 64512);
        // port by port, it is what Docker's parser gives
        let each: Vec<Mapping> = specs.each_binding().collect();
        assert_eq!(each.len(), 10 + 64512);
        assert_eq!(render(&each[0]), "127.0.0.1::80/tcp");
        assert_eq!(render(&each[10]), "1024:1024/udp");
        assert_eq!(render(&each[10 + 64511]), "65535:65535/udp");
    }

    #[test]
    fn a_run_sharing_a_port_with_another_binding_is_split_into_ports() {
        let specs = parse_all(
            &[
                "8000-8002:80-82".into(),
                "9000:81".into(),
                "90-91".into(),
                "81/udp".into(),
            ],
            &[],
            false,
        )
        .unwrap();
        // 80-82 shares 81 with 9000:81: port by port, in Docker's order; 90-91 and the
        // udp port share nothing and stay runs
        assert_eq!(
            runs(&specs),
            "1|8000:80/tcp;1|8001:81/tcp;1|9000:81/tcp;1|81/udp;1|8002:82/tcp;2|90-91/tcp"
        );
    }

    #[test]
    fn publish_all_binds_the_exposed_ports_no_binding_has_as_runs() {
        let specs = parse_all(
            &["8005-8006:5-6".into(), "9/udp".into()],
            &["1-10".into(), "9/udp".into(), "20/udp".into()],
            true,
        )
        .unwrap();
        assert_eq!(
            runs(&specs),
            "4|1-4/tcp;2|8005-8006:5-6/tcp;4|7-10/tcp;1|9/udp;1|20/udp"
        );
        // an exposed run inside a binding's run adds nothing
        let inside = parse_all(&["1-10:1-10".into()], &["3-4".into()], true).unwrap();
        assert_eq!(runs(&inside), "10|1-10:1-10/tcp");
        // a binding's run that starts before the exposed one
        let before = parse_all(&["1-6:1-6".into()], &["5-10".into()], true).unwrap();
        assert_eq!(runs(&before), "6|1-6:1-6/tcp;4|7-10/tcp");
    }

    #[test]
    fn exposed_runs_merge_when_they_overlap_or_touch_and_only_then() {
        let mut e = Exposed::default();
        e.insert("tcp", 10, 20);
        e.insert("tcp", 30, 40);
        e.insert("udp", 21, 29);
        e.insert("tcp", 22, 28);
        assert_eq!(
            e.runs().collect::<Vec<_>>(),
            [
                ("tcp", 10, 20),
                ("tcp", 22, 28),
                ("tcp", 30, 40),
                ("udp", 21, 29)
            ]
        );
        e.insert("tcp", 21, 21);
        assert_eq!(
            e.runs().collect::<Vec<_>>(),
            [("tcp", 10, 28), ("tcp", 30, 40), ("udp", 21, 29)]
        );
        e.insert("tcp", 29, 29);
        e.insert("tcp", 65535, 65535);
        e.insert("tcp", 0, 5);
        assert_eq!(
            e.runs().collect::<Vec<_>>(),
            [
                ("tcp", 0, 5),
                ("tcp", 10, 40),
                ("tcp", 65535, 65535),
                ("udp", 21, 29)
            ]
        );
        e.insert("tcp", 1, 65534);
        assert_eq!(
            e.runs().collect::<Vec<_>>(),
            [("tcp", 0, 65535), ("udp", 21, 29)]
        );
        assert_eq!(e.ports().len(), 65536 + 9);
        assert_eq!(e.ports()[0], Port::new(0, "tcp"));
        assert_eq!(e.ports()[22].to_string(), "21/udp");
    }

    #[test]
    fn long_form_errors_come_before_short_form_errors() {
        let e = parse_all(&["bad".into(), "=1".into()], &[], false).unwrap_err();
        assert_eq!(
            e.0,
            "invalid publish opts format (should be name=value but got '=1')"
        );
    }
}
