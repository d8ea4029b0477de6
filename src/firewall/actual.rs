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

    fn strings(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    fn part(c: &mut ContainerActual, t: usize) -> &mut Vec<String> {
        match t {
            0 => &mut c.dnat,
            1 => &mut c.nat,
            2 => &mut c.filter,
            _ => &mut c.raw,
        }
    }

    #[test]
    fn found_rules_match_the_wanted_ones_in_any_order_and_only_those() {
        let want = ContainerRules {
            chain: "C".into(),
            dnat: strings(&["d1", "d2", "d3"]),
            nat: strings(&["n1", "n2"]),
            filter: strings(&["f1"]),
            raw: strings(&["r1", "r2"]),
        };
        let found = ContainerActual {
            chain: true,
            dnat: strings(&["d3", "d2", "d1"]),
            nat: strings(&["n2", "n1"]),
            filter: strings(&["f1"]),
            raw: strings(&["r2", "r1"]),
        };
        assert!(found.matches(&want));
        // 3 + 2 + 1 + 2: no two parts whose sum is their product
        assert_eq!(found.len(), 8);
        assert!(!found.is_empty());
        let back = found.as_rules("C".into());
        assert_eq!((back.chain.as_str(), back.len()), ("C", 8));
        assert!(found.matches(&back));
        for (t, table) in [(1, Table::Nat), (2, Table::Filter), (3, Table::Raw)] {
            assert_eq!(found.shared(table), part(&mut found.clone(), t).as_slice());
        }
        // one rule more, one less, one different, in any part: no match
        for t in 0..4 {
            let mut more = found.clone();
            part(&mut more, t).push("x".into());
            let mut less = found.clone();
            part(&mut less, t).pop();
            let mut other = found.clone();
            part(&mut other, t)[0] = "x".into();
            // the same count with a rule twice is not the same rules either
            let mut twice = found.clone();
            let first = part(&mut twice, t)[0].clone();
            if let Some(last) = part(&mut twice, t).last_mut() {
                *last = first;
            }
            assert!(!more.matches(&want), "{t}: one more");
            assert!(!less.matches(&want), "{t}: one less");
            assert!(!other.matches(&want), "{t}: one different");
            if part(&mut found.clone(), t).len() > 1 {
                assert!(!twice.matches(&want), "{t}: one twice");
            }
        }
        // the chain must exist exactly when there are DNAT rules
        assert!(
            !ContainerActual {
                chain: false,
                ..found.clone()
            }
            .matches(&want)
        );
        let none = ContainerRules::default();
        assert!(ContainerActual::default().matches(&none));
        assert!(
            !ContainerActual {
                chain: true,
                ..Default::default()
            }
            .matches(&none)
        );
        // an empty chain is not nothing: it is an orphan to remove
        assert!(ContainerActual::default().is_empty());
        assert!(
            !ContainerActual {
                chain: true,
                ..Default::default()
            }
            .is_empty()
        );
        let raw_only = ContainerActual {
            raw: strings(&["r"]),
            ..Default::default()
        };
        assert!(!raw_only.is_empty());
        assert_eq!(raw_only.len(), 1);
    }

    #[test]
    fn forward_comes_from_docker_user_where_docker_made_it() {
        let l = Layout::default();
        let a = Actual::parse(
            "*filter\n:FORWARD ACCEPT [0:0]\n:DOCKER-USER - [0:0]\nCOMMIT\n",
            &l,
        );
        assert_eq!(a.forward_from(), "DOCKER-USER");
        // a DOCKER-USER chain of another table is not the one
        let a = Actual::parse(
            "*nat\n:DOCKER-USER - [0:0]\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n",
            &l,
        );
        assert_eq!(a.forward_from(), "FORWARD");
        assert!(a.has_chain(Table::Nat, "DOCKER-USER"));
        assert!(!a.has_chain(Table::Filter, "DOCKER-USER"));
    }

    #[test]
    fn rules_of_each_shared_chain_go_to_their_table_and_a_prefix_is_honoured() {
        let l = Layout::new("PUB", true);
        let tag = "-m comment --comment \"berth:0123456789ab\"";
        let save = format!(
            "*raw\n:PUB-RAW - [0:0]\n-A PUB-RAW -d 172.17.0.2/32 {tag} -j DROP\nCOMMIT\n\
             *nat\n:PUB - [0:0]\n:PUB-POSTROUTING - [0:0]\n:PUB-0123456789ab - [0:0]\n\
             -A PUB {tag} -j PUB-0123456789ab\n\
             -A PUB-POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 {tag} -j MASQUERADE\n\
             -A BERTH {tag} -j RETURN\nCOMMIT\n\
             *filter\n:PUB-FORWARD - [0:0]\n:PUB-INPUT - [0:0]\n\
             -A PUB-FORWARD -d 172.17.0.2/32 {tag} -j ACCEPT\n\
             -A PUB-INPUT {tag} -j DROP\nCOMMIT\n"
        );
        let a = Actual::parse(&save, &l);
        let c = a.of(&Id12::new("0123456789ab").unwrap());
        // the chain exists though it is empty; BERTH is not this layout's chain
        assert!(c.chain && c.dnat.is_empty());
        assert_eq!(
            (c.raw.len(), c.nat.len(), c.filter.len()),
            (1, 2, 2),
            "{c:#?}"
        );
        assert!(c.raw[0].starts_with("-A PUB-RAW "));
        assert!(c.filter.iter().all(|r| r.starts_with("-A PUB-")));
        let raw = format!("-A PUB-RAW -d 172.17.0.2/32 {tag} -j DROP");
        assert!(a.has_line(Table::Raw, &raw) && !a.has_line(Table::Filter, &raw));
        assert_eq!(a.containers.len(), 1);
        // rules before any table line belong to none
        let a = Actual::parse(&format!(":PUB - [0:0]\n-A PUB {tag} -j RETURN\n"), &l);
        assert!(a.containers.is_empty() && a.lines.is_empty() && a.chains.is_empty());
    }
}
