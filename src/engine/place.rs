//! Where the engine runs: on this host, in this host's network namespace, as root (then
//! berth publishes ports itself), or not (a remote engine, one in another namespace, a
//! rootless one: then the engine publishes, as docker does). A wrong guess must never
//! make berth write rules for containers of another host, so berth says "local" only
//! when it can see the engine's own process here:
//! - over a unix socket, the peer of the connection (SO_PEERCRED);
//! - over tcp, the process holding the other end of a connection berth makes, when
//!   that end is in this namespace (a connection to another host has none here);
//!
//! and that process is root, in this network namespace, and is the engine (`dockerd`;
//! or systemd holding the engine's socket, when the engine's ID is this host's). A
//! forwarder, a rootless engine, anything else: elsewhere.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use super::Engine;

/// Where an engine runs, as far as berth's rules are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// This host, this network namespace, rootful: berth publishes.
    Local,
    /// Anywhere else: the engine publishes. The text says why.
    Elsewhere(String),
}

impl Place {
    pub fn is_local(&self) -> bool {
        *self == Place::Local
    }
}

/// Decide, with the config's override (`engine_local`) first.
pub async fn place(engine: &Engine, host: &str, forced: Option<bool>) -> Place {
    match forced {
        Some(true) => return Place::Local,
        Some(false) => return Place::Elsewhere("engine_local is no".into()),
        None => {}
    }
    let pid = if let Some(path) = host
        .strip_prefix("unix://")
        .or_else(|| host.starts_with('/').then_some(host))
    {
        match peer_of_socket(path) {
            Some(p) => p,
            None => return Place::Elsewhere(format!("nothing on this host answers on {path}")),
        }
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        match listener_of(addr) {
            Some(p) => p,
            None => {
                return Place::Elsewhere(format!(
                    "no process of this host's network namespace listens on {addr}"
                ));
            }
        }
    } else {
        return Place::Elsewhere(format!("{host} is reached through another host"));
    };
    let Some(proc_) = Proc::read(pid) else {
        return Place::Elsewhere(format!("its process {pid} cannot be read"));
    };
    if proc_.uid != 0 {
        return Place::Elsewhere(format!(
            "its process {pid} does not run as root (a rootless engine publishes in a namespace of its own)"
        ));
    }
    if !proc_.same_netns {
        return Place::Elsewhere(format!(
            "its process {pid} runs in another network namespace"
        ));
    }
    let default_socket = host
        .strip_prefix("unix://")
        .is_some_and(|p| p == "/var/run/docker.sock" || p == "/run/docker.sock");
    if proc_.comm == "dockerd" && default_socket {
        return Place::Local;
    }
    if proc_.comm == "dockerd" {
        // another address of this host's engine (tcp, another socket), or a second
        // engine beside it: only one engine's containers own berth's rules, or each
        // engine's full passes would take the other's rules away
        let ours = local_engine_ids().await;
        return match engine.docker().info().await.ok().and_then(|i| i.id) {
            Some(id) if ours.is_empty() || ours.contains(&id) => Place::Local,
            Some(_) => Place::Elsewhere(format!(
                "dockerd (pid {pid}) is a second engine beside the one at /var/run/docker.sock, whose containers own berth's rules"
            )),
            None => Place::Elsewhere("the engine did not say who it is".into()),
        };
    }
    // something else holds the socket: a forwarder (to any engine: in doubt, elsewhere),
    // or systemd's socket activation (PID 1), where the engine must say it is this
    // host's own
    if pid != 1 {
        return Place::Elsewhere(format!(
            "{} (pid {pid}) forwards to an engine berth cannot place",
            proc_.comm
        ));
    }
    let Ok(info) = engine.docker().info().await else {
        return Place::Elsewhere("the engine did not say who it is".into());
    };
    let rootless = info
        .security_options
        .iter()
        .flatten()
        .any(|o| o.split(',').any(|f| f == "name=rootless"));
    if rootless {
        return Place::Elsewhere(
            "it is a rootless engine, in a network namespace of its own".into(),
        );
    }
    let ours = local_engine_ids().await;
    let id_matches = info
        .id
        .as_deref()
        .is_some_and(|id| ours.iter().any(|l| l == id));
    if id_matches {
        Place::Local
    } else {
        Place::Elsewhere(format!(
            "{} (pid {pid}) is not the engine of this host",
            proc_.comm
        ))
    }
}

/// The IDs of this host's own engine: the one behind the default socket when a dockerd
/// of this namespace serves it, and those in the default files (`/var/lib/docker/
/// engine-id` for Docker 23+, the `kid` of /etc/docker/key.json before). Never a path an
/// engine names itself: an engine in another namespace may keep its files on this
/// host's disk.
async fn local_engine_ids() -> Vec<String> {
    let mut out = Vec::new();
    let socket = "/var/run/docker.sock";
    if let Some(pid) = peer_of_socket(socket)
        && let Some(p) = Proc::read(pid)
        && p.comm == "dockerd"
        && p.uid == 0
        && p.same_netns
        && let Ok(e) = Box::pin(Engine::connect_with(super::endpoint::DEFAULT_SOCKET, None)).await
        && let Ok(info) = e.docker().info().await
        && let Some(id) = info.id
    {
        out.push(id);
    }
    if let Ok(id) = std::fs::read_to_string("/var/lib/docker/engine-id") {
        out.push(id.trim().to_string());
    }
    if let Ok(text) = std::fs::read_to_string("/etc/docker/key.json")
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(kid) = v["kid"].as_str()
    {
        out.push(kid.to_string());
    }
    out
}

/// The process at the other end of a unix socket.
fn peer_of_socket(path: &str) -> Option<u32> {
    let s = std::os::unix::net::UnixStream::connect(path).ok()?;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt into a ucred we own, on a socket we own.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    (rc == 0 && cred.pid > 0).then_some(cred.pid as u32)
}

/// The process that serves `addr` in this network namespace: berth connects, and
/// looks for the other end of that very connection among this namespace's sockets.
/// A connection that leaves the namespace (another host, a namespace behind a NAT rule)
/// has no other end here, whatever listens on the same port locally.
fn listener_of(addr: &str) -> Option<u32> {
    let target: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .ok()?
        .collect();
    let stream = target.iter().find_map(|t| {
        std::net::TcpStream::connect_timeout(t, std::time::Duration::from_secs(2)).ok()
    })?;
    let (local, peer) = (stream.local_addr().ok()?, stream.peer_addr().ok()?);
    // the server end exists once the kernel completed the handshake; its owner is known
    // once the server accepted it
    for _ in 0..50 {
        let inode = crate::firewall::host::established_inode(peer, local)?;
        if let Some(pid) = owner_of_inode(inode) {
            return Some(pid);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    None
}

/// The process holding the socket with this inode.
fn owner_of_inode(inode: u64) -> Option<u32> {
    let want = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

/// What berth needs to know of a process.
struct Proc {
    uid: u32,
    comm: String,
    same_netns: bool,
}

impl Proc {
    fn read(pid: u32) -> Option<Proc> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()?
            .trim()
            .to_string();
        // another user's namespace links are root's to read: a berth that is not root
        // cannot tell, and takes a root dockerd as this host's own (it then refuses to
        // publish without root, rather than let the engine publish behind its back)
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net"));
        let ours = std::fs::read_link("/proc/self/ns/net").ok()?;
        let same_netns = match theirs {
            Ok(t) => t == ours,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => true,
            Err(_) => return None,
        };
        Some(Proc {
            uid,
            comm,
            same_netns,
        })
    }
}
