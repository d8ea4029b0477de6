//! What to change: the rules wanted for a set of containers, berth's base layout and
//! what one family's tables hold -> one iptables-restore text (`--noflush`) that makes
//! them agree, base chains and jumps included, so a container's rules and the layout
//! they need land together or not at all. Pure.
//!
//! Only what differs is written: a container whose rules are right is not touched, a
//! rule of berth's shared chains is added or deleted on its own, and a container whose
//! DNAT rules changed gets its chain rewritten whole (declared anew, which flushes it).
//! A container that should have no rules loses its jump, its chain and its tagged
//! rules: a few commands, whatever else the tables hold.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::firewall::actual::Actual;
use crate::firewall::desired::{Base, ContainerRules, Layout, Table};
use crate::model::Id12;

/// One container's wanted state: `Some(rules)` (possibly empty: no rules) to have.
#[derive(Debug, Clone)]
pub struct Want {
    pub id: Id12,
    pub rules: ContainerRules,
}

/// What a diff changes for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: Id12,
    pub added: usize,
    pub removed: usize,
}

/// The restore text of one family and what it does.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    /// What to write first, at once: the chains of containers that lose their rules,
    /// declared anew (which empties them and needs no reading of the tables by
    /// iptables-restore, unlike `-D`): their published ports lead nowhere from then on.
    pub urgent: String,
    pub text: String,
    pub base: Vec<Base>,
    pub changes: Vec<Change>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

#[derive(Default)]
struct Section {
    chains: Vec<String>,
    deletes: Vec<String>,
    adds: Vec<String>,
    removals: Vec<String>,
    base_rules: Vec<String>,
}

/// Compute the restore text. `wants` holds the containers to make right (an empty
/// `rules` means: none); `base` the base layout to make sure of (empty when nothing is
/// published in this family, so an unused family is left as it is).
pub fn diff(layout: &Layout, actual: &Actual, base: &[Base], wants: &[Want]) -> Diff {
    let mut sections: [Section; 3] = Default::default();
    let idx = |t: Table| Table::ALL.iter().position(|x| *x == t).expect("a table");
    let mut out = Diff::default();

    for b in base {
        let missing = match b {
            Base::Chain { table, chain } => !actual.has_chain(*table, chain),
            Base::Rule { table, .. } => {
                !actual.has_line(*table, &b.save_line().expect("a rule has a line"))
            }
        };
        if !missing {
            continue;
        }
        let s = &mut sections[idx(b.table())];
        match b {
            Base::Chain { .. } => s.chains.push(b.restore_line()),
            Base::Rule { .. } => s.base_rules.push(b.restore_line()),
        }
        out.base.push(b.clone());
    }

    for want in wants {
        let have = actual.of(&want.id);
        if have.matches(&want.rules) {
            continue;
        }
        let mut change = Change {
            id: want.id.clone(),
            added: 0,
            removed: 0,
        };
        let chain = layout.container_chain(&want.id);
        // the container's own chain: rewritten whole when it differs
        let nat = &mut sections[idx(Table::Nat)];
        // a want that keeps the jump to its chain keeps the chain, even empty (what a
        // revert puts back: the chain as it was)
        let jump = format!("-j {chain}");
        let keeps_chain = want
            .rules
            .shared(Table::Nat)
            .iter()
            .any(|r| r.ends_with(&jump));
        if want.rules.dnat.is_empty() && keeps_chain {
            if !have.chain || !have.dnat.is_empty() {
                // declaring a chain in a --noflush restore empties it
                nat.chains.push(format!(":{chain} - [0:0]"));
                change.removed += have.dnat.len();
            }
        } else if want.rules.dnat.is_empty() {
            if have.chain {
                if !have.dnat.is_empty() {
                    let _ = writeln!(out.urgent, ":{chain} - [0:0]");
                }
                nat.removals.push(format!("-F {chain}"));
                nat.removals.push(format!("-X {chain}"));
                change.removed += have.dnat.len();
            }
        } else {
            let mut a: Vec<&String> = have.dnat.iter().collect();
            let mut b: Vec<&String> = want.rules.dnat.iter().collect();
            a.sort();
            b.sort();
            if !have.chain || a != b {
                nat.chains.push(format!(":{chain} - [0:0]"));
                nat.adds.extend(want.rules.dnat.iter().cloned());
                change.removed += have.dnat.len();
                change.added += want.rules.dnat.len();
            }
        }
        // berth's shared chains: rule by rule, a duplicate found is deleted too
        for table in Table::ALL {
            let s = &mut sections[idx(table)];
            let wanted: HashSet<&String> = want.rules.shared(table).iter().collect();
            let mut kept: HashSet<&String> = HashSet::new();
            for line in have.shared(table) {
                if wanted.contains(line) && kept.insert(line) {
                    continue;
                }
                s.deletes.push(as_delete(line));
                change.removed += 1;
            }
            for line in want.rules.shared(table) {
                if !kept.contains(line) {
                    s.adds.push(line.clone());
                    change.added += 1;
                }
            }
        }
        out.changes.push(change);
    }

    if !out.urgent.is_empty() {
        out.urgent = format!("*nat\n{}COMMIT\n", out.urgent);
    }
    for (i, table) in Table::ALL.iter().enumerate() {
        let s = &sections[i];
        if s.chains.is_empty()
            && s.deletes.is_empty()
            && s.adds.is_empty()
            && s.removals.is_empty()
            && s.base_rules.is_empty()
        {
            continue;
        }
        let _ = writeln!(out.text, "*{}", table.name());
        // chains first (rules may jump to them), deletions before additions, chains
        // removed once nothing jumps to them
        for l in s
            .chains
            .iter()
            .chain(&s.deletes)
            .chain(&s.removals)
            .chain(&s.adds)
            .chain(&s.base_rules)
        {
            out.text.push_str(l);
            out.text.push('\n');
        }
        out.text.push_str("COMMIT\n");
    }
    out
}

/// `-A CHAIN rest` -> `-D CHAIN rest`.
fn as_delete(line: &str) -> String {
    match line.strip_prefix("-A ") {
        Some(rest) => format!("-D {rest}"),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::desired::{base, container_rules};
    use crate::model::{Address, Family, Published};

    fn id(s: &str) -> Id12 {
        Id12::new(s).unwrap()
    }

    fn rules(i: &Id12, ip: &str, port: u16) -> ContainerRules {
        let p = Published {
            proto: "tcp".into(),
            container_port: 80,
            host_ip: "0.0.0.0".parse().unwrap(),
            host_port: port,
            count: 1,
            dual: false,
        };
        let a = Address {
            ip: ip.parse().unwrap(),
            bridge: "docker0".into(),
        };
        container_rules(&Layout::default(), Family::V4, i, &a, &[p], true, false)
    }

    /// The tables after `text` is restored onto `save` (a tiny model of iptables).
    fn apply(save: &str, text: &str) -> String {
        let mut tables: Vec<(String, Vec<String>)> = Vec::new();
        let mut cur = String::new();
        for line in save.lines() {
            if let Some(t) = line.strip_prefix('*') {
                cur = t.to_string();
                tables.push((cur.clone(), vec![]));
            } else if line != "COMMIT" {
                tables.last_mut().unwrap().1.push(line.to_string());
            }
        }
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                cur = t.to_string();
                if !tables.iter().any(|(n, _)| *n == cur) {
                    tables.push((cur.clone(), vec![]));
                }
                continue;
            }
            let lines = &mut tables.iter_mut().find(|(n, _)| *n == cur).unwrap().1;
            if let Some(c) = line.strip_prefix(':') {
                let name = c.split(' ').next().unwrap().to_string();
                let decl = format!(":{name} - [0:0]");
                if !lines.contains(&decl) {
                    lines.push(decl);
                }
                lines.retain(|l| !l.starts_with(&format!("-A {name} ")));
            } else if let Some(rest) = line.strip_prefix("-D ") {
                let want = format!("-A {rest}");
                let i = lines
                    .iter()
                    .position(|l| *l == want)
                    .expect("a rule to delete");
                lines.remove(i);
            } else if let Some(c) = line.strip_prefix("-F ") {
                lines.retain(|l| !l.starts_with(&format!("-A {c} ")));
            } else if let Some(c) = line.strip_prefix("-X ") {
                lines.retain(|l| *l != format!(":{c} - [0:0]"));
            } else if let Some(rest) = line.strip_prefix("-I ") {
                let (chain, rule) = rest.split_once(" 1 ").unwrap();
                lines.push(format!("-A {chain} {rule}"));
            } else if line.starts_with("-A ") {
                lines.push(line.to_string());
            }
        }
        let mut out = String::new();
        for (t, lines) in tables {
            out.push_str(&format!("*{t}\n"));
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
            out.push_str("COMMIT\n");
        }
        out
    }

    const EMPTY: &str = "*raw\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n*filter\n:FORWARD DROP [0:0]\nCOMMIT\n";

    #[test]
    fn from_nothing_to_published_and_back_in_two_steps() {
        let l = Layout::default();
        let a = id("0123456789ab");
        let want = rules(&a, "172.17.0.2", 8080);
        let b = base(&l, Family::V4, "FORWARD", &["docker0".into()]);
        let d = diff(
            &l,
            &Actual::parse(EMPTY, &l),
            &b,
            &[Want {
                id: a.clone(),
                rules: want.clone(),
            }],
        );
        assert_eq!(
            d.changes,
            vec![Change {
                id: a.clone(),
                added: 5,
                removed: 0
            }]
        );
        assert!(!d.base.is_empty());
        assert!(!d.is_empty());
        // nothing of it was there: nothing to withdraw first
        assert_eq!(d.urgent, "");
        let after = apply(EMPTY, &d.text);
        let parsed = Actual::parse(&after, &l);
        assert!(parsed.of(&a).matches(&want), "{after}");
        // the base rules (jumps from the built-in chains) landed with it
        for x in &b {
            if let Some(line) = x.save_line() {
                assert!(
                    parsed.has_line(x.table(), &line),
                    "{line} missing:\n{after}"
                );
            }
        }
        // the same again: nothing to do
        let again = diff(
            &l,
            &parsed,
            &b,
            &[Want {
                id: a.clone(),
                rules: want.clone(),
            }],
        );
        assert!(again.is_empty(), "{}", again.text);
        // removed: everything of it goes, the base stays
        let gone = diff(
            &l,
            &parsed,
            &[],
            &[Want {
                id: a.clone(),
                rules: ContainerRules::default(),
            }],
        );
        assert_eq!(
            gone.changes,
            vec![Change {
                id: a.clone(),
                added: 0,
                removed: 5
            }]
        );
        // its published ports lead nowhere at once: the chain emptied before the rest
        assert_eq!(gone.urgent, "*nat\n:BERTH-0123456789ab - [0:0]\nCOMMIT\n");
        let after2 = apply(&after, &gone.text);
        assert!(Actual::parse(&after2, &l).of(&a).is_empty(), "{after2}");
        assert!(after2.contains(":BERTH - [0:0]"));
        assert!(
            gone.text
                .contains("-F BERTH-0123456789ab\n-X BERTH-0123456789ab\n")
        );
        // the jump goes before the chain
        let jump = gone.text.find("-D BERTH -m comment").unwrap();
        assert!(jump < gone.text.find("-X BERTH-0123456789ab").unwrap());
    }

    #[test]
    fn a_moved_container_changes_only_what_differs_and_others_are_left_alone() {
        let l = Layout::default();
        let (a, b) = (id("0123456789ab"), id("bbbbbbbbbbbb"));
        let base_l = base(&l, Family::V4, "FORWARD", &["docker0".into()]);
        let d = diff(
            &l,
            &Actual::parse(EMPTY, &l),
            &base_l,
            &[
                Want {
                    id: a.clone(),
                    rules: rules(&a, "172.17.0.2", 8080),
                },
                Want {
                    id: b.clone(),
                    rules: rules(&b, "172.17.0.3", 8081),
                },
            ],
        );
        let t1 = apply(EMPTY, &d.text);
        let moved = rules(&a, "172.17.0.9", 8080);
        let d2 = diff(
            &l,
            &Actual::parse(&t1, &l),
            &base_l,
            &[Want {
                id: a.clone(),
                rules: moved.clone(),
            }],
        );
        assert!(!d2.text.contains("bbbbbbbbbbbb"), "{}", d2.text);
        // DNAT, hairpin, FORWARD and raw rules move; the jump stays
        assert_eq!(
            d2.changes,
            vec![Change {
                id: a.clone(),
                added: 4,
                removed: 4
            }],
            "{}",
            d2.text
        );
        assert!(d2.base.is_empty());
        let t2 = apply(&t1, &d2.text);
        let p = Actual::parse(&t2, &l);
        assert!(p.of(&a).matches(&moved));
        assert!(p.of(&b).matches(&rules(&b, "172.17.0.3", 8081)));
        // the jump is the same at any address: it is not rewritten
        assert!(!d2.text.contains("-j BERTH-0123456789ab"), "{}", d2.text);
    }

    #[test]
    fn duplicates_and_strays_are_cleaned() {
        let l = Layout::default();
        let a = id("0123456789ab");
        let want = rules(&a, "172.17.0.2", 8080);
        let t = apply(
            EMPTY,
            &diff(
                &l,
                &Actual::parse(EMPTY, &l),
                &base(&l, Family::V4, "FORWARD", &[]),
                &[Want {
                    id: a.clone(),
                    rules: want.clone(),
                }],
            )
            .text,
        );
        let dup = t.replacen(
            &want.raw[0],
            &format!("{}\n{}", want.raw[0], want.raw[0]),
            1,
        );
        let p = Actual::parse(&dup, &l);
        assert!(!p.of(&a).matches(&want));
        let d = diff(
            &l,
            &p,
            &[],
            &[Want {
                id: a.clone(),
                rules: want.clone(),
            }],
        );
        assert_eq!(d.changes[0].removed, 1, "{}", d.text);
        assert_eq!(d.changes[0].added, 0);
        assert!(
            Actual::parse(&apply(&dup, &d.text), &l)
                .of(&a)
                .matches(&want)
        );
    }

    /// A want that keeps the jump but no DNAT rules (what a revert puts back when the
    /// chain was there, empty): the chain is declared when missing or not empty, and
    /// left alone when it already is as wanted.
    #[test]
    fn a_kept_jump_keeps_its_chain_empty() {
        let l = Layout::default();
        let a = id("0123456789ab");
        let chain = l.container_chain(&a);
        let jump = format!("-A BERTH -m comment --comment \"berth:0123456789ab\" -j {chain}");
        let keep = ContainerRules {
            chain: chain.clone(),
            nat: vec![jump.clone()],
            ..Default::default()
        };
        let want = |rules: &ContainerRules| {
            vec![Want {
                id: a.clone(),
                rules: rules.clone(),
            }]
        };
        let b = base(&l, Family::V4, "FORWARD", &["docker0".into()]);
        let published = apply(
            EMPTY,
            &diff(
                &l,
                &Actual::parse(EMPTY, &l),
                &b,
                &want(&rules(&a, "172.17.0.2", 8080)),
            )
            .text,
        );
        // from a published container: its chain emptied, the other rules deleted
        let d = diff(&l, &Actual::parse(&published, &l), &[], &want(&keep));
        assert!(
            d.text.contains(&format!(":{chain} - [0:0]\n")),
            "{}",
            d.text
        );
        assert_eq!(
            d.changes,
            vec![Change {
                id: a.clone(),
                added: 0,
                removed: 4
            }],
            "{}",
            d.text
        );
        let kept = apply(&published, &d.text);
        assert!(kept.contains(&jump), "{kept}");
        assert!(!kept.contains("-j DNAT"), "{kept}");
        // from nothing: the chain is declared with its jump
        let d = diff(&l, &Actual::parse(EMPTY, &l), &[], &want(&keep));
        assert!(
            d.text.contains(&format!(":{chain} - [0:0]\n")),
            "{}",
            d.text
        );
        assert!(d.text.contains(&jump), "{}", d.text);
        assert_eq!(d.changes[0].added, 1);
        // already so: nothing to do
        let d = diff(&l, &Actual::parse(&kept, &l), &[], &want(&keep));
        assert!(d.is_empty(), "{}", d.text);
        // and losing everything from there withdraws nothing first (no DNAT to stop)
        let gone = diff(
            &l,
            &Actual::parse(&kept, &l),
            &[],
            &want(&ContainerRules::default()),
        );
        assert_eq!(gone.urgent, "");
        assert!(
            gone.text.contains(&format!("-X {chain}\n")),
            "{}",
            gone.text
        );
    }
}
