//! Publishing, end to end: real daemon, real iptables, real traffic from this host
//! (loopback and its own address) and from a second host (a network namespace joined
//! by veth, 198.18.0.0/15), allocation under concurrency, and `nat sync` repairing drift.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const UDP_ECHO: &str = "/usr/local/libexec/berth-test/udp-echo";

fn udp(ns: Option<&str>, host: &str, port: u16, text: &str) -> Option<String> {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, UDP_ECHO]);
            c
        }
        None => Command::new(UDP_ECHO),
    };
    let o = cmd
        .args(["send", host, &port.to_string(), text])
        .output()
        .unwrap();
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The rules of every golden file load into a real iptables (ip6tables for the IPv6
/// ones; in a namespace of the test's own) and iptables-save prints them back
/// unchanged: the rules are written in the kernel's own form, which the reconciler
/// relies on to compare.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn golden_rules_load_and_read_back_identically() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 8);
    let base = "*raw\n:BERTH-RAW - [0:0]\nCOMMIT\n*nat\n:BERTH - [0:0]\n:BERTH-POSTROUTING - [0:0]\nCOMMIT\n\
                *filter\n:BERTH-FORWARD - [0:0]\nCOMMIT\n";
    let mut v6_files = 0;
    for file in files {
        let rules = std::fs::read_to_string(&file).unwrap();
        let v6 = file
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ipv6-");
        v6_files += usize::from(v6);
        let tool = if v6 { "ip6tables" } else { "iptables" };
        let ns = unique("golden");
        sh_ok(&format!("ip netns add {ns}"));
        let input = format!("{base}{rules}");
        let loaded = sh(&format!(
            "printf '%s' '{}' | ip netns exec {ns} {tool}-restore --noflush",
            input.replace('\'', "'\\''")
        ));
        let saved = sh(&format!("ip netns exec {ns} {tool}-save")).1;
        sh(&format!("ip netns del {ns}"));
        assert!(
            loaded.0,
            "{}: {tool}-restore refused it: {}",
            file.display(),
            loaded.1
        );
        let written: Vec<&str> = rules.lines().filter(|l| l.starts_with("-A ")).collect();
        assert!(!written.is_empty());
        for line in &written {
            assert!(
                saved.lines().any(|s| s == *line),
                "{}: not read back as written:\n{line}\n---\n{saved}",
                file.display()
            );
        }
        // the positive control's mirror: what was loaded is all there is of ours
        let ours = saved
            .lines()
            .filter(|l| l.contains("berth:0123456789ab"))
            .count();
        assert_eq!(ours, written.len(), "{}:\n{saved}", file.display());
    }
    assert!(v6_files >= 2, "no IPv6 golden file");
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn published_ports_are_reachable_and_nothing_else_is() {
    let peer = Peer::new();
    let web = run_detached(
        "web",
        &[
            "-p",
            "18080:80",
            "-p",
            "127.0.0.1:18081:80",
            "-p",
            "18200-18299:18200-18299",
            "busybox",
            "sh",
            "-c",
            "httpd -p 18200 -h /www; httpd -p 18299 -h /www; httpd -f -p 80 -h /www",
        ],
    );
    let hello = Some("hello from berth\n".to_string());
    assert!(
        eventually(5, || curl("http://127.0.0.1:18080/") == hello),
        "127.0.0.1:18080"
    );
    let own = &peer.host_ip; // this host's own address (on the test link)
    assert_eq!(curl(&format!("http://{own}:18080/")), hello, "host address");
    assert_eq!(
        peer.curl(&format!("http://{own}:18080/")),
        hello,
        "from the second host"
    );
    for port in [18200, 18299] {
        assert_eq!(
            curl(&format!("http://127.0.0.1:{port}/")),
            hello,
            "range, localhost, {port}"
        );
        assert_eq!(
            peer.curl(&format!("http://{own}:{port}/")),
            hello,
            "range, second host, {port}"
        );
    }
    // the 127.0.0.1 binding: this host only
    assert_eq!(
        curl("http://127.0.0.1:18081/"),
        hello,
        "127.0.0.1 binding from this host"
    );
    assert_eq!(
        peer.curl(&format!("http://{own}:18081/")),
        None,
        "127.0.0.1 binding must not be reachable from outside"
    );
    assert_eq!(
        curl(&format!("http://{own}:18081/")),
        None,
        "127.0.0.1 binding must not answer on another address"
    );

    // direct routing to the container's address from the second host: dropped, by
    // berth's raw guard (positive control: the route is there and the guard's counter
    // moves, so the packets did reach this host and were dropped by the guard)
    let ip = web.ip();
    let (routed, why) = peer.exec(&format!("ip route add {ip}/32 via {own}"));
    assert!(routed, "{why}");
    let guard = [
        format!("-d {ip}/32 ! -i docker0"),
        format!("berth:{}", web.id12()),
    ];
    let guard: Vec<&str> = guard.iter().map(String::as_str).collect();
    let before = rule_packets("iptables", "raw", &guard);
    assert_eq!(
        peer.curl(&format!("http://{ip}:80/")),
        None,
        "direct routing to the container must be dropped"
    );
    assert!(
        rule_packets("iptables", "raw", &guard) > before,
        "the packets never reached the guard: the test proved nothing"
    );

    // a range is one rule per table, whatever its length; ports shown as docker shows them
    let rules = rules_of(&web.id12());
    assert_eq!(
        rules.iter().filter(|r| r.contains("-j DNAT")).count(),
        3,
        "{rules:#?}"
    );
    assert!(rules.iter().any(
        |r| r.contains("--dport 18200:18299") && r.ends_with(&format!("--to-destination {ip}"))
    ));
    let ps = berth_ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(
        ps.contains(&format!("{} 0.0.0.0:18200-18299->18200-18299/tcp, 0.0.0.0:18080->80/tcp, 127.0.0.1:18081->80/tcp", web.name)),
        "{ps}"
    );

    // rm -f removes every rule
    let id12 = web.id12();
    drop(web);
    assert!(
        rules_of(&id12).is_empty(),
        "rules left after rm -f: {:?}",
        rules_of(&id12)
    );
    assert_eq!(curl("http://127.0.0.1:18080/"), None);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn udp_and_shifted_ranges_and_publish_all() {
    let peer = Peer::new();
    let own = peer.host_ip.clone();
    let u = run_detached(
        "udp",
        &["-p", "18082:80/udp", "busybox", "udp-echo", "serve", "80"],
    );
    assert!(
        eventually(5, || udp(None, "127.0.0.1", 18082, "lo").as_deref()
            == Some("echo:lo")),
        "udp via 127.0.0.1"
    );
    assert_eq!(
        udp(None, &own, 18082, "own").as_deref(),
        Some("echo:own"),
        "udp via the host's address"
    );
    assert_eq!(
        udp(Some(&peer.ns), &own, 18082, "peer").as_deref(),
        Some("echo:peer"),
        "udp from the second host"
    );
    drop(u);

    // a shifted range: host 18300-18309 -> container 28300-28309, one rule
    let s = run_detached(
        "shifted",
        &[
            "-p",
            "18300-18309:28300-28309",
            "busybox",
            "sh",
            "-c",
            "httpd -p 28300 -h /www; httpd -f -p 28309 -h /www",
        ],
    );
    assert!(
        eventually(5, || curl("http://127.0.0.1:18309/").is_some()),
        "shifted range, last port"
    );
    assert!(
        curl("http://127.0.0.1:18300/").is_some(),
        "shifted range, first port"
    );
    assert!(
        peer.curl(&format!("http://{own}:18300/")).is_some(),
        "shifted range from the second host"
    );
    let dnat: Vec<String> = rules_of(&s.id12())
        .into_iter()
        .filter(|r| r.contains("-j DNAT"))
        .collect();
    assert_eq!(dnat.len(), 1, "{dnat:?}");
    assert!(
        dnat[0].ends_with(&format!("--to-destination {}:28300-28309/18300", s.ip())),
        "{}",
        dnat[0]
    );
    drop(s);

    // -P: the image's EXPOSE 80/tcp on a free port from the ephemeral range
    let p = run_detached("pall", &["-P", "busybox", "httpd", "-f", "-h", "/www"]);
    let line = berth_ok(&["port", &p.name, "80"]);
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let bounds: Vec<u16> = range
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert!(
        port >= bounds[0] && port <= bounds[1],
        "{port} outside {range}"
    );
    assert!(eventually(5, || curl(&format!("http://127.0.0.1:{port}/")).is_some()));
    assert!(peer.curl(&format!("http://{own}:{port}/")).is_some());
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_taken_port_is_dockers_error_and_changes_nothing() {
    let first = run_detached(
        "first",
        &["-p", "18086:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let before = sh_ok("iptables-save | grep -c berth: || true");
    let name = unique("second");
    let o = berth(&[
        "run", "-d", "--name", &name, "-p", "18086:80", "busybox", "httpd", "-f", "-h", "/www",
    ]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).starts_with("berth: Bind for 0.0.0.0:18086 failed: port is already allocated\n"),
        "{}",
        stderr(&o)
    );
    assert!(
        !sh(&format!("docker inspect {name}")).0,
        "a container was created"
    );
    assert_eq!(
        sh_ok("iptables-save | grep -c berth: || true"),
        before,
        "rules changed"
    );

    // a port bound by a process on the host is taken too
    let (_, out) = sh("busybox nc -l -p 18087 </dev/null >/dev/null 2>&1 & echo $!");
    let pid = out.trim().to_string();
    assert!(
        eventually(3, || sh_ok("cat /proc/net/tcp /proc/net/tcp6")
            .contains(":46A7 ")),
        "listener not up"
    );
    let o = berth(&["run", "-d", "-p", "18087:80", "busybox"]);
    sh(&format!("kill {pid}"));
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("Bind for 0.0.0.0:18087 failed: port is already allocated"));
    drop(first);
}

/// `berth run -d -P` for every name, all started at once; each must succeed.
fn run_all_publish_all(names: &[String]) {
    let spawned: Vec<_> = names
        .iter()
        .map(|n| {
            berth_cmd()
                .args([
                    "run", "-d", "-P", "--name", n, "busybox", "httpd", "-f", "-h", "/www",
                ])
                .env_remove("DOCKER_HOST")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in spawned {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn fifty_parallel_publish_all_get_fifty_ports() {
    let names: Vec<String> = (0..50).map(|i| unique(&format!("par{i}"))).collect();
    let guards: Vec<Container> = names.iter().map(|n| Container::named(n)).collect();
    // fifty at once, then fifty more at once while the first fifty hold their ports
    run_all_publish_all(&names);
    let more: Vec<String> = (0..50).map(|i| unique(&format!("par-b{i}"))).collect();
    let more_guards: Vec<Container> = more.iter().map(|n| Container::named(n)).collect();
    run_all_publish_all(&more);
    let mut ports = Vec::new();
    for n in names.iter().chain(more.iter()) {
        let port: u16 = berth_ok(&["port", n, "80"])
            .trim()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        ports.push(port);
    }
    let mut unique_ports = ports.clone();
    unique_ports.sort();
    unique_ports.dedup();
    assert_eq!(
        unique_ports.len(),
        100,
        "a port was handed out twice: {ports:?}"
    );
    // the oracle is the kernel: the DNAT rules of these containers hold 100 distinct
    // ports, the same ones berth reports
    let ids: Vec<String> = guards
        .iter()
        .chain(more_guards.iter())
        .map(|g| g.id12())
        .collect();
    let save = sh_ok("iptables-save -t nat");
    let mut dnat_ports: Vec<u16> = save
        .lines()
        .filter(|l| {
            l.contains("-j DNAT") && ids.iter().any(|id| l.contains(&format!("berth:{id}")))
        })
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| *x == "--dport")?;
            w.get(i + 1)?.parse().ok()
        })
        .collect();
    assert_eq!(
        dnat_ports.len(),
        100,
        "DNAT rules in the kernel: {dnat_ports:?}"
    );
    dnat_ports.sort();
    assert_eq!(
        dnat_ports, unique_ports,
        "the kernel's ports are not the ones berth reports"
    );
    for port in &ports {
        assert!(
            eventually(5, || curl(&format!("http://127.0.0.1:{port}/")).is_some()),
            "port {port} unreachable"
        );
    }
    // remove them all in parallel too, each must succeed, and no rule may survive
    let removers: Vec<_> = names
        .iter()
        .chain(more.iter())
        .map(|n| {
            berth_cmd()
                .args(["rm", "-f", n])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in removers {
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "rm -f: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let save = sh_ok("iptables-save");
    for id in ids {
        assert!(
            !save.contains(&format!("berth:{id}")),
            "rules of {id} survived rm -f"
        );
        assert!(
            !save.contains(&format!(":BERTH-{id} ")),
            "the chain of {id} survived rm -f"
        );
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn nat_sync_repairs_a_flushed_firewall_and_a_moved_container() {
    let web = run_detached(
        "sync",
        &["-p", "18088:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18088/").is_some()));
    assert_eq!(berth_ok(&["nat", "sync"]), "in sync: nothing to do\n");

    // someone flushes berth's chains and the jump into them
    sh_ok(
        "iptables -t nat -F BERTH && iptables -t raw -F BERTH-RAW && iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j BERTH",
    );
    assert_eq!(curl("http://127.0.0.1:18088/"), None);
    let check = berth(&["nat", "check"]);
    assert_eq!(check.status.code(), Some(1), "nat check must fail on drift");
    assert!(
        stdout(&check).contains(&format!("drift: {} ({})", web.name, web.id12())),
        "{}",
        stdout(&check)
    );
    assert!(
        stdout(&check).contains("missing: -A PREROUTING -m addrtype --dst-type LOCAL -j BERTH"),
        "{}",
        stdout(&check)
    );
    let dry = berth_ok(&["nat", "sync", "--dry-run"]);
    // the jump into the container's chain and the raw guard were flushed
    assert!(dry.contains("would have restored 2 rules for"), "{dry}");
    assert_eq!(
        curl("http://127.0.0.1:18088/"),
        None,
        "--dry-run changed something"
    );
    let out = berth_ok(&["nat", "sync"]);
    assert!(
        out.contains("created -A PREROUTING -m addrtype --dst-type LOCAL -j BERTH (table nat)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "restored 2 rules for {} ({})",
            web.name,
            web.id12()
        )),
        "{out}"
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18088/").is_some()));
    assert_eq!(
        berth_ok(&["nat", "sync"]),
        "in sync: nothing to do\n",
        "sync is idempotent"
    );

    // the container comes back (outside berth) with another address
    let old_ip = web.ip();
    sh_ok(&format!("docker stop -t 1 {}", web.name));
    let squatter = unique("squatter");
    let _s = Container::named(&squatter);
    sh_ok(&format!(
        "docker run -d --name {squatter} busybox sleep 300"
    ));
    sh_ok(&format!("docker start {}", web.name));
    let new_ip = web.ip();
    assert_ne!(old_ip, new_ip, "the address did not change");
    let out = berth_ok(&["nat", "sync"]);
    // DNAT, hairpin, FORWARD and raw guard name the address; the jump does not
    assert!(
        out.contains(&format!("restored 4 rules for {}", web.name)),
        "{out}"
    );
    assert!(
        eventually(5, || curl("http://127.0.0.1:18088/").is_some()),
        "not following the new address"
    );
    assert!(
        rules_of(&web.id12())
            .iter()
            .all(|r| !r.contains(&format!("{old_ip}/32")))
    );

    // and a container removed behind berth's back leaves orphans that sync removes
    let id12 = web.id12();
    sh_ok(&format!("docker rm -f {}", web.name));
    assert!(!rules_of(&id12).is_empty());
    let check = berth(&["nat", "check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains(&format!("orphan: 5 rules of {id12}")),
        "{}",
        stdout(&check)
    );
    let out = berth_ok(&["nat", "sync"]);
    assert!(
        out.contains(&format!(
            "removed 5 rules of {id12} (container gone or stopped)"
        )),
        "{out}"
    );
    assert!(rules_of(&id12).is_empty());
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn foreground_exit_removes_the_rules() {
    let name = unique("fg");
    let _g = Container::named(&name);
    let child = berth_cmd()
        .args([
            "run", "--name", &name, "-p", "18089:80", "busybox", "sh", "-c",
        ])
        .arg("httpd -h /www; sleep 3")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // positive control: while it runs, it is published (rules in the kernel, traffic)
    assert!(
        eventually(10, || curl("http://127.0.0.1:18089/").is_some()),
        "a foreground run was never published"
    );
    let id12 = sh_ok(&format!("docker inspect -f '{{{{.Id}}}}' {name}"))[..12].to_string();
    assert!(rules_of(&id12).iter().any(|r| r.contains("-j DNAT")));
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        rules_of(&id12).is_empty(),
        "a foreground run leaves its rules: {:?}",
        rules_of(&id12)
    );
    assert_eq!(curl("http://127.0.0.1:18089/"), None);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn without_root_nothing_is_created() {
    let name = unique("noroot");
    // a user of the docker group reaches the engine but may not change the firewall
    let gid = sh_ok("getent group docker | cut -d: -f3")
        .trim()
        .to_string();
    assert!(!gid.is_empty(), "no docker group");
    let as_user = |groups: &str, args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534"]);
        if groups.is_empty() {
            c.arg("--clear-groups");
        } else {
            c.arg(format!("--groups={groups}"));
        }
        c.arg(berth_bin())
            .args(args)
            // the unprivileged user's own home, not root's
            .env("HOME", "/tmp")
            .env("XDG_CONFIG_HOME", "/tmp")
            .env("BERTH_WATCH", "off")
            .output()
            .unwrap()
    };
    // positive control: that user reaches the engine
    let ps = as_user(&gid, &["ps", "-a"]);
    assert!(
        ps.status.success(),
        "{}",
        String::from_utf8_lossy(&ps.stderr)
    );
    let o = as_user(
        &gid,
        &["run", "-d", "--name", &name, "-p", "18090:80", "busybox"],
    );
    assert_eq!(o.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "berth: publishing ports changes the firewall: run berth as root (or with CAP_NET_ADMIN)\n"
    );
    assert!(!sh(&format!("docker inspect {name}")).0);
    // a user who may not use the engine's socket: docker's words and status
    let o = as_user(
        "",
        &["run", "-d", "--name", &name, "-p", "18090:80", "busybox"],
    );
    assert_eq!(o.status.code(), Some(126));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with(
            "berth: permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"
        ),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!sh(&format!("docker inspect {name}")).0);
}

/// Docker 29's nftables firewall backend keeps its rules in nftables tables of its own,
/// where a drop cannot be overridden by an accept elsewhere: berth refuses to publish
/// rather than write rules that would be dropped.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn an_nftables_docker_backend_is_refused() {
    struct Table;
    impl Drop for Table {
        fn drop(&mut self) {
            sh("nft delete table ip docker-bridges");
        }
    }
    sh("nft delete table ip docker-bridges");
    sh_ok("nft add table ip docker-bridges");
    let guard = Table;
    let name = unique("nftables");
    let _g = Container::named(&name);
    let o = berth(&[
        "run", "-d", "--name", &name, "-p", "18844:80", "busybox", "httpd", "-f", "-h", "/www",
    ]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nftables firewall backend")
            && stderr(&o).contains("ip docker-bridges"),
        "{}",
        stderr(&o)
    );
    assert!(
        !sh(&format!("docker inspect {name}")).0,
        "a container was created"
    );
    drop(guard);
    // positive control: the same run, without the table, publishes
    berth_ok(&[
        "run", "-d", "--name", &name, "-p", "18844:80", "busybox", "httpd", "-f", "-h", "/www",
    ]);
    assert!(eventually(5, || curl("http://127.0.0.1:18844/").is_some()));
}
