//! `build` against docker's behaviour, from command lines parsed by berth's own clap
//! definitions.

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};

/// The create args of `berth create WORDS...`, or clap's error text.
fn parse_create(words: &[&str]) -> Result<ContainerArgs, String> {
    let mut argv = vec!["berth", "create"];
    argv.extend_from_slice(words);
    match Cli::try_parse_from(argv) {
        Ok(cli) => match cli.command {
            Command::Create(c) => Ok(c.container),
            other => Err(format!("not create: {other:?}")),
        },
        Err(e) => Err(format!("{:?}: {}", e.kind(), e)),
    }
}

#[test]
fn parses_a_plain_create() {
    let a = parse_create(&["busybox"]).unwrap();
    assert_eq!(a.image(), "busybox");
}

#[test]
fn parses_like_app() {
    use clap::{CommandFactory, FromArgMatches};
    let m = Cli::command()
        .try_get_matches_from(["berth", "create", "busybox"])
        .map_err(|e| format!("{:?} {e}", e.kind()))
        .unwrap();
    let r = Cli::from_arg_matches(&m).map_err(|e| format!("{:?} {e}", e.kind()));
    assert!(r.is_ok(), "{r:?}");
}

fn spec_of(words: &[&str]) -> Result<Spec, SpecError> {
    spec_for(Verb::Create, false, words)
}

fn spec_for(verb: Verb, detach: bool, words: &[&str]) -> Result<Spec, SpecError> {
    let a = parse_create(words).expect("parses");
    let env = |k: &str| match k {
        "HOME" => Some("/root".to_string()),
        _ => None,
    };
    build(&a, verb, detach, &env, Path::new("/work"))
}

fn host(s: &Spec) -> &HostConfig {
    s.body.host_config.as_ref().unwrap()
}

fn parse_err(words: &[&str]) -> String {
    match spec_of(words) {
        Err(SpecError::Parse(m)) => m,
        other => panic!("{words:?}: {other:?}"),
    }
}

#[test]
fn the_default_body_is_dockers() {
    let s = spec_of(&["busybox"]).unwrap();
    let b = &s.body;
    assert_eq!(b.image.as_deref(), Some("busybox"));
    assert_eq!(b.cmd, None);
    assert_eq!(b.entrypoint, None);
    assert_eq!(b.env, None);
    assert_eq!(b.volumes, Some(vec![]));
    assert_eq!(
        (b.attach_stdin, b.attach_stdout, b.attach_stderr),
        (Some(false), Some(true), Some(true))
    );
    assert_eq!(b.healthcheck, None);
    assert_eq!(b.stop_timeout, None);
    let labels = b.labels.as_ref().unwrap();
    // only `run --rm` marks the berth that made it (for the reaper)
    assert!(!labels.contains_key(crate::model::RUN_LABEL));
    for (verb, words, marked) in [
        (Verb::Run, &["--rm", "busybox"][..], true),
        (Verb::Run, &["busybox"][..], false),
        (Verb::Create, &["--rm", "busybox"][..], false),
    ] {
        let s = spec_for(verb, false, words).unwrap();
        let labels = s.body.labels.unwrap_or_default();
        assert_eq!(
            labels.contains_key(crate::model::RUN_LABEL),
            marked,
            "{verb:?} {words:?}"
        );
    }
    let h = host(&s);
    assert_eq!(h.network_mode.as_deref(), Some("default"));
    assert_eq!(
        h.restart_policy,
        Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: Some(0)
        })
    );
    assert_eq!(h.memory_swappiness, Some(-1));
    assert_eq!(h.pids_limit, Some(0));
    assert_eq!(h.oom_kill_disable, Some(false));
    assert_eq!(h.dns, Some(vec![]));
    assert_eq!(h.devices, Some(vec![]));
    assert_eq!(h.ulimits, Some(vec![]));
    assert_eq!(h.binds, None);
    assert_eq!(h.cap_add, None);
    assert_eq!(h.security_opt, None);
    assert_eq!(h.init, None);
    assert_eq!(h.console_size, Some(vec![0, 0]));
    let eps = b
        .networking_config
        .as_ref()
        .unwrap()
        .endpoints_config
        .as_ref()
        .unwrap();
    assert_eq!(eps.len(), 1);
    assert!(eps.contains_key("default"));
    assert_eq!(s.pull, Pull::Missing);
    assert!(s.deferred.is_empty());
    assert!(s.notices.is_empty());
}

#[test]
fn pflag_syntax() {
    // a value-taking flag takes the next word even when it starts with '-'
    let s = spec_of(&["--memory-swap", "-1", "-m", "1g", "busybox"]).unwrap();
    assert_eq!(host(&s).memory_swap, Some(-1));
    assert_eq!(host(&s).memory, Some(1 << 30));
    // bool flags: `--flag=false`, short groups, and the last value of a scalar wins
    let s = spec_of(&["-it=false", "--rm=false", "-m1g", "-m", "2g", "busybox"]).unwrap();
    assert_eq!((s.body.open_stdin, s.body.tty), (Some(true), Some(false)));
    assert_eq!(host(&s).auto_remove, Some(false));
    assert_eq!(host(&s).memory, Some(2 << 30));
    let a = parse_create(&["-itm", "1g", "busybox", "-m", "x"]).unwrap();
    assert_eq!(a.memory, Some(1 << 30));
    assert_eq!(a.command(), ["-m", "x"]);
    // hidden aliases
    let a = parse_create(&[
        "--net",
        "host",
        "--net-alias",
        "a",
        "--dns-opt",
        "x",
        "busybox",
    ])
    .unwrap();
    assert_eq!(a.network.as_deref(), Some("host"));
    assert_eq!(a.network_alias, ["a"]);
    assert_eq!(a.dns_option, ["x"]);
    // -h is the hostname
    let a = parse_create(&["-h", "box", "busybox"]).unwrap();
    assert_eq!(a.hostname.as_deref(), Some("box"));
    // value errors come from the value parsers, in docker's words
    let e = parse_create(&["-m", "12x", "busybox"]).unwrap_err();
    assert!(e.starts_with("ValueValidation"), "{e}");
    assert!(e.contains("invalid suffix: 'x'"), "{e}");
}

#[test]
fn volumes_and_mounts() {
    let s = spec_of(&[
        "-v",
        "/anon",
        "-v",
        "named:/data",
        "-v",
        "./rel:/rel:ro",
        "-v",
        "/a:/b",
        "-v",
        "/a:/b",
        "--mount",
        "type=bind,src=./x/../y,dst=/y",
        "--tmpfs",
        "/run:size=1m",
        "busybox",
    ])
    .unwrap();
    assert_eq!(s.body.volumes, Some(vec!["/anon".to_string()]));
    assert_eq!(
        host(&s).binds,
        Some(vec![
            "named:/data".to_string(),
            "/work/rel:/rel:ro".to_string(),
            "/a:/b".to_string()
        ])
    );
    let m = &host(&s).mounts.as_ref().unwrap()[0];
    assert_eq!(m.source.as_deref(), Some("/work/y"));
    assert_eq!(m.typ, Some(MountType::BIND));
    assert_eq!(host(&s).tmpfs.as_ref().unwrap()["/run"], "size=1m");
    assert_eq!(
        parse_err(&["-v", ":/x", "busybox"]),
        "invalid spec: :/x: empty section between colons"
    );
    let s = spec_of(&["--mount", "type=foo,dst=/x", "busybox"]).unwrap();
    assert_eq!(
        s.deferred,
        [Deferred::MountType {
            index: 0,
            typ: "foo".into()
        }]
    );
}

#[test]
fn environment_and_labels() {
    let s = spec_of(&[
        "-e", "A=1", "-e", "HOME", "-e", "NOPE", "-e", "A=2", "-l", "k", "-l", "a=b=c", "busybox",
    ])
    .unwrap();
    assert_eq!(
        s.body.env,
        Some(vec![
            "A=2".to_string(),
            "HOME=/root".to_string(),
            "NOPE".to_string()
        ])
    );
    let labels = s.body.labels.as_ref().unwrap();
    assert_eq!(labels["k"], "");
    assert_eq!(labels["a"], "b=c");
    assert_eq!(
        parse_err(&["-l", "io.berth.ports=1", "busybox"]),
        "the label io.berth.ports is berth's own"
    );
    assert_eq!(
        parse_err(&["--env-file", "/nonexistent", "busybox"]),
        "--env-file: open /nonexistent: no such file or directory"
    );
}

#[test]
fn restart_and_rm() {
    let s = spec_of(&["--restart", "on-failure:3", "busybox"]).unwrap();
    assert_eq!(
        host(&s).restart_policy,
        Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: Some(3)
        })
    );
    let s = spec_of(&["--restart", "", "busybox"]).unwrap();
    assert_eq!(
        host(&s).restart_policy.as_ref().unwrap().name,
        Some(RestartPolicyNameEnum::EMPTY)
    );
    let s = spec_of(&["--restart", "sometimes", "busybox"]).unwrap();
    assert_eq!(
        s.deferred,
        [Deferred::RestartPolicy {
            name: "sometimes".into(),
            count: 0
        }]
    );
    assert_eq!(
        parse_err(&["--restart", ":3", "busybox"]),
        "invalid restart policy format: no policy provided before colon"
    );
    assert_eq!(
        parse_err(&["--restart", "always:2:3", "busybox"]),
        "invalid restart policy format: maximum retry count must be an integer"
    );
    assert_eq!(
        parse_err(&["--rm", "--restart", "always", "busybox"]),
        "conflicting options: cannot specify both --restart and --rm"
    );
    assert!(spec_of(&["--rm", "--restart", "no", "busybox"]).is_ok());
}

#[test]
fn checks_run_in_dockers_order() {
    // the ports come before the namespaces, the mac address before everything
    assert_eq!(
        parse_err(&["--pid", "foo", "-p", "70000:80", "busybox"]),
        "invalid hostPort: 70000"
    );
    assert_eq!(
        parse_err(&["--pid", "foo", "--mac-address", "x", "busybox"]),
        "x is not a valid mac address"
    );
    assert_eq!(
        parse_err(&["--memory-swappiness", "101", "-v", ":/x", "busybox"]),
        "invalid value: 101. Valid memory swappiness range is 0-100"
    );
    assert_eq!(
        parse_err(&[
            "--restart",
            ":1",
            "--log-driver",
            "none",
            "--log-opt",
            "a=b",
            "busybox"
        ]),
        "invalid restart policy format: no policy provided before colon"
    );
    assert_eq!(
        parse_err(&["--pull", "foo", "--pid", "x", "busybox"]),
        "invalid pull option: 'foo': must be one of \"always\", \"missing\" or \"never\""
    );
}

#[test]
fn health_checks() {
    let s = spec_of(&[
        "--health-cmd",
        "true",
        "--health-interval",
        "10s",
        "--health-retries",
        "3",
        "busybox",
    ])
    .unwrap();
    assert_eq!(
        s.body.healthcheck,
        Some(HealthConfig {
            test: Some(vec!["CMD-SHELL".into(), "true".into()]),
            interval: Some(10_000_000_000),
            retries: Some(3),
            ..HealthConfig::default()
        })
    );
    let s = spec_of(&["--health-interval", "1s", "busybox"]).unwrap();
    assert_eq!(s.body.healthcheck.as_ref().unwrap().test, None);
    let s = spec_of(&["--no-healthcheck", "busybox"]).unwrap();
    assert_eq!(
        s.body.healthcheck.unwrap().test,
        Some(vec!["NONE".to_string()])
    );
    assert_eq!(
        parse_err(&["--no-healthcheck", "--health-retries", "1", "busybox"]),
        "--no-healthcheck conflicts with --health-* options"
    );
    assert_eq!(
        parse_err(&[
            "--health-timeout",
            "-1s",
            "--health-interval",
            "-1s",
            "busybox"
        ]),
        "--health-interval cannot be negative"
    );
    // an explicit empty command is no setting
    assert!(
        spec_of(&["--health-cmd=", "busybox"])
            .unwrap()
            .body
            .healthcheck
            .is_none()
    );
}

#[test]
fn networks() {
    let s = spec_of(&["--network", "host", "busybox"]).unwrap();
    assert_eq!(host(&s).network_mode.as_deref(), Some("host"));
    let eps = s.body.networking_config.unwrap().endpoints_config.unwrap();
    assert!(eps.is_empty());
    let s = spec_of(&[
        "--network",
        "mynet",
        "--network-alias",
        "web",
        "--ip",
        "10.0.0.5",
        "--link",
        "db:d",
        "busybox",
    ])
    .unwrap();
    assert_eq!(host(&s).links, Some(vec!["db:d".to_string()]));
    let eps = s.body.networking_config.unwrap().endpoints_config.unwrap();
    let ep = &eps["mynet"];
    assert_eq!(ep.aliases, Some(vec!["web".to_string()]));
    assert_eq!(ep.links, Some(vec!["db:d".to_string()]));
    assert_eq!(
        ep.ipam_config.as_ref().unwrap().ipv4_address.as_deref(),
        Some("10.0.0.5")
    );
    assert_eq!(
        parse_err(&["--network-alias", "x", "busybox"]),
        "network-scoped aliases are only supported for user-defined networks"
    );
    let s = spec_of(&["--mac-address", "02:42:AC:11:00:02", "busybox"]).unwrap();
    let eps = s
        .body
        .networking_config
        .as_ref()
        .unwrap()
        .endpoints_config
        .as_ref()
        .unwrap();
    assert_eq!(
        eps["default"].mac_address.as_deref(),
        Some("02:42:ac:11:00:02")
    );
    assert_eq!(
        daemon_check(&s, Verb::Create, "1.41"),
        Err(SpecError::Plain {
            message: "\"specify mac-address per network\" requires API version 1.44, but the Docker daemon API version is 1.41".into(),
            code: 1
        })
    );
    assert_eq!(daemon_check(&s, Verb::Create, "1.51"), Ok(()));
}

#[test]
fn security_and_capabilities() {
    let s = spec_of(&[
        "--cap-add",
        "net_admin",
        "--cap-add",
        "NET_ADMIN",
        "--cap-add",
        "all",
        "--security-opt",
        "systempaths=unconfined",
        "busybox",
    ])
    .unwrap();
    assert_eq!(
        host(&s).cap_add,
        Some(vec!["ALL".to_string(), "CAP_NET_ADMIN".to_string()])
    );
    assert_eq!(host(&s).security_opt, Some(vec![]));
    assert_eq!(host(&s).masked_paths, Some(vec![]));
    assert_eq!(
        parse_err(&["--security-opt", "foo", "busybox"]),
        "invalid --security-opt: \"foo\""
    );
    let s = spec_of(&[
        "--security-opt",
        "no-new-privileges",
        "--security-opt",
        "label:disable",
        "busybox",
    ])
    .unwrap();
    assert_eq!(
        host(&s).security_opt,
        Some(vec![
            "no-new-privileges".to_string(),
            "label:disable".to_string()
        ])
    );
    assert_eq!(
        parse_err(&["--security-opt", "seccomp=/nonexistent", "busybox"]),
        "opening seccomp profile (/nonexistent) failed: open /nonexistent: no such file or directory"
    );
    assert_eq!(
        json_compact(b"{ \"a\" : [1, 2],\n \"b c\": \" x \" }").unwrap(),
        "{\"a\":[1,2],\"b c\":\" x \"}"
    );
    assert_eq!(
        parse_err(&["--cgroupns", "x", "busybox"]),
        "--cgroupns: invalid CGROUP mode"
    );
    assert_eq!(
        parse_err(&["--pid", "container:", "busybox"]),
        "--pid: invalid PID mode"
    );
    assert!(spec_of(&["--pid", "container:x", "busybox"]).is_ok());
}

#[test]
fn devices_gpus_ulimits() {
    let s = spec_of(&[
        "--device",
        "/dev/sda:/dev/xvda:r",
        "--device",
        "vendor.com/class=x",
        "--gpus",
        "all",
        "--ulimit",
        "nproc=1",
        "--ulimit",
        "core=2",
        "--ulimit",
        "nproc=3",
        "busybox",
    ])
    .unwrap();
    let h = host(&s);
    assert_eq!(
        h.devices,
        Some(vec![DeviceMapping {
            path_on_host: Some("/dev/sda".into()),
            path_in_container: Some("/dev/xvda".into()),
            cgroup_permissions: Some("r".into())
        }])
    );
    let reqs = h.device_requests.as_ref().unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].count, Some(-1));
    assert_eq!(reqs[1].driver.as_deref(), Some("cdi"));
    let names: Vec<_> = h
        .ulimits
        .as_ref()
        .unwrap()
        .iter()
        .map(|u| (u.name.clone().unwrap(), u.soft.unwrap()))
        .collect();
    assert_eq!(names, [("core".to_string(), 2), ("nproc".to_string(), 3)]);
    assert_eq!(
        parse_err(&["--device", "rr", "busybox"]),
        "rr is not an absolute path"
    );
}

#[test]
fn run_detached_and_attach() {
    let s = spec_for(Verb::Run, true, &["-i", "busybox"]).unwrap();
    assert_eq!(
        (
            s.body.attach_stdin,
            s.body.attach_stdout,
            s.body.stdin_once,
            s.body.open_stdin
        ),
        (Some(false), Some(false), Some(false), Some(true))
    );
    let s = spec_of(&["-a", "stdin", "-a", "STDOUT", "-i", "-t", "busybox"]).unwrap();
    assert_eq!(
        (
            s.body.attach_stdin,
            s.body.attach_stdout,
            s.body.attach_stderr,
            s.body.stdin_once
        ),
        (Some(true), Some(true), Some(false), Some(true))
    );
    assert_eq!(
        spec_for(Verb::Run, true, &["-a", "stdout", "busybox"]).unwrap_err(),
        SpecError::Plain {
            message: "conflicting options: cannot specify both --attach and --detach".into(),
            code: 1
        }
    );
    assert_eq!(
        check_tty(&s, false).unwrap_err().to_string(),
        "cannot attach stdin to a TTY-enabled container because stdin is not a terminal"
    );
    assert!(check_tty(&s, true).is_ok());
    assert!(validate_detach_keys("ctrl-p,ctrl-q").is_ok());
    assert!(validate_detach_keys("a,DEL").is_ok());
    assert_eq!(
        validate_detach_keys("foo").unwrap_err().to_string(),
        "invalid detach keys (foo): Unknown character: 'foo'"
    );
}

#[test]
fn flags_of_newer_engines() {
    let a = parse_create(&[
        "--annotation",
        "a=b",
        "--cpu-count",
        "2",
        "--init",
        "busybox",
    ])
    .unwrap();
    assert_eq!(
        check_supported(&a, "1.41", "linux").unwrap_err(),
        SpecError::Plain {
            message: "\"--annotation\" requires API version 1.43, but the Docker daemon API version is 1.41\n\"--cpu-count\" is only supported on a Docker daemon running on windows, but the Docker daemon is running on linux".into(),
            code: 1
        }
    );
    let a = parse_create(&["--annotation", "a=b", "busybox"]).unwrap();
    assert!(check_supported(&a, "1.43", "linux").is_ok());
}

#[test]
fn the_engines_words_by_version() {
    let s = spec_of(&["--restart", "sometimes", "busybox"]).unwrap();
    assert_eq!(
        daemon_check(&s, Verb::Create, "1.41").unwrap_err(),
        SpecError::Plain {
            message: "Error response from daemon: invalid restart policy 'sometimes'".into(),
            code: 1
        }
    );
    assert_eq!(
        daemon_check(&s, Verb::Run, "1.51").unwrap_err().to_string(),
        "berth: Error response from daemon: invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'\n\nRun 'berth run --help' for more information"
    );
    let s = spec_of(&["--isolation", "foo", "--restart", "x", "busybox"]).unwrap();
    assert_eq!(
        daemon_check(&s, Verb::Create, "1.41")
            .unwrap_err()
            .to_string(),
        "Error response from daemon: Invalid isolation: \"foo\" - linux only supports 'default'"
    );
    assert_eq!(
        daemon_check(&s, Verb::Create, "1.51")
            .unwrap_err()
            .to_string(),
        "Error response from daemon: invalid isolation (foo): linux only supports 'default'"
    );
    let s = spec_of(&[
        "--mount",
        "type=bind,src=/a,dst=/b,bind-propagation=foo",
        "busybox",
    ])
    .unwrap();
    assert_eq!(
        daemon_check(&s, Verb::Create, "1.41")
            .unwrap_err()
            .to_string(),
        "Error response from daemon: invalid mount config for type \"bind\": invalid propagation mode: foo"
    );
    let s = spec_of(&["--mount", "type=foo", "busybox"]).unwrap();
    assert_eq!(
        daemon_check(&s, Verb::Create, "1.51")
            .unwrap_err()
            .to_string(),
        "Error response from daemon: invalid mount config for type \"foo\": field Target must not be empty"
    );
    let s = spec_of(&["busybox"]).unwrap();
    assert_eq!(daemon_check(&s, Verb::Create, "1.41"), Ok(()));
}

#[test]
fn pull_platform_notices() {
    let s = spec_of(&[
        "--pull",
        "never",
        "-q",
        "--platform",
        "linux/x86_64",
        "--kernel-memory",
        "1g",
        "busybox",
    ])
    .unwrap();
    assert_eq!(s.pull, Pull::Never);
    assert!(s.quiet);
    assert_eq!(s.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(
        s.notices,
        ["Flag --kernel-memory has been deprecated, and no longer supported by the kernel"]
    );
    assert_eq!(
        spec_of(&["--platform", "a/b/c/d", "busybox"]).unwrap_err(),
        SpecError::Plain {
            message: "\"a/b/c/d\": cannot parse platform specifier: invalid argument".into(),
            code: 1
        }
    );
    let e = spec_for(Verb::Run, false, &["--platform", "foo", "busybox"]).unwrap_err();
    assert_eq!(e.code(), 125);
    assert!(
        e.to_string()
            .starts_with("berth: \"foo\": unknown operating system")
    );
    assert_eq!(
        SpecError::create_step(
            Verb::Run,
            "failed to create the container ID file: open /x/y: no such file or directory"
        )
        .code(),
        127
    );
}
