//! Shared pieces of the end-to-end tests: the real berth binary, containers and
//! network namespaces that clean up after themselves (even when a test fails), and
//! tidying of what a killed earlier run left behind.
//!
//! These tests need root, a Docker daemon and iptables: `scripts/test` provides all
//! three and runs them with `--include-ignored --test-threads=1`.

#![allow(dead_code)]

use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const E2E: &str = "needs root, a Docker daemon and iptables: run scripts/test";

/// Names of everything a test creates start with this, then the test process's pid.
pub const PREFIX: &str = "berth-t";

pub fn berth_bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

/// The berth binary as the tests run it: the local engine, and no watcher started
/// behind a test's back (the watch tests start their own).
/// The engine of this host's default socket, as berth's library addresses it.
#[allow(dead_code)]
pub fn local_endpoint() -> berth::engine::endpoint::Endpoint {
    berth::engine::endpoint::Endpoint {
        host: "unix:///var/run/docker.sock".into(),
        tls: None,
        source: berth::config::Source::Default,
    }
}

pub fn berth_cmd() -> Command {
    let mut c = Command::new(berth_bin());
    c.env_remove("DOCKER_HOST").env("BERTH_WATCH", "off");
    c
}

/// Run berth with `args`; returns its output.
pub fn berth(args: &[&str]) -> Output {
    tidy_once();
    berth_cmd().args(args).output().expect("run berth")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run berth, require success, return stdout.
pub fn berth_ok(args: &[&str]) -> String {
    let o = berth(args);
    assert!(
        o.status.success(),
        "berth {args:?} failed ({}): {}{}",
        o.status,
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

/// Run a shell command line; returns (success, stdout + stderr).
pub fn sh(cmd: &str) -> (bool, String) {
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("run sh");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

pub fn sh_ok(cmd: &str) -> String {
    let (ok, out) = sh(cmd);
    assert!(ok, "`{cmd}` failed: {out}");
    out
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this test process: berth-t-<pid>-<n>-<what>.
pub fn unique(what: &str) -> String {
    format!(
        "{PREFIX}-{}-{}-{what}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A container removed (with its rules) when dropped.
pub struct Container {
    pub name: String,
}

impl Container {
    pub fn named(name: &str) -> Container {
        Container {
            name: name.to_string(),
        }
    }

    pub fn id(&self) -> String {
        sh_ok(&format!("docker inspect -f '{{{{.Id}}}}' {}", self.name))
            .trim()
            .to_string()
    }

    pub fn id12(&self) -> String {
        self.id()[..12].to_string()
    }

    pub fn ip(&self) -> String {
        sh_ok(&format!(
            "docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {}",
            self.name
        ))
        .trim()
        .to_string()
    }

    pub fn logs(&self) -> String {
        sh(&format!("docker logs {} 2>&1", self.name)).1
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = berth_cmd()
            .args(["rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `berth run -d --name <unique> ARGS...`; the container goes away with the guard.
pub fn run_detached(what: &str, args: &[&str]) -> Container {
    let name = unique(what);
    let mut all = vec!["run", "-d", "--name", &name];
    all.extend_from_slice(args);
    berth_ok(&all);
    Container { name }
}

/// Every rule line in the kernel that carries `berth:<id12>`.
pub fn rules_of(id12: &str) -> Vec<String> {
    sh_ok("iptables-save")
        .lines()
        .filter(|l| l.contains(&format!("berth:{id12}")))
        .map(str::to_string)
        .collect()
}

/// A process of this host that the test started, ended (SIGKILL) when dropped, also
/// when the test fails.
pub struct Background {
    child: std::process::Child,
}

impl Background {
    /// Start `sh -c cmd` in the background.
    pub fn sh(cmd: &str) -> Background {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {cmd}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a background process");
        Background { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Read a berth's stderr until it says it paused at `step` (`BERTH_TEST_PAUSE`), for up
/// to `secs`; fails the test if it does not. Returns the rest of its stderr: keep it
/// while the process runs (it writes there).
pub fn wait_for_pause(
    child: &mut std::process::Child,
    step: &str,
    secs: u64,
) -> std::io::BufReader<std::process::ChildStderr> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.contains("paused at") {
            break;
        }
    }
    assert!(
        line.contains(&format!("paused at {step}")),
        "berth did not reach {step}: {line}"
    );
    reader
}

/// Whether a TCP socket of this host listens on `port`.
pub fn tcp_listening(port: u16) -> bool {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default()
        + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    text.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[3] == "0A" && f[1].ends_with(&format!(":{port:04X}"))
    })
}

/// The packets a rule has matched (`iptables-save -c`): the first rule of `table` whose
/// line contains every one of `words`.
pub fn rule_packets(tool: &str, table: &str, words: &[&str]) -> u64 {
    let save = sh_ok(&format!("{tool}-save -c -t {table}"));
    save.lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .find_map(|l| {
            let counters = l.strip_prefix('[')?.split(']').next()?;
            counters.split(':').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {table} rule with {words:?} in:\n{save}"))
}

/// Retry `f` until it returns true or `secs` pass.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// HTTP GET through curl; Some(body) on success.
pub fn curl(url: &str) -> Option<String> {
    curl_in(None, url)
}

/// curl, optionally from inside a network namespace.
pub fn curl_in(ns: Option<&str>, url: &str) -> Option<String> {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "curl"]);
            c
        }
        None => Command::new("curl"),
    };
    let o = cmd
        .args(["-s", "-f", "--max-time", "3", url])
        .output()
        .expect("run curl");
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// A second host: a network namespace joined to this one by a veth pair, this host
/// 198.18.<n>.1/24, the peer 198.18.<n>.2/24 with its default route via this host.
pub struct Peer {
    pub ns: String,
    pub host_if: String,
    pub host_ip: String,
    pub peer_ip: String,
}

impl Peer {
    pub fn new() -> Peer {
        tidy_once();
        let k = COUNTER.fetch_add(1, Ordering::SeqCst);
        let n = (std::process::id() as usize % 200) + k % 50;
        let ns = unique("peer");
        let pid = std::process::id();
        let (host_if, peer_if) = (format!("bt{pid}x{k}"), format!("bp{pid}x{k}"));
        let (host_ip, peer_ip) = (format!("198.18.{n}.1"), format!("198.18.{n}.2"));
        let peer = Peer {
            ns: ns.clone(),
            host_if: host_if.clone(),
            host_ip: host_ip.clone(),
            peer_ip: peer_ip.clone(),
        };
        sh(&format!("ip link del {host_if} 2>/dev/null"));
        sh_ok(&format!(
            "ip netns add {ns} && ip link add {host_if} type veth peer name {peer_if} && \
             ip link set {peer_if} netns {ns} && ip addr add {host_ip}/24 dev {host_if} && ip link set {host_if} up && \
             ip netns exec {ns} ip addr add {peer_ip}/24 dev {peer_if} && ip netns exec {ns} ip link set {peer_if} up && \
             ip netns exec {ns} ip link set lo up && ip netns exec {ns} ip route add default via {host_ip}"
        ));
        peer
    }

    /// The same peer with IPv6 too: this host fd00:198:18:<n>::1/64, the peer
    /// fd00:198:18:<n>::2/64 with its default IPv6 route via this host (unique local
    /// addresses of the test's own).
    pub fn dual() -> Peer {
        let p = Peer::new();
        let n = p.host_ip.split('.').nth(2).unwrap().to_string();
        let peer_if = p.host_if.replacen("bt", "bp", 1);
        sh_ok(&format!(
            "ip -6 addr add fd00:198:18:{n}::1/64 dev {} nodad && \
             ip netns exec {ns} ip -6 addr add fd00:198:18:{n}::2/64 dev {peer_if} nodad && \
             ip netns exec {ns} ip -6 route add default via fd00:198:18:{n}::1",
            p.host_if,
            ns = p.ns
        ));
        p
    }

    /// This host's IPv6 address on the link (after `dual`).
    pub fn host_ip6(&self) -> String {
        let n = self.host_ip.split('.').nth(2).unwrap();
        format!("fd00:198:18:{n}::1")
    }

    pub fn curl(&self, url: &str) -> Option<String> {
        curl_in(Some(&self.ns), url)
    }

    /// Run a command inside the peer.
    pub fn exec(&self, cmd: &str) -> (bool, String) {
        sh(&format!(
            "ip netns exec {} sh -c '{}'",
            self.ns,
            cmd.replace('\'', "'\\''")
        ))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        sh(&format!(
            "ip link del {} 2>/dev/null; ip netns del {} 2>/dev/null",
            self.host_if, self.ns
        ));
    }
}

static TIDY: Once = Once::new();

/// Remove what an earlier, killed run left: its containers (by name prefix and a dead
/// pid), its networks, namespaces and veths, then let `berth nat sync` drop orphaned rules.
pub fn tidy_once() {
    TIDY.call_once(|| {
        let alive = |pid: &str| std::path::Path::new(&format!("/proc/{pid}")).exists();
        // a name of a test run (`PREFIX-<pid>-...`) whose process is gone
        let abandoned = |name: &str| {
            name.strip_prefix(&format!("{PREFIX}-"))
                .is_some_and(|rest| !alive(rest.split('-').next().unwrap_or("")))
        };
        let names = sh("docker ps -a --format '{{.Names}}'").1;
        for name in names.lines().filter(|n| abandoned(n)) {
            sh(&format!("docker rm -f {name}"));
        }
        // then the networks they were on (a test that failed before its guard ran)
        let nets = sh("docker network ls --format '{{.Name}}'").1;
        for net in nets.lines().filter(|n| abandoned(n)) {
            sh(&format!("docker network rm {net}"));
        }
        let nss = sh("ip netns list").1;
        for ns in nss
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| abandoned(n))
        {
            sh(&format!("ip netns del {ns}"));
        }
        let links = sh("ip -o link show").1;
        for line in links.lines() {
            let Some(name) = line
                .split(':')
                .nth(1)
                .map(|s| s.trim().split('@').next().unwrap_or(""))
            else {
                continue;
            };
            if let Some(pid) = name
                .strip_prefix("bt")
                .and_then(|r| r.split_once('x'))
                .map(|(p, _)| p)
                && !alive(pid)
            {
                sh(&format!("ip link del {name}"));
            }
        }
        // a watcher a killed test run started (it carries its test's pid)
        if let Some(pid) = std::fs::read_to_string("/run/berth/watch.json")
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|d| d["pid"].as_u64())
        {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let owner = environ
                .split(|b| *b == 0)
                .filter_map(|kv| std::str::from_utf8(kv).ok())
                .find_map(|kv| kv.strip_prefix("BERTH_TEST_OWNER="))
                .map(str::to_string);
            if let Some(owner) = owner
                && !alive(&owner)
            {
                sh(&format!("kill -TERM {pid}"));
            }
        }
        let _ = berth_cmd().args(["nat", "sync"]).output();
    });
}

/// Stop the engine, run `meanwhile` (the engine is down), start it again the way
/// scripts/test started it (the same dockerd on PATH), and wait until it answers.
pub fn restart_engine(meanwhile: impl FnOnce()) {
    let setup = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lib/setup.sh");
    sh_ok(
        "pid=$(cat /var/run/docker.pid) && kill $pid && \
         for i in $(seq 1 150); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.2; done; \
         echo 'dockerd did not stop within 30 s' >&2; exit 1",
    );
    meanwhile();
    sh_ok(&format!("bash -c 'source {setup}; start_docker' 2>&1"));
}

/// The docker CLI that judges berth's texts: `$BERTH_DOCKER_CLI` (scripts/test points it
/// at the current docker CLI of the version matrix, whose texts berth follows), else the
/// `docker` on PATH.
pub fn docker_cli() -> Command {
    match std::env::var("BERTH_DOCKER_CLI") {
        Ok(p) if !p.is_empty() => Command::new(p),
        _ => Command::new("docker"),
    }
}
