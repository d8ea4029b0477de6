//! What berth asks nf_tables directly over netlink, with no process:
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
const NFTA_TABLE_NAME: u16 = 1;
const NFT_MSG_NEWGEN: u16 = 15;
const NFTA_GEN_ID: u16 = 1;
const NLMSG_ERROR: u16 = 2;

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
    let tv = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: setsockopt with a timeval we own.
    unsafe {
        libc::setsockopt(
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    Ok(fd)
}

pub(crate) struct Fd(pub(crate) libc::c_int);

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
    request(
        &fd,
        NFT_MSG_GETTABLE,
        (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
    )?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = receive(&fd, &mut buf)?;
        let mut at = 0;
        while at + 16 <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
            let typ = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
            if len < 16 || at + len > n {
                return Err(io::Error::other("a short netlink message"));
            }
            if typ as libc::c_int == libc::NLMSG_DONE {
                return Ok(out);
            }
            if typ == NLMSG_ERROR {
                return Err(io::Error::other("nf_tables refused the dump"));
            }
            if typ & 0xff == NFT_MSG_NEWTABLE && len >= 20 {
                let family = match buf[at + 16] as libc::c_int {
                    libc::NFPROTO_IPV4 => "ip",
                    libc::NFPROTO_IPV6 => "ip6",
                    libc::NFPROTO_INET => "inet",
                    libc::NFPROTO_ARP => "arp",
                    libc::NFPROTO_BRIDGE => "bridge",
                    libc::NFPROTO_NETDEV => "netdev",
                    _ => "?",
                };
                if let Some(name) = attr(&buf[at..at + len], NFTA_TABLE_NAME) {
                    let name = name.split(|b| *b == 0).next().unwrap_or(&[]);
                    out.push((
                        family.to_string(),
                        String::from_utf8_lossy(name).into_owned(),
                    ));
                }
            }
            at += (len + 3) & !3;
        }
    }
}

/// The payload of the first attribute of type `want` in one message.
fn attr(msg: &[u8], want: u16) -> Option<&[u8]> {
    let mut at = 20;
    while at + 4 <= msg.len() {
        let alen = u16::from_ne_bytes(msg[at..at + 2].try_into().ok()?) as usize;
        let atype = u16::from_ne_bytes(msg[at + 2..at + 4].try_into().ok()?) & 0x3fff;
        if alen < 4 || at + alen > msg.len() {
            return None;
        }
        if atype == want {
            return Some(&msg[at + 4..at + alen]);
        }
        at += (alen + 3) & !3;
    }
    None
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
    let id = attr(&msg[..len], NFTA_GEN_ID)?;
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
