//! `berth watch`, end to end: a published port follows its container whatever the
//! engine and the docker CLI do behind berth's back: a stop and an address taken by
//! another container, restarts, kills, restart policies, a flushed firewall, an engine
//! restart with every table flushed (a reboot), a watcher killed in the middle of a
//! reconcile, forged and copied labels, a host service on a stopped container's port,
//! and a burst of 50 containers. Real daemon, real iptables, real traffic from 127.0.0.1,
//! from this host's own address and from a second host.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const HELLO: &str = "hello from berth\n";

/// A `berth watch` of the test's own, re-checking every `interval`; stopped (SIGTERM)
/// when dropped.
struct Watch {
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(interval: &str) -> Watch {
        Watch::start_with(interval, &[])
    }

    fn start_with(interval: &str, env: &[(&str, &str)]) -> Watch {
        tidy_once();
        let mut cmd = berth_cmd();
        cmd.args(["watch", "--format", "json"])
            .env("BERTH_WATCH_INTERVAL", interval)
            .env("BERTH_TEST_OWNER", std::process::id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start berth watch");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let w = Watch {
            child: Some(child),
            lines,
        };
        assert!(
            eventually(10, || berth(&["watch", "--status"]).status.success()),
            "the watcher did not come up: {:?}",
            w.lines()
        );
        w
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM; the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        sh(&format!("kill -TERM {}", child.id()));
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > end {
                let _ = child.kill();
                panic!("berth watch did not exit on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            sh(&format!("kill -TERM {}", c.id()));
            let end = Instant::now() + Duration::from_secs(5);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A plain `docker run -d` container serving `page` on port 80 (not berth's).
fn docker_web(what: &str, page: &str) -> Container {
    let name = unique(what);
    sh_ok(&format!(
        "docker run -d --name {name} busybox sh -c 'mkdir -p /w && echo {page} > /w/index.html && httpd -f -h /w'"
    ));
    Container::named(&name)
}

fn page(url: &str, peer: Option<&Peer>) -> Option<String> {
    match peer {
        Some(p) => p.curl(url),
        None => curl(url),
    }
}

/// The three places a published port is reached from: 127.0.0.1, this host's own
/// address, a second host.
fn everywhere(peer: &Peer, port: u16) -> [(String, Option<&Peer>); 3] {
    [
        (format!("http://127.0.0.1:{port}/"), None),
        (format!("http://{}:{port}/", peer.host_ip), None),
        (format!("http://{}:{port}/", peer.host_ip), Some(peer)),
    ]
}

fn ip_of(name: &str) -> String {
    sh_ok(&format!(
        "docker inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}}{{{{end}}}}' {name}"
    ))
    .trim()
    .to_string()
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_stopped_containers_address_taken_by_another_leads_nowhere() {
    let _w = Watch::start("5s");
    let peer = Peer::new();
    let web = run_detached(
        "follow",
        &["-p", "18800:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    for (url, from) in everywhere(&peer, 18800) {
        assert!(
            eventually(5, || page(&url, from) == Some(HELLO.into())),
            "{url} before the stop"
        );
    }
    let old_ip = web.ip();
    sh_ok(&format!("docker stop -t 1 {}", web.name));
    let squatter = docker_web("squatter", "squatter");
    // the fault really happened: the other container has the published one's address
    assert_eq!(ip_of(&squatter.name), old_ip, "the address was not reused");
    // positive control: the squatter serves its page at that address
    assert_eq!(
        curl(&format!("http://{old_ip}/")).as_deref(),
        Some("squatter\n")
    );
    let start = Instant::now();
    for (url, from) in everywhere(&peer, 18800) {
        assert_eq!(page(&url, from), None, "{url} leads to another container");
    }
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        rules_of(&web.id12()).is_empty(),
        "a stopped container has rules"
    );

    sh_ok(&format!("docker start {}", web.name));
    let new_ip = web.ip();
    assert_ne!(new_ip, old_ip);
    for (url, from) in everywhere(&peer, 18800) {
        assert!(
            eventually(1, || page(&url, from) == Some(HELLO.into())),
            "{url}: not following the new address within 1 s"
        );
    }
    assert!(
        rules_of(&web.id12())
            .iter()
            .all(|r| !r.contains(&format!("{old_ip}/")))
    );
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn exits_restarts_kills_and_restart_policies_are_followed() {
    let _w = Watch::start("5s");
    let peer = Peer::new();
    // a detached container that exits on its own
    let short = run_detached(
        "short",
        &[
            "-p",
            "18801:80",
            "busybox",
            "sh",
            "-c",
            "httpd -p 80 -h /www; sleep 2",
        ],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18801/").is_some()));
    assert!(!rules_of(&short.id12()).is_empty());
    assert!(
        eventually(10, || rules_of(&short.id12()).is_empty()),
        "the rules of a container that exited stayed"
    );

    // docker restart: published again at its (possibly new) address
    let r = run_detached(
        "restart",
        &["-p", "18802:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18802/").is_some()));
    sh_ok(&format!("docker restart -t 1 {}", r.name));
    for (url, from) in everywhere(&peer, 18802) {
        assert!(
            eventually(2, || page(&url, from) == Some(HELLO.into())),
            "{url} after restart"
        );
    }

    // a --restart always container whose process dies: the engine starts it again
    let a = run_detached(
        "always",
        &[
            "--restart",
            "always",
            "-p",
            "18803:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18803/").is_some()));
    let pid_of = |n: &str| {
        sh_ok(&format!("docker inspect -f '{{{{.State.Pid}}}}' {n}"))
            .trim()
            .to_string()
    };
    let pid_before = pid_of(&a.name);
    sh_ok(&format!("kill -9 {pid_before}"));
    assert!(
        eventually(10, || pid_of(&a.name) != pid_before
            && pid_of(&a.name) != "0"
            && curl("http://127.0.0.1:18803/").is_some()),
        "not following the engine's restart"
    );
    for (url, from) in everywhere(&peer, 18803) {
        assert!(
            eventually(2, || page(&url, from) == Some(HELLO.into())),
            "{url}"
        );
    }
    // docker kill of it: the engine leaves a killed container stopped (a manual stop),
    // and so do its rules
    sh_ok(&format!("docker kill {}", a.name));
    assert!(
        eventually(3, || rules_of(&a.id12()).is_empty()),
        "a killed container keeps rules"
    );
    assert_eq!(curl("http://127.0.0.1:18803/"), None);

    // on-failure:2 that keeps failing: at the end stopped, with no rule
    let f = run_detached(
        "fail",
        &[
            "--restart",
            "on-failure:2",
            "-p",
            "18804:80",
            "busybox",
            "sh",
            "-c",
            "httpd -p 80 -h /www; sleep 1; exit 3",
        ],
    );
    assert!(
        eventually(30, || sh_ok(&format!(
            "docker inspect -f '{{{{.State.Status}}}} {{{{.RestartCount}}}}' {}",
            f.name
        ))
        .trim()
            == "exited 2"),
        "the engine did not give up"
    );
    assert!(
        eventually(5, || rules_of(&f.id12()).is_empty()),
        "a container the engine gave up on keeps rules"
    );
    assert_eq!(curl("http://127.0.0.1:18804/"), None);
    let check = berth(&["nat", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn flushed_chains_and_jumps_are_repaired_within_the_interval() {
    let _w = Watch::start("1s");
    let peer = Peer::new();
    let web = run_detached(
        "flush",
        &["-p", "18805:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18805/").is_some()));
    let chain = format!("BERTH-{}", web.id12());
    for damage in [
        format!("iptables -t nat -F {chain}"),
        "iptables -t nat -F BERTH".to_string(),
        "iptables -t filter -F BERTH-FORWARD".to_string(),
        "iptables -t raw -F BERTH-RAW".to_string(),
        "iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j BERTH && \
         iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j BERTH"
            .to_string(),
        "iptables -t filter -D DOCKER-USER -j BERTH-FORWARD".to_string(),
        "iptables -t raw -D PREROUTING -j BERTH-RAW".to_string(),
    ] {
        sh_ok(&damage);
        let check = berth(&["nat", "check"]);
        // the damage is real: berth's own check sees it, or the traffic is gone
        assert!(
            check.status.code() == Some(1) || curl("http://127.0.0.1:18805/").is_none(),
            "{damage}: no drift seen"
        );
        let t = Instant::now();
        assert!(
            eventually(3, || berth(&["nat", "check"]).status.success()),
            "{damage}: not repaired within interval + 1 s"
        );
        assert!(t.elapsed() < Duration::from_secs(3));
        for (url, from) in everywhere(&peer, 18805) {
            assert!(
                eventually(2, || page(&url, from) == Some(HELLO.into())),
                "{damage}: {url}"
            );
        }
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn after_an_engine_restart_and_a_flushed_firewall_restart_always_containers_serve_again() {
    let _w = Watch::start("5s");
    let a = run_detached(
        "boot-a",
        &[
            "--restart",
            "always",
            "-p",
            "18806:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    let b = run_detached(
        "boot-b",
        &[
            "--restart",
            "always",
            "-p",
            "18807:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18806/").is_some()));
    // as at a reboot: the engine goes, the kernel forgets every rule, the engine comes
    // back and restarts its --restart always containers
    restart_engine(|| {
        sh_ok(
            "for t in raw nat filter mangle; do iptables -t $t -F; iptables -t $t -X; \
             ip6tables -t $t -F 2>/dev/null; ip6tables -t $t -X 2>/dev/null; done; true",
        );
        assert!(!sh_ok("iptables-save").contains("BERTH"), "not flushed");
    });
    let peer = Peer::new();
    for (c, port) in [(&a, 18806), (&b, 18807)] {
        for (url, from) in everywhere(&peer, port) {
            assert!(
                eventually(20, || page(&url, from) == Some(HELLO.into())),
                "{}: {url} after the engine came back",
                c.name
            );
        }
    }
    let check = berth(&["nat", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_watcher_killed_mid_reconcile_leaves_no_drift_and_only_one_watcher_runs() {
    let web = run_detached(
        "kill9",
        &["-p", "18808:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    // damage that the next watcher's first pass must repair
    sh_ok("iptables -t nat -F BERTH");
    let mut paused = berth_cmd()
        .args(["watch"])
        .env("BERTH_TEST_PAUSE", "apply")
        .env("BERTH_TEST_OWNER", std::process::id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stderr = wait_for_pause(&mut paused, "apply", 20);
    // while it holds the watch lock, a second watcher refuses, naming it
    let second = berth(&["watch"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains(&format!("held by pid {}", paused.id())),
        "{}",
        stderr(&second)
    );
    sh(&format!("kill -9 {}", paused.id()));
    paused.wait().unwrap();
    assert_eq!(
        berth(&["nat", "check"]).status.code(),
        Some(1),
        "the damage is gone already"
    );
    let _w = Watch::start("5s");
    assert!(
        eventually(5, || berth(&["nat", "check"]).status.success()),
        "drift after the next watcher"
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18808/").is_some()));
    drop(web);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn watch_once_status_and_sigterm() {
    let o = berth(&["watch", "--status"]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert_eq!(stdout(&o), "no berth watch runs on this host\n");
    let web = run_detached(
        "once",
        &["-p", "18809:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    sh_ok("iptables -t nat -F BERTH");
    assert!(curl("http://127.0.0.1:18809/").is_none());
    let o = berth(&["watch", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&web.name),
        "one line per change: {}",
        stderr(&o)
    );
    assert!(eventually(3, || curl("http://127.0.0.1:18809/").is_some()));
    let o = berth(&["watch", "--once"]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "", "nothing changed, nothing said");

    let mut w = Watch::start("5s");
    let status = || {
        let o = berth(&["watch", "--status", "--format", "json"]);
        assert!(o.status.success());
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
    };
    assert!(
        eventually(5, || status()["followed"].as_u64().unwrap_or(0) >= 1),
        "{}",
        status()
    );
    let doc = status();
    assert_eq!(doc["pid"], serde_json::json!(w.pid()));
    assert_eq!(doc["running"], serde_json::json!(true));
    let status = w.stop();
    assert!(status.success(), "SIGTERM must exit 0: {status}");
    // rules stay in place when the watcher goes
    assert!(curl("http://127.0.0.1:18809/").is_some());
    assert_eq!(berth(&["watch", "--status"]).status.code(), Some(3));
}

/// An image whose config carries `io.berth.ports`, as anyone could build one.
fn forged_image(tag: &str, ports: &str) {
    let root = std::env::temp_dir().join(unique("forged"));
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("www")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    std::fs::write(root.join("www/index.html"), "forged\n").unwrap();
    sh_ok(&format!(
        "cd {} && tar -c . | docker import --change 'LABEL io.berth.ports={}' --change 'CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-h\", \"/www\"]' - {tag} >/dev/null",
        root.display(),
        ports.replace('"', "\\\"")
    ));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn forged_and_copied_labels_are_never_published() {
    let _w = Watch::start("1s");
    let tag = format!("{}:forged", unique("img"));
    let forged = r#"[{"proto":"tcp","container_port":80,"host_ip":"0.0.0.0","host_port":18810}]"#;
    forged_image(&tag, forged);
    let name = unique("forged");
    let _c = Container::named(&name);
    sh_ok(&format!("docker run -d --name {name} {tag}"));
    // positive control: the container serves, and carries the label
    let ip = ip_of(&name);
    assert!(eventually(5, || curl(&format!("http://{ip}/")).as_deref()
        == Some("forged\n")));
    assert!(
        sh_ok(&format!(
            "docker inspect -f '{{{{json .Config.Labels}}}}' {name}"
        ))
        .contains("18810")
    );
    let id12 = sh_ok(&format!("docker inspect -f '{{{{.Id}}}}' {name}"))[..12].to_string();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        rules_of(&id12).is_empty(),
        "the watcher published a forged label"
    );
    assert!(
        berth_ok(&["nat", "sync"]).contains("not published"),
        "sync must say why"
    );
    assert!(
        rules_of(&id12).is_empty(),
        "nat sync published a forged label"
    );
    let check = berth(&["nat", "check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains(&format!("untrusted: {name} ({id12})")),
        "{}",
        stdout(&check)
    );
    assert_eq!(curl("http://127.0.0.1:18810/"), None);
    // nor does berth show the forged ports as published
    let shown = |n: &str| {
        let ps = berth_ok(&[
            "ps",
            "--filter",
            &format!("name=^{n}$"),
            "--format",
            "{{.Ports}}",
        ]);
        let port = stdout(&berth(&["port", n]));
        let inspect = berth_ok(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", n]);
        format!("{ps}|{port}|{inspect}")
    };
    assert!(!shown(&name).contains("18810"), "{}", shown(&name));
    sh_ok(&format!("docker rm -f {name}"));

    // a berth container's own labels, copied by docker commit onto an image
    let web = run_detached(
        "orig",
        &["-p", "18811:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18811/").is_some()));
    // positive control: berth shows the ports it published, in ps, port and inspect
    let own = shown(&web.name);
    assert_eq!(own.matches("18811").count(), 3, "{own}");
    let copy_tag = format!("{}:copy", unique("img"));
    sh_ok(&format!("docker commit {} {copy_tag}", web.name));
    drop(web);
    assert!(eventually(5, || curl("http://127.0.0.1:18811/").is_none()));
    let copy = unique("copy");
    let _cc = Container::named(&copy);
    sh_ok(&format!(
        "docker run -d --name {copy} {copy_tag} httpd -f -h /www"
    ));
    let copy_id = sh_ok(&format!("docker inspect -f '{{{{.Id}}}}' {copy}"))[..12].to_string();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        rules_of(&copy_id).is_empty(),
        "a committed copy's label was trusted"
    );
    assert_eq!(curl("http://127.0.0.1:18811/"), None);
    assert!(!shown(&copy).contains("18811"), "{}", shown(&copy));
    let check = berth(&["nat", "check"]);
    assert!(
        stdout(&check).contains("came with its image"),
        "{}",
        stdout(&check)
    );
    sh(&format!("docker rm -f {copy}; docker rmi {tag} {copy_tag}"));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_host_service_on_a_stopped_containers_port_wins() {
    let _w = Watch::start("1s");
    let web = run_detached(
        "svc",
        &["-p", "18812:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18812/").is_some()));
    sh_ok(&format!("docker stop -t 1 {}", web.name));
    assert!(eventually(3, || rules_of(&web.id12()).is_empty()));
    // a service of this host starts on the port meanwhile
    let listening = || tcp_listening(18812);
    let service = Background::sh("busybox httpd -f -p 18812 -h /tmp");
    assert!(eventually(3, listening));
    let start = berth(&["start", &web.name]);
    let dnat = rules_of(&web.id12())
        .iter()
        .filter(|r| r.contains("-j DNAT"))
        .count();
    let lines = _w.lines();
    drop(service);
    assert_eq!(
        start.status.code(),
        Some(1),
        "berth start must fail: {}",
        stderr(&start)
    );
    assert!(
        stderr(&start)
            .contains("0.0.0.0:18812->80/tcp not published: a socket of this host listens on")
            && stderr(&start).contains(":18812/tcp"),
        "{}",
        stderr(&start)
    );
    assert_eq!(dnat, 0, "the host service's port was taken over");
    // and when docker starts it behind berth's back, the watcher reports the conflict
    let listening = || tcp_listening(18812);
    let service = Background::sh("busybox httpd -f -p 18812 -h /tmp");
    assert!(eventually(3, listening));
    sh_ok(&format!("docker start {}", web.name));
    std::thread::sleep(Duration::from_millis(1500));
    let dnat = rules_of(&web.id12())
        .iter()
        .filter(|r| r.contains("-j DNAT"))
        .count();
    let check = berth(&["nat", "check"]);
    drop(service);
    assert_eq!(dnat, 0, "the watcher took the host service's port over");
    assert!(stdout(&check).contains("conflict:"), "{}", stdout(&check));
    // positive control: with the service gone, the container gets its port
    assert!(
        eventually(5, || curl("http://127.0.0.1:18812/") == Some(HELLO.into())),
        "{lines:?}"
    );
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn nobody_but_root_touches_berths_locks() {
    // berth made the folder and its locks root-only
    berth_ok(&["nat", "sync"]);
    let mode = sh_ok("stat -c %a /run/berth").trim().to_string();
    assert_eq!(mode, "700");
    for f in ["firewall.lock", "alloc.lock"] {
        let path = format!("/run/berth/{f}");
        if std::path::Path::new(&path).exists() {
            assert_eq!(sh_ok(&format!("stat -c %a {path}")).trim(), "600", "{path}");
        }
    }
    // positive control: root can take the lock; nobody cannot even open it
    assert!(sh("flock -n /run/berth/firewall.lock true").0);
    let (ok, out) = sh(
        "setpriv --reuid=65534 --regid=65534 --clear-groups flock -n /run/berth/firewall.lock true",
    );
    assert!(!ok, "an unprivileged user took berth's lock: {out}");
    assert!(out.contains("Permission denied"), "{out}");
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_burst_of_fifty_stopped_and_started_behind_berths_back() {
    let _w = Watch::start("5s");
    let names: Vec<String> = (0..50).map(|i| unique(&format!("burst{i}"))).collect();
    let guards: Vec<Container> = names.iter().map(|n| Container::named(n)).collect();
    for n in &names {
        berth_ok(&[
            "run", "-d", "-P", "--name", n, "busybox", "httpd", "-f", "-h", "/www",
        ]);
    }
    let ids: Vec<String> = guards.iter().map(Container::id12).collect();
    assert!(ids.iter().all(|id| !rules_of(id).is_empty()));
    let all = names.join(" ");
    sh_ok(&format!("docker stop -t 1 {all} >/dev/null"));
    assert!(
        eventually(10, || ids.iter().all(|id| rules_of(id).is_empty())),
        "a stopped container kept rules"
    );
    sh_ok(&format!("docker start {all} >/dev/null"));
    assert!(
        eventually(20, || berth(&["nat", "check"]).status.success()),
        "{}",
        stdout(&berth(&["nat", "check"]))
    );
    for n in &names {
        let port = berth_ok(&["port", n, "80"]);
        let port = port.trim().rsplit(':').next().unwrap().to_string();
        assert!(
            eventually(5, || curl(&format!("http://127.0.0.1:{port}/")).is_some()),
            "{n} on {port}"
        );
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn run_starts_a_watcher_when_none_runs() {
    assert_eq!(berth(&["watch", "--status"]).status.code(), Some(3));
    let name = unique("auto");
    let _g = Container::named(&name);
    // berth's own config dir: the watcher it starts must read the same one
    let cfg = std::env::temp_dir().join(unique("autocfg"));
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.yaml"), "watch_interval: 9s\n").unwrap();
    let cfg_arg = cfg.to_string_lossy().into_owned();
    let o = berth_cmd()
        .args([
            "--berth-config",
            &cfg_arg,
            "run",
            "-d",
            "--name",
            &name,
            "-p",
            "18813:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ])
        .env("BERTH_WATCH", "on")
        .env("BERTH_TEST_OWNER", std::process::id().to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("started berth watch (pid"),
        "{}",
        stderr(&o)
    );
    assert!(eventually(5, || berth(&["watch", "--status"])
        .status
        .success()));
    let pid = berth_ok(&["watch", "--status", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&pid).unwrap();
    let pid = doc["pid"].as_u64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let _ = std::fs::remove_dir_all(&cfg);
    // it follows the container like any watcher
    sh_ok(&format!("docker stop -t 1 {name}"));
    assert!(eventually(3, || curl("http://127.0.0.1:18813/").is_none()));
    // a second run finds it and starts none
    let o = berth_cmd()
        .args(["run", "-d", "-P", "busybox", "true"])
        .env("BERTH_WATCH", "on")
        .output()
        .unwrap();
    let id = stdout(&o).trim().to_string();
    sh(&format!("docker rm -f {id}"));
    assert!(
        !stderr(&o).contains("started berth watch"),
        "{}",
        stderr(&o)
    );
    // the test started it (through berth run): the test ends it
    sh_ok(&format!("kill -TERM {pid}"));
    assert!(eventually(5, || berth(&["watch", "--status"])
        .status
        .code()
        == Some(3)));
    // (checked once it is ended)
    assert!(argv.iter().any(|a| a == "watch"), "{argv:?}");
    assert!(
        argv.windows(2)
            .any(|w| w[0] == "--berth-config" && w[1] == cfg_arg),
        "the watcher does not read the config run read: {argv:?}"
    );
}
