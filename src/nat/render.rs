//! Showing the nat table: iptables-save text -> the exact text of `iptables -t nat -nL`
//! (with `-v`, `-x`, `--line-numbers`, one chain), a table view annotated with
//! container names, and a JSON document.
//!
//! Pure: text in, bytes out. The `-nL` text follows iptables 1.8.x's printing code
//! (print_header, print_rule_details, and each extension's `print`) byte for byte, as
//! the golden tests in `tests/nat_ls_golden.rs` prove against the real binaries. The
//! listing is built by `Lister` one save line at a time, so that the caller can render
//! while iptables-save is still writing.

use std::collections::HashMap;

use serde::Serialize;

use super::save::{
    self, BUILTIN_CHAINS, Counters, Line, Module, Opt, Rule, Table, Target, chain_order,
};

/// The flags of `iptables -L` that change its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListFlags {
    /// `-v`: counters and interfaces.
    pub verbose: bool,
    /// `-x`: exact counters (only with `-v`, as in iptables).
    pub exact: bool,
    /// `--line-numbers`
    pub line_numbers: bool,
}

/// Which chains to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainFilter {
    /// Only this chain (`iptables -L CHAIN`).
    pub chain: Option<String>,
    /// Only berth's chains (those of this layout: the configured prefix).
    pub berth_only: Option<crate::firewall::desired::Layout>,
}

impl ChainFilter {
    fn wants(&self, name: &str) -> bool {
        if let Some(only) = &self.chain
            && only != name
        {
            return false;
        }
        self.berth_only.as_ref().is_none_or(|l| l.owns(name))
    }
}

/// The chain asked for is not in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchChain {
    pub chain: String,
    /// The generator from iptables-save's header, for iptables' own message.
    pub generator: Option<String>,
}

impl NoSuchChain {
    /// What `iptables -t nat -nL CHAIN` prints on stderr (it then exits 1): 1.8.9's
    /// nf_tables variant calls a missing chain "incompatible", legacy says it plainly.
    pub fn iptables_message(&self) -> String {
        let generator = self.generator.as_deref().unwrap_or("");
        if generator.contains("(nf_tables)") {
            let version = generator
                .split_whitespace()
                .find(|w| w.starts_with('v'))
                .unwrap_or("v1.8.9");
            format!(
                "iptables {version} (nf_tables): chain `{}' in table `nat' is incompatible, use 'nft' tool.",
                self.chain
            )
        } else {
            "iptables: No chain/target/match by that name.".to_string()
        }
    }
}

/// Builds `iptables -t nat -nL` text from iptables-save output, line by line.
pub struct Lister {
    flags: ListFlags,
    filter: ChainFilter,
    chains: Vec<ChainOut>,
    index: HashMap<String, usize>,
    /// Jumps and gotos per target name, counted over every rule of the table.
    refs: HashMap<String, u32>,
    in_nat: bool,
    generator: Option<String>,
    /// The chain of the previous rule: rules come grouped by chain.
    last: Option<usize>,
    scratch: Vec<u8>,
}

struct ChainOut {
    name: String,
    policy: Option<String>,
    counters: Counters,
    rules: usize,
    body: Vec<u8>,
}

impl Lister {
    pub fn new(flags: ListFlags, filter: ChainFilter) -> Self {
        Lister {
            flags,
            filter,
            chains: Vec::new(),
            index: HashMap::new(),
            refs: HashMap::new(),
            in_nat: true,
            generator: None,
            last: None,
            scratch: Vec::new(),
        }
    }

    /// One line of iptables-save output, as bytes (without `\n`). Bytes that are not
    /// UTF-8 (a comment can hold any) come out unchanged.
    pub fn feed_bytes(&mut self, line: &[u8]) {
        match std::str::from_utf8(line) {
            Ok(text) => self.feed(text),
            Err(_) => {
                let escaped = escape_invalid_utf8(line);
                self.feed_inner(&escaped, true);
            }
        }
    }

    /// One line of iptables-save output (without `\n`).
    pub fn feed(&mut self, line: &str) {
        self.feed_inner(line, false);
    }

    fn feed_inner(&mut self, line: &str, escaped: bool) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // rules are nearly every line: parsed straight, without the `Line` wrapper
        // (a rule is large, and every move of it is a copy)
        if self.in_nat
            && matches!(line.as_bytes().first(), Some(b'[' | b'-'))
            && let Some(rule) = save::parse_rule(line)
        {
            self.add_rule(&rule, escaped);
            return;
        }
        match save::parse_line(line) {
            Line::Table(name) => self.in_nat = name == "nat",
            Line::Comment(c) if self.generator.is_none() => {
                self.generator = save::generator(c).map(str::to_string);
            }
            Line::Chain(decl) if self.in_nat => {
                let i = self.chain_index(decl.name);
                let chain = &mut self.chains[i];
                chain.policy = decl.policy.map(str::to_string);
                chain.counters = decl.counters;
            }
            Line::Rule(rule) if self.in_nat => self.add_rule(&rule, escaped),
            _ => {}
        }
    }

    fn add_rule(&mut self, rule: &Rule<'_>, escaped: bool) {
        let i = match self.last {
            Some(i) if self.chains[i].name == rule.chain => i,
            _ => self.chain_index(rule.chain),
        };
        self.last = Some(i);
        if let Some(to) = rule.jump() {
            match self.refs.get_mut(to) {
                Some(n) => *n += 1,
                None => {
                    self.refs.insert(to.to_string(), 1);
                }
            }
        }
        let chain = &mut self.chains[i];
        chain.rules += 1;
        if self.filter.wants(&chain.name) {
            if escaped {
                self.scratch.clear();
                write_rule(&mut self.scratch, rule, chain.rules, self.flags);
                unescape_invalid_utf8(&self.scratch, &mut chain.body);
                self.scratch.clear();
            } else {
                write_rule(&mut chain.body, rule, chain.rules, self.flags);
            }
        }
    }

    fn chain_index(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.chains.push(ChainOut {
            name: name.to_string(),
            policy: None,
            counters: Counters::default(),
            rules: 0,
            body: Vec::new(),
        });
        self.index.insert(name.to_string(), self.chains.len() - 1);
        self.chains.len() - 1
    }

    /// The whole listing, or the error iptables gives for a chain it does not have.
    pub fn finish(mut self) -> Result<Listing, NoSuchChain> {
        for name in BUILTIN_CHAINS {
            if !self.index.contains_key(name) {
                let i = self.chain_index(name);
                self.chains[i].policy = Some("ACCEPT".to_string());
            }
        }
        if let Some(only) = &self.filter.chain
            && !self.index.contains_key(only.as_str())
        {
            return Err(NoSuchChain {
                chain: only.clone(),
                generator: self.generator,
            });
        }
        let mut chains: Vec<ChainOut> = self
            .chains
            .into_iter()
            .filter(|c| self.filter.wants(&c.name))
            .collect();
        chains.sort_by(|a, b| chain_order(&a.name, &b.name));
        // the headers are small: one buffer, with each chain's end in it
        let mut headers = Vec::with_capacity(chains.len() * 120);
        let mut ends = Vec::with_capacity(chains.len());
        for (n, chain) in chains.iter().enumerate() {
            if n > 0 {
                headers.push(b'\n');
            }
            let refs = self.refs.get(&chain.name).copied().unwrap_or(0);
            write_chain_header(
                &mut headers,
                &chain.name,
                chain.policy.as_deref(),
                chain.counters,
                refs,
                self.flags,
            );
            ends.push(headers.len());
        }
        Ok(Listing {
            headers,
            ends,
            bodies: chains.into_iter().map(|c| c.body).collect(),
        })
    }
}

/// A finished listing: each chain's header and rules, kept apart so that writing it
/// copies nothing.
pub struct Listing {
    headers: Vec<u8>,
    /// Where each chain's header ends in `headers`.
    ends: Vec<usize>,
    bodies: Vec<Vec<u8>>,
}

impl Listing {
    /// Write the listing out.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut start = 0;
        for (end, body) in self.ends.iter().zip(&self.bodies) {
            out.write_all(&self.headers[start..*end])?;
            out.write_all(body)?;
            start = *end;
        }
        Ok(())
    }

    /// The listing as one buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.headers.len() + self.bodies.iter().map(Vec::len).sum::<usize>(),
        );
        self.write_to(&mut out).expect("writing to a Vec");
        out
    }
}

/// `iptables -t nat -nL` for iptables-save text, in one call.
pub fn list(
    save_text: &str,
    flags: ListFlags,
    filter: &ChainFilter,
) -> Result<Vec<u8>, NoSuchChain> {
    let mut lister = Lister::new(flags, filter.clone());
    for line in save_text.lines() {
        lister.feed(line);
    }
    lister.finish().map(Listing::into_bytes)
}

/// `Chain NAME (...)` and the column header line.
fn write_chain_header(
    out: &mut Vec<u8>,
    name: &str,
    policy: Option<&str>,
    counters: Counters,
    refs: u32,
    flags: ListFlags,
) {
    out.extend_from_slice(b"Chain ");
    out.extend_from_slice(name.as_bytes());
    match policy {
        Some(policy) => {
            out.extend_from_slice(b" (policy ");
            out.extend_from_slice(policy.as_bytes());
            if flags.verbose {
                out.push(b' ');
                write_count(out, counters.packets, flags.exact, false);
                out.extend_from_slice(b"packets, ");
                write_count(out, counters.bytes, flags.exact, false);
                out.extend_from_slice(b"bytes");
            }
            out.extend_from_slice(b")\n");
        }
        None => {
            out.extend_from_slice(b" (");
            push_u64(out, refs.into());
            out.extend_from_slice(b" references)\n");
        }
    }
    if flags.line_numbers {
        out.extend_from_slice(b"num  ");
    }
    if flags.verbose {
        if flags.exact {
            out.extend_from_slice(b"    pkts      bytes ");
        } else {
            out.extend_from_slice(b" pkts bytes ");
        }
    }
    out.extend_from_slice(b"target     prot opt ");
    if flags.verbose {
        out.extend_from_slice(b"in     out     ");
    }
    out.extend_from_slice(b"source               destination         \n");
}

/// One rule as `iptables -nL` prints it, with its `\n`.
pub fn write_rule(out: &mut Vec<u8>, rule: &Rule<'_>, num: usize, flags: ListFlags) {
    if flags.line_numbers {
        let start = out.len();
        push_u64(out, num as u64);
        pad_to(out, start, 4);
        out.push(b' ');
    }
    if flags.verbose {
        write_count(out, rule.counters.packets, flags.exact, true);
        write_count(out, rule.counters.bytes, flags.exact, true);
    }
    push_padded(out, rule.target_name(), 9);
    out.push(b' ');

    let (negated, proto) = match rule.protocol {
        Some(p) => (p.negated, Some(p.value)),
        None => (false, None),
    };
    out.push(if negated { b'!' } else { b' ' });
    let start = out.len();
    match proto.map(|p| (p, save::protocol_number(p))) {
        None => out.push(b'0'),
        Some((_, Some(n))) => push_u64(out, n.into()),
        Some((name, None)) => out.extend_from_slice(name.as_bytes()),
    }
    pad_to(out, start, 4);
    out.push(b' ');

    out.extend_from_slice(match rule.fragment {
        None => b"-- ",
        Some(false) => b"-f ",
        Some(true) => b"!f ",
    });

    if flags.verbose {
        out.push(b' ');
        write_iface(out, rule.in_interface);
        write_iface(out, rule.out_interface);
    }
    write_addr(out, rule.source);
    write_addr(out, rule.destination);

    if rule.target.as_ref().is_some_and(|t| t.goto) {
        out.extend_from_slice(b"[goto] ");
    }
    for m in &rule.matches {
        write_match(out, rule, m);
    }
    if let Some(target) = &rule.target {
        write_target(out, target);
    }
    for word in &rule.extra {
        out.push(b' ');
        out.extend_from_slice(word.as_bytes());
    }
    out.push(b'\n');
}

/// `xtables_print_num`: with `-x` `%8llu `; else up to 99999 as `%5llu `, then K, M, G,
/// T with rounding at every step. `table` pads; the chain header does not.
fn write_count(out: &mut Vec<u8>, n: u64, exact: bool, table: bool) {
    let start = out.len();
    if exact {
        push_u64(out, n);
        if table {
            pad_left(out, start, 8);
        }
        out.push(b' ');
        return;
    }
    if n <= 99999 {
        push_u64(out, n);
        if table {
            pad_left(out, start, 5);
        }
        out.push(b' ');
        return;
    }
    // u64 arithmetic, wrapping like C's for the largest values
    let mut n = n.wrapping_add(500) / 1000;
    let mut unit = b'K';
    for next in [b'M', b'G', b'T'] {
        if n <= 9999 {
            break;
        }
        n = n.wrapping_add(500) / 1000;
        unit = next;
    }
    push_u64(out, n);
    if table {
        pad_left(out, start, 4);
    }
    out.push(unit);
    out.push(b' ');
}

/// `" %-6s "` / `"%-6s "` of `name`, `!name` or `*`; the leading blank of the in
/// column is written by the caller.
fn write_iface(out: &mut Vec<u8>, iface: Option<save::Neg<&str>>) {
    let start = out.len();
    match iface {
        None => out.push(b'*'),
        Some(i) => {
            if i.negated {
                out.push(b'!');
            }
            out.extend_from_slice(i.value.as_bytes());
        }
    }
    pad_to(out, start, 6);
    out.push(b' ');
}

/// `!` or a blank, then `"%-19s "` of the address in iptables' numeric form.
fn write_addr(out: &mut Vec<u8>, addr: Option<save::Neg<&str>>) {
    match addr {
        None => out.extend_from_slice(b" 0.0.0.0/0           "),
        Some(a) => {
            out.push(if a.negated { b'!' } else { b' ' });
            let start = out.len();
            out.extend_from_slice(numeric_addr(a.value).as_bytes());
            pad_to(out, start, 19);
            out.push(b' ');
        }
    }
}

/// iptables-save keeps `/32`; `-L` leaves it out.
fn numeric_addr(addr: &str) -> &str {
    addr.strip_suffix("/32")
        .or_else(|| addr.strip_suffix("/255.255.255.255"))
        .unwrap_or(addr)
}

fn write_match<'a>(out: &mut Vec<u8>, rule: &Rule<'a>, m: &Module<'a>) {
    match m.name {
        "tcp" | "udp" | "sctp" | "dccp" => write_ports_match(out, m),
        "multiport" => {
            for o in &m.options {
                let kind = match o.name {
                    "dports" | "destination-ports" => "dports",
                    "sports" | "source-ports" => "sports",
                    "ports" => "ports",
                    _ => {
                        write_option(out, o, "");
                        continue;
                    }
                };
                out.extend_from_slice(b" multiport ");
                out.extend_from_slice(kind.as_bytes());
                out.push(b' ');
                if o.negated {
                    out.extend_from_slice(b" !");
                }
                out.extend_from_slice(o.value.as_bytes());
            }
        }
        "comment" => {
            for o in &m.options {
                if o.name == "comment" {
                    out.extend_from_slice(b" /* ");
                    out.extend_from_slice(o.value.as_bytes());
                    out.extend_from_slice(b" */");
                } else {
                    write_option(out, o, "");
                }
            }
        }
        // these print their save text with the dashes taken off, and no name
        "conntrack" | "state" | "set" => {
            for o in &m.options {
                write_option(out, o, "");
            }
        }
        "mark" => {
            for o in &m.options {
                if o.name == "mark" {
                    out.extend_from_slice(b" mark match");
                    if o.negated {
                        out.extend_from_slice(b" !");
                    }
                    out.push(b' ');
                    out.extend_from_slice(o.value.as_bytes());
                } else {
                    write_option(out, o, "");
                }
            }
        }
        "addrtype" => {
            out.extend_from_slice(b" ADDRTYPE match");
            for o in &m.options {
                match o.name {
                    "src-type" | "dst-type" => {
                        out.push(b' ');
                        out.extend_from_slice(o.name.as_bytes());
                        out.push(b' ');
                        if o.negated {
                            out.push(b'!');
                        }
                        out.extend_from_slice(o.value.as_bytes());
                    }
                    "limit-iface-in" => out.extend_from_slice(b" limit-in"),
                    "limit-iface-out" => out.extend_from_slice(b" limit-out"),
                    _ => write_option(out, o, ""),
                }
            }
        }
        "icmp" => {
            out.extend_from_slice(b" icmp");
            for o in &m.options {
                if o.name == "icmp-type" {
                    write_icmp_type(out, o);
                } else {
                    write_option(out, o, "");
                }
            }
        }
        "statistic" => {
            out.extend_from_slice(b" statistic");
            for o in &m.options {
                // save always writes the nth packet; -L only when it is not 0
                if o.name == "packet" && o.value == "0" && !o.negated {
                    continue;
                }
                write_option(out, o, "");
            }
        }
        "recent" => write_recent(out, m),
        "limit" => {
            // save leaves out the default burst; -L always shows it
            out.extend_from_slice(b" limit: avg ");
            let rate = m.option("limit").map_or("3/hour", |o| o.value.as_ref());
            out.extend_from_slice(rate.as_bytes());
            out.extend_from_slice(b" burst ");
            let burst = m.option("limit-burst").map_or("5", |o| o.value.as_ref());
            out.extend_from_slice(burst.as_bytes());
        }
        "physdev" => {
            out.extend_from_slice(b" PHYSDEV match");
            for o in &m.options {
                write_option(out, o, "--");
            }
        }
        "mac" => {
            for o in &m.options {
                if o.name == "mac-source" {
                    out.extend_from_slice(b" MAC ");
                    if o.negated {
                        out.extend_from_slice(b"! ");
                    }
                    out.extend_from_slice(o.value.as_bytes());
                } else {
                    write_option(out, o, "");
                }
            }
        }
        "iprange" => {
            for o in &m.options {
                let label: &[u8] = match o.name {
                    "src-range" => b" source IP range",
                    "dst-range" => b" destination IP range",
                    _ => {
                        write_option(out, o, "");
                        continue;
                    }
                };
                out.extend_from_slice(label);
                if o.negated {
                    out.extend_from_slice(b" !");
                }
                out.push(b' ');
                out.extend_from_slice(o.value.as_bytes());
            }
        }
        // options given before any -m: the protocol's implicit match
        "" => {
            let proto = rule.protocol.map_or("", |p| p.value);
            if matches!(proto, "tcp" | "udp" | "sctp" | "dccp") {
                let implicit = Module {
                    name: proto,
                    options: m.options.clone(),
                };
                write_ports_match(out, &implicit);
            } else {
                for o in &m.options {
                    write_option(out, o, "");
                }
            }
        }
        name => {
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            for o in &m.options {
                write_option(out, o, "");
            }
        }
    }
}

/// The generic form most extensions print: `[ !] NAME[ VALUE]`, with `prefix` before
/// the name (`--` for those that print their save text).
fn write_option(out: &mut Vec<u8>, o: &Opt<'_>, prefix: &str) {
    if o.negated {
        out.extend_from_slice(b" !");
    }
    out.push(b' ');
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(o.name.as_bytes());
    if !o.value.is_empty() {
        out.push(b' ');
        out.extend_from_slice(o.value.as_bytes());
    }
}

/// tcp, udp, sctp (and dccp): ` tcp spt:1 dpts:2:3 option=4 flags:0x17/0x02`.
fn write_ports_match(out: &mut Vec<u8>, m: &Module<'_>) {
    out.push(b' ');
    out.extend_from_slice(m.name.as_bytes());
    for o in &m.options {
        match o.name {
            "sport" | "source-port" => write_ports(out, "spt", o),
            "dport" | "destination-port" => write_ports(out, "dpt", o),
            "tcp-option" | "dccp-option" => {
                out.extend_from_slice(b" option=");
                if o.negated {
                    out.push(b'!');
                }
                out.extend_from_slice(o.value.as_bytes());
            }
            "tcp-flags" => {
                let mut parts = o.value.split(' ');
                let mask = parts.next().and_then(tcp_flags);
                let cmp = parts.next().and_then(tcp_flags);
                match (mask, cmp) {
                    (Some(mask), Some(cmp)) => write_tcp_flags(out, mask, cmp, o.negated),
                    _ => write_option(out, o, ""),
                }
            }
            "syn" => write_tcp_flags(out, 0x17, 0x02, o.negated),
            "chunk-types" => write_sctp_chunks(out, o),
            _ => write_option(out, o, ""),
        }
    }
}

/// ` dpt:80`, ` dpt:!80`, ` dpts:1000:2000`, nothing for an unnegated 0:65535.
fn write_ports(out: &mut Vec<u8>, label: &str, o: &Opt<'_>) {
    let value = o.value.as_ref();
    let (min, max) = match value.split_once(':') {
        Some((a, b)) => (
            if a.is_empty() {
                Some(0)
            } else {
                a.parse::<u16>().ok()
            },
            if b.is_empty() {
                Some(u16::MAX)
            } else {
                b.parse::<u16>().ok()
            },
        ),
        None => {
            let p = value.parse::<u16>().ok();
            (p, p)
        }
    };
    let (Some(min), Some(max)) = (min, max) else {
        // a service name or something new: show it as saved
        out.push(b' ');
        out.extend_from_slice(label.as_bytes());
        out.push(b':');
        if o.negated {
            out.push(b'!');
        }
        out.extend_from_slice(value.as_bytes());
        return;
    };
    if min == 0 && max == u16::MAX && !o.negated {
        return;
    }
    out.push(b' ');
    out.extend_from_slice(label.as_bytes());
    if min != max {
        out.push(b's');
    }
    out.push(b':');
    if o.negated {
        out.push(b'!');
    }
    push_u64(out, min.into());
    if min != max {
        out.push(b':');
        push_u64(out, max.into());
    }
}

/// `SYN,ACK` -> bits, as libxt_tcp names them.
fn tcp_flags(names: &str) -> Option<u8> {
    let mut bits = 0u8;
    for name in names.split(',') {
        bits |= match name.to_ascii_uppercase().as_str() {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ALL" => 0x3f,
            "NONE" => 0,
            _ => return None,
        };
    }
    Some(bits)
}

fn write_tcp_flags(out: &mut Vec<u8>, mask: u8, cmp: u8, negated: bool) {
    out.extend_from_slice(b" flags:");
    if negated {
        out.push(b'!');
    }
    out.extend_from_slice(format!("0x{mask:02X}/0x{cmp:02X}").as_bytes());
}

/// sctp `--chunk-types any DATA:Be,INIT` -> ` any 0x0000:Be,0x0001` (-n prints numbers).
fn write_sctp_chunks(out: &mut Vec<u8>, o: &Opt<'_>) {
    const CHUNKS: &[(&str, u16)] = &[
        ("DATA", 0),
        ("INIT", 1),
        ("INIT_ACK", 2),
        ("SACK", 3),
        ("HEARTBEAT", 4),
        ("HEARTBEAT_ACK", 5),
        ("ABORT", 6),
        ("SHUTDOWN", 7),
        ("SHUTDOWN_ACK", 8),
        ("ERROR", 9),
        ("COOKIE_ECHO", 10),
        ("COOKIE_ACK", 11),
        ("ECN_ECNE", 12),
        ("ECN_CWR", 13),
        ("SHUTDOWN_COMPLETE", 14),
        ("I_DATA", 64),
        ("RE_CONFIG", 130),
        ("PAD", 132),
        ("ASCONF", 193),
        ("ASCONF_ACK", 128),
        ("FORWARD_TSN", 192),
        ("I_FORWARD_TSN", 194),
    ];
    if o.negated {
        out.extend_from_slice(b" !");
    }
    let Some((kind, list)) = o.value.split_once(' ') else {
        write_option(out, o, "");
        return;
    };
    out.push(b' ');
    out.extend_from_slice(kind.to_ascii_lowercase().as_bytes());
    out.push(b' ');
    if list == "ALL" || list == "NONE" {
        out.extend_from_slice(list.as_bytes());
        return;
    }
    for (i, chunk) in list.split(',').enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (name, flags) = match chunk.split_once(':') {
            Some((n, f)) => (n, Some(f)),
            None => (chunk, None),
        };
        match CHUNKS.iter().find(|(n, _)| *n == name) {
            Some((_, num)) => out.extend_from_slice(format!("0x{num:04X}").as_bytes()),
            None => out.extend_from_slice(name.as_bytes()),
        }
        if let Some(flags) = flags {
            out.push(b':');
            out.extend_from_slice(flags.as_bytes());
        }
    }
}

/// `--icmp-type 8`, `8/0` or `any` -> `type 8`, `type 8 code 0`, `type 255`.
fn write_icmp_type(out: &mut Vec<u8>, o: &Opt<'_>) {
    if o.negated {
        out.extend_from_slice(b" !");
    }
    out.extend_from_slice(b"type ");
    let value = o.value.as_ref();
    if value == "any" {
        out.extend_from_slice(b"255");
        return;
    }
    match value.split_once('/') {
        Some((t, c)) => {
            out.extend_from_slice(t.as_bytes());
            out.extend_from_slice(b" code ");
            out.extend_from_slice(c.as_bytes());
        }
        None => out.extend_from_slice(value.as_bytes()),
    }
}

/// `recent` prints its own words, in its own order.
fn write_recent(out: &mut Vec<u8>, m: &Module<'_>) {
    if m.options.iter().any(|o| o.negated) {
        out.extend_from_slice(b" !");
    }
    out.extend_from_slice(b" recent:");
    let value = |name: &str| m.option(name).map(|o| o.value.as_ref());
    for (flag, word) in [
        ("set", " SET"),
        ("rcheck", " CHECK"),
        ("update", " UPDATE"),
        ("remove", " REMOVE"),
    ] {
        if value(flag).is_some() {
            out.extend_from_slice(word.as_bytes());
        }
    }
    if let Some(s) = value("seconds").filter(|s| *s != "0") {
        out.extend_from_slice(b" seconds: ");
        out.extend_from_slice(s.as_bytes());
    }
    if value("reap").is_some() {
        out.extend_from_slice(b" reap");
    }
    if let Some(h) = value("hitcount").filter(|h| *h != "0") {
        out.extend_from_slice(b" hit_count: ");
        out.extend_from_slice(h.as_bytes());
    }
    if value("rttl").is_some() {
        out.extend_from_slice(b" TTL-Match");
    }
    if let Some(n) = value("name") {
        out.extend_from_slice(b" name: ");
        out.extend_from_slice(n.as_bytes());
    }
    if value("rsource").is_some() {
        out.extend_from_slice(b" side: source");
    }
    if value("rdest").is_some() {
        out.extend_from_slice(b" side: dest");
    }
    if let Some(mask) = value("mask") {
        out.extend_from_slice(b" mask: ");
        out.extend_from_slice(mask.as_bytes());
    }
}

fn write_target(out: &mut Vec<u8>, t: &Target<'_>) {
    let range_label: Option<&[u8]> = match (t.name, t.options.first().map(|o| o.name)) {
        ("DNAT", _) => Some(b" to:"),
        ("SNAT", _) => Some(b" to:"),
        ("NETMAP", _) => Some(b" to:"),
        ("MASQUERADE", _) => Some(b" masq ports: "),
        ("REDIRECT", _) => Some(b" redir ports "),
        ("MARK", Some("set-xmark")) => {
            write_mark_target(out, t);
            return;
        }
        _ => None,
    };
    for o in &t.options {
        match (range_label, o.name) {
            (Some(label), "to-destination" | "to-source" | "to-ports" | "to") => {
                out.extend_from_slice(label);
                out.extend_from_slice(o.value.as_bytes());
            }
            _ => write_option(out, o, ""),
        }
    }
}

/// MARK `--set-xmark V/M`, named the way libxt_MARK names it.
fn write_mark_target(out: &mut Vec<u8>, t: &Target<'_>) {
    for o in &t.options {
        let parsed = (o.name == "set-xmark")
            .then(|| {
                let (v, m) = o
                    .value
                    .split_once('/')
                    .unwrap_or((o.value.as_ref(), "0xffffffff"));
                Some((parse_u32(v)?, parse_u32(m)?))
            })
            .flatten();
        let Some((value, mask)) = parsed else {
            write_option(out, o, "");
            continue;
        };
        let text = if value == 0 {
            format!(" MARK and 0x{:x}", !mask)
        } else if value == mask {
            format!(" MARK or 0x{value:x}")
        } else if mask == 0 {
            format!(" MARK xor 0x{value:x}")
        } else if mask == u32::MAX {
            format!(" MARK set 0x{value:x}")
        } else {
            format!(" MARK xset 0x{value:x}/0x{mask:x}")
        };
        out.extend_from_slice(text.as_bytes());
    }
}

fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Pad what was written since `start` with blanks to `width` bytes (`%-Ns`).
fn pad_to(out: &mut Vec<u8>, start: usize, width: usize) {
    let len = out.len() - start;
    if len < width {
        out.resize(out.len() + width - len, b' ');
    }
}

/// Right-align what was written since `start` in `width` bytes (`%Ns`).
fn pad_left(out: &mut Vec<u8>, start: usize, width: usize) {
    let len = out.len() - start;
    if len < width {
        let pad = width - len;
        out.splice(start..start, std::iter::repeat_n(b' ', pad));
    }
}

fn push_padded(out: &mut Vec<u8>, s: &str, width: usize) {
    let start = out.len();
    out.extend_from_slice(s.as_bytes());
    pad_to(out, start, width);
}

/// A byte that is not UTF-8 -> a private-use character that stands for it (U+10FF00 +
/// byte), so that the parser can work on `str` and the listing still holds the bytes.
fn escape_invalid_utf8(line: &[u8]) -> String {
    let mut s = String::with_capacity(line.len() + 16);
    for chunk in line.utf8_chunks() {
        s.push_str(chunk.valid());
        for &b in chunk.invalid() {
            s.push(char::from_u32(0x10FF00 + u32::from(b)).expect("valid code point"));
        }
    }
    s
}

/// Undo `escape_invalid_utf8` on rendered text.
fn unescape_invalid_utf8(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        // U+10FF00..U+10FFFF is F4 8F BC..BF 80..BF in UTF-8
        if i + 3 < text.len()
            && text[i] == 0xF4
            && text[i + 1] == 0x8F
            && (0xBC..=0xBF).contains(&text[i + 2])
        {
            out.push(((text[i + 2] & 0x03) << 6) | (text[i + 3] & 0x3F));
            i += 4;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
}

// ---------------------------------------------------------------------------------
// Table view and JSON: the same rules, read by people and programs.

/// The host and container sides of a rule, as the table view shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sides {
    pub host: String,
    pub container: String,
}

/// Where a rule takes traffic from and to: for DNAT the published address and port
/// and the container's; for masquerading the containers' side (its source).
pub fn sides(rule: &Rule<'_>) -> Sides {
    let dst = rule.destination.map(|a| {
        format!(
            "{}{}",
            if a.negated { "!" } else { "" },
            numeric_addr(a.value)
        )
    });
    let port = destination_port(rule);
    let host = match (&dst, &port) {
        (d, Some(p)) => format!("{}:{p}", d.as_deref().unwrap_or("0.0.0.0")),
        (Some(d), None) => d.clone(),
        (None, None) => String::new(),
    };
    let target = rule.target.as_ref();
    let opt = |name: &str| {
        target
            .and_then(|t| t.option(name))
            .map(|o| o.value.to_string())
    };
    match rule.target_name() {
        "DNAT" => Sides {
            host,
            container: opt("to-destination").unwrap_or_default(),
        },
        "REDIRECT" => Sides {
            host,
            container: opt("to-ports").map(|p| format!(":{p}")).unwrap_or_default(),
        },
        // masquerading: the containers' side is the source (a subnet), or for the
        // hairpin rule the container itself with its port
        "MASQUERADE" | "SNAT" => {
            let src = rule.source.map(|a| {
                let addr = numeric_addr(a.value);
                if a.negated {
                    format!("!{addr}")
                } else {
                    addr.to_string()
                }
            });
            let container = match (&port, dst.as_ref().or(src.as_ref())) {
                (Some(p), Some(addr)) => format!("{addr}:{p}"),
                _ => src.unwrap_or_default(),
            };
            Sides {
                host: opt("to-source").unwrap_or_default(),
                container,
            }
        }
        _ => Sides {
            host,
            container: String::new(),
        },
    }
}

/// The destination port(s) a rule matches, `8080`, `8000-8010` or `80,443`.
fn destination_port(rule: &Rule<'_>) -> Option<String> {
    for m in &rule.matches {
        for o in &m.options {
            let ports = match (m.name, o.name) {
                ("tcp" | "udp" | "sctp" | "dccp" | "", "dport" | "destination-port") => {
                    o.value.replace(':', "-")
                }
                ("multiport", "dports" | "destination-ports" | "ports") => {
                    o.value.replace(':', "-")
                }
                _ => continue,
            };
            return Some(if o.negated {
                format!("!{ports}")
            } else {
                ports
            });
        }
    }
    None
}

fn protocol_text(rule: &Rule<'_>) -> String {
    match rule.protocol {
        None => "all".to_string(),
        Some(p) => format!("{}{}", if p.negated { "!" } else { "" }, p.value),
    }
}

/// The text `-L` prints for one match or target, without its leading blank.
fn module_text<'a>(rule: &Rule<'a>, m: &Module<'a>) -> String {
    let mut buf = Vec::new();
    write_match(&mut buf, rule, m);
    String::from_utf8_lossy(&buf).trim_start().to_string()
}

fn target_text(t: &Target<'_>) -> String {
    let mut buf = Vec::new();
    write_target(&mut buf, t);
    String::from_utf8_lossy(&buf).trim_start().to_string()
}

/// `--table`: one row per rule.
pub fn table_view(
    table: &Table<'_>,
    filter: &ChainFilter,
    flags: ListFlags,
    names: &HashMap<String, String>,
) -> String {
    use comfy_table::{ContentArrangement, Table as View, presets};

    let mut view = View::new();
    view.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec![
        "CHAIN",
        "TARGET",
        "PROT",
        "HOST SIDE",
        "CONTAINER SIDE",
        "NAME",
    ];
    if flags.verbose {
        header.extend(["PKTS", "BYTES"]);
    }
    view.set_header(header);
    for chain in table.chains.iter().filter(|c| filter.wants(c.name)) {
        for rule in &chain.rules {
            let sides = sides(rule);
            let name = rule
                .berth_id()
                .and_then(|id| names.get(id))
                .cloned()
                .unwrap_or_default();
            let mut row = vec![
                chain.name.to_string(),
                rule.target_name().to_string(),
                protocol_text(rule),
                sides.host,
                sides.container,
                name,
            ];
            if flags.verbose {
                for n in [rule.counters.packets, rule.counters.bytes] {
                    let mut buf = Vec::new();
                    write_count(&mut buf, n, flags.exact, false);
                    row.push(String::from_utf8_lossy(&buf).trim_end().to_string());
                }
            }
            view.add_row(row);
        }
    }
    let mut text = view.to_string();
    text.push('\n');
    text
}

/// The `--format json` document.
#[derive(Debug, Serialize)]
pub struct JsonTable<'t> {
    pub table: &'static str,
    pub chains: Vec<JsonChain<'t>>,
}

#[derive(Debug, Serialize)]
pub struct JsonChain<'t> {
    pub name: &'t str,
    /// The policy of a built-in chain, `null` for a user chain.
    pub policy: Option<&'t str>,
    /// The policy's counters (built-in chains).
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    /// Rules that jump or go to this chain (user chains).
    pub references: Option<u32>,
    pub rules: Vec<JsonRule<'t>>,
}

#[derive(Debug, Serialize)]
pub struct JsonRule<'t> {
    pub num: usize,
    pub packets: u64,
    pub bytes: u64,
    /// The target or chain, `null` when the rule has none.
    pub target: Option<&'t str>,
    pub goto: bool,
    pub protocol: Option<JsonProtocol<'t>>,
    pub source: Option<JsonNeg<'t>>,
    pub destination: Option<JsonNeg<'t>>,
    pub in_interface: Option<JsonNeg<'t>>,
    pub out_interface: Option<JsonNeg<'t>>,
    /// `-f` (negated: `! -f`), `null` when absent.
    pub fragment: Option<JsonFragment>,
    pub matches: Vec<JsonModule<'t>>,
    pub target_options: Vec<JsonOpt<'t>>,
    /// The target's text as `iptables -L` prints it (`to:172.17.0.2:80`).
    pub target_text: String,
    /// The rule's comments, joined by a blank when there are several.
    pub comment: Option<String>,
    pub host: String,
    pub container_side: String,
    /// The container of a berth rule (from its `berth:<id>` comment).
    pub container: Option<JsonContainer<'t>>,
}

#[derive(Debug, Serialize)]
pub struct JsonProtocol<'t> {
    pub name: &'t str,
    pub number: Option<u8>,
    pub negated: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonNeg<'t> {
    pub value: &'t str,
    pub negated: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonFragment {
    pub negated: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonModule<'t> {
    pub name: &'t str,
    pub options: Vec<JsonOpt<'t>>,
    /// The match's text as `iptables -L` prints it.
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct JsonOpt<'t> {
    pub name: &'t str,
    pub value: &'t str,
    pub negated: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonContainer<'t> {
    pub id: &'t str,
    /// `null` when the engine does not know the id (or could not be asked).
    pub name: Option<String>,
}

fn json_opts<'t, 'a: 't>(options: &'t [Opt<'a>]) -> Vec<JsonOpt<'t>> {
    options
        .iter()
        .map(|o| JsonOpt {
            name: o.name,
            value: o.value.as_ref(),
            negated: o.negated,
        })
        .collect()
}

fn json_neg<'t>(n: Option<save::Neg<&'t str>>) -> Option<JsonNeg<'t>> {
    n.map(|n| JsonNeg {
        value: n.value,
        negated: n.negated,
    })
}

/// The table as a JSON value (`--format json`).
pub fn json<'t, 'a: 't>(
    table: &'t Table<'a>,
    filter: &ChainFilter,
    names: &HashMap<String, String>,
) -> JsonTable<'t> {
    let chains = table
        .chains
        .iter()
        .filter(|c| filter.wants(c.name))
        .map(|chain| JsonChain {
            name: chain.name,
            policy: chain.policy,
            packets: chain.policy.map(|_| chain.counters.packets),
            bytes: chain.policy.map(|_| chain.counters.bytes),
            references: chain.policy.is_none().then_some(chain.references),
            rules: chain
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| json_rule(i + 1, rule, names))
                .collect(),
        })
        .collect();
    JsonTable {
        table: "nat",
        chains,
    }
}

fn json_rule<'t, 'a: 't>(
    num: usize,
    rule: &'t Rule<'a>,
    names: &HashMap<String, String>,
) -> JsonRule<'t> {
    let comments: Vec<&str> = rule.comments().collect();
    let sides = sides(rule);
    JsonRule {
        num,
        packets: rule.counters.packets,
        bytes: rule.counters.bytes,
        target: rule.target.as_ref().map(|t| t.name),
        goto: rule.target.as_ref().is_some_and(|t| t.goto),
        protocol: rule.protocol.map(|p| JsonProtocol {
            name: p.value,
            number: save::protocol_number(p.value),
            negated: p.negated,
        }),
        source: json_neg(rule.source),
        destination: json_neg(rule.destination),
        in_interface: json_neg(rule.in_interface),
        out_interface: json_neg(rule.out_interface),
        fragment: rule.fragment.map(|negated| JsonFragment { negated }),
        matches: rule
            .matches
            .iter()
            .map(|m| JsonModule {
                name: m.name,
                options: json_opts(&m.options),
                text: module_text(rule, m),
            })
            .collect(),
        target_options: rule
            .target
            .as_ref()
            .map(|t| json_opts(&t.options))
            .unwrap_or_default(),
        target_text: rule.target.as_ref().map(target_text).unwrap_or_default(),
        comment: (!comments.is_empty()).then(|| comments.join(" ")),
        host: sides.host,
        container_side: sides.container,
        container: rule.berth_id().map(|id| JsonContainer {
            id,
            name: names.get(id).cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nl(save: &str, flags: ListFlags) -> String {
        String::from_utf8(list(save, flags, &ChainFilter::default()).unwrap()).unwrap()
    }

    fn one_rule(line: &str) -> String {
        let text = nl(
            &format!("*nat\n:PREROUTING ACCEPT [0:0]\n{line}\nCOMMIT\n"),
            ListFlags::default(),
        );
        text.lines().nth(2).unwrap().to_string()
    }

    #[test]
    fn empty_table_lists_the_builtin_chains() {
        let text = nl("", ListFlags::default());
        assert_eq!(
            text,
            "Chain PREROUTING (policy ACCEPT)\n\
             target     prot opt source               destination         \n\n\
             Chain INPUT (policy ACCEPT)\n\
             target     prot opt source               destination         \n\n\
             Chain OUTPUT (policy ACCEPT)\n\
             target     prot opt source               destination         \n\n\
             Chain POSTROUTING (policy ACCEPT)\n\
             target     prot opt source               destination         \n"
        );
    }

    #[test]
    fn docker_rules() {
        assert_eq!(
            one_rule("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
            "DOCKER     0    --  0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL"
        );
        assert_eq!(
            one_rule(
                "-A PREROUTING ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"
            ),
            "DNAT       6    --  0.0.0.0/0            0.0.0.0/0            tcp dpt:8080 to:172.17.0.2:80"
        );
        assert_eq!(
            one_rule("-A PREROUTING -s 172.17.0.0/16 ! -d 127.0.0.0/8 -j MASQUERADE"),
            "MASQUERADE  0    --  172.17.0.0/16       !127.0.0.0/8         "
        );
    }

    #[test]
    fn counters_round_like_xtables_print_num() {
        let count = |n| {
            let mut b = Vec::new();
            write_count(&mut b, n, false, true);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(count(99999), "99999 ");
        assert_eq!(count(100000), " 100K ");
        assert_eq!(count(999500), "1000K ");
        assert_eq!(count(9999500), "  10M ");
        assert_eq!(count(9_999_499_999), "  10G ");
        assert_eq!(count(u64::MAX), "   0K ");
        assert_eq!(count(10_000_000_000_000_000), "10000T ");
    }

    #[test]
    fn mark_target_names() {
        for (save, shown) in [
            ("0x2000/0x2000", " MARK or 0x2000"),
            ("0x5/0xffffffff", " MARK set 0x5"),
            ("0x0/0xfffffffa", " MARK and 0x5"),
            ("0x5/0x0", " MARK xor 0x5"),
            ("0x5/0xf0", " MARK xset 0x5/0xf0"),
        ] {
            let line = one_rule(&format!("-A PREROUTING -j MARK --set-xmark {save}"));
            assert!(line.ends_with(shown), "{line}");
        }
    }

    #[test]
    fn invalid_utf8_passes_through() {
        let mut lister = Lister::new(ListFlags::default(), ChainFilter::default());
        lister.feed_bytes(b"-A PREROUTING -m comment --comment \"a\xff\xfeb\" -j RETURN");
        let out = lister.finish().unwrap().into_bytes();
        assert!(out.windows(10).any(|w| w == b"/* a\xff\xfeb */"));
    }

    #[test]
    fn missing_chain_messages() {
        let err = list(
            "# Generated by iptables-nft-save v1.8.9 (nf_tables) on x\n*nat\nCOMMIT\n",
            ListFlags::default(),
            &ChainFilter {
                chain: Some("DOCKER".into()),
                berth_only: None,
            },
        )
        .unwrap_err();
        assert_eq!(
            err.iptables_message(),
            "iptables v1.8.9 (nf_tables): chain `DOCKER' in table `nat' is incompatible, use 'nft' tool."
        );
        let legacy = NoSuchChain {
            chain: "X".into(),
            generator: Some("iptables-save v1.8.9".into()),
        };
        assert_eq!(
            legacy.iptables_message(),
            "iptables: No chain/target/match by that name."
        );
    }
}
