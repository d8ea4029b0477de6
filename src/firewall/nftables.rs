//! berth's netlink socket to nf_tables, its dumps of tables, chains and rules (which
//! `nat::netlink` turns into iptables-save's text), and what berth asks directly, with
//! no process:
//! - the ruleset generation, a counter the kernel bumps at every change of any nftables
//!   table in this network namespace (iptables-nft's included): a watcher that finds it
//!   unchanged knows the tables are as it last read them;
//! - the tables that exist, to spot a firewall that would drop what berth accepts
//!   (Docker 29's nftables backend keeps its rules in `docker-bridges` tables).

use std::io;

use crate::model::Family;

const NETLINK_NETFILTER: libc::c_int = 12;
pub(crate) const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETGEN: u16 = 16;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFTA_TABLE_NAME: u16 = 1;
const NFT_MSG_NEWGEN: u16 = 15;
const NFTA_GEN_ID: u16 = 1;
pub(crate) const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_DUMP_INTR: u16 = 0x10;

/// The current generation, or `None` where nf_tables does not answer.
pub fn generation() -> Option<u32> {
    query().ok()
}

/// Every nftables table: (family, name), family as nft names it (`ip`, `ip6`, `inet`,
/// ...). Empty where nf_tables does not answer.
pub fn tables() -> Vec<(String, String)> {
    dump_tables().unwrap_or_default()
}

pub(crate) fn open_socket() -> io::Result<Fd> {
    // SAFETY: a plain socket call; the descriptor is closed by the guard.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = Fd(fd);
    fd.wait_at_most(1);
    Ok(fd)
}

pub(crate) struct Fd(pub(crate) libc::c_int);

impl Fd {
    /// How long a receive waits for an answer.
    pub(crate) fn wait_at_most(&self, seconds: libc::time_t) {
        let tv = libc::timeval {
            tv_sec: seconds,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a timeval we own, on a descriptor we hold.
        unsafe {
            libc::setsockopt(
                self.0,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// The family byte nf_tables knows `family`'s tables by.
pub(crate) fn nfproto(family: Family) -> u8 {
    match family {
        Family::V4 => libc::NFPROTO_IPV4 as u8,
        Family::V6 => libc::NFPROTO_IPV6 as u8,
    }
}

/// One attribute: its length, its type, the payload, padded to four bytes.
pub(crate) fn put_attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// A NUL-terminated string attribute.
pub(crate) fn put_str(out: &mut Vec<u8>, kind: u16, value: &str) {
    let mut v = value.as_bytes().to_vec();
    v.push(0);
    put_attr(out, kind, &v);
}

/// One message: header, nfgenmsg (`family`, version 0, `res_id`), then `body`.
pub(crate) fn put_msg(
    out: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    body: &[u8],
) {
    let len = 16 + 4 + body.len();
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.push(family);
    out.push(0);
    out.extend_from_slice(&res_id.to_be_bytes());
    out.extend_from_slice(body);
}

/// Send one datagram: netlink takes it whole or not at all.
pub(crate) fn send(fd: &Fd, buf: &[u8]) -> io::Result<()> {
    // SAFETY: sending a buffer we own.
    let sent = unsafe { libc::send(fd.0, buf.as_ptr() as *const libc::c_void, buf.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One message of a datagram.
pub(crate) struct Msg<'a> {
    pub typ: u16,
    pub flags: u16,
    pub seq: u32,
    /// the whole message, its header included
    pub bytes: &'a [u8],
}

/// The messages of one datagram, in order; `Err` for a message cut short (and nothing
/// after it).
pub(crate) fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Msg<'_>, ()>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at + 16 > buf.len() {
            return None;
        }
        let word = |i: usize| u32::from_ne_bytes(buf[i..i + 4].try_into().expect("4 bytes"));
        let half = |i: usize| u16::from_ne_bytes(buf[i..i + 2].try_into().expect("2 bytes"));
        let len = word(at) as usize;
        if len < 16 || at + len > buf.len() {
            at = buf.len();
            return Some(Err(()));
        }
        let m = Msg {
            typ: half(at + 4),
            flags: half(at + 6),
            seq: word(at + 8),
            bytes: &buf[at..at + len],
        };
        at += (len + 3) & !3;
        Some(Ok(m))
    })
}

fn request(fd: &Fd, msg: u16, flags: u16) -> io::Result<()> {
    // nlmsghdr (16 bytes) + nfgenmsg (4 bytes: AF_UNSPEC, NFNETLINK_V0, res_id 0)
    let mut req = Vec::with_capacity(20);
    put_msg(
        &mut req,
        (NFNL_SUBSYS_NFTABLES << 8) | msg,
        flags,
        1,
        0,
        0,
        &[],
    );
    send(fd, &req)
}

pub(crate) fn receive(fd: &Fd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: receiving into a buffer we own.
    let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

fn dump_tables() -> io::Result<Vec<(String, String)>> {
    let fd = open_socket()?;
    for seq in 1..=3 {
        let Some(answers) = dump(&fd, NFT_MSG_GETTABLE, libc::NFPROTO_UNSPEC as u8, None, seq)?
        else {
            // the tables changed while dumped: again
            continue;
        };
        let mut out = Vec::new();
        for (family, msg) in answers {
            let family = match family as libc::c_int {
                libc::NFPROTO_IPV4 => "ip",
                libc::NFPROTO_IPV6 => "ip6",
                libc::NFPROTO_INET => "inet",
                libc::NFPROTO_ARP => "arp",
                libc::NFPROTO_BRIDGE => "bridge",
                libc::NFPROTO_NETDEV => "netdev",
                _ => "?",
            };
            if let Some(name) = find(&msg, NFTA_TABLE_NAME) {
                let name = name.split(|b| *b == 0).next().unwrap_or(&[]);
                out.push((
                    family.to_string(),
                    String::from_utf8_lossy(name).into_owned(),
                ));
            }
        }
        return Ok(out);
    }
    Err(io::Error::other("the tables kept changing"))
}

/// One answer of a dump: the family of its table (nfgenmsg), its attributes.
pub(crate) type Answer = (u8, Vec<u8>);

/// One dump request (`msg`: tables, chains or rules) for the tables of `nfproto`
/// (`NFPROTO_UNSPEC`: every family), of one table only where `table` gives (its
/// attribute, its name); each answer's family and attributes (after nfgenmsg).
/// `Ok(None)` when the kernel says the dump was interrupted by a change.
pub(crate) fn dump(
    fd: &Fd,
    msg: u16,
    nfproto: u8,
    table: Option<(u16, &str)>,
    seq: u32,
) -> io::Result<Option<Vec<Answer>>> {
    let mut body = Vec::new();
    if let Some((attr, name)) = table {
        put_str(&mut body, attr, name);
    }
    let mut req = Vec::with_capacity(20 + body.len());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    put_msg(
        &mut req,
        (NFNL_SUBSYS_NFTABLES << 8) | msg,
        flags,
        seq,
        nfproto,
        0,
        &body,
    );
    send(fd, &req)?;
    let want = match msg {
        NFT_MSG_GETTABLE => NFT_MSG_NEWTABLE,
        NFT_MSG_GETCHAIN => NFT_MSG_NEWCHAIN,
        _ => NFT_MSG_NEWRULE,
    };
    let mut out = Vec::new();
    let mut interrupted = false;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = receive(fd, &mut buf)?;
        if n == 0 {
            return Err(io::Error::other("netlink closed"));
        }
        for m in messages(&buf[..n]) {
            let m = m.map_err(|()| io::Error::other("a short netlink message"))?;
            if m.flags & NLM_F_DUMP_INTR != 0 {
                interrupted = true;
            }
            if m.seq != seq {
                continue;
            }
            if m.typ == NLMSG_DONE {
                // the dump's own status follows the header: 0, or -errno
                let status = m
                    .bytes
                    .get(16..20)
                    .map_or(0, |b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
                if status != 0 {
                    return Err(io::Error::other("the dump ended in an error"));
                }
                return Ok((!interrupted).then_some(out));
            }
            if m.typ == NLMSG_ERROR {
                return Err(io::Error::other("nf_tables refused the dump"));
            }
            if m.typ == (NFNL_SUBSYS_NFTABLES << 8) | want && m.bytes.len() >= 20 {
                out.push((m.bytes[16], m.bytes[20..].to_vec()));
            }
        }
    }
}

/// The attributes of one nested block: (type without its flags, payload).
pub(crate) fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let alen = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let atype = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if alen < 4 || alen > buf.len() {
            return None;
        }
        let payload = &buf[4..alen];
        buf = &buf[((alen + 3) & !3).min(buf.len())..];
        Some((atype, payload))
    })
}

/// The payload of the first attribute of type `want`.
pub(crate) fn find(buf: &[u8], want: u16) -> Option<&[u8]> {
    attrs(buf).find(|(t, _)| *t == want).map(|(_, p)| p)
}

fn query() -> io::Result<u32> {
    generation_on(&open_socket()?)
}

/// The current generation, asked on a socket of the caller's (whose earlier answers
/// have all been read).
pub(crate) fn generation_on(fd: &Fd) -> io::Result<u32> {
    request(fd, NFT_MSG_GETGEN, libc::NLM_F_REQUEST as u16)?;
    let mut buf = [0u8; 512];
    let n = receive(fd, &mut buf)?;
    parse(&buf[..n]).ok_or_else(|| io::Error::other("no generation in the answer"))
}

/// The generation in a `NFT_MSG_NEWGEN` answer.
fn parse(msg: &[u8]) -> Option<u32> {
    let m = messages(msg).next()?.ok()?;
    if m.typ == NLMSG_ERROR || m.typ & 0xff != NFT_MSG_NEWGEN {
        return None;
    }
    let id = find(m.bytes.get(20..)?, NFTA_GEN_ID)?;
    Some(u32::from_be_bytes(id.get(..4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_generation_attribute() {
        let mut m = vec![0u8; 32];
        m[0..4].copy_from_slice(&32u32.to_ne_bytes());
        m[4..6].copy_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN).to_ne_bytes());
        // NFTA_GEN_ID = 0x01020304
        m[20..22].copy_from_slice(&8u16.to_ne_bytes());
        m[22..24].copy_from_slice(&NFTA_GEN_ID.to_ne_bytes());
        m[24..28].copy_from_slice(&0x01020304u32.to_be_bytes());
        assert_eq!(parse(&m), Some(0x01020304));
        assert_eq!(parse(&m[..10]), None);
        let mut err = m.clone();
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert_eq!(parse(&err), None);
    }
}
