//! Engines berth cannot firewall: a second host (a network namespace with a dockerd of
//! its own on tcp://198.18.9.2:2375, scripts/lib/versions.sh), reached over tcp, through
//! a docker context and over ssh. The engine publishes; berth changes nothing on this
//! host, shows the engine's bindings, and refuses to sync rules it does not keep. The
//! local engine reached over tcp on 127.0.0.1 is still local.

mod common;

use std::process::Command;

use common::*;

const REMOTE: &str = "tcp://198.18.9.2:2375";

/// A container on the remote engine, removed when dropped (also when a test fails).
struct OnRemote(String);

impl Drop for OnRemote {
    fn drop(&mut self) {
        sh(&format!(
            "docker -H {REMOTE} rm -f {} >/dev/null 2>&1",
            self.0
        ));
    }
}
const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lib");

/// The remote engine, started for the test (with busybox loaded) and stopped after it.
struct Remote;

impl Remote {
    fn up() -> Remote {
        tidy_once();
        sh_ok(&format!(
            "bash -c 'source {SCRIPTS}/setup.sh; source {SCRIPTS}/versions.sh; start_remote_engine' 2>&1"
        ));
        sh_ok(&format!(
            "docker -H {REMOTE} image inspect busybox:latest >/dev/null 2>&1 || docker save busybox:latest | docker -H {REMOTE} load"
        ));
        Remote
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        sh(&format!(
            "bash -c 'source {SCRIPTS}/setup.sh; source {SCRIPTS}/versions.sh; stop_remote_engine' 2>&1"
        ));
    }
}

/// This host's tables, without iptables-save's time stamps and counters.
fn tables() -> String {
    let mut out = String::new();
    for tool in ["iptables-save", "ip6tables-save"] {
        for l in sh_ok(tool).lines().filter(|l| !l.starts_with('#')) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

fn berth_on(host: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["-H", host];
    all.extend_from_slice(args);
    berth(&all)
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_remote_engine_publishes_and_this_host_is_left_alone() {
    let _r = Remote::up();
    let before = tables();
    let name = unique("remote");
    let range = unique("rrange");
    let all = unique("rall");
    let _gone = [
        OnRemote(name.clone()),
        OnRemote(range.clone()),
        OnRemote(all.clone()),
    ];
    let cleanup = || {
        for n in [&name, &range, &all] {
            sh(&format!("docker -H {REMOTE} rm -f {n}"));
        }
    };
    cleanup();
    let o = berth_on(
        REMOTE,
        &[
            "run", "-d", "--name", &name, "-p", "18870:80", "busybox", "httpd", "-f", "-h", "/www",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("publishes these ports itself"),
        "one line says that the engine publishes: {}",
        stderr(&o)
    );
    let o = berth_on(
        REMOTE,
        &[
            "run",
            "-d",
            "--name",
            &range,
            "-p",
            "18871-18873:18871-18873",
            "busybox",
            "sh",
            "-c",
            "httpd -p 18873 -h /www; sleep 300",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = berth_on(
        REMOTE,
        &[
            "run", "-d", "-q", "--name", &all, "-P", "busybox", "httpd", "-f", "-h", "/www",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // -q keeps it quiet, as it does the pull
    assert!(
        !stderr(&o).contains("publishes these ports itself"),
        "{}",
        stderr(&o)
    );
    // -P sends PublishAllPorts, and no bindings of its own, as docker sends it
    let asked = sh_ok(&format!(
        "docker -H {REMOTE} inspect -f '{{{{json .HostConfig.PortBindings}}}} {{{{.HostConfig.PublishAllPorts}}}}' {all}"
    ));
    assert_eq!(asked.trim(), "{} true", "{asked}");
    // reached at the remote host's address, from this host
    let hello = Some("hello from berth\n".to_string());
    assert!(
        eventually(5, || curl("http://198.18.9.2:18870/") == hello),
        "-p on the remote engine"
    );
    assert!(
        eventually(5, || curl("http://198.18.9.2:18873/") == hello),
        "a range on the remote engine"
    );
    let p = berth_ok(&["-H", REMOTE, "port", &all, "80"]);
    let port = p
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert!(
        eventually(5, || curl(&format!("http://198.18.9.2:{port}/")) == hello),
        "-P on the remote engine"
    );
    // ps and port show the engine's own bindings, as docker does
    let ps = berth_ok(&["-H", REMOTE, "ps", "--format", "{{.Names}} {{.Ports}}"]);
    let docker_ps = sh_ok(&format!(
        "docker -H {REMOTE} ps --format '{{{{.Names}}}} {{{{.Ports}}}}'"
    ));
    assert_eq!(ps, docker_ps);
    assert!(
        ps.contains(&format!("{name} 0.0.0.0:18870->80/tcp")),
        "{ps}"
    );
    let port_out = berth_ok(&["-H", REMOTE, "port", &name]);
    assert_eq!(port_out, sh_ok(&format!("docker -H {REMOTE} port {name}")));
    // nothing changed on this host, and nothing of the remote's leaks here
    assert_eq!(
        tables(),
        before,
        "berth changed this host's rules for a remote engine"
    );
    assert_eq!(curl("http://127.0.0.1:18870/"), None);
    // berth keeps no rules for it: sync, check and watch say so
    for cmd in [
        &["nat", "sync"][..],
        &["nat", "check"][..],
        &["watch", "--once"][..],
    ] {
        let o = berth_on(REMOTE, cmd);
        assert_eq!(o.status.code(), Some(125), "{cmd:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("is not on this host"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    // rm -f frees the port on the remote host
    berth_ok(&["-H", REMOTE, "rm", "-f", &name]);
    assert!(eventually(5, || curl("http://198.18.9.2:18870/").is_none()));
    let o = berth_on(
        REMOTE,
        &[
            "run", "-d", "--name", &name, "-p", "18870:80", "busybox", "httpd", "-f", "-h", "/www",
        ],
    );
    assert!(o.status.success(), "the port was not freed: {}", stderr(&o));
    assert_eq!(tables(), before);
    cleanup();
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn contexts_choose_the_engine_as_docker_does() {
    let _r = Remote::up();
    let home = std::env::temp_dir().join(unique("home"));
    std::fs::create_dir_all(&home).unwrap();
    let ctx = unique("ctx");
    let o = Command::new("docker")
        .args([
            "context",
            "create",
            &ctx,
            "--docker",
            &format!("host={REMOTE}"),
        ])
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let with_home = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = berth_cmd();
        c.args(args).env("HOME", &home);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let name = unique("ctxrun");
    let _gone = OnRemote(name.clone());
    sh(&format!("docker -H {REMOTE} rm -f {name}"));
    sh_ok(&format!(
        "docker -H {REMOTE} create --name {name} busybox true"
    ));
    // --context, DOCKER_CONTEXT, and the current context of config.json
    for (args, env) in [
        (
            vec![
                "--context",
                ctx.as_str(),
                "ps",
                "-a",
                "--format",
                "{{.Names}}",
            ],
            vec![],
        ),
        (
            vec!["ps", "-a", "--format", "{{.Names}}"],
            vec![("DOCKER_CONTEXT", ctx.as_str())],
        ),
    ] {
        let o = with_home(&args, &env);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(
            stdout(&o).lines().any(|l| l == name),
            "{args:?} {env:?}: {}",
            stdout(&o)
        );
    }
    let o = Command::new("docker")
        .args(["context", "use", &ctx])
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = with_home(&["ps", "-a", "--format", "{{.Names}}"], &[]);
    assert!(
        stdout(&o).lines().any(|l| l == name),
        "currentContext: {}",
        stdout(&o)
    );
    // DOCKER_HOST beats the current context; config show says where the host came from
    let o = with_home(
        &["ps", "-a", "--format", "{{.Names}}"],
        &[("DOCKER_HOST", "unix:///var/run/docker.sock")],
    );
    assert!(
        !stdout(&o).lines().any(|l| l == name),
        "DOCKER_HOST must win: {}",
        stdout(&o)
    );
    let o = with_home(&["config", "show"], &[]);
    assert!(
        stdout(&o).lines().any(|l| l.starts_with("host:")
            && l.contains(REMOTE)
            && l.contains(&format!("context {ctx}"))),
        "{}",
        stdout(&o)
    );
    // docker's errors: -H with --context, a context that does not exist
    let o = with_home(
        &["-H", "unix:///var/run/docker.sock", "--context", &ctx, "ps"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "conflicting options: cannot specify both --host and --context\n"
    );
    let o = with_home(&["--context", "nope", "ps"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let docker_says = Command::new("docker")
        .args(["--context", "nope", "ps"])
        .env("HOME", &home)
        .output()
        .unwrap();
    assert_eq!(
        stderr(&o),
        String::from_utf8_lossy(&docker_says.stderr),
        "the docker CLI is the oracle"
    );
    sh(&format!("docker -H {REMOTE} rm -f {name}"));
    let _ = std::fs::remove_dir_all(&home);
}

/// An sshd in the remote namespace that lets a key of the test's in as root, with the
/// remote engine as DOCKER_HOST there; and a client `ssh` that uses that key.
struct Sshd {
    dir: std::path::PathBuf,
    pid: u32,
}

impl Sshd {
    fn up() -> Sshd {
        let dir = std::env::temp_dir().join(unique("sshd"));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let d = dir.display();
        sh_ok(&format!(
            "ssh-keygen -q -t ed25519 -N '' -f {d}/host_key && ssh-keygen -q -t ed25519 -N '' -f {d}/client_key && \
             printf 'environment=\"DOCKER_HOST={REMOTE}\" %s\\n' \"$(cat {d}/client_key.pub)\" > {d}/authorized_keys && \
             mkdir -p /run/sshd"
        ));
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port 22\nListenAddress 198.18.9.2\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nPermitUserEnvironment yes\n\
                 UsePAM no\nStrictModes no\nPidFile {d}/sshd.pid\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("bin/ssh"),
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i {d}/client_key \"$@\"\n"
            ),
        )
        .unwrap();
        sh_ok(&format!(
            "chmod 0755 {d}/bin/ssh; chmod 0600 {d}/client_key {d}/host_key"
        ));
        sh_ok(&format!(
            "nsenter --net=/run/netns/berth-rmt /usr/sbin/sshd -f {d}/sshd_config"
        ));
        // sshd makes its pid file, then writes it: wait for the number, not the file
        let read_pid = || {
            std::fs::read_to_string(dir.join("sshd.pid"))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
        };
        assert!(eventually(5, || read_pid().is_some()), "sshd did not start");
        let pid = read_pid().expect("sshd's pid");
        Sshd { dir, pid }
    }

    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        sh(&format!("kill {}", self.pid));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn an_ssh_engine_is_reached_as_docker_reaches_it() {
    let _r = Remote::up();
    let sshd = Sshd::up();
    let before = tables();
    let name = unique("sshrun");
    let _gone = OnRemote(name.clone());
    sh(&format!("docker -H {REMOTE} rm -f {name}"));
    let ssh_host = "ssh://root@198.18.9.2";
    let o = berth_cmd()
        .args([
            "-H", ssh_host, "run", "-d", "--name", &name, "-p", "18875:80", "busybox", "httpd",
            "-f", "-h", "/www",
        ])
        .env("PATH", sshd.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        eventually(5, || curl("http://198.18.9.2:18875/").is_some()),
        "published by the engine over ssh"
    );
    let o = berth_cmd()
        .args(["-H", ssh_host, "ps", "--format", "{{.Names}} {{.Ports}}"])
        .env("PATH", sshd.path())
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains(&format!("{name} 0.0.0.0:18875->80/tcp")),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        tables(),
        before,
        "berth changed this host's rules for an ssh engine"
    );
    // ssh's own words when it fails
    let o = berth_cmd()
        .args(["-H", "ssh://root@berth-nowhere.invalid", "ps"])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("Could not resolve hostname berth-nowhere.invalid"),
        "{}",
        stderr(&o)
    );
    sh(&format!("docker -H {REMOTE} rm -f {name}"));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn the_local_engine_over_tcp_is_still_local() {
    // the host's own dockerd, listening on 127.0.0.1 too (also on every address at a
    // port the remote engine is reached on below: nothing may reach that one meanwhile)
    let _engine = EngineListening::on(
        "-H unix:///var/run/docker.sock -H tcp://127.0.0.1:23750 -H tcp://0.0.0.0:23752",
        "-p tcp --dport 23752",
    );
    let host = "tcp://127.0.0.1:23750";
    let name = unique("tcplocal");
    let _c = Container::named(&name);
    let o = berth_on(
        host,
        &[
            "run", "-d", "--name", &name, "-p", "18876:80", "busybox", "httpd", "-f", "-h", "/www",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("publishes these ports itself"),
        "{}",
        stderr(&o)
    );
    let id = sh_ok(&format!("docker inspect -f '{{{{.Id}}}}' {name}"))[..12].to_string();
    assert!(
        !rules_of(&id).is_empty(),
        "berth did not publish for its own engine over tcp"
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18876/").is_some()));
    // a forwarder on this host to the remote engine: its process is here, but berth cannot
    // tell where it leads: the engine publishes
    let _r = Remote::up();
    let fwd =
        Background::sh("socat TCP-LISTEN:23751,bind=127.0.0.1,fork,reuseaddr TCP:198.18.9.2:2375");
    assert!(eventually(3, || tcp_listening(23751)));
    let name2 = unique("viafwd");
    let _gone = OnRemote(name2.clone());
    sh(&format!("docker -H {REMOTE} rm -f {name2}"));
    let before = tables();
    let o = berth_on(
        "tcp://127.0.0.1:23751",
        &[
            "run", "-d", "--name", &name2, "-p", "18877:80", "busybox", "httpd", "-f", "-h", "/www",
        ],
    );
    let after = tables();
    let served = eventually(5, || curl("http://198.18.9.2:18877/").is_some());
    drop(fwd);
    sh(&format!("docker -H {REMOTE} rm -f {name2}"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("publishes these ports itself"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        after, before,
        "berth wrote rules for an engine of another host"
    );
    assert!(served, "the remote engine did not publish");

    // the remote engine reached at a port this host's own engine also listens on (on
    // every address): the connection leads elsewhere, so the engine publishes
    let relay = Background::sh(
        "ip netns exec berth-rmt socat TCP-LISTEN:23752,bind=198.18.9.2,fork,reuseaddr TCP:198.18.9.2:2375",
    );
    assert!(eventually(3, || sh(
        "ip netns exec berth-rmt ss -Htln 'sport = :23752' | grep -q ."
    )
    .0));
    assert!(
        tcp_listening(23752),
        "this host's engine does not listen on :23752"
    );
    let name3 = unique("sameport");
    let _gone3 = OnRemote(name3.clone());
    let before = tables();
    let o = berth_on(
        "tcp://198.18.9.2:23752",
        &[
            "run", "-d", "--name", &name3, "-p", "18878:80", "busybox", "httpd", "-f", "-h", "/www",
        ],
    );
    let after = tables();
    drop(relay);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("publishes these ports itself"),
        "a remote engine was taken for this host's own: {}",
        stderr(&o)
    );
    assert_eq!(
        after, before,
        "berth wrote rules here for an engine of another host"
    );
}

/// This host's dockerd restarted with `hosts`, INPUT dropping what `drop` matches (in
/// both families) meanwhile; on drop, the engine back as it was, even when the restart
/// or the test failed, and then the drop rules gone.
struct EngineListening {
    drop: &'static str,
}

impl EngineListening {
    fn on(hosts: &str, drop: &'static str) -> EngineListening {
        let engine = EngineListening { drop };
        sh_ok(&format!(
            "iptables -I INPUT {drop} -j DROP && ip6tables -I INPUT {drop} -j DROP"
        ));
        restart_engine_with(hosts);
        engine
    }
}

impl Drop for EngineListening {
    fn drop(&mut self) {
        restart_engine_with("");
        let drop = self.drop;
        sh(&format!(
            "iptables -D INPUT {drop} -j DROP; ip6tables -D INPUT {drop} -j DROP"
        ));
    }
}

/// Restart this host's engine with extra dockerd arguments (none: as scripts/test
/// starts it).
fn restart_engine_with(args: &str) {
    let setup = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lib/setup.sh");
    sh_ok(
        "pid=$(cat /var/run/docker.pid) && kill $pid && \
         for i in $(seq 1 150); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.2; done; exit 1",
    );
    sh_ok(&format!(
        "BERTH_DOCKERD_ARGS='{args}' bash -c 'source {setup}; start_docker' 2>&1"
    ));
}

/// The remote engine's engine ID, made the same as this host's own (a machine cloned
/// from this one: its /var/lib/docker came along), and a fresh one again afterwards.
struct ClonedId(String);

impl ClonedId {
    fn of_this_host() -> ClonedId {
        let data = sh_ok(&format!(
            "bash -c 'source {SCRIPTS}/setup.sh; source {SCRIPTS}/versions.sh; _rmt_conf; echo $_R_DATA'"
        ))
        .trim()
        .to_string();
        let path = format!("{data}/engine-id");
        // a running remote engine has read its ID already
        sh_ok(&format!(
            "bash -c 'source {SCRIPTS}/setup.sh; source {SCRIPTS}/versions.sh; stop_remote_engine' 2>&1"
        ));
        let ours = sh_ok("docker info -f '{{.ID}}'").trim().to_string();
        assert!(!ours.is_empty(), "this host's engine has no ID");
        sh_ok(&format!("mkdir -p {data} && printf '%s' '{ours}' > {path}"));
        ClonedId(path)
    }
}

impl Drop for ClonedId {
    fn drop(&mut self) {
        sh(&format!("rm -f {}", self.0));
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_clone_of_this_host_reached_at_a_port_this_host_listens_on_is_elsewhere() {
    // The engine-ID check cannot tell a clone of this machine from this host: only the
    // connection's other end can (berth's connection to the clone ends in its
    // namespace, whatever listens on the same port here).
    let _engine = EngineListening::on(
        "-H unix:///var/run/docker.sock -H tcp://0.0.0.0:23752",
        "! -i lo -p tcp --dport 23752",
    );
    // dropped after the remote engine is stopped (declared before it)
    let _id = ClonedId::of_this_host();
    let _r = Remote::up();
    // the fault is real: the clone says it is this host's engine
    let ours = sh_ok("docker info -f '{{.ID}}'").trim().to_string();
    let theirs = sh_ok(&format!("docker -H {REMOTE} info -f '{{{{.ID}}}}'"))
        .trim()
        .to_string();
    assert_eq!(theirs, ours, "the remote engine did not take the cloned ID");
    assert!(
        tcp_listening(23752),
        "this host's engine does not listen on :23752"
    );
    let relay = Background::sh(
        "ip netns exec berth-rmt socat TCP-LISTEN:23752,bind=198.18.9.2,fork,reuseaddr TCP:198.18.9.2:2375",
    );
    assert!(eventually(3, || sh(
        "ip netns exec berth-rmt ss -Htln 'sport = :23752' | grep -q ."
    )
    .0));
    // positive control: this host's engine at the same port is local, and berth
    // publishes for it
    let name = unique("clonehere");
    let _c = Container::named(&name);
    let o = berth_on(
        "tcp://127.0.0.1:23752",
        &[
            "run", "-d", "--name", &name, "-p", "18879:80", "busybox", "httpd", "-f", "-h", "/www",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let id = sh_ok(&format!("docker inspect -f '{{{{.Id}}}}' {name}"))[..12].to_string();
    assert!(
        !rules_of(&id).is_empty(),
        "berth did not publish for its own engine at :23752: {}",
        stderr(&o)
    );
    // the clone at the same port: elsewhere
    let name2 = unique("clonethere");
    let _gone = OnRemote(name2.clone());
    let before = tables();
    let o = berth_on(
        "tcp://198.18.9.2:23752",
        &[
            "run", "-d", "--name", &name2, "-p", "18880:80", "busybox", "httpd", "-f", "-h", "/www",
        ],
    );
    let after = tables();
    drop(relay);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("publishes these ports itself"),
        "a clone of this host elsewhere was taken for this host's engine: {}",
        stderr(&o)
    );
    assert_eq!(
        after, before,
        "berth wrote rules here for a clone of this host elsewhere"
    );
}
