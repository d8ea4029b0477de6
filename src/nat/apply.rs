//! The only code that changes the firewall. It reads the tables with one
//! `iptables-save`, creates berth's base chains and jumps when they are missing (crate
//! `iptables`), and writes or removes all rules of a container in ONE
//! `iptables-restore --noflush --wait` call: every rule or none.
//!
//! It always uses the iptables variant the host uses (nf_tables or legacy), so berth's
//! rules sit beside Docker's and never in a table nobody looks at.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::nat::plan::{Ruleset, find_tagged, layout};
use crate::nat::variant::Variant;

/// The loopback guard (as Kubernetes uses it): with route_localnet on, nothing from
/// another host may reach 127.0.0.0/8.
pub const LOOPBACK_GUARD: &str = "! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP";

/// The host's firewall, through one iptables variant.
#[derive(Debug, Clone)]
pub struct Firewall {
    variant: Variant,
}

/// One missing piece of berth's base layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Chain {
        table: &'static str,
        chain: String,
    },
    /// A rule: inserted first in its chain, or appended.
    Rule {
        table: &'static str,
        chain: String,
        rule: String,
        first: bool,
    },
    /// `net.ipv4.conf.<bridge>.route_localnet` is off.
    RouteLocalnet(String),
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Chain { table, chain } => write!(f, "chain {chain} (table {table})"),
            Missing::Rule {
                table, chain, rule, ..
            } => write!(f, "-A {chain} {rule} (table {table})"),
            Missing::RouteLocalnet(br) => write!(f, "net.ipv4.conf.{br}.route_localnet=1"),
        }
    }
}

impl Firewall {
    pub fn new(variant: Variant) -> Firewall {
        Firewall { variant }
    }

    /// The host's variant.
    pub fn detect() -> Result<Firewall> {
        Ok(Firewall::new(Variant::detect()?))
    }

    pub fn variant(&self) -> &Variant {
        &self.variant
    }

    /// Every table, as iptables-save prints it (one process).
    pub fn save_all(&self) -> Result<String> {
        let out = Command::new(self.variant.save_cmd())
            .output()
            .map_err(|e| Error::failed(format!("cannot run {}: {e}", self.variant.save_cmd())))?;
        if !out.status.success() {
            return Err(Error::failed(format!(
                "{} failed: {}",
                self.variant.save_cmd(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The other variant's tables, when it has any (to spot rules in the wrong one).
    pub fn other_variant_save(&self) -> Option<String> {
        let out = Command::new(other_variant(self.variant).save_cmd())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Feed `text` to `iptables-restore --noflush --wait` (one transaction).
    pub fn restore(&self, text: &str) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let cmd = self.variant.restore_cmd();
        let mut child = Command::new(cmd)
            .args(["--noflush", "--wait"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::failed(format!("cannot run {cmd}: {e}")))?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(text.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(Error::failed(format!(
                "{cmd} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// Write one container's rules.
    pub fn apply(&self, rules: &Ruleset) -> Result<()> {
        self.restore(&rules.restore_text())
    }

    /// Remove every rule tagged with one of `ids` (12-hex), in one call. Returns how
    /// many rules went.
    pub fn remove_tagged(&self, save_text: &str, ids: &[String]) -> Result<usize> {
        let mut all = Ruleset::default();
        for id in ids {
            let rs = find_tagged(save_text, id);
            all.nat.extend(rs.nat);
            all.filter.extend(rs.filter);
            all.raw.extend(rs.raw);
        }
        self.restore(&all.delete_text())?;
        Ok(all.len())
    }

    /// Create whatever is missing of the base layout; returns what was created.
    pub fn ensure_base(&self, save_text: &str, bridges: &[String]) -> Result<Vec<Missing>> {
        let missing = missing_base(save_text, bridges, &route_localnet_off(bridges));
        if missing.is_empty() {
            return Ok(missing);
        }
        let ipt = iptables::IPTables {
            cmd: self.variant.iptables_cmd(),
            has_check: true,
            has_wait: true,
            is_numeric: true,
        };
        let fail = |what: &Missing, e: Box<dyn std::error::Error>| {
            Error::failed(format!("cannot create {what}: {}", e.to_string().trim()))
        };
        for m in &missing {
            match m {
                Missing::Chain { table, chain } => {
                    if !ipt.chain_exists(table, chain).map_err(|e| fail(m, e))? {
                        ipt.new_chain(table, chain).map_err(|e| fail(m, e))?;
                    }
                }
                Missing::Rule {
                    table,
                    chain,
                    rule,
                    first,
                } => {
                    if !ipt.exists(table, chain, rule).map_err(|e| fail(m, e))? {
                        let done = if *first {
                            ipt.insert(table, chain, rule, 1)
                        } else {
                            ipt.append(table, chain, rule)
                        };
                        done.map_err(|e| fail(m, e))?;
                    }
                }
                Missing::RouteLocalnet(br) => {
                    std::fs::write(route_localnet_path(br), "1")
                        .map_err(|e| Error::failed(format!("cannot set {m}: {e}")))?;
                }
            }
        }
        Ok(missing)
    }
}

/// nf_tables for legacy and the other way round.
pub fn other_variant(v: Variant) -> Variant {
    match v {
        Variant::Nft => Variant::Legacy,
        Variant::Legacy => Variant::Nft,
    }
}

fn route_localnet_path(bridge: &str) -> String {
    format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet")
}

/// Bridges whose route_localnet is off (needed for 127.0.0.1 -> container).
fn route_localnet_off(bridges: &[String]) -> Vec<String> {
    bridges
        .iter()
        .filter(|br| {
            std::fs::read_to_string(route_localnet_path(br))
                .map(|v| v.trim() != "1")
                .unwrap_or(false)
        })
        .cloned()
        .collect()
}

/// What of berth's base layout `save_text` lacks. Pure, so `nat check` and the tests
/// can use it.
pub fn missing_base(save_text: &str, bridges: &[String], localnet_off: &[String]) -> Vec<Missing> {
    let tables = split_tables(save_text);
    let has_chain = |table: &str, chain: &str| {
        tables.iter().any(|(t, lines)| {
            *t == table && lines.iter().any(|l| l.starts_with(&format!(":{chain} ")))
        })
    };
    let has_rule = |table: &str, chain: &str, rule: &str| {
        let want = format!("-A {chain} {rule}");
        tables
            .iter()
            .any(|(t, lines)| *t == table && lines.iter().any(|l| *l == want))
    };
    let l = layout();
    let mut missing = Vec::new();
    for (table, chain) in [
        ("raw", &l.raw),
        ("nat", &l.dnat),
        ("nat", &l.postrouting),
        ("filter", &l.forward),
        ("filter", &l.input),
    ] {
        if !has_chain(table, chain) {
            missing.push(Missing::Chain {
                table,
                chain: chain.clone(),
            });
        }
    }
    let forward_from = if has_chain("filter", "DOCKER-USER") {
        "DOCKER-USER"
    } else {
        "FORWARD"
    };
    // from this host: 127.0.0.1 too when localhost access is on, as Docker's proxy does
    let output_match = if l.localhost { "" } else { "! -d 127.0.0.0/8 " };
    let mut rules: Vec<(&'static str, String, String, bool)> = vec![
        ("raw", "PREROUTING".into(), format!("-j {}", l.raw), true),
        (
            "nat",
            "PREROUTING".into(),
            format!("-m addrtype --dst-type LOCAL -j {}", l.dnat),
            true,
        ),
        (
            "nat",
            "OUTPUT".into(),
            format!("{output_match}-m addrtype --dst-type LOCAL -j {}", l.dnat),
            true,
        ),
        (
            "nat",
            "POSTROUTING".into(),
            format!("-j {}", l.postrouting),
            true,
        ),
        (
            "filter",
            forward_from.into(),
            format!("-j {}", l.forward),
            true,
        ),
        ("filter", "INPUT".into(), format!("-j {}", l.input), true),
        ("filter", l.input.clone(), LOOPBACK_GUARD.into(), false),
    ];
    if l.localhost {
        for br in bridges {
            rules.push((
                "nat",
                l.postrouting.clone(),
                format!("-s 127.0.0.0/8 -o {br} -j MASQUERADE"),
                false,
            ));
        }
    }
    for (table, chain, rule, first) in rules {
        if !has_rule(table, &chain, &rule) {
            missing.push(Missing::Rule {
                table,
                chain,
                rule,
                first,
            });
        }
    }
    if l.localhost {
        for br in localnet_off {
            missing.push(Missing::RouteLocalnet(br.clone()));
        }
    }
    missing
}

/// iptables-save text split into (table, lines).
fn split_tables(save_text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in save_text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            out.push((t, Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line);
        }
    }
    out
}

/// Changing the firewall needs root or CAP_NET_ADMIN: say so before anything is done.
pub fn check_permission() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(());
    }
    let cap_net_admin = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|caps| caps & (1 << 12) != 0);
    if cap_net_admin {
        Ok(())
    } else {
        Err(Error::failed(
            "publishing ports changes the firewall: run berth as root (or with CAP_NET_ADMIN)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_lacks_everything_and_a_set_up_host_nothing() {
        let bare = "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n*filter\n:FORWARD DROP [0:0]\n:DOCKER-USER - [0:0]\nCOMMIT\n";
        let br = vec!["docker0".to_string()];
        let missing = missing_base(bare, &br, &br);
        assert_eq!(missing.len(), 5 + 8 + 1, "{missing:#?}");
        assert!(missing.contains(&Missing::Rule {
            table: "filter",
            chain: "DOCKER-USER".into(),
            rule: "-j BERTH-FORWARD".into(),
            first: true
        }));

        let full = "*raw\n:BERTH-RAW - [0:0]\n-A PREROUTING -j BERTH-RAW\nCOMMIT\n\
            *nat\n:BERTH - [0:0]\n:BERTH-POSTROUTING - [0:0]\n\
            -A PREROUTING -m addrtype --dst-type LOCAL -j BERTH\n\
            -A OUTPUT -m addrtype --dst-type LOCAL -j BERTH\n\
            -A POSTROUTING -j BERTH-POSTROUTING\n\
            -A BERTH-POSTROUTING -s 127.0.0.0/8 -o docker0 -j MASQUERADE\nCOMMIT\n\
            *filter\n:BERTH-FORWARD - [0:0]\n:BERTH-INPUT - [0:0]\n\
            -A FORWARD -j BERTH-FORWARD\n-A INPUT -j BERTH-INPUT\n\
            -A BERTH-INPUT ! -s 127.0.0.0/8 -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\nCOMMIT\n";
        assert_eq!(missing_base(full, &br, &[]), vec![]);
    }
}
