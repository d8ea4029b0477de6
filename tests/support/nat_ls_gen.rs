//! Seeded random nat tables for the `nat ls` golden tests, as iptables-restore input
//! with counters (`iptables-restore -c`), for iptables (IPv4) or ip6tables (IPv6).
//!
//! Every construct a Docker, Podman, CNI, Kubernetes or berth host may hold, in random
//! mixes: addrtype, tcp/udp/sctp ports and ranges, multiport, comments with any text,
//! conntrack and state, mark, icmp, statistic, recent, iprange, limit, mac,
//! DNAT/NETMAP/SNAT/MASQUERADE/REDIRECT/MARK/RETURN/ACCEPT targets, jumps and gotos,
//! negations, fragments, protocol names and numbers, huge counters, DROP policies,
//! empty and unreferenced chains, many chains. The tables must load, so the generator
//! keeps the kernel's rules: NAT targets only under the hooks that allow them (a
//! user chain has a class that says which builtin chains reach it), no loops (chains
//! jump only to chains made after them), `-i`/`-o` only where iptables takes them.
//!
//! IPv6 tables hold the same constructs with IPv6 addresses, prefixes and masks,
//! bracketed NAT ranges (`[fd00::2]:80`, `[fd00::2-fd00::9]:80-90`), icmp6 in place of
//! icmp, hl and frag in place of `-f` (ip6tables has none), ip6tables' own mh, hbh,
//! dst, rt, ipv6header and eui64, and only the address types the kernel matches for
//! IPv6.

#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Write as _;

pub use berth::model::Family;

/// SplitMix64: small, seedable, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// lo..=hi
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Where a chain sits: which builtin chains can reach it decides what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    Prerouting,
    Input,
    Output,
    Postrouting,
    /// A user chain reached from PREROUTING/OUTPUT only: DNAT and REDIRECT allowed.
    UserDnat,
    /// Reached from POSTROUTING only: MASQUERADE and SNAT allowed.
    UserSnat,
    /// Reached from anywhere: no hook-bound targets.
    UserAny,
    /// Never reached (only unreachable chains jump to it): anything goes.
    Orphan,
}

impl Hook {
    fn builtin(self) -> bool {
        matches!(
            self,
            Hook::Prerouting | Hook::Input | Hook::Output | Hook::Postrouting
        )
    }
    fn dnat(self) -> bool {
        matches!(
            self,
            Hook::Prerouting | Hook::Output | Hook::UserDnat | Hook::Orphan
        )
    }
    fn masquerade(self) -> bool {
        matches!(self, Hook::Postrouting | Hook::UserSnat | Hook::Orphan)
    }
    fn snat(self) -> bool {
        self.masquerade() || self == Hook::Input
    }
    fn in_iface(self) -> bool {
        !matches!(self, Hook::Output | Hook::Postrouting)
    }
    fn out_iface(self) -> bool {
        !matches!(self, Hook::Prerouting | Hook::Input)
    }
    /// addrtype --limit-iface-in, mac: incoming hooks only.
    fn incoming_only(self) -> bool {
        matches!(self, Hook::Prerouting | Hook::Input | Hook::Orphan)
    }
    /// addrtype --limit-iface-out: outgoing hooks only.
    fn outgoing_only(self) -> bool {
        matches!(
            self,
            Hook::Output | Hook::Postrouting | Hook::UserSnat | Hook::Orphan
        )
    }
    /// Whether a chain of this kind may jump to a user chain of kind `to`.
    fn may_jump(self, to: Hook) -> bool {
        match self {
            Hook::Prerouting | Hook::Output | Hook::UserDnat => {
                matches!(to, Hook::UserDnat | Hook::UserAny)
            }
            Hook::Postrouting | Hook::UserSnat => matches!(to, Hook::UserSnat | Hook::UserAny),
            Hook::Input | Hook::UserAny => to == Hook::UserAny,
            Hook::Orphan => true,
        }
    }
}

struct ChainDef {
    name: String,
    hook: Hook,
}

/// A generated table.
pub struct Ruleset {
    /// iptables-restore input, with counters.
    pub text: String,
    /// Every chain, builtins first.
    pub chains: Vec<String>,
    pub rules: usize,
}

/// How many rules seed `seed` gets: mostly a handful to a few dozen, some hundreds,
/// a few thousands.
pub fn size_for(seed: u64) -> usize {
    let mut rng = Rng::new(seed ^ 0x5151);
    match seed % 20 {
        0..=12 => rng.range(0, 40) as usize,
        13..=17 => rng.range(40, 400) as usize,
        18 => rng.range(400, 1500) as usize,
        _ => rng.range(1, 12) as usize,
    }
}

/// A random IPv4 table of about `rules` rules.
pub fn generate(seed: u64, rules: usize) -> Ruleset {
    generate_for(Family::V4, seed, rules)
}

/// A random table of about `rules` rules, for iptables-restore (IPv4) or
/// ip6tables-restore (IPv6). IPv4 tables are the same as `generate` makes.
pub fn generate_for(family: Family, seed: u64, rules: usize) -> Ruleset {
    let mut rng = Rng::new(seed);
    let mut chains: Vec<ChainDef> = [
        ("PREROUTING", Hook::Prerouting),
        ("INPUT", Hook::Input),
        ("OUTPUT", Hook::Output),
        ("POSTROUTING", Hook::Postrouting),
    ]
    .iter()
    .map(|&(n, h)| ChainDef {
        name: n.to_string(),
        hook: h,
    })
    .collect();

    let user_count = if rng.chance(10) {
        rng.range(40, 120)
    } else if rules < 10 {
        rng.below(5)
    } else {
        rng.range(1, (rules as u64 / 4).clamp(2, 40))
    };
    let mut seen: HashSet<String> = chains.iter().map(|c| c.name.clone()).collect();
    for _ in 0..user_count {
        let name = chain_name(&mut rng);
        if !seen.insert(name.clone()) {
            continue;
        }
        let hook = *rng.pick(&[
            Hook::UserDnat,
            Hook::UserDnat,
            Hook::UserSnat,
            Hook::UserAny,
            Hook::UserAny,
            Hook::Orphan,
        ]);
        chains.push(ChainDef { name, hook });
    }

    // rules, per chain, in order
    let mut per_chain: Vec<Vec<String>> = vec![Vec::new(); chains.len()];
    for _ in 0..rules {
        // builtin chains get more rules, some chains stay empty
        let ci = if rng.chance(45) {
            rng.below(4) as usize
        } else {
            rng.below(chains.len() as u64) as usize
        };
        let line = rule(&mut rng, &chains, ci, family);
        per_chain[ci].push(line);
    }

    let mut text = String::from("*nat\n");
    let mut decls: Vec<String> = chains
        .iter()
        .map(|c| {
            if c.hook.builtin() {
                let policy = if rng.chance(15) { "DROP" } else { "ACCEPT" };
                format!(
                    ":{} {policy} [{}:{}]",
                    c.name,
                    counter(&mut rng),
                    counter(&mut rng)
                )
            } else {
                format!(":{} - [0:0]", c.name)
            }
        })
        .collect();
    rng.shuffle(&mut decls);
    for d in decls {
        text.push_str(&d);
        text.push('\n');
    }
    // grouped by chain, or interleaved (the order within a chain is kept)
    if rng.chance(50) {
        for lines in &per_chain {
            for l in lines {
                text.push_str(l);
                text.push('\n');
            }
        }
    } else {
        let mut next = vec![0usize; per_chain.len()];
        let mut left = rules;
        while left > 0 {
            let ci = rng.below(per_chain.len() as u64) as usize;
            if next[ci] < per_chain[ci].len() {
                text.push_str(&per_chain[ci][next[ci]]);
                text.push('\n');
                next[ci] += 1;
                left -= 1;
            }
        }
    }
    text.push_str("COMMIT\n");
    Ruleset {
        text,
        chains: chains.into_iter().map(|c| c.name).collect(),
        rules,
    }
}

fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
        .collect()
}

fn from_alphabet(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| char::from(*rng.pick(alphabet))).collect()
}

/// A chain name as real hosts have them, or a random one (never a target's name:
/// iptables refuses those, so random names hold a character no target has).
fn chain_name(rng: &mut Rng) -> String {
    const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const ANY: &[u8] = b"-_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    match rng.below(14) {
        0 => "DOCKER".into(),
        1 => "DOCKER-INGRESS".into(),
        2 => "BERTH".into(),
        3 => "BERTH-POSTROUTING".into(),
        4 => "CNI-HOSTPORT-DNAT".into(),
        5 => "NETAVARK-HOSTPORT-DNAT".into(),
        6 => format!("CNI-DN-{}", hex(rng, 21)),
        7 => format!("KUBE-SVC-{}", from_alphabet(rng, UPPER32, 16)),
        8 => format!("KUBE-SEP-{}", from_alphabet(rng, UPPER32, 16)),
        9 => format!("BERTH-{}", hex(rng, 12)),
        10 => format!("{}{}", rng.below(10), from_alphabet(rng, b"abcxyz", 3)),
        11 => {
            let n = rng.range(0, 8) as usize;
            format!("_{}", from_alphabet(rng, ANY, n))
        }
        12 => {
            let n = rng.range(1, 27) as usize;
            let first = *rng.pick(&ANY[1..]) as char;
            let mut name = format!("{first}{}", from_alphabet(rng, ANY, n));
            if name.bytes().all(|b| b.is_ascii_uppercase()) {
                name.push('-');
            }
            name.truncate(28);
            name
        }
        _ => format!("my-chain_{}", rng.below(100)),
    }
}

/// A counter value: mostly 0 or small, often on one of xtables_print_num's edges.
fn counter(rng: &mut Rng) -> u64 {
    const EDGES: &[u64] = &[
        99_999,
        100_000,
        100_499,
        100_500,
        999_499,
        999_500,
        9_999_499,
        9_999_500,
        99_999_999,
        9_999_499_999,
        9_999_500_000,
        9_999_499_999_999,
        9_999_500_000_000,
        10_000_000_000_000_000,
        u64::MAX,
        u64::MAX - 499,
        u64::MAX - 500,
    ];
    match rng.below(10) {
        0..=4 => 0,
        5 | 6 => rng.range(1, 99_999),
        7 => *rng.pick(EDGES),
        8 => rng.next() >> rng.below(64),
        _ => rng.range(100_000, 10_000_000_000),
    }
}

fn ipv4(rng: &mut Rng) -> String {
    let prefixes: &[[u64; 2]] = &[
        [10, 0],
        [172, 17],
        [192, 168],
        [127, 0],
        [198, 18],
        [224, 0],
    ];
    let p = rng.pick(prefixes);
    if rng.chance(30) {
        format!(
            "{}.{}.{}.{}",
            rng.range(1, 254),
            rng.below(256),
            rng.below(256),
            rng.below(256)
        )
    } else {
        format!(
            "{}.{}.{}.{}",
            p[0],
            p[1] + rng.below(16),
            rng.below(256),
            rng.range(1, 254)
        )
    }
}

fn ipv6(rng: &mut Rng) -> String {
    let group = |rng: &mut Rng| format!("{:x}", rng.below(0x10000));
    match rng.below(10) {
        0 => "::1".into(),
        1 => format!("fe80::{}:{}", group(rng), group(rng)),
        2 => format!("ff02::{}", rng.range(1, 0x1ff)),
        3 => format!("2001:db8:{}::{}", group(rng), group(rng)),
        4 => format!(
            "::ffff:10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            rng.range(1, 254)
        ),
        5 => (0..8).map(|_| group(rng)).collect::<Vec<_>>().join(":"),
        6 => format!(
            "fd00:{}:{}:{}::{}",
            group(rng),
            group(rng),
            group(rng),
            group(rng)
        ),
        _ => format!("fd00::{:x}", rng.range(1, 0xffff)),
    }
}

/// `-s`/`-d` operand: an address with a prefix or a mask; `None` for /0, which
/// cannot be negated.
fn address_for(rng: &mut Rng, family: Family) -> (String, bool) {
    match family {
        Family::V4 => address(rng),
        Family::V6 => {
            let ip = ipv6(rng);
            match rng.below(12) {
                0..=3 => (format!("{ip}/128"), true),
                4 => (ip, true),
                5 => (format!("{ip}/64"), true),
                6 => (format!("{ip}/48"), true),
                7 => (format!("{ip}/32"), true),
                8 => (format!("{ip}/{}", rng.range(1, 127)), true),
                9 => {
                    let mask = *rng.pick(&[
                        "ffff:0:ffff::",
                        "ffff:ffff:ffff:ffff:0:0:ffff:ffff",
                        "::ffff",
                        "ffff:ffff:ffff:ffff::",
                    ]);
                    (format!("{ip}/{mask}"), true)
                }
                10 => (format!("{ip}/8"), true),
                _ => (format!("{ip}/0"), false),
            }
        }
    }
}

/// `-s`/`-d` operand: an address with a prefix or a dotted mask; `None` for /0, which
/// cannot be negated.
fn address(rng: &mut Rng) -> (String, bool) {
    let ip = ipv4(rng);
    match rng.below(12) {
        0..=4 => (format!("{ip}/32"), true),
        5 => (ip, true),
        6 => (format!("{ip}/24"), true),
        7 => (format!("{ip}/16"), true),
        8 => (format!("{ip}/8"), true),
        9 => (format!("{ip}/{}", rng.range(1, 31)), true),
        10 => {
            let mask = *rng.pick(&[
                "255.0.255.0",
                "255.255.0.255",
                "0.255.255.255",
                "255.255.255.0",
            ]);
            (format!("{ip}/{mask}"), true)
        }
        _ => (format!("{ip}/0"), false),
    }
}

fn iface(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => "docker0".into(),
        1 => "eth0".into(),
        2 => "lo".into(),
        3 => format!("br-{}", hex(rng, 12)),
        4 => format!("veth{}", hex(rng, 7)),
        5 => "cni0".into(),
        6 => "podman0".into(),
        7 => format!("{}+", *rng.pick(&["eth", "br-", "veth", "docker", "e"])),
        8 => from_alphabet(rng, b"abcdefghijklmnopqrstuvwxyz0123456789", 15),
        _ => "docker_gwbridge".into(),
    }
}

/// A comment: berth's, Podman's, and text with every character restore passes on.
fn comment(rng: &mut Rng) -> String {
    let text = match rng.below(14) {
        0 | 1 => format!("berth:{}", hex(rng, 12)),
        2 => format!("name: \"podman\" id: \"{}\"", hex(rng, 64)),
        3 => String::new(),
        4 => "!".into(),
        5 => "--dport 80 -j DNAT".into(),
        6 => "a \"quoted\" word, it's \\ back\\slashed \\\\ \\\"".into(),
        7 => "tab\there\tand  two  spaces".into(),
        8 => "é ü ß 日本語 🚀 ünïcödé".into(),
        9 => format!("  padded {}  ", rng.below(1000)),
        10 => "x".repeat(255),
        11 => "*/ /* not a comment end".into(),
        12 => "DOCKER-USER".into(),
        _ => {
            let n = rng.range(1, 60) as usize;
            (0..n)
                .map(|_| char::from(rng.range(0x20, 0x7e) as u8))
                .collect()
        }
    };
    let mut quoted = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

fn port(rng: &mut Rng) -> u16 {
    match rng.below(6) {
        0 => 0,
        1 => 65535,
        2 => *rng.pick(&[22, 53, 80, 443, 8080, 5353]),
        _ => rng.range(1, 65534) as u16,
    }
}

/// A `--dport`/`--sport` value, and whether it may be negated (not the full range,
/// which iptables-save cannot show negated).
fn port_spec(rng: &mut Rng) -> (String, bool) {
    match rng.below(8) {
        0..=3 => (port(rng).to_string(), true),
        4 => {
            let a = rng.below(65535) as u16;
            let b = rng.range(u64::from(a) + 1, 65535) as u16;
            (format!("{a}:{b}"), !(a == 0 && b == 65535))
        }
        5 => {
            let b = rng.range(1, 65534);
            (format!(":{b}"), true)
        }
        6 => {
            let a = rng.range(1, 65534);
            (format!("{a}:"), true)
        }
        _ => ("0:65535".into(), false),
    }
}

fn port_list(rng: &mut Rng) -> String {
    // at most 15 slots, a range takes two
    let mut slots = rng.range(1, 15);
    let mut parts = Vec::new();
    while slots > 0 {
        if slots >= 2 && rng.chance(30) {
            let a = rng.below(65000);
            let b = rng.range(a + 1, 65535);
            parts.push(format!("{a}:{b}"));
            slots -= 2;
        } else {
            parts.push(port(rng).to_string());
            slots -= 1;
        }
    }
    parts.join(",")
}

fn neg(rng: &mut Rng, percent: u64) -> &'static str {
    if rng.chance(percent) { "! " } else { "" }
}

fn subset(rng: &mut Rng, items: &[&str], max: u64) -> String {
    let mut v: Vec<&str> = items.to_vec();
    rng.shuffle(&mut v);
    let n = rng.range(1, max.min(v.len() as u64)) as usize;
    v[..n].join(",")
}

/// The kinds of protocol a rule can name.
#[derive(Clone, Copy, PartialEq)]
enum Proto {
    None,
    Ports(&'static str),
    Icmp,
    Other,
}

fn rule(rng: &mut Rng, chains: &[ChainDef], ci: usize, family: Family) -> String {
    let hook = chains[ci].hook;
    let v6 = family == Family::V6;
    let mut line = format!("[{}:{}] -A {}", counter(rng), counter(rng), chains[ci].name);

    if rng.chance(25) {
        let (a, negatable) = address_for(rng, family);
        let n = if negatable { neg(rng, 25) } else { "" };
        let _ = write!(line, " {n}-s {a}");
    }
    if rng.chance(25) {
        let (a, negatable) = address_for(rng, family);
        let n = if negatable { neg(rng, 25) } else { "" };
        let _ = write!(line, " {n}-d {a}");
    }
    if hook.in_iface() && rng.chance(20) {
        let _ = write!(line, " {}-i {}", neg(rng, 40), iface(rng));
    }
    if hook.out_iface() && rng.chance(20) {
        let _ = write!(line, " {}-o {}", neg(rng, 40), iface(rng));
    }

    // the protocol
    let mut proto = Proto::None;
    let mut proto_negated = false;
    // ip6tables' mh match needs `-p mh`
    let mut mobility = false;
    match rng.below(20) {
        0..=6 => {}
        7..=10 => proto = Proto::Ports("tcp"),
        11..=12 => proto = Proto::Ports("udp"),
        13 => proto = Proto::Ports("sctp"),
        14 => proto = Proto::Icmp,
        _ => proto = Proto::Other,
    }
    match proto {
        Proto::None => {
            if rng.chance(5) {
                line.push_str(" -p all");
            }
        }
        Proto::Ports(name) => {
            proto_negated = rng.chance(10);
            let spelled = if rng.chance(15) {
                match name {
                    "tcp" => "6",
                    "udp" => "17",
                    _ => "132",
                }
            } else {
                name
            };
            let _ = write!(
                line,
                " {}-p {spelled}",
                if proto_negated { "! " } else { "" }
            );
        }
        Proto::Icmp if v6 => {
            proto_negated = rng.chance(10);
            let name = *rng.pick(&["ipv6-icmp", "ipv6-icmp", "icmpv6", "58"]);
            let _ = write!(line, " {}-p {name}", if proto_negated { "! " } else { "" });
        }
        Proto::Icmp => {
            proto_negated = rng.chance(10);
            let _ = write!(line, " {}-p icmp", if proto_negated { "! " } else { "" });
        }
        Proto::Other if v6 => {
            let p = *rng.pick(&[
                "gre",
                "47",
                "esp",
                "ah",
                "icmp",
                "ospf",
                "vrrp",
                "udplite",
                "dccp",
                "253",
                "255",
                "mobility-header",
                "mh",
                "135",
                "ipcomp",
                "GRE",
                "l2tp",
                "pim",
                "143",
                "igmp",
            ]);
            let n = neg(rng, 15);
            mobility = n.is_empty() && matches!(p, "mobility-header" | "mh" | "135");
            let _ = write!(line, " {n}-p {p}");
        }
        Proto::Other => {
            let p = *rng.pick(&[
                "gre",
                "47",
                "esp",
                "ah",
                "igmp",
                "ospf",
                "vrrp",
                "udplite",
                "dccp",
                "253",
                "255",
                "ipv6-icmp",
                "GRE",
                "l2tp",
                "pim",
                "143",
            ]);
            let _ = write!(line, " {}-p {p}", neg(rng, 15));
        }
    }
    let ports_ok = matches!(proto, Proto::Ports(_)) && !proto_negated;

    // the matches, in a random order
    let mut matches: Vec<String> = Vec::new();
    let mut port_matched = false;
    if ports_ok && rng.chance(60) {
        let Proto::Ports(name) = proto else {
            unreachable!()
        };
        let mut m = if rng.chance(85) {
            format!("-m {name}")
        } else {
            String::new()
        };
        if rng.chance(40) {
            let (p, negatable) = port_spec(rng);
            let n = if negatable { neg(rng, 20) } else { "" };
            let _ = write!(m, " {n}--sport {p}");
        }
        if rng.chance(75) {
            let (p, negatable) = port_spec(rng);
            let n = if negatable { neg(rng, 20) } else { "" };
            let _ = write!(m, " {n}--dport {p}");
        }
        if name == "tcp" && rng.chance(15) {
            match rng.below(3) {
                0 => {
                    let flags = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];
                    let mask = subset(rng, &flags, 6);
                    let cmp = if rng.chance(20) {
                        "NONE".into()
                    } else {
                        subset(rng, &flags, 3)
                    };
                    let mask = if rng.chance(10) { "ALL".into() } else { mask };
                    let _ = write!(m, " {}--tcp-flags {mask} {cmp}", neg(rng, 20));
                }
                1 => {
                    let _ = write!(m, " {}--syn", neg(rng, 20));
                }
                _ => {
                    let _ = write!(m, " {}--tcp-option {}", neg(rng, 20), rng.range(1, 255));
                }
            }
        }
        if name == "sctp" && rng.chance(20) {
            let chunks = [
                "DATA",
                "INIT",
                "INIT_ACK",
                "SACK",
                "ABORT",
                "SHUTDOWN",
                "COOKIE_ECHO",
            ];
            let list = match rng.below(5) {
                0 => "ALL".to_string(),
                1 => "NONE".to_string(),
                2 => format!("DATA:{}", rng.pick(&["Be", "I", "iUbE", "e"])),
                _ => subset(rng, &chunks, 3),
            };
            let kind = *rng.pick(&["any", "all", "only"]);
            let _ = write!(m, " {}--chunk-types {kind} {list}", neg(rng, 15));
        }
        if !m.trim().is_empty() {
            port_matched = true;
            if m.starts_with(" ") {
                // options with no -m go to the protocol's match only right after -p:
                // later, getopt would give them to the previous -m (abbreviated)
                line.push_str(&m);
            } else {
                matches.push(m);
            }
        }
    }
    if ports_ok && rng.chance(15) {
        let kind = *rng.pick(&["--dports", "--sports", "--ports", "--destination-ports"]);
        matches.push(format!(
            "-m multiport {}{kind} {}",
            neg(rng, 30),
            port_list(rng)
        ));
        port_matched = true;
    }
    if v6 {
        if proto == Proto::Icmp && !proto_negated && rng.chance(60) {
            let t = match rng.below(6) {
                0 => rng
                    .pick(&[
                        "echo-request",
                        "echo-reply",
                        "destination-unreachable",
                        "neighbour-solicitation",
                        "router-advertisement",
                        "packet-too-big",
                        "time-exceeded",
                        "port-unreachable",
                    ])
                    .to_string(),
                1 | 2 => rng.range(0, 255).to_string(),
                _ => format!("{}/{}", rng.range(0, 255), rng.range(0, 255)),
            };
            matches.push(format!("-m icmp6 {}--icmpv6-type {t}", neg(rng, 20)));
            port_matched = true;
        }
    } else if proto == Proto::Icmp && !proto_negated && rng.chance(60) {
        let t = match rng.below(6) {
            0 => "any".to_string(),
            1 => rng
                .pick(&[
                    "echo-request",
                    "echo-reply",
                    "port-unreachable",
                    "destination-unreachable",
                    "time-exceeded",
                ])
                .to_string(),
            2 | 3 => rng.range(0, 40).to_string(),
            _ => format!("{}/{}", rng.range(0, 40), rng.range(0, 15)),
        };
        matches.push(format!("-m icmp {}--icmp-type {t}", neg(rng, 20)));
        port_matched = true;
    }
    for _ in 0..rng.below(3) {
        if rng.chance(50) {
            matches.push(format!("-m comment --comment {}", comment(rng)));
        }
    }
    if rng.chance(20) {
        matches.push(addrtype(rng, hook, family));
    }
    if rng.chance(12) {
        matches.push(conntrack(rng, family));
    }
    if rng.chance(5) {
        let states = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"];
        matches.push(format!(
            "-m state {}--state {}",
            neg(rng, 25),
            subset(rng, &states, 3)
        ));
    }
    if rng.chance(10) {
        let v = rng.below(1 << 16);
        let mark = match rng.below(4) {
            0 => v.to_string(),
            1 => format!("0x{v:x}"),
            2 => format!("0x{v:x}/0x{:x}", rng.below(1 << 20)),
            _ => format!("0x{:x}/0xffffffff", rng.next() as u32),
        };
        matches.push(format!("-m mark {}--mark {mark}", neg(rng, 25)));
    }
    if rng.chance(4) {
        matches.push(if rng.chance(50) {
            format!(
                "-m statistic --mode random {}--probability 0.{}",
                neg(rng, 20),
                rng.range(1, 99999)
            )
        } else {
            let every = rng.range(2, 10);
            format!(
                "-m statistic --mode nth {}--every {every} --packet {}",
                neg(rng, 20),
                rng.below(every)
            )
        });
    }
    if rng.chance(3) {
        let name = format!("KUBE-SEP-{}", hex(rng, 8));
        let (part_mask, full_mask) = if v6 {
            (
                *rng.pick(&["ffff:ffff:ffff:ffff::", "ffff::", "::"]),
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            )
        } else {
            let last = *rng.pick(&["255", "0"]);
            (
                if last == "255" {
                    "255.255.255.255"
                } else {
                    "255.255.255.0"
                },
                "255.255.255.255",
            )
        };
        matches.push(match rng.below(4) {
            0 => format!(
                "-m recent --set --name {name} --mask {part_mask} {}",
                rng.pick(&["--rsource", "--rdest"])
            ),
            1 => format!(
                "-m recent --rcheck --seconds {} --reap --name {name} --mask {full_mask} --rsource",
                rng.range(1, 10800)
            ),
            2 => format!(
                "-m recent {}--update --hitcount {} --name {name}{}",
                neg(rng, 30),
                rng.range(1, 20),
                if rng.chance(50) { " --rttl" } else { "" }
            ),
            _ => format!("-m recent --remove --name {name}"),
        });
    }
    if rng.chance(3) {
        let a = rng.range(1, 200);
        let b = rng.range(a, 254);
        let net = rng.below(9);
        let range = if v6 {
            format!("fd0{net}::{a:x}-fd0{net}::{b:x}")
        } else {
            format!("10.{net}.0.{a}-10.{net}.0.{b}")
        };
        matches.push(format!(
            "-m iprange {}--{}-range {range}",
            neg(rng, 30),
            rng.pick(&["src", "dst"]),
        ));
    }
    // ip6tables' own: hop limit, fragment header
    if v6 && rng.chance(4) {
        let op = *rng.pick(&["--hl-eq", "! --hl-eq", "--hl-lt", "--hl-gt"]);
        matches.push(format!("-m hl {op} {}", rng.range(0, 255)));
    }
    if v6 && rng.chance(5) {
        let mut m = String::from("-m frag");
        if rng.chance(60) {
            let a = rng.below(1 << 32);
            let ids = if rng.chance(50) {
                a.to_string()
            } else {
                format!("{a}:{}", rng.range(a, u64::from(u32::MAX)))
            };
            let _ = write!(m, " {}--fragid {ids}", neg(rng, 25));
        }
        if rng.chance(30) {
            let _ = write!(m, " {}--fraglen {}", neg(rng, 25), rng.below(256));
        }
        for flag in ["--fragres", "--fragfirst"] {
            if rng.chance(20) {
                let _ = write!(m, " {flag}");
            }
        }
        // more and last exclude each other
        match rng.below(4) {
            0 => m.push_str(" --fragmore"),
            1 => m.push_str(" --fraglast"),
            _ => {}
        }
        matches.push(m);
    }
    // eui64 (no options, no print function): incoming hooks only
    if v6 && hook.incoming_only() && rng.chance(3) {
        matches.push("-m eui64".into());
    }
    if mobility && rng.chance(70) {
        let a = rng.below(256);
        let types = match rng.below(3) {
            0 => format!("{a}:{}", rng.range(a, 255)),
            1 => rng
                .pick(&["binding-update", "bu", "home-test", "be"])
                .to_string(),
            _ => a.to_string(),
        };
        matches.push(format!("-m mh {}--mh-type {types}", neg(rng, 25)));
    }
    if v6 && rng.chance(3) {
        let name = *rng.pick(&["hbh", "dst"]);
        let mut m = format!("-m {name}");
        if rng.chance(60) {
            let _ = write!(m, " {}--{name}-len {}", neg(rng, 25), rng.below(256));
        }
        if rng.chance(40) {
            let opts: Vec<String> = (0..rng.range(1, 4))
                .map(|_| {
                    let t = rng.below(256);
                    // PAD0 (type 0) has no length
                    if t != 0 && rng.chance(50) {
                        format!("{t}:{}", rng.below(255))
                    } else {
                        t.to_string()
                    }
                })
                .collect();
            let _ = write!(m, " --{name}-opts {}", opts.join(","));
        }
        matches.push(m);
    }
    if v6 && rng.chance(3) {
        let mut m = String::from("-m rt");
        // the --rt-0-* options need --rt-type 0 first
        let zero = rng.chance(25);
        if zero {
            m.push_str(" --rt-type 0");
        } else if rng.chance(60) {
            let _ = write!(m, " {}--rt-type {}", neg(rng, 25), rng.below(256));
        }
        if rng.chance(50) {
            let a = rng.below(1 << 32);
            let segs = if rng.chance(50) {
                a.to_string()
            } else {
                format!("{a}:{}", rng.range(a, u64::from(u32::MAX)))
            };
            let _ = write!(m, " {}--rt-segsleft {segs}", neg(rng, 25));
        }
        if rng.chance(40) {
            let _ = write!(m, " {}--rt-len {}", neg(rng, 25), rng.below(256));
        }
        if zero {
            if rng.chance(50) {
                m.push_str(" --rt-0-res");
            }
            // --rt-0-not-strict needs --rt-0-addrs before it
            if rng.chance(50) {
                let addrs: Vec<String> = (0..=rng.below(2))
                    .map(|_| format!("fd00::{:x}", rng.below(65536)))
                    .collect();
                let _ = write!(m, " --rt-0-addrs {}", addrs.join(","));
                if rng.chance(50) {
                    m.push_str(" --rt-0-not-strict");
                }
            }
        }
        matches.push(m);
    }
    if v6 && rng.chance(3) {
        let headers = [
            "hop-by-hop",
            "hop",
            "dst",
            "route",
            "frag",
            "auth",
            "esp",
            "none",
            "prot",
            "ipv6-frag",
            "44",
            "60",
        ];
        matches.push(format!(
            "-m ipv6header {}--header {}{}",
            neg(rng, 25),
            subset(rng, &headers, 4),
            if rng.chance(40) { " --soft" } else { "" }
        ));
    }
    if rng.chance(3) {
        // the kernel refuses a long period times a big burst (1/day with burst 5)
        let unit = *rng.pick(&["sec", "min", "hour", "day", "second", "minute"]);
        let n = if unit == "day" {
            rng.range(20, 100)
        } else {
            rng.range(1, 100)
        };
        let rate = format!("{n}/{unit}");
        matches.push(if rng.chance(50) {
            format!("-m limit --limit {rate}")
        } else {
            format!("-m limit --limit {rate} --limit-burst {}", rng.range(1, 5))
        });
    }
    if hook.incoming_only() && rng.chance(3) {
        matches.push(format!(
            "-m mac {}--mac-source {}",
            neg(rng, 30),
            (0..6).map(|_| hex(rng, 2)).collect::<Vec<_>>().join(":")
        ));
    }
    rng.shuffle(&mut matches);
    for m in &matches {
        line.push(' ');
        line.push_str(m);
    }

    // fragments, only where no port or type is matched (ip6tables has no -f)
    if !v6 && !port_matched && !matches!(proto, Proto::Ports(_)) && rng.chance(6) {
        let _ = write!(line, " {}-f", neg(rng, 40));
    }

    // the target
    let with_ports = ports_ok;
    let jumpable: Vec<&ChainDef> = chains
        .iter()
        .enumerate()
        .filter(|&(j, c)| !c.hook.builtin() && j > ci && hook.may_jump(c.hook))
        .map(|(_, c)| c)
        .collect();
    let mut choices: Vec<u8> = vec![b'R', b'A', b'M', b'N'];
    if !jumpable.is_empty() {
        choices.extend([b'J', b'J', b'J', b'G']);
    }
    if hook.dnat() {
        choices.extend([b'D', b'D', b'D', b'r']);
    }
    if hook.masquerade() {
        choices.extend([b'Q', b'Q']);
    }
    if hook.snat() {
        choices.extend([b'S']);
    }
    match *rng.pick(&choices) {
        b'R' => line.push_str(" -j RETURN"),
        b'A' => line.push_str(" -j ACCEPT"),
        b'N' => {}
        b'M' => {
            let v = rng.next() as u32;
            let m = rng.next() as u32;
            let _ = match rng.below(6) {
                0 => write!(line, " -j MARK --set-xmark 0x{v:x}/0x{m:x}"),
                1 => write!(line, " -j MARK --set-mark 0x{:x}", v & 0xffff),
                2 => write!(line, " -j MARK --set-mark 0x{v:x}/0x{m:x}"),
                3 => write!(line, " -j MARK --and-mark 0x{m:x}"),
                4 => write!(line, " -j MARK --or-mark 0x{:x}", v & 0x3000),
                _ => write!(line, " -j MARK --xor-mark 0x{v:x}"),
            };
        }
        b'J' => {
            let _ = write!(line, " -j {}", rng.pick(&jumpable).name);
        }
        b'G' => {
            let _ = write!(line, " -g {}", rng.pick(&jumpable).name);
        }
        b'D' if rng.chance(10) => {
            // NETMAP maps a whole prefix: `to:10.1.2.0/24` in the listing
            let _ = match family {
                Family::V4 => write!(
                    line,
                    " -j NETMAP --to 10.{}.{}.0/24",
                    rng.below(256),
                    rng.below(256)
                ),
                Family::V6 => write!(line, " -j NETMAP --to fd00:{:x}::/64", rng.below(65536)),
            };
        }
        b'D' => {
            let _ = write!(
                line,
                " -j DNAT --to-destination {}",
                nat_range_for(rng, with_ports, true, family)
            );
            if rng.chance(15) {
                line.push_str(" --random");
            }
            if rng.chance(10) {
                line.push_str(" --persistent");
            }
        }
        b'r' => {
            line.push_str(" -j REDIRECT");
            if with_ports && rng.chance(60) {
                let _ = write!(line, " --to-ports {}", port_range(rng));
            }
            if rng.chance(20) {
                line.push_str(" --random");
            }
        }
        b'Q' => {
            line.push_str(" -j MASQUERADE");
            if with_ports && rng.chance(40) {
                let _ = write!(line, " --to-ports {}", port_range(rng));
            }
            if rng.chance(15) {
                line.push_str(" --random");
            }
            if rng.chance(15) {
                line.push_str(" --random-fully");
            }
        }
        _ => {
            let _ = write!(
                line,
                " -j SNAT --to-source {}",
                nat_range_for(rng, with_ports, false, family)
            );
            for flag in [" --random", " --random-fully", " --persistent"] {
                if rng.chance(12) {
                    line.push_str(flag);
                }
            }
        }
    }
    line
}

fn port_range(rng: &mut Rng) -> String {
    let a = rng.range(1, 65000);
    if rng.chance(50) {
        a.to_string()
    } else {
        format!("{a}-{}", rng.range(a, 65535))
    }
}

/// A DNAT/SNAT range of the family: IPv6 addresses go in brackets when ports follow
/// (`[IP]:P`, `[IP1-IP2]:A-B`: the form ip6tables takes and prints).
fn nat_range_for(rng: &mut Rng, with_ports: bool, dnat: bool, family: Family) -> String {
    if family == Family::V4 {
        return nat_range(rng, with_ports, dnat);
    }
    let ip = format!("fd00::{:x}:{:x}", rng.below(256), rng.range(2, 200));
    let range_end = format!("fd00::1:{:x}", rng.range(201, 254));
    if !with_ports {
        return if rng.chance(30) {
            format!("{ip}-{range_end}")
        } else {
            ip
        };
    }
    match rng.below(8) {
        0 => ip,
        1 | 2 => format!("[{ip}]:{}", rng.range(1, 65535)),
        3 => format!("[{ip}]:{}", port_range(rng)),
        4 => format!("[{ip}-{range_end}]:{}", port_range(rng)),
        5 => format!("{ip}-{range_end}"),
        6 if dnat => {
            let a = rng.range(1024, 30000);
            let b = rng.range(a + 1, a + 1000);
            format!("[{ip}]:{a}-{b}/{}", rng.range(1, 65535))
        }
        _ if dnat => format!(":{}", rng.range(1, 65535)),
        _ => ip,
    }
}

/// A DNAT/SNAT range: `IP`, `IP:P`, `IP:A-B`, `IP1-IP2[:A-B]`, `:P`, `IP:A-B/BASE`.
fn nat_range(rng: &mut Rng, with_ports: bool, dnat: bool) -> String {
    let ip = format!("172.17.{}.{}", rng.below(256), rng.range(2, 200));
    let range_end = format!("172.18.0.{}", rng.range(201, 254));
    if !with_ports {
        return if rng.chance(30) {
            format!("{ip}-{range_end}")
        } else {
            ip
        };
    }
    match rng.below(8) {
        0 => ip,
        1 | 2 => format!("{ip}:{}", rng.range(1, 65535)),
        3 => format!("{ip}:{}", port_range(rng)),
        4 => format!("{ip}-{range_end}:{}", port_range(rng)),
        5 => format!("{ip}-{range_end}"),
        6 if dnat => {
            let a = rng.range(1024, 30000);
            let b = rng.range(a + 1, a + 1000);
            format!("{ip}:{a}-{b}/{}", rng.range(1, 65535))
        }
        _ if dnat => format!(":{}", rng.range(1, 65535)),
        _ => ip,
    }
}

fn addrtype(rng: &mut Rng, hook: Hook, family: Family) -> String {
    // the kernel matches no BROADCAST, BLACKHOLE, PROHIBIT or later types for IPv6
    const TYPES6: &[&str] = &[
        "UNSPEC",
        "UNICAST",
        "LOCAL",
        "ANYCAST",
        "MULTICAST",
        "UNREACHABLE",
    ];
    const TYPES4: &[&str] = &[
        "UNSPEC",
        "UNICAST",
        "LOCAL",
        "BROADCAST",
        "ANYCAST",
        "MULTICAST",
        "BLACKHOLE",
        "UNREACHABLE",
        "PROHIBIT",
        "THROW",
        "NAT",
        "XRESOLVE",
    ];
    let types = if family == Family::V6 { TYPES6 } else { TYPES4 };
    let mut m = String::from("-m addrtype");
    let which = rng.below(3);
    if which != 1 {
        let t = if rng.chance(50) {
            "LOCAL".into()
        } else {
            subset(rng, types, 3)
        };
        let _ = write!(m, " {}--dst-type {t}", neg(rng, 25));
    }
    if which != 0 {
        let t = subset(rng, types, 3);
        let _ = write!(m, " {}--src-type {t}", neg(rng, 25));
    }
    if hook.incoming_only() && rng.chance(15) {
        m.push_str(" --limit-iface-in");
    } else if hook.outgoing_only() && rng.chance(15) {
        m.push_str(" --limit-iface-out");
    }
    m
}

/// The states `-m conntrack --ctstate` takes.
pub const CT_STATES: &[&str] = &[
    "INVALID",
    "NEW",
    "RELATED",
    "ESTABLISHED",
    "UNTRACKED",
    "SNAT",
    "DNAT",
];

fn conntrack(rng: &mut Rng, family: Family) -> String {
    let mut opts: Vec<String> = Vec::new();
    opts.push(format!(
        "{}--ctstate {}",
        neg(rng, 25),
        subset(rng, CT_STATES, 4)
    ));
    if rng.chance(20) {
        opts.push(format!(
            "{}--ctproto {}",
            neg(rng, 20),
            rng.pick(&["6", "17", "tcp", "udp", "1"])
        ));
    }
    if rng.chance(20) {
        let (a, _) = address_for(rng, family);
        let a = a.trim_end_matches("/0").to_string();
        opts.push(format!("{}--ctorigdst {a}", neg(rng, 20)));
    }
    if rng.chance(15) {
        let status = ["EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "NONE"];
        opts.push(format!(
            "{}--ctstatus {}",
            neg(rng, 20),
            subset(rng, &status, 2)
        ));
    }
    if rng.chance(15) {
        opts.push(format!("--ctdir {}", rng.pick(&["ORIGINAL", "REPLY"])));
    }
    if rng.chance(15) {
        let p = rng.range(1, 65000);
        let v = if rng.chance(50) {
            p.to_string()
        } else {
            format!("{p}:{}", rng.range(p, 65535))
        };
        opts.push(format!("{}--ctorigdstport {v}", neg(rng, 20)));
    }
    if rng.chance(10) {
        let a = rng.range(0, 1000);
        opts.push(format!(
            "{}--ctexpire {a}:{}",
            neg(rng, 20),
            rng.range(a, 5000)
        ));
    }
    rng.shuffle(&mut opts);
    format!("-m conntrack {}", opts.join(" "))
}
