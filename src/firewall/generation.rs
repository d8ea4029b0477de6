//! nf_tables' ruleset generation: a counter the kernel bumps at every change of any
//! nftables table in this network namespace (iptables-nft's included). One netlink
//! request (`NFT_MSG_GETGEN`), no process: a watcher that finds it unchanged knows the
//! tables are as it last read them, and need not run iptables-save to be sure.

use std::io;

const NETLINK_NETFILTER: libc::c_int = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETGEN: u16 = 16;
const NFT_MSG_NEWGEN: u16 = 15;
const NFTA_GEN_ID: u16 = 1;
const NLMSG_ERROR: u16 = 2;

/// The current generation, or `None` where nf_tables does not answer.
pub fn current() -> Option<u32> {
    query().ok()
}

fn query() -> io::Result<u32> {
    // SAFETY: a plain socket call; the descriptor is closed by the guard below.
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
    struct Fd(libc::c_int);
    impl Drop for Fd {
        fn drop(&mut self) {
            // SAFETY: we own the descriptor.
            unsafe { libc::close(self.0) };
        }
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
    // nlmsghdr (16 bytes) + nfgenmsg (4 bytes)
    let mut req = [0u8; 20];
    req[0..4].copy_from_slice(&20u32.to_ne_bytes());
    req[4..6].copy_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN).to_ne_bytes());
    req[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // nfgen_family AF_UNSPEC, version NFNETLINK_V0, res_id 0
    // SAFETY: sending a buffer we own.
    let sent = unsafe { libc::send(fd.0, req.as_ptr() as *const libc::c_void, req.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 512];
    // SAFETY: receiving into a buffer we own.
    let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    parse(&buf[..n as usize]).ok_or_else(|| io::Error::other("no generation in the answer"))
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
    // attributes after nlmsghdr + nfgenmsg
    let mut at = 20;
    while at + 4 <= len {
        let alen = u16::from_ne_bytes(msg[at..at + 2].try_into().ok()?) as usize;
        let atype = u16::from_ne_bytes(msg[at + 2..at + 4].try_into().ok()?) & 0x3fff;
        if alen < 4 || at + alen > len {
            return None;
        }
        if atype == NFTA_GEN_ID && alen >= 8 {
            return Some(u32::from_be_bytes(msg[at + 4..at + 8].try_into().ok()?));
        }
        at += (alen + 3) & !3;
    }
    None
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
