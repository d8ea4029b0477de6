//! The real binary, driven as a user or a script drives it: flags, exit codes, the
//! `--dry-run` plan, Docker's error texts. None of these needs a daemon or root.

use assert_cmd::Command;
use predicates::prelude::*;

/// berth with the engine pointed at a socket that does not exist, so a test proves it
/// needs no daemon.
fn berth() -> Command {
    let mut cmd = Command::cargo_bin("berth").unwrap();
    cmd.env("DOCKER_HOST", "unix:///nonexistent/berth-test.sock");
    cmd
}

#[test]
fn dry_run_json_needs_no_daemon() {
    let out = berth()
        .args([
            "run",
            "--dry-run",
            "--format",
            "json",
            "-p",
            "127.0.0.1::80/udp",
            "busybox",
        ])
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON object: {text}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["exposed"], serde_json::json!(["80/udp"]));
    assert_eq!(
        doc["bindings"],
        serde_json::json!([{"port": "80/udp", "host_ip": "127.0.0.1", "host_port": ""}])
    );
    let rules: Vec<&str> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"-A BERTH-CONTAINER_ID -d 127.0.0.1/32 ! -i docker0 -p udp -m udp --dport 0 -m comment --comment \"berth:CONTAINER_ID\" -j DNAT --to-destination CONTAINER_IP:80"),
        "{rules:#?}"
    );
    assert!(
        rules
            .iter()
            .any(|r| r.starts_with("-A BERTH-RAW -d 127.0.0.1/32 ! -i lo -p udp")),
        "{rules:#?}"
    );
}

#[test]
fn dry_run_json_sorts_and_merges_like_docker() {
    let out = berth()
        .args(["run", "--dry-run", "--format", "json"])
        .args([
            "-p",
            "[2001:DB8::1]:9090:90",
            "-p",
            "8000-8010:80",
            "-p",
            "0.0.0.0:8080:80",
        ])
        .args([
            "--expose",
            "443",
            "--expose",
            "7000-7001/udp",
            "-p",
            "published=53,target=53,protocol=udp",
        ])
        .arg("busybox")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        doc["exposed"],
        serde_json::json!([
            "53/udp", "80/tcp", "90/tcp", "443/tcp", "7000/udp", "7001/udp"
        ])
    );
    assert_eq!(
        doc["bindings"],
        serde_json::json!([
            {"port": "53/udp", "host_ip": "", "host_port": "53"},
            {"port": "80/tcp", "host_ip": "", "host_port": "8000-8010"},
            {"port": "80/tcp", "host_ip": "0.0.0.0", "host_port": "8080"},
            {"port": "90/tcp", "host_ip": "2001:db8::1", "host_port": "9090"},
        ])
    );
}

#[test]
fn publish_all_binds_every_exposed_port() {
    berth()
        .args([
            "run",
            "--dry-run",
            "--format",
            "json",
            "-P",
            "--expose",
            "443",
            "-p",
            "8080:80",
            "busybox",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "{\"port\":\"443/tcp\",\"host_ip\":\"\",\"host_port\":\"\"}",
        ));
}

#[test]
fn bad_spec_prints_dockers_error_and_exits_125() {
    berth()
        .args(["run", "--dry-run", "-p", "80:80:80", "busybox"])
        .assert()
        .code(125)
        .stdout("")
        .stderr("berth: invalid IP address: 80\n\nRun 'berth run --help' for more information\n");
}

#[test]
fn bad_expose_and_port_zero_exit_125() {
    berth()
        .args(["run", "--dry-run", "--expose", "80-", "busybox"])
        .assert()
        .code(125)
        .stderr(predicate::str::starts_with(
            "berth: invalid range format for --expose: invalid end port '': value is empty\n",
        ));
    berth()
        .args(["run", "--dry-run", "-p", "0/udp", "busybox"])
        .assert()
        .code(125)
        .stderr(predicate::str::starts_with(
            "berth: invalid port specification: \"0/udp\"\n",
        ));
}

#[test]
fn bad_spec_is_reported_even_without_dry_run() {
    // the spec is checked before anything else, so nothing is created
    berth()
        .args(["run", "-d", "-p", "tcp", "busybox"])
        .assert()
        .code(125)
        .stderr(
            "berth: invalid containerPort: tcp\n\nRun 'berth run --help' for more information\n",
        );
}

#[test]
fn options_stop_at_image() {
    berth()
        .args([
            "run",
            "--dry-run",
            "busybox",
            "sh",
            "-c",
            "echo -p",
            "-p",
            "80",
            "--rm",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "command:  sh -c 'echo -p' -p 80 --rm\n",
        ))
        .stdout(predicate::str::contains("publish:  (none)\n"));
}

#[test]
fn dry_run_text_plan() {
    berth()
        .args([
            "run",
            "--dry-run",
            "-p",
            "127.0.0.1:8080:80",
            "-p",
            "[::1]::81/udp",
            "-p",
            "9000-9005:82",
        ])
        .arg("busybox")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "image:    busybox\n\
             exposed:  80/tcp, 81/udp, 82/tcp\n\
             publish:  127.0.0.1:8080 -> 80/tcp\n          \
             [::1]:<free port> -> 81/udp\n          \
             *:9000-9005 (first free) -> 82/tcp\n\
             rules (iptables-restore --noflush; free host ports shown as 0):\n  *raw\n",
        ))
        .stdout(predicate::str::ends_with(
            "  COMMIT\ndry run: nothing was changed\n",
        ));
}

#[test]
fn unknown_flag_exits_125_and_missing_image_exits_1() {
    berth()
        .args(["run", "--no-such-flag", "busybox"])
        .assert()
        .code(125);
    berth().args(["run"]).assert().code(1);
}

#[test]
fn version_and_help() {
    for flag in ["--version", "-v"] {
        berth()
            .arg(flag)
            .assert()
            .success()
            .stdout(format!("berth {}\n", env!("CARGO_PKG_VERSION")));
    }
    berth()
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("-p, --publish <list>"))
        .stdout(predicate::str::contains("-P, --publish-all"))
        .stdout(predicate::str::contains(
            "Usage: berth run [OPTIONS] IMAGE [COMMAND] [ARG...]",
        ));
}

#[test]
fn config_show_names_each_source_and_a_bad_file_stops_everything() {
    let dir = std::env::temp_dir().join(format!("berth-cli-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        "port_range: 40000-40999\nchain_prefix: MYBERTH\n",
    )
    .unwrap();
    let out = berth()
        .args(["--berth-config", dir.to_str().unwrap(), "config", "show"])
        .env("BERTH_DEFAULT_HOST_IP", "127.0.0.1")
        .env_remove("NO_COLOR")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let file = dir.join("config.yaml");
    assert!(
        text.contains("40000-40999") && text.contains(&format!("(from file {})", file.display())),
        "{text}"
    );
    assert!(
        text.contains("127.0.0.1") && text.contains("(from env BERTH_DEFAULT_HOST_IP)"),
        "{text}"
    );
    assert!(
        text.contains("unix:///nonexistent/berth-test.sock")
            && text.contains("(from env DOCKER_HOST)"),
        "{text}"
    );

    std::fs::write(
        dir.join("config.yaml"),
        "port_range: 40000-40999\ncolour: never\n",
    )
    .unwrap();
    berth()
        .args([
            "--berth-config",
            dir.to_str().unwrap(),
            "run",
            "--dry-run",
            "-p",
            "80",
            "busybox",
        ])
        .assert()
        .code(125)
        .stdout("")
        .stderr(predicate::str::starts_with(format!(
            "berth: {}:2: unknown key 'colour'",
            file.display()
        )));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_has_no_color_codes_off_a_terminal() {
    for args in [
        &["run", "--dry-run", "-p", "80", "busybox"][..],
        &["config", "show"],
        &["--help"],
    ] {
        let out = berth()
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert!(!out.contains(&0x1b), "{args:?} printed an escape sequence");
    }
}

/// `color` does what it says: berth's own error lines are coloured when it is `always`,
/// and never with NO_COLOR, or off a terminal with `auto`.
#[test]
fn color_colours_berths_errors_and_no_color_wins() {
    let dir = std::env::temp_dir().join(format!("berth-cli-color-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yaml"), "color: always\n").unwrap();
    let bad = ["run", "--dry-run", "-p", "80:80:80", "busybox"];
    let err = |env: &[(&str, &str)], config: bool| {
        let mut c = berth();
        if config {
            c.args(["--berth-config", dir.to_str().unwrap()]);
        }
        c.args(bad).env_remove("NO_COLOR");
        for (k, v) in env {
            c.env(k, v);
        }
        c.assert().code(125).get_output().stderr.clone()
    };
    let always = err(&[], true);
    assert!(
        always.starts_with(b"\x1b[1;31mberth:\x1b[0m invalid IP address: 80"),
        "{}",
        String::from_utf8_lossy(&always)
    );
    let no_color = err(&[("NO_COLOR", "1")], true);
    assert!(
        !no_color.contains(&0x1b),
        "NO_COLOR must win: {}",
        String::from_utf8_lossy(&no_color)
    );
    assert!(no_color.starts_with(b"berth: invalid IP address: 80"));
    let auto = err(&[], false);
    assert!(
        !auto.contains(&0x1b),
        "auto off a terminal: {}",
        String::from_utf8_lossy(&auto)
    );
    let env_never = err(&[("BERTH_COLOR", "never")], true);
    assert!(!env_never.contains(&0x1b));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `berth --help` lists the commands it hands to the docker CLI beside its own, and none
/// of the handed-over ones is one berth implements.
#[test]
fn help_lists_the_docker_cli_commands_too() {
    let out = berth().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (_, rest) = text
        .split_once("Docker CLI commands")
        .expect("no list of the docker CLI's commands");
    let list: Vec<&str> = rest
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    for w in [
        "logs", "exec", "images", "network", "volume", "compose", "version",
    ] {
        assert!(list.contains(&w), "{w} missing from {list:?}");
    }
    for w in &list {
        assert!(!berth::passthrough::NATIVE.contains(w), "{w} is native");
    }
}
