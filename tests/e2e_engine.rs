//! The container lifecycle against the real daemon: run (detached, foreground, --rm,
//! interrupted, with a TTY), ps and port beside docker's own output, start/stop/rm, a
//! pull from the local registry, and an unreachable daemon.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn detached_httpd_is_listed_and_reachable() {
    let c = run_detached(
        "web",
        &["-p", "18180:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let id = c.id();
    assert_eq!(id.len(), 64);
    assert!(eventually(5, || curl("http://127.0.0.1:18180/").as_deref()
        == Some("hello from berth\n")));

    let ps = berth_ok(&["ps"]);
    let mut lines = ps.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("CONTAINER ID   IMAGE     COMMAND"),
        "{header}"
    );
    for col in ["CREATED", "STATUS", "PORTS", "NAMES"] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines
        .find(|l| l.starts_with(&id[..12]))
        .unwrap_or_else(|| panic!("{ps}"));
    assert!(row.contains("busybox"), "{row}");
    assert!(row.contains("\"httpd -f -h /www\""), "{row}");
    assert!(row.contains("Up "), "{row}");
    assert!(row.contains("0.0.0.0:18180->80/tcp"), "{row}");
    assert!(row.ends_with(&c.name), "{row}");

    assert_eq!(berth_ok(&["port", &c.name]), "80/tcp -> 0.0.0.0:18180\n");
    assert_eq!(berth_ok(&["port", &c.name, "80/tcp"]), "0.0.0.0:18180\n");
    let o = berth(&["port", &c.name, "81"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!("no public port '81' published for {}\n", c.name)
    );

    let json = berth_ok(&["ps", "--format", "json"]);
    let line = json.lines().find(|l| l.contains(&id[..12])).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["Ports"], "0.0.0.0:18180->80/tcp");
    assert!(
        line.contains("-\\u003e"),
        "docker escapes > in JSON: {line}"
    );
    assert_eq!(
        berth_ok(&["ps", "-q"])
            .lines()
            .filter(|l| *l == &id[..12])
            .count(),
        1
    );
    let custom = berth_ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(
        custom
            .lines()
            .any(|l| l == format!("{} 0.0.0.0:18180->80/tcp", c.name)),
        "{custom}"
    );
}

/// `berth ps` prints containers docker published exactly as `docker ps` does.
/// berth's inspect leaves out the two per-port maps (so its cost does not grow with a
/// container's ports) and nothing else; `inspect_full` (what `berth port` uses) has them.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn inspect_leaves_out_the_port_maps_and_keeps_the_rest() {
    use berth::engine::Engine;
    let name = unique("ports-inspected");
    let _guard = Container::named(&name);
    sh_ok(&format!(
        "docker run -d --name {name} --label 'probe=\"ExposedPorts\":{{}}' -p 127.0.0.1:18193:80 --expose 7000-7999/udp busybox sleep 300"
    ));
    berth::engine::block_on(async {
        let engine = Engine::connect(&local_endpoint()).await.unwrap();
        let full = engine.inspect_full(&name).await.unwrap();
        let slim = engine.inspect(&name).await.unwrap();
        // the positive control: the engine does list the ports
        let full_config = full.config.clone().unwrap();
        assert_eq!(full_config.exposed_ports.as_ref().map(Vec::len), Some(1001));
        let full_net = full.network_settings.clone().unwrap();
        assert!(full_net.ports.as_ref().is_some_and(|p| p.len() == 1001));
        // left out (not a fall-back to the whole answer, which would have them)
        let slim_config = slim.config.clone().unwrap();
        assert!(
            slim_config.exposed_ports.is_none(),
            "inspect kept Config.ExposedPorts"
        );
        let slim_net = slim.network_settings.clone().unwrap();
        assert!(
            slim_net.ports.is_none(),
            "inspect kept NetworkSettings.Ports"
        );
        // and everything else as the engine gave it
        let mut same = full.clone();
        same.config.as_mut().unwrap().exposed_ports = None;
        same.network_settings.as_mut().unwrap().ports = None;
        assert!(slim == same, "inspect lost more than the port maps");
        assert_eq!(
            slim_config.labels.unwrap().get("probe").map(String::as_str),
            Some("\"ExposedPorts\":{}")
        );
        assert!(slim_net.networks.unwrap().contains_key("bridge"));
    });
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn ps_and_port_match_docker_side_by_side() {
    let name = unique("docker-made");
    let _guard = Container::named(&name);
    sh_ok(&format!(
        "docker run -d --name {name} -p 0.0.0.0:18190:80 -p 0.0.0.0:18191-18192:81-82/udp --expose 7000-7001 busybox sleep 300"
    ));
    let fmt = "{{.ID}}|{{.Image}}|{{.Command}}|{{.Ports}}|{{.Names}}|{{.State}}";
    let docker = sh_ok(&format!(
        "docker ps --no-trunc --filter name={name} --format '{fmt}'"
    ));
    let ours = berth_ok(&["ps", "--no-trunc", "--format", fmt]);
    let ours_line = ours
        .lines()
        .find(|l| l.contains(&name))
        .unwrap_or_else(|| panic!("{ours}"));
    assert_eq!(ours_line, docker.trim_end(), "berth ps vs docker ps");
    assert!(ours_line.contains("7000-7001/tcp"), "{ours_line}");

    // the default table, for this row, column for column (retry over a second boundary)
    let same = eventually(5, || {
        let d = sh_ok(&format!("docker ps --filter name={name}"));
        let b = berth_ok(&["ps"]);
        let drow = d.lines().nth(1).unwrap_or("").to_string();
        let brow = b
            .lines()
            .find(|l| l.ends_with(&name))
            .unwrap_or("")
            .to_string();
        // docker pads to its own widest row; compare the cells
        let cells = |s: &str| {
            s.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join("|")
        };
        cells(&drow) == cells(&brow)
    });
    assert!(same, "docker ps and berth ps rows differ");

    let docker_port = sh_ok(&format!("docker port {name}"));
    let ours = berth_ok(&["port", &name]);
    // docker 20.10 also lists its IPv6 proxies (:::PORT); berth prints what it reads
    let v4: String = docker_port
        .lines()
        .filter(|l| l.contains("0.0.0.0"))
        .map(|l| format!("{l}\n"))
        .collect();
    let ours_v4: String = ours
        .lines()
        .filter(|l| l.contains("0.0.0.0"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(ours_v4, v4);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn foreground_rm_exits_with_the_containers_status() {
    let name = unique("exit3");
    let o = berth(&[
        "run",
        "--rm",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");
    assert!(
        eventually(5, || !sh(&format!("docker inspect {name}")).0),
        "container left behind"
    );

    // env, env-file, workdir, user, entrypoint, labels reach the container
    let dir = std::env::temp_dir().join(unique("envfile"));
    std::fs::write(&dir, "# comment\nFROM_FILE=yes\n").unwrap();
    let out = berth_ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        dir.to_str().unwrap(),
        "-w",
        "/tmp",
        "-u",
        "65534",
        "--entrypoint",
        "sh",
        "busybox",
        "-c",
        "echo $A $FROM_FILE $(pwd) $(id -u)",
    ]);
    assert_eq!(out, "1 yes /tmp 65534\n");
    std::fs::remove_file(dir).unwrap();
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn bad_commands_exit_126_and_127_and_leave_nothing() {
    let name = unique("nosuchcmd");
    let o = berth(&[
        "run",
        "--name",
        &name,
        "-p",
        "18183:80",
        "busybox",
        "no-such-command",
    ]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("executable file not found"),
        "{}",
        stderr(&o)
    );
    assert!(
        !sh(&format!("docker inspect {name}")).0,
        "failed container left behind"
    );
    let o = berth(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert!(
        !sh_ok("iptables-save").contains("--dport 18183"),
        "rule left behind"
    );
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn sigint_stops_a_foreground_run_and_undoes_everything() {
    let name = unique("sigint");
    let mut child = berth_cmd()
        .args([
            "run", "--rm", "--name", &name, "-p", "18184:80", "busybox", "sh", "-c",
        ])
        .arg("trap 'exit 0' TERM; httpd -h /www; while sleep 0.2; do :; done")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        eventually(10, || curl("http://127.0.0.1:18184/").is_some()),
        "never published"
    );
    let id12 = sh_ok(&format!("docker inspect -f '{{{{.Id}}}}' {name}"))[..12].to_string();
    assert!(!rules_of(&id12).is_empty());
    // SAFETY: sending SIGINT to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_timeout(&mut child, 30).expect("berth did not exit after SIGINT");
    // berth stopped the container (SIGTERM), whose trap exits 0: berth exits with it
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        eventually(10, || !sh(&format!("docker inspect {name}")).0),
        "container left behind"
    );
    assert!(
        rules_of(&id12).is_empty(),
        "rules left behind: {:?}",
        rules_of(&id12)
    );
}

fn wait_timeout(child: &mut std::process::Child, secs: u64) -> Option<std::process::ExitStatus> {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    None
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn interactive_tty_under_a_pseudo_terminal() {
    let cmd = format!(
        "printf 'echo typed-$((6*7))\\nexit 4\\n' | script -qec '{} run -it --rm busybox sh' /dev/null",
        berth_bin()
    );
    let (_, out) = sh(&format!("timeout 30 sh -c \"{cmd}\"; echo \"status=$?\""));
    assert!(out.contains("typed-42"), "{out}");
    assert!(out.contains("status=4"), "{out}");
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn pulls_from_the_local_registry_with_progress() {
    // an image with a layer of its own, so the pull has something to download
    let image = format!("127.0.0.1:5000/{}", unique("pull"));
    let maker = unique("maker");
    sh_ok(&format!(
        "docker run --name {maker} busybox sh -c 'echo {image} > /unique' && \
         docker commit {maker} {image} >/dev/null && docker rm {maker} >/dev/null && \
         docker push {image} >/dev/null && docker rmi {image} >/dev/null"
    ));
    let o = berth(&["run", "--rm", &image, "cat", "/unique"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{image}\n"));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("Unable to find image '{image}:latest' locally")),
        "{err}"
    );
    assert!(err.contains(": Pull complete\n"), "{err}");
    assert!(
        err.contains(": Already exists\n"),
        "the busybox layer is shared: {err}"
    );
    assert!(err.contains("Status: Downloaded newer image"), "{err}");
    sh(&format!("docker rmi {image}"));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn start_stop_rm_several_containers() {
    let a = run_detached(
        "a",
        &["-p", "18185:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    let b = run_detached("b", &["busybox", "sleep", "300"]);
    let id_a = a.id12();
    assert!(!rules_of(&id_a).is_empty());
    assert_eq!(
        berth_ok(&["stop", "-t", "1", &a.name, &b.name]),
        format!("{}\n{}\n", a.name, b.name)
    );
    assert!(rules_of(&id_a).is_empty(), "stop leaves rules");
    assert_eq!(
        berth_ok(&["start", &a.name, &b.name]),
        format!("{}\n{}\n", a.name, b.name)
    );
    // DNAT, the jump to its chain, hairpin, FORWARD, raw guard
    assert_eq!(rules_of(&id_a).len(), 5);
    assert!(eventually(5, || curl("http://127.0.0.1:18185/").is_some()));

    let o = berth(&["stop", "-t", "1", &b.name, "no-such-container"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), format!("{}\n", b.name));
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: no-such-container\n"
    );

    let o = berth(&["rm", &a.name]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "rm of a running container without -f must fail"
    );
    assert!(
        !rules_of(&id_a).is_empty(),
        "a failed rm must keep the rules"
    );
    assert_eq!(
        berth_ok(&["rm", "-f", &a.name, &b.name]),
        format!("{}\n{}\n", a.name, b.name)
    );
    assert!(rules_of(&id_a).is_empty());
    let o = berth(&["start", "no-such-container"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).ends_with("failed to start containers: no-such-container\n"),
        "{}",
        stderr(&o)
    );
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn unreachable_daemon_is_dockers_message_and_125() {
    for args in [
        &["ps"][..],
        &["run", "-d", "busybox"],
        &["rm", "x"],
        &["nat", "sync"],
    ] {
        let mut all = vec!["-H", "unix:///nonexistent.sock"];
        all.extend_from_slice(args);
        let o = berth(&all);
        assert_eq!(o.status.code(), Some(125), "{args:?}");
        assert!(
            stderr(&o).contains("Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    // DOCKER_HOST is honoured, and tcp:// too
    let o = berth_cmd()
        .arg("ps")
        .env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("Cannot connect to the Docker daemon at tcp://127.0.0.1:1.")
    );
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn unknown_image_is_dockers_error() {
    let o = berth(&["run", "--rm", "127.0.0.1:5000/berth-no-such-image"]);
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(
        err.contains("Unable to find image '127.0.0.1:5000/berth-no-such-image:latest' locally"),
        "{err}"
    );
    assert!(err.contains("berth: Error response from daemon:"), "{err}");
    assert!(
        err.ends_with("Run 'berth run --help' for more information\n"),
        "{err}"
    );
}
