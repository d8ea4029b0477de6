//! berth's netlink socket to nf_tables, its dumps of tables, chains and rules (which
//! `nat::netlink` turns into iptables-save's text), and what berth asks directly, with
//! no process:
//! - the ruleset generation, a counter the kernel bumps at every change of any nftables
//!   table in this network namespace (iptables-nft's included): a watcher that finds it
//!   unchanged knows the tables are as it last read them;
//! - the tables that exist, to spot a firewall that would drop what berth accepts
//!   (Docker 29's nftables backend keeps its rules in `docker-bridges` tables).

use std::io;

const NETLINK_NETFILTER: libc::c_int = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETGEN: u16 = 16;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFTA_TABLE_NAME: u16 = 1;
const NFT_MSG_NEWGEN: u16 = 15;
const NFTA_GEN_ID: u16 = 1;
const NLMSG_ERROR: u16 = 2;
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

fn request(fd: &Fd, msg: u16, flags: u16) -> io::Result<()> {
    // nlmsghdr (16 bytes) + nfgenmsg (4 bytes: AF_UNSPEC, NFNETLINK_V0, res_id 0)
    let mut req = [0u8; 20];
    req[0..4].copy_from_slice(&20u32.to_ne_bytes());
    req[4..6].copy_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | msg).to_ne_bytes());
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: sending a buffer we own.
    let sent = unsafe { libc::send(fd.0, req.as_ptr() as *const libc::c_void, req.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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
    let mut req = Vec::with_capacity(64);
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | msg).to_ne_bytes());
    req.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&[nfproto, 0, 0, 0]);
    if let Some((attr, name)) = table {
        req.extend_from_slice(&((4 + name.len() + 1) as u16).to_ne_bytes());
        req.extend_from_slice(&attr.to_ne_bytes());
        req.extend_from_slice(name.as_bytes());
        req.push(0);
        while !req.len().is_multiple_of(4) {
            req.push(0);
        }
    }
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    // SAFETY: sending a buffer we own.
    let sent = unsafe { libc::send(fd.0, req.as_ptr() as *const libc::c_void, req.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
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
        let mut at = 0;
        while at + 16 <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
            let typ = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
            let flags = u16::from_ne_bytes(buf[at + 6..at + 8].try_into().expect("2 bytes"));
            let mseq = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().expect("4 bytes"));
            if len < 16 || at + len > n {
                return Err(io::Error::other("a short netlink message"));
            }
            if flags & NLM_F_DUMP_INTR != 0 {
                interrupted = true;
            }
            if mseq == seq {
                if typ == NLMSG_DONE {
                    // the dump's own status follows the header: 0, or -errno
                    let status = buf
                        .get(at + 16..at + 20)
                        .map_or(0, |b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
                    if status != 0 {
                        return Err(io::Error::other("the dump ended in an error"));
                    }
                    return Ok((!interrupted).then_some(out));
                }
                if typ == NLMSG_ERROR {
                    return Err(io::Error::other("nf_tables refused the dump"));
                }
                if typ == (NFNL_SUBSYS_NFTABLES << 8) | want && len >= 20 {
                    out.push((buf[at + 16], buf[at + 20..at + len].to_vec()));
                }
            }
            at += (len + 3) & !3;
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
    if msg.len() < 20 {
        return None;
    }
    let len = u32::from_ne_bytes(msg[0..4].try_into().ok()?) as usize;
    let typ = u16::from_ne_bytes(msg[4..6].try_into().ok()?);
    if typ == NLMSG_ERROR || typ & 0xff != NFT_MSG_NEWGEN || len > msg.len() {
        return None;
    }
    let id = find(msg.get(20..len)?, NFTA_GEN_ID)?;
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
