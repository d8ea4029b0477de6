//! What is in the kernel, as far as berth is concerned: one family's iptables-save text
//! (all tables) -> the chains that exist, every rule line (to find base jumps), and per
//! container the rules berth wrote for it. Pure.
//!
//! A rule belongs to a container when it sits in that container's chain, or when it
//! sits in one of berth's shared chains and carries the container's tag. A tag
//! elsewhere (another tool's chain) is not berth's: it is never touched.

use std::collections::{BTreeMap, HashSet};

use crate::firewall::desired::{ContainerRules, Layout, Table};
use crate::model::Id12;
use crate::nat::save::{Line, parse_line};

/// One container's rules as found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerActual {
    /// Its chain exists.
    pub chain: bool,
    /// Every rule in its chain.
    pub dnat: Vec<String>,
    /// Its tagged rules in berth's shared chains, per table.
    pub nat: Vec<String>,
    pub filter: Vec<String>,
    pub raw: Vec<String>,
}

impl ContainerActual {
    pub fn shared(&self, table: Table) -> &[String] {
        match table {
            Table::Raw => &self.raw,
            Table::Nat => &self.nat,
            Table::Filter => &self.filter,
        }
    }

    fn shared_mut(&mut self, table: Table) -> &mut Vec<String> {
        match table {
            Table::Raw => &mut self.raw,
            Table::Nat => &mut self.nat,
            Table::Filter => &mut self.filter,
        }
    }

    pub fn len(&self) -> usize {
        self.dnat.len() + self.nat.len() + self.filter.len() + self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        !self.chain && self.len() == 0
    }

    /// Whether these are exactly the rules wanted (order aside).
    pub fn matches(&self, want: &ContainerRules) -> bool {
        fn same(a: &[String], b: &[String]) -> bool {
            if a.len() != b.len() {
                return false;
            }
            let mut a: Vec<&String> = a.iter().collect();
            let mut b: Vec<&String> = b.iter().collect();
            a.sort();
            b.sort();
            a == b
        }
        self.chain != want.dnat.is_empty()
            && same(&self.dnat, &want.dnat)
            && same(&self.nat, &want.nat)
            && same(&self.filter, &want.filter)
            && same(&self.raw, &want.raw)
    }

    /// These rules as wanted rules (to put back what was there).
    pub fn as_rules(&self, chain: String) -> ContainerRules {
        ContainerRules {
            chain,
            dnat: self.dnat.clone(),
            nat: self.nat.clone(),
            filter: self.filter.clone(),
            raw: self.raw.clone(),
        }
    }
}

/// One family's tables as berth sees them.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    /// (table, chain) of every chain in raw, nat and filter.
    pub chains: HashSet<(Table, String)>,
    /// (table, line) of every rule in raw, nat and filter.
    pub lines: HashSet<(Table, String)>,
    pub containers: BTreeMap<Id12, ContainerActual>,
}

impl Actual {
    /// Read iptables-save output (without counters).
    pub fn parse(save_text: &str, layout: &Layout) -> Actual {
        let mut actual = Actual::default();
        let mut table: Option<Table> = None;
        for line in save_text.lines() {
            match parse_line(line) {
                Line::Table(name) => table = Table::from_name(name),
                Line::Chain(decl) => {
                    let Some(t) = table else { continue };
                    actual.chains.insert((t, decl.name.to_string()));
                    if t == Table::Nat
                        && let Some(id) = layout.chain_container(decl.name)
                    {
                        actual.containers.entry(id).or_default().chain = true;
                    }
                }
                Line::Rule(rule) => {
                    let Some(t) = table else { continue };
                    let text = line.trim_start();
                    // iptables-save -c puts counters first; berth reads without them
                    let text = match text.strip_prefix('[') {
                        Some(rest) => rest.split_once("] ").map_or(text, |(_, r)| r),
                        None => text,
                    };
                    actual.lines.insert((t, text.to_string()));
                    if t == Table::Nat
                        && let Some(id) = layout.chain_container(rule.chain)
                    {
                        let c = actual.containers.entry(id).or_default();
                        c.chain = true;
                        c.dnat.push(text.to_string());
                        continue;
                    }
                    if !layout.owns(rule.chain) {
                        continue;
                    }
                    if let Some(id) = rule.comments().find_map(Id12::from_tag) {
                        actual
                            .containers
                            .entry(id)
                            .or_default()
                            .shared_mut(t)
                            .push(text.to_string());
                    }
                }
                _ => {}
            }
        }
        actual
    }

    pub fn has_chain(&self, table: Table, chain: &str) -> bool {
        self.chains.contains(&(table, chain.to_string()))
    }

    pub fn has_line(&self, table: Table, line: &str) -> bool {
        self.lines.contains(&(table, line.to_string()))
    }

    /// Where FORWARD's jump to berth goes: DOCKER-USER where Docker made it.
    pub fn forward_from(&self) -> &'static str {
        if self.has_chain(Table::Filter, "DOCKER-USER") {
            "DOCKER-USER"
        } else {
            "FORWARD"
        }
    }

    /// The rules of one container (empty when it has none).
    pub fn of(&self, id: &Id12) -> ContainerActual {
        self.containers.get(id).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_sorted_by_container_and_foreign_tags_are_ignored() {
        let l = Layout::default();
        let save = "# Generated by iptables-save v1.8.9 (nf_tables) on x\n\
            *raw\n:PREROUTING ACCEPT [0:0]\n:BERTH-RAW - [0:0]\n\
            -A PREROUTING -j BERTH-RAW\n\
            -A BERTH-RAW -d 172.17.0.2/32 ! -i docker0 -m comment --comment \"berth:0123456789ab\" -j DROP\n\
            COMMIT\n\
            *nat\n:PREROUTING ACCEPT [0:0]\n:BERTH - [0:0]\n:BERTH-0123456789ab - [0:0]\n:BERTH-ffffffffffff - [0:0]\n:DOCKER - [0:0]\n\
            -A BERTH -m comment --comment \"berth:0123456789ab\" -j BERTH-0123456789ab\n\
            -A BERTH-0123456789ab ! -i docker0 -p tcp -m tcp --dport 8080 -m comment --comment \"berth:0123456789ab\" -j DNAT --to-destination 172.17.0.2:80\n\
            -A DOCKER -p tcp -m comment --comment \"berth:aaaaaaaaaaaa\" -j RETURN\n\
            -A BERTH -p tcp -m comment --comment \"someone else\" -j RETURN\n\
            COMMIT\n*mangle\n:X - [0:0]\n-A X -m comment --comment \"berth:bbbbbbbbbbbb\" -j RETURN\nCOMMIT\n";
        let a = Actual::parse(save, &l);
        let id = Id12::new("0123456789ab").unwrap();
        let c = a.of(&id);
        assert!(c.chain);
        assert_eq!(
            (c.dnat.len(), c.nat.len(), c.raw.len(), c.filter.len()),
            (1, 1, 1, 0)
        );
        // an empty container chain is found too (an orphan to remove)
        assert!(a.of(&Id12::new("ffffffffffff").unwrap()).chain);
        // tags outside berth's chains and tables are not berth's
        assert!(a.of(&Id12::new("aaaaaaaaaaaa").unwrap()).is_empty());
        assert!(a.of(&Id12::new("bbbbbbbbbbbb").unwrap()).is_empty());
        assert!(a.has_line(Table::Raw, "-A PREROUTING -j BERTH-RAW"));
        assert!(a.has_chain(Table::Nat, "DOCKER"));
        assert_eq!(a.forward_from(), "FORWARD");
    }

    #[test]
    fn counters_are_left_out() {
        let l = Layout::default();
        let a = Actual::parse(
            "*nat\n:BERTH - [0:0]\n[3:180] -A BERTH -j RETURN\nCOMMIT\n",
            &l,
        );
        assert!(a.has_line(Table::Nat, "-A BERTH -j RETURN"));
    }
}
