//! Rules as data: a container's published ports + its address + its bridge -> the exact
//! rules berth writes, as a `Ruleset` value rendered as iptables-restore text. Pure.
//!
//! Each rule is written in the form `iptables-save` prints it back, so the rules found
//! in the kernel can be compared with the plan line by line (`nat sync`). Every rule
//! carries `-m comment --comment "berth:<12-hex id>"`, so a container's rules can be
//! found and removed even after a crash. The chains are the `Layout`'s.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::alloc::Published;

/// berth's chains and choices, the same for every rule berth writes in one process:
/// nat DNAT, nat POSTROUTING (hairpin, localhost), filter FORWARD acceptance, filter
/// INPUT (loopback guard), raw PREROUTING (drops). The names carry the configured
/// prefix (`chain_prefix`, default BERTH).
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
    }
}

static LAYOUT: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();

/// The layout in force: the configured one, else the default (BERTH, localhost on).
pub fn layout() -> &'static Layout {
    LAYOUT.get_or_init(|| Layout::new("BERTH", true))
}

/// Fix the layout for this process (from the config), before any rule is planned.
pub fn set_layout(layout: Layout) {
    let _ = LAYOUT.set(layout);
}

/// The comment that ties a rule to a container.
pub fn tag(id12: &str) -> String {
    format!("berth:{id12}")
}

/// Where a container's published traffic goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The container's 12-hex ID.
    pub id12: String,
    /// Its address on the bridge.
    pub ip: Ipv4Addr,
    /// The bridge interface (`docker0`, `br-<network id>`).
    pub bridge: String,
}

/// One container's rules, per table, each line an `-A` rule as iptables-save prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub nat: Vec<String>,
    pub filter: Vec<String>,
    pub raw: Vec<String>,
}

impl Ruleset {
    pub fn is_empty(&self) -> bool {
        self.nat.is_empty() && self.filter.is_empty() && self.raw.is_empty()
    }

    pub fn len(&self) -> usize {
        self.nat.len() + self.filter.len() + self.raw.len()
    }

    /// The tables in the order berth writes them.
    pub fn tables(&self) -> [(&'static str, &[String]); 3] {
        [
            ("raw", &self.raw),
            ("nat", &self.nat),
            ("filter", &self.filter),
        ]
    }

    /// iptables-restore input (for `--noflush`): one section per non-empty table.
    pub fn restore_text(&self) -> String {
        let mut out = String::new();
        for (table, rules) in self.tables() {
            if rules.is_empty() {
                continue;
            }
            let _ = writeln!(out, "*{table}");
            for rule in rules {
                out.push_str(rule);
                out.push('\n');
            }
            out.push_str("COMMIT\n");
        }
        out
    }

    /// The same rules as deletions (`-D`), for iptables-restore `--noflush`.
    pub fn delete_text(&self) -> String {
        let mut del = self.clone();
        for rules in [&mut del.nat, &mut del.filter, &mut del.raw] {
            for r in rules.iter_mut() {
                if let Some(rest) = r.strip_prefix("-A ") {
                    *r = format!("-D {rest}");
                }
            }
        }
        del.restore_text()
    }
}

/// `80` or `80:90`, as iptables-save prints a port match.
fn ports(first: u16, count: u16) -> String {
    if count <= 1 {
        first.to_string()
    } else {
        format!("{first}:{}", first + (count - 1))
    }
}

/// The rules for one container.
pub fn plan(target: &Target, published: &[Published]) -> Ruleset {
    let mut rs = Ruleset::default();
    let l = layout();
    let (dnat, post, fwd, raw) = (&l.dnat, &l.postrouting, &l.forward, &l.raw);
    let tag = tag(&target.id12);
    let cip = target.ip;
    let br = &target.bridge;
    for p in published {
        // only IPv4 bindings go through iptables; see DESIGN (IPv6 mirrors it later)
        let IpAddr::V4(hip) = p.host_ip else { continue };
        let proto = &p.proto;
        let hports = ports(p.host_port, p.count);
        let cports = ports(p.container_port, p.count);
        let dst = if hip.is_unspecified() {
            String::new()
        } else {
            format!("-d {hip}/32 ")
        };
        let to = match p.count {
            1 => format!("{cip}:{}", p.container_port),
            _ if p.host_port == p.container_port => cip.to_string(),
            _ => format!(
                "{cip}:{}-{}/{}",
                p.container_port,
                p.container_end(),
                p.host_port
            ),
        };
        rs.nat.push(format!(
            "-A {dnat} {dst}! -i {br} -p {proto} -m {proto} --dport {hports} -m comment --comment \"{tag}\" -j DNAT --to-destination {to}"
        ));
        // hairpin: the container reaching itself through its published port
        rs.nat.push(format!(
            "-A {post} -s {cip}/32 -d {cip}/32 -p {proto} -m {proto} --dport {cports} -m comment --comment \"{tag}\" -j MASQUERADE"
        ));
        // accept only what berth's DNAT produced
        rs.filter.push(format!(
            "-A {fwd} -d {cip}/32 ! -i {br} -o {br} -p {proto} -m {proto} --dport {cports} -m conntrack --ctstate DNAT -m comment --comment \"{tag}\" -j ACCEPT"
        ));
        // a port published on a loopback address is for this host only
        if hip.is_loopback() {
            rs.raw.push(format!(
                "-A {raw} -d {hip}/32 ! -i lo -p {proto} -m {proto} --dport {hports} -m comment --comment \"{tag}\" -j DROP"
            ));
        }
    }
    // two bindings of one container port (e.g. 8080 and 127.0.0.1:8081 -> 80) share
    // their hairpin and FORWARD rules
    for rules in [&mut rs.nat, &mut rs.filter, &mut rs.raw] {
        let mut seen = std::collections::HashSet::new();
        rules.retain(|r| seen.insert(r.clone()));
    }
    if !rs.nat.is_empty() {
        // no direct routing to a published container from other hosts
        rs.raw.push(format!(
            "-A {raw} -d {cip}/32 ! -i {br} -m comment --comment \"{tag}\" -j DROP"
        ));
    }
    rs
}

/// The rules of `save_text` (iptables-save output, all tables) that belong to
/// container `id12`, as a Ruleset.
pub fn find_tagged(save_text: &str, id12: &str) -> Ruleset {
    let needle = format!("--comment \"{}\"", tag(id12));
    let mut rs = Ruleset::default();
    let mut table = "";
    for line in save_text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = match t {
                "nat" => "nat",
                "filter" => "filter",
                "raw" => "raw",
                _ => "",
            };
        } else if line.starts_with("-A ") && line.contains(&needle) {
            let rules = match table {
                "nat" => &mut rs.nat,
                "filter" => &mut rs.filter,
                "raw" => &mut rs.raw,
                _ => continue,
            };
            rules.push(line.to_string());
        }
    }
    rs
}

/// The 12-hex IDs of every container that has berth rules in `save_text`.
pub fn tagged_ids(save_text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for line in save_text.lines().filter(|l| l.starts_with("-A ")) {
        let mut rest = line;
        while let Some(pos) = rest.find("--comment \"berth:") {
            let id: String = rest[pos + 17..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            if id.len() == 12 && !ids.contains(&id) {
                ids.push(id);
            }
            rest = &rest[pos + 17..];
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn target() -> Target {
        Target {
            id12: "0123456789ab".into(),
            ip: "172.17.0.2".parse().unwrap(),
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
        }
    }

    /// Compare with tests/golden/NAME.rules; `BERTH_REGENERATE=1` writes it.
    fn golden(name: &str, published: &[Published]) {
        let text = plan(&target(), published).restore_text();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.rules"));
        if std::env::var_os("BERTH_REGENERATE").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} missing: run with BERTH_REGENERATE=1", path.display()));
        assert_eq!(text, want, "{name}: plan differs from {}", path.display());
    }

    #[test]
    fn golden_single_port() {
        golden("single-port", &[publ("tcp", 80, "0.0.0.0", 8080, 1)]);
    }

    #[test]
    fn golden_host_ip() {
        golden("host-ip", &[publ("tcp", 80, "192.0.2.10", 8080, 1)]);
    }

    #[test]
    fn golden_localhost() {
        golden("localhost", &[publ("tcp", 80, "127.0.0.1", 8081, 1)]);
    }

    #[test]
    fn golden_identical_range() {
        golden(
            "identical-range",
            &[publ("tcp", 8000, "0.0.0.0", 8000, 1000)],
        );
    }

    #[test]
    fn golden_shifted_range() {
        golden(
            "shifted-range",
            &[publ("tcp", 18000, "0.0.0.0", 8000, 1000)],
        );
    }

    #[test]
    fn golden_udp_and_sctp() {
        golden(
            "udp-sctp",
            &[
                publ("udp", 53, "0.0.0.0", 5353, 1),
                publ("sctp", 9, "0.0.0.0", 9999, 1),
            ],
        );
    }

    #[test]
    fn a_range_is_one_rule_per_table_whatever_its_length() {
        let big = plan(&target(), &[publ("tcp", 1024, "0.0.0.0", 1024, 64512)]);
        let small = plan(&target(), &[publ("tcp", 80, "0.0.0.0", 80, 1)]);
        assert_eq!(big.len(), small.len());
        assert!(big.nat[0].contains("--dport 1024:65535"), "{}", big.nat[0]);
    }

    #[test]
    fn bindings_of_one_container_port_share_rules() {
        let rs = plan(
            &target(),
            &[
                publ("tcp", 80, "0.0.0.0", 8080, 1),
                publ("tcp", 80, "127.0.0.1", 8081, 1),
            ],
        );
        assert_eq!(rs.nat.len(), 3, "two DNAT, one hairpin: {:#?}", rs.nat);
        assert_eq!(rs.filter.len(), 1);
        assert_eq!(rs.raw.len(), 2);
    }

    #[test]
    fn no_bindings_no_rules() {
        assert!(plan(&target(), &[]).is_empty());
    }

    #[test]
    fn finds_rules_by_tag() {
        let rs = plan(&target(), &[publ("tcp", 80, "127.0.0.1", 8081, 1)]);
        let save = format!(
            "*raw\n:PREROUTING ACCEPT [0:0]\n{}\nCOMMIT\n*nat\n-A DOCKER -j RETURN\n{}\nCOMMIT\n*filter\n{}\nCOMMIT\n",
            rs.raw.join("\n"),
            rs.nat.join("\n"),
            rs.filter.join("\n")
        );
        assert_eq!(find_tagged(&save, "0123456789ab"), rs);
        assert!(find_tagged(&save, "ffffffffffff").is_empty());
        assert_eq!(tagged_ids(&save), vec!["0123456789ab".to_string()]);
        assert!(
            rs.delete_text()
                .contains("\n-D BERTH -d 127.0.0.1/32 ! -i docker0")
        );
    }
}
