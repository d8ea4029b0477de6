//! Deletions written to nf_tables directly, in one transaction, instead of by an
//! iptables-restore child: what a container's removal needs (its rules in the chains
//! every container shares, its own chain flushed and deleted).
//!
//! iptables-nft-restore finds the rule of a `-D` line by fetching its chain and
//! comparing every rule in it, so removing one container's rules costs more the more
//! containers there are. berth already read the tables over netlink
//! (`nat::netlink::tables_read`) and knows each rule's handle: a `-D` line becomes the
//! deletion of the one rule whose line it is (the first such rule not deleted yet, as
//! iptables takes the first that matches). The transaction is bound to the generation
//! of that read: if anything changed the tables since, the kernel refuses all of it,
//! nothing changes, and the backend runs iptables-restore as before. So does any text
//! with a line other than `*table`, `COMMIT`, `-D`, `-F`, `-X` and a user chain
//! declared anew (which empties it), or naming a rule or chain the read did not have.

use std::collections::{HashMap, HashSet};
use std::io;

use crate::firewall::nftables::{
    self, NFNL_SUBSYS_NFTABLES, NLMSG_ERROR, messages, nfproto, put_attr, put_msg, put_str, receive,
};
use crate::model::Family;
use crate::nat::netlink::{
    NFTA_CHAIN_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_HANDLE, NFTA_RULE_TABLE,
};

const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_BATCH_GENID: u16 = 1;
const NFT_MSG_DELCHAIN: u16 = 5;
const NFT_MSG_DELRULE: u16 = 8;
/// What one transaction may hold (a netlink socket's send buffer is about 208 KiB).
const MAX_BATCH: usize = 128 * 1024;

/// Where the chains and rules of one read of a family's tables are in nf_tables, at
/// the generation read.
#[derive(Debug, Clone)]
pub struct Snapshot {
    family: Family,
    generation: u32,
    /// (table, chain) -> the chain
    chains: HashMap<(String, String), Chain>,
}

#[derive(Debug, Clone)]
struct Chain {
    /// a user chain (not a hook's)
    user: bool,
    /// its rules in order: (the line iptables-save prints, `-A CHAIN ...`; handle)
    rules: Vec<(String, u64)>,
}

/// One deletion of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// one rule, by its handle
    Rule {
        table: String,
        chain: String,
        handle: u64,
    },
    /// every rule of a user chain (`-F`, or the chain declared anew)
    Flush { table: String, chain: String },
    /// a user chain (`-X`)
    Chain { table: String, chain: String },
}

/// Why a transaction did not land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// The kernel refused it (or it was never sent): nothing changed.
    Refused(String),
    /// No clear answer, and the tables changed since the read: it may have landed.
    Unknown(String),
}

impl Snapshot {
    pub fn new(family: Family, generation: u32) -> Snapshot {
        Snapshot {
            family,
            generation,
            chains: HashMap::new(),
        }
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The generation the read was of.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn add_chain(&mut self, table: &str, chain: &str, user: bool) {
        self.chains.insert(
            (table.to_string(), chain.to_string()),
            Chain {
                user,
                rules: Vec::new(),
            },
        );
    }

    /// A rule at the end of its chain; `None` if the chain was not added.
    pub(crate) fn add_rule(
        &mut self,
        table: &str,
        chain: &str,
        line: &str,
        handle: u64,
    ) -> Option<()> {
        let c = self
            .chains
            .get_mut(&(table.to_string(), chain.to_string()))?;
        c.rules.push((line.to_string(), handle));
        Some(())
    }

    /// The deletions an iptables-restore `--noflush` text asks for, in its order;
    /// `None` if it asks for anything else, or names a rule or chain not in the read.
    pub fn plan(&self, text: &str) -> Option<Vec<Op>> {
        let mut ops = Vec::new();
        let mut table: Option<&str> = None;
        // (table, handle): each table numbers its rules on its own
        let mut gone: HashSet<(&str, u64)> = HashSet::new();
        let mut removed: HashSet<(String, String)> = HashSet::new();
        let chain_of = |table: &str, name: &str, removed: &HashSet<(String, String)>| {
            let key = (table.to_string(), name.to_string());
            if removed.contains(&key) {
                return None;
            }
            self.chains.get(&key)
        };
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                if table.is_some() {
                    return None;
                }
                table = Some(t);
                continue;
            }
            if line == "COMMIT" {
                table?;
                table = None;
                continue;
            }
            let t = table?;
            if let Some(rest) = line.strip_prefix("-D ") {
                let name = rest.split(' ').next()?;
                let c = chain_of(t, name, &removed)?;
                let want = format!("-A {rest}");
                let handle = c
                    .rules
                    .iter()
                    .find(|(l, h)| *l == want && !gone.contains(&(t, *h)))?
                    .1;
                gone.insert((t, handle));
                ops.push(Op::Rule {
                    table: t.to_string(),
                    chain: name.to_string(),
                    handle,
                });
            } else if let Some(name) = line
                .strip_prefix("-F ")
                .or_else(|| line.strip_prefix(':')?.strip_suffix(" - [0:0]"))
            {
                let c = chain_of(t, name, &removed).filter(|c| c.user && !name.contains(' '))?;
                gone.extend(c.rules.iter().map(|(_, h)| (t, *h)));
                ops.push(Op::Flush {
                    table: t.to_string(),
                    chain: name.to_string(),
                });
            } else if let Some(name) = line.strip_prefix("-X ") {
                let c = chain_of(t, name, &removed).filter(|c| c.user && !name.contains(' '))?;
                // iptables deletes only an empty chain
                if c.rules.iter().any(|(_, h)| !gone.contains(&(t, *h))) {
                    return None;
                }
                removed.insert((t.to_string(), name.to_string()));
                ops.push(Op::Chain {
                    table: t.to_string(),
                    chain: name.to_string(),
                });
            } else {
                return None;
            }
        }
        if table.is_some() || ops.is_empty() {
            return None;
        }
        Some(ops)
    }

    /// What the read looks like once `ops` landed, at the generation they made.
    fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            match op {
                Op::Rule {
                    table,
                    chain,
                    handle,
                } => {
                    if let Some(c) = self.chains.get_mut(&(table.clone(), chain.clone())) {
                        c.rules.retain(|(_, h)| h != handle);
                    }
                }
                Op::Flush { table, chain } => {
                    if let Some(c) = self.chains.get_mut(&(table.clone(), chain.clone())) {
                        c.rules.clear();
                    }
                }
                Op::Chain { table, chain } => {
                    self.chains.remove(&(table.clone(), chain.clone()));
                }
            }
        }
        // each transaction that lands moves the generation on by one (never to 0)
        self.generation = match self.generation.wrapping_add(1) {
            0 => 1,
            g => g,
        };
    }

    /// Write `text`'s deletions in one transaction bound to this read's generation;
    /// on success the snapshot becomes the tables as they are now. `None` when the text
    /// asks for more than deletions of what was read (the caller runs
    /// iptables-restore).
    pub fn write(&mut self, text: &str) -> Option<Result<(), Failed>> {
        let ops = self.plan(text)?;
        let done = commit(self.family, self.generation, &ops);
        if done.is_ok() {
            self.apply(&ops);
        }
        Some(done)
    }
}

/// The transaction's bytes: the batch's begin (bound to `generation`), one message per
/// op numbered from `seq + 1`, the last of them asking for an answer, and the end.
pub fn encode(family: Family, generation: u32, ops: &[Op], seq: u32) -> Vec<u8> {
    let request = libc::NLM_F_REQUEST as u16;
    let mut out = Vec::with_capacity(64 * (ops.len() + 2));
    let mut body = Vec::new();
    put_attr(&mut body, NFNL_BATCH_GENID, &generation.to_be_bytes());
    put_msg(
        &mut out,
        NFNL_MSG_BATCH_BEGIN,
        request,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        &body,
    );
    for (i, op) in ops.iter().enumerate() {
        let mut body = Vec::new();
        let kind = match op {
            Op::Rule {
                table,
                chain,
                handle,
            } => {
                put_str(&mut body, NFTA_RULE_TABLE, table);
                put_str(&mut body, NFTA_RULE_CHAIN, chain);
                put_attr(&mut body, NFTA_RULE_HANDLE, &handle.to_be_bytes());
                NFT_MSG_DELRULE
            }
            // a deletion of rules that names a chain and no handle empties that chain
            // (and only that one: the chain is always named)
            Op::Flush { table, chain } => {
                put_str(&mut body, NFTA_RULE_TABLE, table);
                put_str(&mut body, NFTA_RULE_CHAIN, chain);
                NFT_MSG_DELRULE
            }
            Op::Chain { table, chain } => {
                put_str(&mut body, NFTA_CHAIN_TABLE, table);
                put_str(&mut body, NFTA_CHAIN_NAME, chain);
                NFT_MSG_DELCHAIN
            }
        };
        let flags = if i + 1 == ops.len() {
            request | libc::NLM_F_ACK as u16
        } else {
            request
        };
        put_msg(
            &mut out,
            (NFNL_SUBSYS_NFTABLES << 8) | kind,
            flags,
            seq + 1 + i as u32,
            nfproto(family),
            0,
            &body,
        );
    }
    put_msg(
        &mut out,
        NFNL_MSG_BATCH_END,
        request,
        seq + 1 + ops.len() as u32,
        0,
        NFNL_SUBSYS_NFTABLES,
        &[],
    );
    out
}

/// What the answers to a transaction numbered `first` (its begin) to `last + 1` (its
/// end) say, read in order: `Some(Ok)` once the last op is answered with no error
/// before it, `Some(Err(errno))` at the first error (the kernel reports an error only
/// for a transaction it did not commit), `None` while that is not known yet.
pub fn answer(buf: &[u8], first: u32, last: u32) -> Option<Result<(), i32>> {
    for m in messages(buf) {
        // not an answer to go by (a datagram comes whole): wait for one, or time out
        let Ok(m) = m else { return None };
        // from the batch's begin to its end (an end the kernel cannot take is answered)
        if m.typ == NLMSG_ERROR && m.bytes.len() >= 20 && (first..=last + 1).contains(&m.seq) {
            let code = i32::from_ne_bytes(m.bytes[16..20].try_into().ok()?);
            if code != 0 {
                return Some(Err(-code));
            }
            if m.seq == last {
                return Some(Ok(()));
            }
        }
    }
    None
}

/// Send one transaction of `ops` bound to `generation` and wait for its answer.
pub fn commit(family: Family, generation: u32, ops: &[Op]) -> Result<(), Failed> {
    if ops.is_empty() {
        return Ok(());
    }
    let refused = |e: io::Error| Failed::Refused(e.to_string());
    let fd = nftables::open_socket().map_err(refused)?;
    // the answer comes once the kernel committed: give a busy host time
    fd.wait_at_most(5);
    let seq = 1;
    let msg = encode(family, generation, ops, seq);
    if msg.len() > MAX_BATCH {
        return Err(Failed::Refused(format!(
            "{} deletions are more than one transaction holds",
            ops.len()
        )));
    }
    nftables::send(&fd, &msg).map_err(refused)?;
    let last = seq + ops.len() as u32;
    let mut buf = vec![0u8; 64 * 1024];
    let e: io::Error = loop {
        match receive(&fd, &mut buf) {
            Ok(0) => break io::Error::other("netlink closed"),
            Ok(n) => match answer(&buf[..n], seq, last) {
                Some(Ok(())) => return Ok(()),
                Some(Err(errno)) => {
                    return Err(Failed::Refused(format!(
                        "nf_tables refused the transaction: {}",
                        io::Error::from_raw_os_error(errno)
                    )));
                }
                None => continue,
            },
            Err(e) => break e,
        }
    };
    // no answer: a generation still at the read's means nothing landed
    let now = nftables::generation_on(&fd)
        .ok()
        .or_else(nftables::generation);
    if now == Some(generation) {
        Err(Failed::Refused(format!("no answer from nf_tables: {e}")))
    } else {
        Err(Failed::Unknown(format!("no answer from nf_tables: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new(Family::V4, 7);
        s.add_chain("nat", "PREROUTING", false);
        s.add_chain("nat", "BERTH", true);
        s.add_chain("nat", "BERTH-0123456789ab", true);
        s.add_chain("filter", "BERTH-FORWARD", true);
        let j = "-A BERTH -m comment --comment berth:0123456789ab -j BERTH-0123456789ab";
        s.add_rule("nat", "PREROUTING", "-A PREROUTING -j BERTH", 2)
            .unwrap();
        s.add_rule("nat", "BERTH", j, 10).unwrap();
        s.add_rule("nat", "BERTH", "-A BERTH -j RETURN", 11)
            .unwrap();
        s.add_rule("nat", "BERTH", j, 12).unwrap();
        s.add_rule(
            "nat",
            "BERTH-0123456789ab",
            "-A BERTH-0123456789ab -p tcp -m tcp --dport 80 -j DNAT --to-destination 172.17.0.2:80",
            20,
        )
        .unwrap();
        s.add_rule(
            "filter",
            "BERTH-FORWARD",
            "-A BERTH-FORWARD -d 172.17.0.2/32 -j ACCEPT",
            30,
        )
        .unwrap();
        // each table numbers its rules on its own: the same handle in another table
        s.add_chain("raw", "BERTH-RAW", true);
        s.add_rule(
            "raw",
            "BERTH-RAW",
            "-A BERTH-RAW -d 172.17.0.2/32 -j DROP",
            30,
        )
        .unwrap();
        s
    }

    fn rule(table: &str, chain: &str, handle: u64) -> Op {
        Op::Rule {
            table: table.into(),
            chain: chain.into(),
            handle,
        }
    }

    #[test]
    fn plans_a_removal_by_handle() {
        let s = snapshot();
        let text = "*nat\n:BERTH-0123456789ab - [0:0]\nCOMMIT\n";
        assert_eq!(
            s.plan(text),
            Some(vec![Op::Flush {
                table: "nat".into(),
                chain: "BERTH-0123456789ab".into()
            }])
        );
        let text = "*filter\n-D BERTH-FORWARD -d 172.17.0.2/32 -j ACCEPT\nCOMMIT\n\
            *nat\n-D BERTH -m comment --comment berth:0123456789ab -j BERTH-0123456789ab\n\
            -D BERTH -m comment --comment berth:0123456789ab -j BERTH-0123456789ab\n\
            -F BERTH-0123456789ab\n-X BERTH-0123456789ab\nCOMMIT\n";
        assert_eq!(
            s.plan(text),
            Some(vec![
                rule("filter", "BERTH-FORWARD", 30),
                // a line twice: the first rule with it, then the next
                rule("nat", "BERTH", 10),
                rule("nat", "BERTH", 12),
                Op::Flush {
                    table: "nat".into(),
                    chain: "BERTH-0123456789ab".into()
                },
                Op::Chain {
                    table: "nat".into(),
                    chain: "BERTH-0123456789ab".into()
                },
            ])
        );
    }

    #[test]
    fn tells_the_tables_handles_apart() {
        let s = snapshot();
        let text = "*raw\n-D BERTH-RAW -d 172.17.0.2/32 -j DROP\nCOMMIT\n\
            *filter\n-D BERTH-FORWARD -d 172.17.0.2/32 -j ACCEPT\n-X BERTH-FORWARD\nCOMMIT\n";
        assert_eq!(
            s.plan(text),
            Some(vec![
                rule("raw", "BERTH-RAW", 30),
                rule("filter", "BERTH-FORWARD", 30),
                Op::Chain {
                    table: "filter".into(),
                    chain: "BERTH-FORWARD".into()
                },
            ])
        );
    }

    #[test]
    fn leaves_anything_else_to_iptables_restore() {
        let s = snapshot();
        let dj = "-D BERTH -m comment --comment berth:0123456789ab -j BERTH-0123456789ab";
        for text in [
            // additions, new chains, policies
            "*nat\n-A BERTH -j RETURN\nCOMMIT\n",
            "*nat\n-I BERTH 1 -j RETURN\nCOMMIT\n",
            "*nat\n:BERTH-ffffffffffff - [0:0]\nCOMMIT\n",
            "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n",
            // a rule the read did not have, or more of it than it had
            "*nat\n-D BERTH -j DROP\nCOMMIT\n",
            "*nat\n-D BERTH -j RETURN\n-D BERTH -j RETURN\nCOMMIT\n",
            "*nat\n-D NOCHAIN -j RETURN\nCOMMIT\n",
            "*raw\n-D BERTH -j RETURN\nCOMMIT\n",
            // a rule of a chain emptied before
            "*nat\n-F BERTH\n-D BERTH -j RETURN\nCOMMIT\n",
            // a hook's chain is not flushed or deleted here
            "*nat\n-F PREROUTING\nCOMMIT\n",
            "*nat\n-X PREROUTING\nCOMMIT\n",
            // a chain that is not empty, or gone already
            "*nat\n-X BERTH-0123456789ab\nCOMMIT\n",
            "*nat\n-F BERTH-0123456789ab\n-X BERTH-0123456789ab\n-F BERTH-0123456789ab\nCOMMIT\n",
            // no table, an unfinished one, nothing at all
            "-D BERTH -j RETURN\n",
            "*nat\n-D BERTH -j RETURN\n",
            "*nat\n*filter\nCOMMIT\n",
            "*nat\nCOMMIT\n",
            "",
            // a deletion by number, a flush of the table
            "*nat\n-D BERTH 1\nCOMMIT\n",
            "*nat\n-F\nCOMMIT\n",
        ] {
            assert_eq!(s.plan(text), None, "{text:?}");
        }
        // positive control: each of those tables and lines, as far as they are right
        assert!(s.plan(&format!("*nat\n{dj}\nCOMMIT\n")).is_some());
        assert!(s.plan("*nat\n-D BERTH -j RETURN\nCOMMIT\n").is_some());
        assert!(s.plan("*nat\n-F BERTH\nCOMMIT\n").is_some());
        assert!(
            s.plan("*nat\n-F BERTH-0123456789ab\n-X BERTH-0123456789ab\nCOMMIT\n")
                .is_some()
        );
    }

    #[test]
    fn what_landed_is_the_new_read() {
        let mut s = snapshot();
        let text = "*nat\n-D BERTH -m comment --comment berth:0123456789ab -j BERTH-0123456789ab\n\
            -F BERTH-0123456789ab\n-X BERTH-0123456789ab\nCOMMIT\n";
        let ops = s.plan(text).unwrap();
        s.apply(&ops);
        assert_eq!(s.generation(), 8);
        // the second copy of the jump is there still, the chain is not
        assert_eq!(s.plan(text), None);
        assert!(s
            .plan("*nat\n-D BERTH -m comment --comment berth:0123456789ab -j BERTH-0123456789ab\nCOMMIT\n")
            .is_some());
        let mut s = Snapshot::new(Family::V6, u32::MAX);
        s.apply(&[]);
        assert_eq!(s.generation(), 1, "the kernel skips 0");
    }

    /// One message of an encoded batch: (type, flags, seq, family, res_id, attributes).
    type Message = (u16, u16, u32, u8, u16, Vec<(u16, Vec<u8>)>);

    fn decoded(buf: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        let mut whole = 0;
        for m in messages(buf) {
            let m = m.expect("a whole message");
            let family = m.bytes[16];
            let res = u16::from_be_bytes(m.bytes[18..20].try_into().unwrap());
            let body = &m.bytes[20..];
            let attrs: Vec<(u16, Vec<u8>)> = nftables::attrs(body)
                .map(|(t, p)| (t, p.to_vec()))
                .collect();
            let used: usize = attrs.iter().map(|(_, p)| (4 + p.len() + 3) & !3).sum();
            assert_eq!(used, body.len(), "attributes fill the message");
            whole += m.bytes.len();
            out.push((m.typ, m.flags, m.seq, family, res, attrs));
        }
        assert_eq!(whole, buf.len(), "messages fill the batch");
        out
    }

    #[test]
    fn encodes_one_bound_transaction() {
        let ops = vec![
            rule("nat", "BERTH", 0x0102030405060708),
            Op::Flush {
                table: "nat".into(),
                chain: "BERTH-0123456789ab".into(),
            },
            Op::Chain {
                table: "nat".into(),
                chain: "BERTH-0123456789ab".into(),
            },
        ];
        let m = decoded(&encode(Family::V6, 0xa0b0c0d0, &ops, 5));
        assert_eq!(m.len(), 5);
        let (req, ack) = (libc::NLM_F_REQUEST as u16, libc::NLM_F_ACK as u16);
        // begin: nf_tables' batch, bound to the generation (big-endian)
        assert_eq!(
            m[0],
            (0x10, req, 5, 0, 10, vec![(1, vec![0xa0, 0xb0, 0xc0, 0xd0])])
        );
        let v6 = libc::NFPROTO_IPV6 as u8;
        assert_eq!(
            m[1],
            (
                (10 << 8) | 8,
                req,
                6,
                v6,
                0,
                vec![
                    (1, b"nat\0".to_vec()),
                    (2, b"BERTH\0".to_vec()),
                    (3, vec![1, 2, 3, 4, 5, 6, 7, 8])
                ]
            )
        );
        // the flush names its chain (a deletion with no chain would empty the table)
        assert_eq!(
            m[2],
            (
                (10 << 8) | 8,
                req,
                7,
                v6,
                0,
                vec![
                    (1, b"nat\0".to_vec()),
                    (2, b"BERTH-0123456789ab\0".to_vec())
                ]
            )
        );
        // only the last op asks for an answer
        assert_eq!(
            m[3],
            (
                (10 << 8) | 5,
                req | ack,
                8,
                v6,
                0,
                vec![
                    (1, b"nat\0".to_vec()),
                    (3, b"BERTH-0123456789ab\0".to_vec())
                ]
            )
        );
        assert_eq!(m[4], (0x11, req, 9, 0, 10, vec![]));
    }

    fn error_msg(seq: u32, code: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&code.to_ne_bytes());
        m.extend_from_slice(&[0u8; 16]);
        m
    }

    #[test]
    fn reads_the_answers_in_order() {
        let ok = error_msg(9, 0);
        assert_eq!(answer(&ok, 5, 9), Some(Ok(())));
        // an ack of an earlier op is not the end
        assert_eq!(answer(&error_msg(7, 0), 5, 9), None);
        // a refused begin (the generation moved) or a refused op, before the last ack
        let restart = [error_msg(5, -libc::ERESTART), ok.clone()].concat();
        assert_eq!(answer(&restart, 5, 9), Some(Err(libc::ERESTART)));
        let enoent = [error_msg(7, -libc::ENOENT), ok.clone()].concat();
        assert_eq!(answer(&enoent, 5, 9), Some(Err(libc::ENOENT)));
        // an end refused
        assert_eq!(
            answer(&error_msg(10, -libc::EINVAL), 5, 9),
            Some(Err(libc::EINVAL))
        );
        // another sequence's answer is not ours
        assert_eq!(answer(&error_msg(4, -libc::EPERM), 5, 9), None);
        assert_eq!(answer(&error_msg(11, -libc::EPERM), 5, 9), None);
        // nor a message cut short
        assert_eq!(answer(&ok[..20], 5, 9), None);
    }
}
