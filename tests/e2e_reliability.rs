//! Faults, concurrency and hostile networks, for real: a failing iptables-restore, a
//! container that cannot start, berth killed at each step of `run`, a stale lock, a
//! daemon restart, parallel runs and removals mixed with `nat sync`, and what a second
//! host can and cannot reach. RELIABILITY.md lists each case.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const FW_LOCK: &str = "/run/berth/firewall.lock";
const ALLOC_LOCK: &str = "/run/berth/alloc.lock";

fn berth_rule_count() -> usize {
    sh_ok("iptables-save")
        .lines()
        .filter(|l| l.contains("\"berth:"))
        .count()
}

fn exists(name: &str) -> bool {
    sh(&format!("docker inspect {name}")).0
}

/// A restore that fails after another one landed: the container's IPv4 rules go in
/// (the real iptables-restore, through a wrapper that logs the call), then its IPv6
/// transaction fails. berth must take back what landed, remove the container, and
/// free the port.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_failing_iptables_restore_leaves_nothing() {
    tidy_once();
    let net = unique("rfnet");
    sh(&format!("docker network rm {net}"));
    sh_ok(&format!(
        "docker network create --ipv6 --subnet fd00:b1:ff::/64 {net}"
    ));
    struct Net(String);
    impl Drop for Net {
        fn drop(&mut self) {
            sh(&format!("docker network rm {}", self.0));
        }
    }
    let _net = Net(net.clone());
    let dir = std::env::temp_dir().join(unique("wrap"));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("calls");
    for (tool, real) in [
        (
            "iptables-nft-restore",
            sh_ok("command -v iptables-nft-restore || command -v iptables-restore"),
        ),
        ("iptables-restore", sh_ok("command -v iptables-restore")),
        (
            "iptables-legacy-restore",
            sh_ok("command -v iptables-legacy-restore || command -v iptables-restore"),
        ),
    ] {
        std::fs::write(
            dir.join(tool),
            format!(
                "#!/bin/sh\necho {tool} >> {}\nexec {} \"$@\"\n",
                log.display(),
                real.trim()
            ),
        )
        .unwrap();
    }
    for tool in [
        "ip6tables-nft-restore",
        "ip6tables-restore",
        "ip6tables-legacy-restore",
    ] {
        std::fs::write(
            dir.join(tool),
            format!(
                "#!/bin/sh\necho {tool} >> {}\necho 'injected failure' >&2\nexit 1\n",
                log.display()
            ),
        )
        .unwrap();
    }
    sh_ok(&format!("chmod +x {}/*", dir.display()));
    let before4 = sh_ok("iptables-save | grep -v '^#'");
    let before6 = sh_ok("ip6tables-save | grep -v '^#'");
    let name = unique("restorefail");
    let o = berth_cmd()
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &net,
            "-p",
            "18091:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ])
        .env(
            "PATH",
            format!("{}:{}", dir.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("injected failure"), "{}", stderr(&o));
    // the fault happened after an IPv4 transaction had landed
    let first4 = calls.lines().position(|l| l.starts_with("iptables"));
    let first6 = calls.lines().position(|l| l.starts_with("ip6tables"));
    assert!(
        matches!((first4, first6), (Some(a), Some(b)) if a < b),
        "calls: {calls}"
    );
    assert!(!exists(&name), "the container was left behind");
    assert_eq!(
        sh_ok("iptables-save | grep -v '^#'"),
        before4,
        "IPv4 rules were left behind"
    );
    assert_eq!(
        sh_ok("ip6tables-save | grep -v '^#'"),
        before6,
        "IPv6 rules were left behind"
    );
    // another berth on the host may hold it for a moment; ours must not keep it
    assert!(
        eventually(10, || sh(&format!(
            "test -f {FW_LOCK} && flock -n {FW_LOCK} true"
        ))
        .0),
        "the lock is still held"
    );
    // and the port is free again
    let c = run_detached(
        "after",
        &[
            "--network",
            &net,
            "-p",
            "18091:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18091/").is_some()));
    drop(c);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_container_that_cannot_start_leaves_no_rule_and_no_allocation() {
    let before = berth_rule_count();
    let name = unique("nostart");
    let o = berth(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        "18092:80",
        "busybox",
        "no-such-binary",
    ]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(!exists(&name));
    assert_eq!(berth_rule_count(), before);
    let c = run_detached(
        "reuse",
        &["-p", "18092:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    assert!(
        eventually(5, || curl("http://127.0.0.1:18092/").is_some()),
        "the port stayed allocated"
    );
    drop(c);
}

/// Start `berth run` paused at `step`, wait until it says so, SIGKILL it.
fn kill_run_at(step: &str, name: &str, port: &str) {
    let mut child = berth_cmd()
        .args([
            "run",
            "--rm",
            "--name",
            name,
            "-p",
            &format!("{port}:80"),
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ])
        .env("BERTH_TEST_PAUSE", step)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stderr = wait_for_pause(&mut child, step, 30);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn sigkill_at_each_step_then_sync_leaves_no_orphan_and_no_leak() {
    for (step, port) in [
        ("after-create", "18093"),
        ("after-start", "18094"),
        ("apply", "18095"),
    ] {
        let name = unique(step);
        let _guard = Container::named(&name);
        kill_run_at(step, &name, port);
        let out = berth_ok(&["nat", "sync"]);
        // every berth rule belongs to a running container, and the base is whole
        let check = berth(&["nat", "check"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{step}: {}{out}",
            stdout(&check)
        );
        match step {
            "after-create" => {
                assert!(out.contains("run --rm never started it"), "{step}: {out}");
                assert!(!exists(&name), "{step}: the --rm container leaked");
            }
            _ => {
                // the container runs on (as with docker when its CLI is killed); sync
                // gave it its rules, so it is reachable, not half published
                assert!(exists(&name), "{step}");
                assert!(
                    eventually(5, || curl(&format!("http://127.0.0.1:{port}/")).is_some()),
                    "{step}: not reachable after sync: {out}"
                );
            }
        }
    }
}

/// The reaper removes only what berth abandoned: a `run --rm` container its killed berth
/// never started (the positive control), not a `create --rm` container (the user starts
/// it when they like), and not one whose `io.berth.run` label came from its image.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn the_reaper_takes_only_what_a_killed_berth_run_abandoned() {
    tidy_once();
    let abandoned = unique("reap-run");
    let created = unique("reap-create");
    let forged = unique("reap-forged");
    let _g = [
        Container::named(&abandoned),
        Container::named(&created),
        Container::named(&forged),
    ];
    let tag = format!("{}:runlabel", unique("img"));
    let root = std::env::temp_dir().join(unique("runlabel"));
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    sh_ok(&format!(
        "cd {} && tar -c . | docker import --change 'LABEL io.berth.run=1' --change 'CMD [\"/bin/busybox\", \"true\"]' - {tag} >/dev/null",
        root.display()
    ));
    let _ = std::fs::remove_dir_all(&root);
    struct Image(String);
    impl Drop for Image {
        fn drop(&mut self) {
            sh(&format!("docker rmi -f {} >/dev/null 2>&1", self.0));
        }
    }
    let _img = Image(tag.clone());

    berth_ok(&["create", "--rm", "--name", &created, "busybox", "true"]);
    sh_ok(&format!("docker create --rm --name {forged} {tag}"));
    assert!(
        sh_ok(&format!(
            "docker inspect -f '{{{{index .Config.Labels \"io.berth.run\"}}}}' {forged}"
        ))
        .trim()
            == "1",
        "the image's label did not reach the container"
    );
    kill_run_at("after-create", &abandoned, "18097");
    let out = berth_ok(&["nat", "sync"]);
    assert!(
        !exists(&abandoned),
        "the abandoned run --rm container stays: {out}"
    );
    assert!(out.contains("run --rm never started it"), "{out}");
    assert!(
        exists(&created),
        "berth create --rm's container was reaped: {out}"
    );
    assert!(
        exists(&forged),
        "a container labelled by its image was reaped: {out}"
    );
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn the_lock_serialises_and_a_dead_holder_does_not_block() {
    // a live holder makes berth wait
    // the holder (and its sleep) go when the test ends, even when it fails
    struct Holder(std::process::Child);
    impl Drop for Holder {
        fn drop(&mut self) {
            sh(&format!("pkill -KILL -P {}", self.0.id()));
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut holder = Holder(
        Command::new("flock")
            .args(["-o", ALLOC_LOCK, "sleep", "60"])
            .spawn()
            .unwrap(),
    );
    assert!(
        eventually(5, || sh(&format!("test -f {ALLOC_LOCK}")).0
            && !sh(&format!("flock -n {ALLOC_LOCK} true")).0),
        "holder did not take the lock"
    );
    let name = unique("locked");
    let _g = Container::named(&name);
    let mut run = berth_cmd()
        .args([
            "run", "-d", "--name", &name, "-p", "18096:80", "busybox", "httpd", "-f", "-h", "/www",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // berth holds the allocation lock until its container exists: while the holder
    // lives, no container (judged by the engine, not by how long berth takes)
    std::thread::sleep(Duration::from_millis(3000));
    assert!(
        !exists(&name),
        "berth created its container while another process held the lock"
    );
    assert!(
        run.try_wait().unwrap().is_none(),
        "berth did not wait for the lock"
    );
    // the holder dies without unlocking (SIGKILL; flock -o gave the lock to its child,
    // which goes with it): berth proceeds at once
    let holder_pid = holder.0.id();
    sh(&format!("pkill -KILL -P {holder_pid}"));
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = run.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < end,
            "berth deadlocked on a dead holder's lock"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    // positive control: once the lock was free, the container came and serves
    assert!(exists(&name));
    assert!(eventually(5, || curl("http://127.0.0.1:18096/").is_some()));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn daemon_restart_then_sync_restores_traffic() {
    let a = run_detached(
        "dr-a",
        &["-p", "18097:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let b = run_detached(
        "dr-b",
        &["-p", "18098:80/tcp", "busybox", "httpd", "-f", "-h", "/www"],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18097/").is_some()));
    restart_engine(|| {});
    // the engine stopped them; someone starts them again behind berth's back (the
    // order may move their addresses), and the engine rebuilt its own chains
    sh_ok(&format!("docker start {} {}", b.name, a.name));
    let peer = Peer::new();
    let out = berth_ok(&["nat", "sync"]);
    for (c, port) in [(&a, 18097), (&b, 18098)] {
        assert!(
            eventually(5, || curl(&format!("http://127.0.0.1:{port}/")).is_some()),
            "{}: {out}",
            c.name
        );
        assert!(
            eventually(5, || peer
                .curl(&format!("http://{}:{port}/", peer.host_ip))
                .is_some()),
            "{} from the second host: {out}",
            c.name
        );
    }
    let check = berth(&["nat", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn parallel_runs_and_removals_mixed_with_sync_three_rounds() {
    let mut previous: Vec<String> = Vec::new();
    for round in 0..3 {
        let names: Vec<String> = (0..50).map(|i| unique(&format!("r{round}-{i}"))).collect();
        let mut children = Vec::new();
        for n in &names {
            children.push(
                berth_cmd()
                    .args([
                        "run", "-d", "-P", "--name", n, "busybox", "httpd", "-f", "-h", "/www",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        for n in &previous {
            children.push(
                berth_cmd()
                    .args(["rm", "-f", n])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        for _ in 0..3 {
            children.push(
                berth_cmd()
                    .args(["nat", "sync"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let mut ports = Vec::new();
        for n in &names {
            let line = berth_ok(&["port", n, "80"]);
            ports.push(
                line.trim()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .parse::<u16>()
                    .unwrap(),
            );
        }
        let mut sorted = ports.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            50,
            "round {round}: a port was handed out twice"
        );
        for p in &ports {
            assert!(
                eventually(5, || curl(&format!("http://127.0.0.1:{p}/")).is_some()),
                "round {round}: {p}"
            );
        }
        let check = berth(&["nat", "check"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "round {round}: {}",
            stdout(&check)
        );
        previous = names;
    }
    for n in &previous {
        berth(&["rm", "-f", n]);
    }
    let check = berth(&["nat", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_binding_on_one_host_address_is_not_reachable_on_another() {
    let peer = Peer::new();
    let second = format!("{}.3", peer.host_ip.rsplit_once('.').unwrap().0);
    sh_ok(&format!("ip addr add {second}/24 dev {}", peer.host_if));
    let c = run_detached(
        "oneip",
        &[
            "-p",
            &format!("{}:18099:80", peer.host_ip),
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    assert!(eventually(5, || peer
        .curl(&format!("http://{}:18099/", peer.host_ip))
        .is_some()));
    assert_eq!(
        peer.curl(&format!("http://{second}:18099/")),
        None,
        "reachable on another address"
    );
    assert_eq!(
        curl("http://127.0.0.1:18099/"),
        None,
        "reachable on 127.0.0.1"
    );
    drop(c);
}

/// With route_localnet on (berth turns it on for its bridges; some hosts have it on
/// everywhere), packets from another host to 127.0.0.0/8 must still be dropped.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn the_loopback_guard_drops_outside_packets_to_127() {
    let c = run_detached(
        "guard",
        &[
            "-p",
            "127.0.0.1:18100:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    let peer = Peer::new();
    // the peer sends to 127.0.0.1 through this host, and this host accepts such
    // packets on the link (route_localnet on), as a misconfigured host would
    sh_ok(&format!(
        "sysctl -qw net.ipv4.conf.{}.route_localnet=1",
        peer.host_if
    ));
    let peer_if = peer.host_if.replacen("bt", "bp", 1);
    let (ok, out) = peer.exec(&format!(
        "sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.{peer_if}.route_localnet=1 && \
         ip rule add pref 100 to 127.0.0.1 lookup 100 && ip route add 127.0.0.1 via {} dev {peer_if} table 100 && \
         ip rule del pref 0 && ip rule add pref 200 lookup local",
        peer.host_ip
    ));
    assert!(ok, "{out}");
    // a listener on this host's 127.0.0.1 that only the guard protects
    let dir = std::env::temp_dir().join(unique("secret"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "secret\n").unwrap();
    let _listener = Background::sh(&format!(
        "busybox httpd -f -p 127.0.0.1:18101 -h {}",
        dir.display()
    ));
    assert!(eventually(3, || tcp_listening(18101)));
    assert_eq!(curl("http://127.0.0.1:18101/").as_deref(), Some("secret\n"));
    let guard_rule = format!(
        "-A BERTH-INPUT {}",
        berth::firewall::desired::LOOPBACK_GUARD
    );
    let guard_words = ["-A BERTH-INPUT", "! -s 127.0.0.0/8 -d 127.0.0.0/8"];
    // positive control: without the guard, the peer does reach this host's 127.0.0.1
    sh_ok(&format!(
        "iptables {}",
        guard_rule.replacen("-A ", "-D ", 1)
    ));
    let unguarded = peer.curl("http://127.0.0.1:18101/");
    sh_ok(&format!("iptables {guard_rule}"));
    assert_eq!(
        unguarded.as_deref(),
        Some("secret\n"),
        "the control failed: without the guard the peer should reach 127.0.0.1 here"
    );
    let before = rule_packets("iptables", "filter", &guard_words);
    let guarded = peer.curl("http://127.0.0.1:18101/");
    let published = peer.curl("http://127.0.0.1:18100/");
    assert_eq!(
        guarded, None,
        "127.0.0.1 on this host was reached from outside"
    );
    assert!(
        rule_packets("iptables", "filter", &guard_words) > before,
        "the guard never saw the packets"
    );
    assert_eq!(
        published, None,
        "a 127.0.0.1 binding was reached from outside"
    );
    // positive control of the binding: from this host it answers
    assert!(curl("http://127.0.0.1:18100/").is_some());
    let _ = std::fs::remove_dir_all(&dir);
    drop(c);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn berth_leaves_what_it_did_not_create_alone() {
    let forward = || {
        sh_ok("iptables -S FORWARD")
            .lines()
            .filter(|l| !l.contains("BERTH"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let before = forward();
    // foreign rules: one in berth's own chain without a tag, one with a look-alike tag
    sh_ok("iptables -t nat -A BERTH -p tcp --dport 18102 -j RETURN");
    sh_ok(
        "iptables -t nat -A POSTROUTING -p tcp --dport 18103 -m comment --comment berth:not-a-container -j RETURN",
    );
    let c = run_detached(
        "foreign",
        &["-p", "18104:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    drop(c);
    berth_ok(&["nat", "sync"]);
    let nat = sh_ok("iptables -t nat -S");
    let kept_untagged = nat.contains("-A BERTH -p tcp -m tcp --dport 18102 -j RETURN");
    let kept_lookalike = nat.contains("--dport 18103");
    sh("iptables -t nat -D BERTH -p tcp --dport 18102 -j RETURN");
    sh(
        "iptables -t nat -D POSTROUTING -p tcp --dport 18103 -m comment --comment berth:not-a-container -j RETURN",
    );
    assert!(kept_untagged, "nat sync removed a rule without berth's tag");
    assert!(
        kept_lookalike,
        "nat sync removed a rule with a look-alike tag"
    );
    assert_eq!(forward(), before, "FORWARD changed");
    assert!(
        sh_ok("iptables -S FORWARD")
            .lines()
            .next()
            .unwrap()
            .starts_with("-P FORWARD"),
        "policy line"
    );
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn hostile_labels_and_env_never_reach_a_shell_or_a_rule() {
    let marker = std::env::temp_dir().join(unique("pwned"));
    let evil = format!(
        "$(touch {}); `touch {}` \"quoted\" 'single' -- --comment x\nnew line",
        marker.display(),
        marker.display()
    );
    let long = "x".repeat(4000);
    let label = format!("evil={evil}");
    let env = format!("EVIL={evil}");
    let long_label = format!("long={long}");
    let c = run_detached(
        "hostile",
        &[
            "-l",
            &label,
            "-l",
            &long_label,
            "-e",
            &env,
            "-p",
            "18105:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18105/").is_some()));
    assert!(!marker.exists(), "a hostile value reached a shell");
    let rules = rules_of(&c.id12());
    assert_eq!(rules.len(), 5, "{rules:#?}");
    assert!(
        rules
            .iter()
            .all(|r| !r.contains("quoted") && !r.contains("new line")),
        "{rules:#?}"
    );
    let env_seen = sh_ok(&format!(
        "docker exec {} sh -c 'printf %s \"$EVIL\"'",
        c.name
    ));
    assert_eq!(env_seen, evil, "the value was altered on its way");
    let ps = berth_ok(&["ps", "--no-trunc", "--format", "{{.Names}}|{{.Ports}}"]);
    assert!(
        ps.contains(&format!("{}|0.0.0.0:18105->80/tcp", c.name)),
        "{ps}"
    );
}

/// A UDP flow keeps going where its conntrack entry says, even after the rules changed:
/// a client that sent to a port before it was published has an entry that leads nowhere
/// (not NATed), and the kernel keeps using it while the client keeps sending. When berth
/// publishes the port it drops such entries, so the very same flow (same source port)
/// reaches the container. The positive control: the stale entry really was there.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_udp_flow_that_came_before_its_port_reaches_the_container() {
    use std::net::UdpSocket;
    tidy_once();
    let port = 18121u16;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let ask = |text: &str| -> Option<String> {
        let mut buf = [0u8; 512];
        for _ in 0..6 {
            sock.send_to(text.as_bytes(), ("127.0.0.1", port)).ok()?;
            if let Ok(n) = sock.recv(&mut buf) {
                return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        None
    };
    let entries = || {
        sh(&format!(
            "conntrack -L -p udp --orig-port-dst {port} 2>/dev/null"
        ))
        .1
    };
    let local = sock.local_addr().unwrap().port();
    // nothing serves the port yet: no answer, and an entry that is not NATed
    assert_eq!(ask("one"), None, "something already answers on {port}");
    let stale = entries();
    assert!(
        stale.contains(&format!(
            "sport={local} dport={port} [UNREPLIED] src=127.0.0.1 "
        )),
        "no stale entry to test with: {stale}"
    );
    let spec = format!("{port}:80/udp");
    let c = run_detached(
        "udpnew",
        &["-p", &spec, "busybox", "udp-echo", "serve", "80"],
    );
    // the same flow (same source port) reaches the container
    let answer = ask("two");
    let logs = c.logs();
    assert_eq!(
        answer.as_deref(),
        Some("echo:two"),
        "conntrack: {}",
        entries()
    );
    assert!(
        logs.contains(": two"),
        "the container did not get it: {logs}"
    );
}

/// A `berth rm -f` waiting at one of its pauses (`BERTH_TEST_PAUSE`).
struct PausedRm {
    child: std::process::Child,
    resume: std::path::PathBuf,
    /// kept open while it runs: it writes there
    _stderr: std::io::BufReader<std::process::ChildStderr>,
}

impl PausedRm {
    /// Let it go on, and wait for it (a minute at most).
    fn resume(mut self) -> std::process::ExitStatus {
        std::fs::write(&self.resume, "").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("berth rm did not end after its resume");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = std::fs::remove_file(&self.resume);
        status
    }
}

/// A directory of wrappers for some iptables commands that log each call to
/// `<dir>/calls`, then run the real one; removed when dropped.
struct ToolLog(std::path::PathBuf);

impl ToolLog {
    /// The iptables-save commands.
    fn saves() -> ToolLog {
        ToolLog::of("save")
    }

    /// The iptables-restore commands.
    fn restores() -> ToolLog {
        ToolLog::of("restore")
    }

    fn of(what: &str) -> ToolLog {
        let dir = std::env::temp_dir().join(unique(&format!("{what}log")));
        std::fs::create_dir_all(&dir).unwrap();
        for tool in [
            "iptables-nft-",
            "ip6tables-nft-",
            "iptables-",
            "ip6tables-",
            "iptables-legacy-",
            "ip6tables-legacy-",
        ]
        .map(|t| format!("{t}{what}"))
        {
            let (found, real) = sh(&format!("command -v {tool}"));
            if !found {
                continue;
            }
            std::fs::write(
                dir.join(&tool),
                format!(
                    "#!/bin/sh\necho {tool} >> {}\nexec {} \"$@\"\n",
                    dir.join("calls").display(),
                    real.trim()
                ),
            )
            .unwrap();
        }
        sh_ok(&format!("chmod +x {}/*", dir.display()));
        ToolLog(dir)
    }

    fn path(&self) -> String {
        format!("{}:{}", self.0.display(), std::env::var("PATH").unwrap())
    }

    /// `berth rm -f NAME` (its iptables-save runs counted here), stopped between its
    /// withdrawal of the rules and the engine's removal.
    fn rm_paused_after_withdrawal(&self, name: &str) -> PausedRm {
        // the reads are counted as iptables-save runs: not over netlink
        self.rm_paused_at(
            name,
            "withdrawn",
            &[("BERTH_TABLES_SOURCE", "iptables-save")],
        )
    }

    /// `berth rm -f NAME` (its commands counted here), stopped at `step`.
    fn rm_paused_at(&self, name: &str, step: &str, env: &[(&str, &str)]) -> PausedRm {
        let resume = std::env::temp_dir().join(unique("resume"));
        let mut child = berth_cmd()
            .args(["rm", "-f", name])
            .env("PATH", self.path())
            .envs(env.iter().copied())
            .env("BERTH_TEST_PAUSE", step)
            .env("BERTH_TEST_RESUME", &resume)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = wait_for_pause(&mut child, step, 30);
        PausedRm {
            child,
            resume,
            _stderr: stderr,
        }
    }

    /// How many of the commands ran since the last call.
    fn take(&self) -> usize {
        let calls = self.0.join("calls");
        let n = std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .count();
        let _ = std::fs::remove_file(&calls);
        n
    }
}

impl Drop for ToolLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `rm -f` takes a container's rules away before the engine removes it, and checks
/// again after. When no berth wrote in between, that check reads nothing; when one
/// did (here: `nat sync` while rm is paused between the withdrawal and the removal,
/// as a watcher would, seeing the container still running), it reads the tables and
/// takes the rules away again.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn rm_checks_again_after_removal_only_when_the_tables_changed() {
    let saves = ToolLog::saves();
    // nothing in between: one read of each family for the withdrawal, none after
    let quiet = run_detached(
        "rmquiet",
        &["-p", "18096:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let id12 = quiet.id12();
    assert!(!rules_of(&id12).is_empty(), "no rules to begin with");
    saves.take();
    let o = berth_cmd()
        .args(["rm", "-f", &quiet.name])
        .env("PATH", saves.path())
        .env("BERTH_TABLES_SOURCE", "iptables-save")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let quiet_reads = saves.take();
    assert!(rules_of(&id12).is_empty(), "{:?}", rules_of(&id12));
    assert!(!exists(&quiet.name));
    assert_eq!(quiet_reads, 2, "iptables-save runs");

    // another berth's pass that finds nothing to write (as a watcher's look at the
    // removed container does) while rm is paused: still no read after the removal
    let other = run_detached(
        "rmother",
        &["-p", "18098:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let idle = run_detached(
        "rmidle",
        &["-p", "18099:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let idle12 = idle.id12();
    saves.take();
    let rm = saves.rm_paused_after_withdrawal(&idle.name);
    let note = || std::fs::read_to_string(FW_LOCK).unwrap_or_default();
    let line = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .map(str::to_string)
    };
    let (other12, before) = (other.id12(), note());
    berth_ok(&["start", &other.name]);
    let after = note();
    // the positive control: that pass ran under the firewall lock (it dated its look
    // at the other container in the lock's note)
    assert_ne!(
        line(&after, &other12),
        line(&before, &other12),
        "no pass ran"
    );
    assert!(
        !rules_of(&other12).is_empty(),
        "the other container lost its rules"
    );
    assert_eq!(
        line(&after, "seq "),
        line(&before, "seq "),
        "a pass that wrote nothing was numbered as a write"
    );
    assert!(rm.resume().success());
    assert!(!exists(&idle.name), "not removed");
    assert!(rules_of(&idle12).is_empty(), "{:?}", rules_of(&idle12));
    assert_eq!(saves.take(), 2, "iptables-save runs");

    // another berth publishes again while rm is paused before the removal
    let busy = run_detached(
        "rmbusy",
        &["-p", "18097:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let id12 = busy.id12();
    let rm = saves.rm_paused_after_withdrawal(&busy.name);
    assert!(
        rules_of(&id12).is_empty(),
        "not withdrawn before the removal"
    );
    assert!(exists(&busy.name), "removed before the pause");
    berth_ok(&["nat", "sync"]);
    assert!(
        !rules_of(&id12).is_empty(),
        "nat sync did not publish again"
    );
    assert!(rm.resume().success());
    assert!(!exists(&busy.name), "not removed");
    assert!(
        rules_of(&id12).is_empty(),
        "rules of a removed container stayed: {:?}",
        rules_of(&id12)
    );
    assert_eq!(saves.take(), 4, "iptables-save runs");
}

/// A container's removal deletes its rules by handle in one nf_tables transaction,
/// with no iptables-restore child. If the tables changed between berth's read and its
/// write, the kernel refuses that transaction whole and iptables-restore removes the
/// rules instead: either way they are gone, and what another tool wrote meanwhile
/// stays.
#[test]
#[ignore = "needs root, a Docker daemon and iptables-nft: run scripts/test"]
fn rm_deletes_by_handle_unless_the_tables_moved() {
    assert!(
        sh_ok("iptables -V").contains("nf_tables"),
        "this test is for an nf_tables host"
    );
    let restores = ToolLog::restores();
    let run = |what: &str, port: &str| {
        let name = unique(what);
        let o = berth_cmd()
            .args(["run", "-d", "--name", &name, "-p"])
            .arg(format!("{port}:80"))
            .args(["busybox", "httpd", "-f", "-h", "/www"])
            .env("PATH", restores.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        Container::named(&name)
    };
    // positive control: the wrappers see berth's writes (additions are iptables-restore's)
    let quiet = run("rmhandle", "18102");
    assert!(restores.take() >= 1, "no iptables-restore seen for run -d");
    let id12 = quiet.id12();
    assert!(!rules_of(&id12).is_empty(), "no rules to begin with");
    assert!(
        eventually(10, || curl("http://127.0.0.1:18102/").is_some()),
        "the published port does not answer"
    );
    let o = berth_cmd()
        .args(["rm", "-f", &quiet.name])
        .env("PATH", restores.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(rules_of(&id12).is_empty(), "{:?}", rules_of(&id12));
    assert!(!exists(&quiet.name));
    assert_eq!(restores.take(), 0, "iptables-restore runs for rm -f");

    // another tool writes between berth's read and its write
    let busy = run("rmmoved", "18103");
    let busy12 = busy.id12();
    restores.take();
    let chain = format!("BERTH-E2E-MOVED-{}", std::process::id());
    let _ = sh(&format!("iptables -t filter -X {chain}"));
    let rm = restores.rm_paused_at(&busy.name, "apply", &[]);
    sh_ok(&format!("iptables -t filter -N {chain}"));
    let status = rm.resume();
    let kept = sh_ok("iptables-save -t filter").contains(&format!(":{chain} - [0:0]"));
    let _ = sh(&format!("iptables -t filter -X {chain}"));
    assert!(status.success(), "berth rm -f: {status}");
    assert!(rules_of(&busy12).is_empty(), "{:?}", rules_of(&busy12));
    assert!(!exists(&busy.name));
    assert!(kept, "the other tool's chain is gone");
    assert!(
        restores.take() >= 1,
        "no iptables-restore after the tables moved"
    );
}
