//! The rules berth wants, as data: a container's bindings + its address + the layout ->
//! the exact lines per table, in the form `iptables-save` prints them back, so that what
//! is in the kernel can be compared with what is wanted line by line. Pure.
//!
//! Per container and family (IPv4 through iptables, IPv6 through ip6tables):
//! - nat: a chain of its own, `<prefix>-<id12>`, holding one DNAT rule per binding (a
//!   range of any length is one rule), jumped to from `<prefix>`; one hairpin
//!   MASQUERADE in `<prefix>-POSTROUTING`. Removing a container removes one jump and
//!   one chain, whatever else the tables hold.
//! - filter: one ACCEPT in `<prefix>-FORWARD` for what berth's DNAT produced
//!   (`--ctstate DNAT`), so direct routing to the container stays dropped.
//! - raw: one DROP of direct routing to the container from other hosts, and one per
//!   binding on a loopback address (for this host only).
//!
//! Every rule carries `-m comment --comment "berth:<id12>"`.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::model::{Address, Family, Id12, Published};

/// berth's chains and choices: nat DNAT (`<prefix>`, and one chain per container),
/// nat POSTROUTING (hairpin, localhost), filter FORWARD acceptance, filter INPUT
/// (loopback guard), raw PREROUTING (drops). The names carry the configured prefix
/// (`chain_prefix`, default BERTH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub dnat: String,
    pub postrouting: String,
    pub forward: String,
    pub input: String,
    pub raw: String,
    /// Published ports answer on 127.0.0.1 too (`localhost_access`).
    pub localhost: bool,
}

/// The loopback guard (as Kubernetes uses it): with route_localnet on, nothing from
/// another host may reach 127.0.0.0/8.
pub const LOOPBACK_GUARD: &str = "! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP";

impl Default for Layout {
    fn default() -> Self {
        Layout::new("BERTH", true)
    }
}

impl Layout {
    pub fn new(prefix: &str, localhost: bool) -> Layout {
        Layout {
            dnat: prefix.to_string(),
            postrouting: format!("{prefix}-POSTROUTING"),
            forward: format!("{prefix}-FORWARD"),
            input: format!("{prefix}-INPUT"),
            raw: format!("{prefix}-RAW"),
            localhost,
        }
    }

    /// The nat chain of one container.
    pub fn container_chain(&self, id: &Id12) -> String {
        format!("{}-{}", self.dnat, id)
    }

    /// The container a chain name belongs to, if it is one of berth's per-container
    /// chains.
    pub fn chain_container(&self, chain: &str) -> Option<Id12> {
        let id = chain.strip_prefix(&self.dnat)?.strip_prefix('-')?;
        (id.len() == 12).then(|| Id12::new(id)).flatten()
    }

    /// Whether `chain` is one of berth's.
    pub fn owns(&self, chain: &str) -> bool {
        [
            &self.dnat,
            &self.postrouting,
            &self.forward,
            &self.input,
            &self.raw,
        ]
        .iter()
        .any(|c| *c == chain)
            || self.chain_container(chain).is_some()
    }
}

/// The tables berth writes to, in the order it writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Raw,
    Nat,
    Filter,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Raw, Table::Nat, Table::Filter];

    pub fn name(self) -> &'static str {
        match self {
            Table::Raw => "raw",
            Table::Nat => "nat",
            Table::Filter => "filter",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One container's rules in one family. Every line is an `-A` rule as iptables-save
/// prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerRules {
    /// The container's own nat chain.
    pub chain: String,
    /// The rules of that chain (DNAT), in order.
    pub dnat: Vec<String>,
    /// Rules in berth's shared chains: the jump to the container's chain and the
    /// hairpin (nat), the FORWARD acceptance (filter), the drops (raw).
    pub nat: Vec<String>,
    pub filter: Vec<String>,
    pub raw: Vec<String>,
}

impl ContainerRules {
    pub fn is_empty(&self) -> bool {
        self.dnat.is_empty() && self.nat.is_empty() && self.filter.is_empty() && self.raw.is_empty()
    }

    /// How many rules, the container chain's included.
    pub fn len(&self) -> usize {
        self.dnat.len() + self.nat.len() + self.filter.len() + self.raw.len()
    }

    /// The shared-chain rules of one table.
    pub fn shared(&self, table: Table) -> &[String] {
        match table {
            Table::Raw => &self.raw,
            Table::Nat => &self.nat,
            Table::Filter => &self.filter,
        }
    }

    /// iptables-restore input (for `--noflush`) that adds these rules to tables that
    /// hold berth's base chains and nothing of this container: what `run` writes, and
    /// what the golden files and man pages show.
    pub fn restore_text(&self) -> String {
        let mut out = String::new();
        for table in Table::ALL {
            let chain_rules = table == Table::Nat && !self.dnat.is_empty();
            if self.shared(table).is_empty() && !chain_rules {
                continue;
            }
            let _ = writeln!(out, "*{}", table.name());
            if chain_rules {
                let _ = writeln!(out, ":{} - [0:0]", self.chain);
                for r in &self.dnat {
                    let _ = writeln!(out, "{r}");
                }
            }
            for r in self.shared(table) {
                let _ = writeln!(out, "{r}");
            }
            out.push_str("COMMIT\n");
        }
        out
    }
}

/// `80` or `80:90`, as iptables-save prints a port match.
fn ports(first: u16, count: u16) -> String {
    if count <= 1 {
        first.to_string()
    } else {
        format!("{first}:{}", first.saturating_add(count - 1))
    }
}

/// A container's rules in `family`, for its address `addr` there.
pub fn container_rules(
    layout: &Layout,
    family: Family,
    id: &Id12,
    addr: &Address,
    published: &[Published],
    has_v4: bool,
    has_v6: bool,
) -> ContainerRules {
    rules_text(
        layout,
        family,
        &id.tag(),
        &layout.container_chain(id),
        &addr.ip.to_string(),
        &addr.bridge,
        published,
        has_v4,
        has_v6,
    )
}

/// The rules with the container's tag, chain and address given as text, so `run
/// --dry-run` can show placeholders for what is not known before the container exists.
#[allow(clippy::too_many_arguments)]
pub fn rules_text(
    layout: &Layout,
    family: Family,
    tag: &str,
    chain: &str,
    ip: &str,
    bridge: &str,
    published: &[Published],
    has_v4: bool,
    has_v6: bool,
) -> ContainerRules {
    let mut rs = ContainerRules {
        chain: chain.to_string(),
        ..Default::default()
    };
    let plen = family.host_prefix();
    let comment = format!("-m comment --comment \"{tag}\"");
    for p in published {
        for hip in p.host_ips(has_v4, has_v6) {
            if Family::of(&hip) != family {
                continue;
            }
            let proto = &p.proto;
            let hports = ports(p.host_port, p.count);
            let dst = if hip.is_unspecified() {
                String::new()
            } else {
                format!("-d {hip}/{plen} ")
            };
            let to = match (p.count, family) {
                (1, Family::V4) => format!("{ip}:{}", p.container_port),
                (1, Family::V6) => format!("[{ip}]:{}", p.container_port),
                _ if p.host_port == p.container_port => ip.to_string(),
                (_, Family::V4) => format!(
                    "{ip}:{}-{}/{}",
                    p.container_port,
                    p.container_end(),
                    p.host_port
                ),
                (_, Family::V6) => format!(
                    "[{ip}]:{}-{}/{}",
                    p.container_port,
                    p.container_end(),
                    p.host_port
                ),
            };
            rs.dnat.push(format!(
                "-A {chain} {dst}! -i {bridge} -p {proto} -m {proto} --dport {hports} {comment} -j DNAT --to-destination {to}"
            ));
            // a port published on a loopback address is for this host only
            if is_loopback(&hip) {
                rs.raw.push(format!(
                    "-A {} -d {hip}/{plen} ! -i lo -p {proto} -m {proto} --dport {hports} {comment} -j DROP",
                    layout.raw
                ));
            }
        }
    }
    // the same binding twice (docker keeps duplicates) is one rule
    for rules in [&mut rs.dnat, &mut rs.raw] {
        let mut seen = std::collections::HashSet::new();
        rules.retain(|r| seen.insert(r.clone()));
    }
    if rs.dnat.is_empty() {
        return ContainerRules {
            chain: rs.chain,
            ..Default::default()
        };
    }
    rs.nat
        .push(format!("-A {} {comment} -j {chain}", layout.dnat));
    // hairpin: the container reaching itself through its published port
    rs.nat.push(format!(
        "-A {} -s {ip}/{plen} -d {ip}/{plen} {comment} -j MASQUERADE",
        layout.postrouting
    ));
    // accept only what a DNAT produced: direct routing to the container stays dropped
    rs.filter.push(format!(
        "-A {} -d {ip}/{plen} ! -i {bridge} -o {bridge} -m conntrack --ctstate DNAT {comment} -j ACCEPT",
        layout.forward
    ));
    // no direct routing to a published container from other hosts
    rs.raw.push(format!(
        "-A {} -d {ip}/{plen} ! -i {bridge} {comment} -j DROP",
        layout.raw
    ));
    rs
}

fn is_loopback(ip: &IpAddr) -> bool {
    ip.is_loopback()
}

/// One piece of berth's base layout: a chain, or a rule (a jump or a fixed rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Base {
    Chain {
        table: Table,
        chain: String,
    },
    /// `rule` in `chain`: inserted first, or appended.
    Rule {
        table: Table,
        chain: String,
        rule: String,
        first: bool,
    },
}

impl Base {
    /// The line as iptables-save prints it (for rules), to compare with the kernel's.
    pub fn save_line(&self) -> Option<String> {
        match self {
            Base::Chain { .. } => None,
            Base::Rule { chain, rule, .. } => Some(format!("-A {chain} {rule}")),
        }
    }

    pub fn table(&self) -> Table {
        match self {
            Base::Chain { table, .. } | Base::Rule { table, .. } => *table,
        }
    }

    /// The iptables-restore line that creates it.
    pub fn restore_line(&self) -> String {
        match self {
            Base::Chain { chain, .. } => format!(":{chain} - [0:0]"),
            Base::Rule {
                chain, rule, first, ..
            } => {
                if *first {
                    format!("-I {chain} 1 {rule}")
                } else {
                    format!("-A {chain} {rule}")
                }
            }
        }
    }
}

impl std::fmt::Display for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Base::Chain { table, chain } => write!(f, "chain {chain} (table {})", table.name()),
            Base::Rule {
                table, chain, rule, ..
            } => write!(f, "-A {chain} {rule} (table {})", table.name()),
        }
    }
}

/// berth's base layout in one family: its chains, the jumps into them from the
/// built-in chains (FORWARD's from `forward_from`: DOCKER-USER where Docker made it),
/// the loopback guard, and one localhost MASQUERADE per bridge in `bridges` (IPv4 with
/// localhost access only: IPv6 has no route_localnet).
pub fn base(layout: &Layout, family: Family, forward_from: &str, bridges: &[String]) -> Vec<Base> {
    let chain = |table, chain: &str| Base::Chain {
        table,
        chain: chain.to_string(),
    };
    let rule = |table, chain: &str, rule: String, first| Base::Rule {
        table,
        chain: chain.to_string(),
        rule,
        first,
    };
    let v4 = family == Family::V4;
    let mut out = vec![
        chain(Table::Raw, &layout.raw),
        chain(Table::Nat, &layout.dnat),
        chain(Table::Nat, &layout.postrouting),
        chain(Table::Filter, &layout.forward),
    ];
    if v4 {
        out.push(chain(Table::Filter, &layout.input));
    }
    out.push(rule(
        Table::Raw,
        "PREROUTING",
        format!("-j {}", layout.raw),
        true,
    ));
    out.push(rule(
        Table::Nat,
        "PREROUTING",
        format!("-m addrtype --dst-type LOCAL -j {}", layout.dnat),
        true,
    ));
    // from this host: 127.0.0.1 too when localhost access is on (as Docker's proxy
    // does); never ::1, which the kernel cannot route to a bridge
    let output_match = match (family, layout.localhost) {
        (Family::V4, true) => "",
        (Family::V4, false) => "! -d 127.0.0.0/8 ",
        (Family::V6, _) => "! -d ::1/128 ",
    };
    out.push(rule(
        Table::Nat,
        "OUTPUT",
        format!(
            "{output_match}-m addrtype --dst-type LOCAL -j {}",
            layout.dnat
        ),
        true,
    ));
    out.push(rule(
        Table::Nat,
        "POSTROUTING",
        format!("-j {}", layout.postrouting),
        true,
    ));
    out.push(rule(
        Table::Filter,
        forward_from,
        format!("-j {}", layout.forward),
        true,
    ));
    if v4 {
        out.push(rule(
            Table::Filter,
            "INPUT",
            format!("-j {}", layout.input),
            true,
        ));
        out.push(rule(
            Table::Filter,
            &layout.input,
            LOOPBACK_GUARD.to_string(),
            false,
        ));
        if layout.localhost {
            for br in bridges {
                out.push(rule(
                    Table::Nat,
                    &layout.postrouting,
                    format!("-s 127.0.0.0/8 -o {br} -j MASQUERADE"),
                    false,
                ));
            }
        }
    }
    out
}

/// The scenarios of the golden files under tests/golden/ (the man pages, README and
/// the rule tests show these exact rules): a container 0123456789ab at 172.17.0.2 and
/// fd00:b::2 on docker0. `cargo run --example regen-golden` rewrites the files.
#[doc(hidden)]
pub fn golden_cases() -> Vec<(&'static str, String)> {
    let id = Id12::new("0123456789ab").expect("an id");
    let v4 = Address {
        ip: "172.17.0.2".parse().expect("an address"),
        bridge: "docker0".into(),
    };
    let v6 = Address {
        ip: "fd00:b::2".parse().expect("an address"),
        bridge: "docker0".into(),
    };
    let p = |proto: &str, cport: u16, ip: &str, hport: u16, count: u16, dual: bool| Published {
        proto: proto.into(),
        container_port: cport,
        host_ip: ip.parse().expect("an address"),
        host_port: hport,
        count,
        dual,
    };
    let l = Layout::default();
    let four = |published: &[Published]| {
        container_rules(&l, Family::V4, &id, &v4, published, true, false).restore_text()
    };
    let six = |published: &[Published]| {
        container_rules(&l, Family::V6, &id, &v6, published, true, true).restore_text()
    };
    vec![
        (
            "single-port",
            four(&[p("tcp", 80, "0.0.0.0", 8080, 1, true)]),
        ),
        (
            "host-ip",
            four(&[p("tcp", 80, "192.0.2.10", 8080, 1, false)]),
        ),
        (
            "localhost",
            four(&[p("tcp", 80, "127.0.0.1", 8081, 1, false)]),
        ),
        (
            "identical-range",
            four(&[p("tcp", 8000, "0.0.0.0", 8000, 1000, true)]),
        ),
        (
            "shifted-range",
            four(&[p("tcp", 18000, "0.0.0.0", 8000, 1000, true)]),
        ),
        (
            "udp-sctp",
            four(&[
                p("udp", 53, "0.0.0.0", 5353, 1, true),
                p("sctp", 9, "0.0.0.0", 9999, 1, true),
            ]),
        ),
        ("ipv6-dual", six(&[p("tcp", 80, "0.0.0.0", 8080, 1, true)])),
        (
            "ipv6-host-ip-and-ranges",
            six(&[
                p("tcp", 80, "2001:db8::10", 8080, 1, false),
                p("tcp", 8000, "::", 8000, 100, false),
                p("udp", 18000, "::", 9000, 100, false),
            ]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        // every file is a case and every case a file
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".rules").map(str::to_string)
            })
            .collect();
        files.sort();
        let cases = golden_cases();
        let mut names: Vec<String> = cases.iter().map(|(n, _)| n.to_string()).collect();
        names.sort();
        assert_eq!(names, files);
        assert_eq!(names.len(), 8);
        for (name, text) in cases {
            let path = dir.join(format!("{name}.rules"));
            let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
                panic!(
                    "{} missing: cargo run --example regen-golden",
                    path.display()
                )
            });
            assert_eq!(text, want, "{name}: rules differ from {}", path.display());
        }
    }

    fn id() -> Id12 {
        Id12::new("0123456789ab").unwrap()
    }

    fn addr(ip: &str) -> Address {
        Address {
            ip: ip.parse().unwrap(),
            bridge: "docker0".into(),
        }
    }

    fn publ(proto: &str, cport: u16, ip: &str, hport: u16, count: u16) -> Published {
        Published {
            proto: proto.into(),
            container_port: cport,
            host_ip: ip.parse().unwrap(),
            host_port: hport,
            count,
            dual: false,
        }
    }

    fn v4(published: &[Published]) -> ContainerRules {
        container_rules(
            &Layout::default(),
            Family::V4,
            &id(),
            &addr("172.17.0.2"),
            published,
            true,
            false,
        )
    }

    #[test]
    fn one_binding() {
        let rs = v4(&[publ("tcp", 80, "0.0.0.0", 8080, 1)]);
        assert_eq!(
            rs.dnat,
            vec![
                "-A BERTH-0123456789ab ! -i docker0 -p tcp -m tcp --dport 8080 -m comment --comment \"berth:0123456789ab\" -j DNAT --to-destination 172.17.0.2:80"
            ]
        );
        assert_eq!(
            rs.nat[0],
            "-A BERTH -m comment --comment \"berth:0123456789ab\" -j BERTH-0123456789ab"
        );
        assert_eq!(rs.len(), 5);
    }

    #[test]
    fn a_range_is_one_rule_whatever_its_length_and_so_are_many_ports() {
        let big = v4(&[publ("tcp", 1024, "0.0.0.0", 1024, 64512)]);
        let small = v4(&[publ("tcp", 80, "0.0.0.0", 80, 1)]);
        assert_eq!(big.len(), small.len());
        assert!(
            big.dnat[0].contains("--dport 1024:65535"),
            "{}",
            big.dnat[0]
        );
        assert!(big.dnat[0].ends_with("--to-destination 172.17.0.2"));
        // 300 separate ports: 300 DNAT rules, and still one hairpin, one FORWARD rule
        let many: Vec<Published> = (0..300)
            .map(|i| publ("tcp", 1000 + i, "0.0.0.0", 20000 + 2 * i, 1))
            .collect();
        let rs = v4(&many);
        assert_eq!(rs.dnat.len(), 300);
        assert_eq!((rs.nat.len(), rs.filter.len(), rs.raw.len()), (2, 1, 1));
    }

    #[test]
    fn shifted_range_and_loopback() {
        let rs = v4(&[
            publ("tcp", 18000, "0.0.0.0", 8000, 1000),
            publ("udp", 53, "127.0.0.1", 5353, 1),
        ]);
        assert!(rs.dnat[0].ends_with("--to-destination 172.17.0.2:18000-18999/8000"));
        assert!(
            rs.dnat[1].starts_with("-A BERTH-0123456789ab -d 127.0.0.1/32 ! -i docker0 -p udp")
        );
        assert_eq!(rs.raw.len(), 2, "{:#?}", rs.raw);
        assert!(rs.raw[0].contains("-d 127.0.0.1/32 ! -i lo -p udp -m udp --dport 5353"));
    }

    #[test]
    fn ipv6_mirrors_ipv4_with_brackets() {
        let dual = Published {
            dual: true,
            ..publ("tcp", 80, "0.0.0.0", 8080, 1)
        };
        let a6 = addr("fd00::2");
        let rs = container_rules(
            &Layout::default(),
            Family::V6,
            &id(),
            &a6,
            std::slice::from_ref(&dual),
            true,
            true,
        );
        assert!(
            rs.dnat[0].ends_with("--to-destination [fd00::2]:80"),
            "{}",
            rs.dnat[0]
        );
        assert!(rs.raw[0].contains("-d fd00::2/128 ! -i docker0"));
        // without an IPv6 address, a dual binding has no IPv6 rule
        let rs = container_rules(
            &Layout::default(),
            Family::V6,
            &id(),
            &a6,
            &[dual],
            true,
            false,
        );
        assert!(rs.is_empty());
        // and an IPv4 binding never has one
        let rs = container_rules(
            &Layout::default(),
            Family::V6,
            &id(),
            &a6,
            &[publ("tcp", 80, "0.0.0.0", 8080, 1)],
            true,
            true,
        );
        assert!(rs.is_empty());
    }

    #[test]
    fn no_bindings_no_rules_and_duplicates_are_one() {
        assert!(v4(&[]).is_empty());
        // no rules, but the same chain name as with rules (what restore_text would use)
        assert_eq!(v4(&[]).chain, "BERTH-0123456789ab");
        let p = publ("tcp", 80, "0.0.0.0", 8080, 1);
        assert_eq!(v4(&[p.clone(), p]).dnat.len(), 1);
    }

    #[test]
    fn chains_of_containers_are_berths() {
        let l = Layout::default();
        assert_eq!(l.chain_container("BERTH-0123456789ab"), Some(id()));
        assert_eq!(l.chain_container("BERTH-POSTROUTING"), None);
        assert_eq!(l.chain_container("BERTHX0123456789ab"), None);
        assert!(l.owns("BERTH-0123456789ab") && l.owns("BERTH-RAW") && !l.owns("DOCKER"));
    }

    #[test]
    fn base_layout_per_family() {
        let l = Layout::default();
        let v4 = base(&l, Family::V4, "DOCKER-USER", &["docker0".into()]);
        let v6 = base(&l, Family::V6, "FORWARD", &["docker0".into()]);
        assert!(
            v4.iter()
                .any(|b| b.save_line().as_deref() == Some("-A DOCKER-USER -j BERTH-FORWARD"))
        );
        assert!(v4.iter().any(|b| b.save_line().as_deref()
            == Some("-A BERTH-POSTROUTING -s 127.0.0.0/8 -o docker0 -j MASQUERADE")));
        assert!(v6.iter().any(|b| b.save_line().as_deref()
            == Some("-A OUTPUT ! -d ::1/128 -m addrtype --dst-type LOCAL -j BERTH")));
        assert!(!v6.iter().any(|b| format!("{b}").contains("127.0.0.0/8")));
        assert!(!v6.iter().any(|b| format!("{b}").contains("INPUT")));
    }

    #[test]
    fn a_layout_owns_its_chains_and_twelve_digit_container_chains_only() {
        let l = Layout::new("PUB", false);
        for c in [
            "PUB",
            "PUB-POSTROUTING",
            "PUB-FORWARD",
            "PUB-INPUT",
            "PUB-RAW",
            "PUB-0123456789ab",
        ] {
            assert!(l.owns(c), "{c}");
        }
        for c in [
            "BERTH",
            "BERTH-RAW",
            "PUB-OTHER",
            "PUB-0123456789abc",
            "PUB-0123456789a",
            "DOCKER",
        ] {
            assert!(!l.owns(c), "{c}");
        }
        assert_eq!(l.container_chain(&id()), "PUB-0123456789ab");
        assert_eq!(l.chain_container("PUB-0123456789ab"), Some(id()));
        assert_eq!(l.chain_container("PUB-0123456789abc"), None);
        assert!(!l.localhost && Layout::default().localhost);
    }

    #[test]
    fn tables_by_name() {
        for t in Table::ALL {
            assert_eq!(Table::from_name(t.name()), Some(t));
        }
        assert_eq!(Table::ALL.map(Table::name), ["raw", "nat", "filter"]);
        assert_eq!(Table::from_name("mangle"), None);
    }

    #[test]
    fn rules_of_one_table_are_not_nothing() {
        let only = |t: usize| {
            let mut r = ContainerRules::default();
            let v = vec!["-A X -j RETURN".to_string()];
            match t {
                0 => r.dnat = v,
                1 => r.nat = v,
                2 => r.filter = v,
                _ => r.raw = v,
            }
            r
        };
        assert!(ContainerRules::default().is_empty());
        for t in 0..4 {
            assert!(!only(t).is_empty(), "{t}");
            assert_eq!(only(t).len(), 1);
        }
        assert_eq!(only(2).shared(Table::Filter).len(), 1);
        assert_eq!(only(3).shared(Table::Raw).len(), 1);
        assert_eq!(only(1).shared(Table::Nat).len(), 1);
        // a table with nothing of the container is not written at all
        let text = only(2).restore_text();
        assert_eq!(text, "*filter\n-A X -j RETURN\nCOMMIT\n");
        assert_eq!(ContainerRules::default().restore_text(), "");
    }

    #[test]
    fn base_rules_say_where_they_go() {
        let chain = Base::Chain {
            table: Table::Nat,
            chain: "BERTH".into(),
        };
        assert_eq!(chain.save_line(), None);
        assert_eq!(chain.table(), Table::Nat);
        assert_eq!(chain.restore_line(), ":BERTH - [0:0]");
        assert_eq!(chain.to_string(), "chain BERTH (table nat)");
        let first = Base::Rule {
            table: Table::Raw,
            chain: "PREROUTING".into(),
            rule: "-j BERTH-RAW".into(),
            first: true,
        };
        assert_eq!(first.table(), Table::Raw);
        assert_eq!(
            first.save_line().as_deref(),
            Some("-A PREROUTING -j BERTH-RAW")
        );
        assert_eq!(first.restore_line(), "-I PREROUTING 1 -j BERTH-RAW");
        assert_eq!(first.to_string(), "-A PREROUTING -j BERTH-RAW (table raw)");
        let last = Base::Rule {
            table: Table::Filter,
            chain: "PREROUTING".into(),
            rule: "-j BERTH-RAW".into(),
            first: false,
        };
        assert_eq!(last.restore_line(), "-A PREROUTING -j BERTH-RAW");
        assert_eq!(last.table(), Table::Filter);
    }

    #[test]
    fn without_localhost_access_this_hosts_loopback_is_left_out() {
        let lines = |l: &Layout, f| {
            base(l, f, "FORWARD", &["docker0".into(), "br-1".into()])
                .iter()
                .map(|b| (b.table(), b.restore_line()))
                .collect::<Vec<_>>()
        };
        let on = lines(&Layout::default(), Family::V4);
        let off = lines(&Layout::new("BERTH", false), Family::V4);
        let out = |v: &[(Table, String)], want: &str| {
            v.iter().any(|(t, r)| *t == Table::Nat && r == want)
        };
        assert!(out(
            &on,
            "-I OUTPUT 1 -m addrtype --dst-type LOCAL -j BERTH"
        ));
        assert!(out(
            &off,
            "-I OUTPUT 1 ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j BERTH"
        ));
        let masq =
            |v: &[(Table, String)]| v.iter().filter(|(_, r)| r.contains("MASQUERADE")).count();
        assert_eq!((masq(&on), masq(&off)), (2, 0));
        assert!(out(
            &on,
            "-A BERTH-POSTROUTING -s 127.0.0.0/8 -o br-1 -j MASQUERADE"
        ));
        // the guard and the INPUT chain are IPv4's, in filter, appended after the jump
        let guard = format!("-A BERTH-INPUT {LOOPBACK_GUARD}");
        assert!(on.contains(&(Table::Filter, guard.clone())));
        assert!(off.contains(&(Table::Filter, guard)));
        assert!(on.contains(&(Table::Filter, ":BERTH-INPUT - [0:0]".into())));
        assert!(on.contains(&(Table::Filter, "-I INPUT 1 -j BERTH-INPUT".into())));
        assert!(on.contains(&(Table::Filter, "-I FORWARD 1 -j BERTH-FORWARD".into())));
        assert!(on.contains(&(Table::Raw, "-I PREROUTING 1 -j BERTH-RAW".into())));
        assert!(on.contains(&(Table::Nat, "-I POSTROUTING 1 -j BERTH-POSTROUTING".into())));
        assert!(on.contains(&(
            Table::Nat,
            "-I PREROUTING 1 -m addrtype --dst-type LOCAL -j BERTH".into()
        )));
        let v6 = lines(&Layout::default(), Family::V6);
        assert_eq!(masq(&v6), 0);
        assert_eq!(v6.len(), 9, "{v6:#?}");
        assert_eq!(on.len(), 14, "{on:#?}");
    }
}
