//! `alias docker=berth`, end to end: a typical service line runs and serves, tools that
//! read `docker inspect` and `docker ps --filter` see berth's ports, a container that
//! comes back at another address (start, restart, create + start) is published there,
//! and the commands berth does not implement are the docker CLI's own (output, terminal
//! and exit code), with the docker CLI on the machine as the oracle.

mod common;

use common::*;

/// The docker CLI berth hands its other commands to, and the judge of berth's texts.
fn docker(args: &[&str]) -> (i32, String, String) {
    let o = docker_cli().args(args).output().expect("run docker");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn berth_all(args: &[&str]) -> (i32, String, String) {
    let o = berth(args);
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// A page of the test's own, to serve from a read-only volume.
struct Site(std::path::PathBuf);

impl Site {
    fn new(text: &str) -> Site {
        let dir = std::env::temp_dir().join(unique("site"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), text).unwrap();
        Site(dir)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_service_line_runs_serves_and_tools_see_its_port() {
    tidy_once();
    let site = Site::new("served from a volume\n");
    let name = unique("svc");
    let c = Container::named(&name);
    let volume = format!("{}:/www:ro", site.0.display());
    berth_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--restart",
        "unless-stopped",
        "-v",
        &volume,
        "-e",
        "GREETING=hello",
        "-p",
        "18880:80",
        "busybox",
        "httpd",
        "-f",
        "-h",
        "/www",
    ]);
    assert!(
        eventually(5, || curl("http://127.0.0.1:18880/").as_deref()
            == Some("served from a volume\n")),
        "the service does not serve"
    );
    // what the engine got, by the docker CLI
    let (_, seen, _) = docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.RestartPolicy.Name}} {{range .Mounts}}{{.Source}}:{{.Destination}}:{{.RW}}{{end}} {{range .Config.Env}}{{.}},{{end}}",
        &name,
    ]);
    assert!(
        seen.starts_with(&format!("unless-stopped {}:/www:false ", site.0.display())),
        "{seen}"
    );
    assert!(seen.contains("GREETING=hello,"), "{seen}");
    // scripts that read inspect find berth's port where docker puts its own
    let port = berth_ok(&[
        "inspect",
        "-f",
        "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}",
        &name,
    ]);
    assert_eq!(port, "18880\n");
    let bindings = berth_ok(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", &name]);
    assert_eq!(
        bindings,
        "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"18880\"}]}\n"
    );
    // ps --filter publish finds it (the engine does not know berth's ports)
    let found = berth_ok(&["ps", "--filter", "publish=18880", "--format", "{{.Names}}"]);
    assert_eq!(found, format!("{name}\n"));
    let none = berth_ok(&["ps", "--filter", "publish=18879", "--format", "{{.Names}}"]);
    assert_eq!(none, "", "a port nothing publishes matched");
    drop(c);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn ps_filters_match_docker() {
    tidy_once();
    // a container docker published: both CLIs judge the same engine data
    let name = unique("dpub");
    let _g = Container::named(&name);
    sh_ok(&format!(
        "docker run -d --name {name} -l tier=web -p 18882:80 busybox httpd -f -h /www"
    ));
    let other = unique("dother");
    let _o = Container::named(&other);
    sh_ok(&format!(
        "docker create --name {other} -l tier=db busybox true"
    ));
    for filters in [
        vec!["publish=18882"],
        vec!["publish=18882/udp"],
        vec!["publish=18880-18890"],
        vec![&format!("name={name}") as &str],
        vec!["label=tier=web"],
        vec!["label=tier"],
        vec!["status=created"],
        vec!["status=running", "label=tier"],
        vec!["expose=80"],
        vec!["publish=18882:80"],
        vec!["nosuchfilter=1"],
    ] {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        for f in &filters {
            args.push("--filter");
            args.push(f);
        }
        let (dc, dout, derr) = docker(&args);
        let (bc, bout, berr) = berth_all(&args);
        // only the containers of this test: other tests' leftovers may be listed too
        let mine = |out: &str| -> Vec<String> {
            out.lines()
                .filter(|l| *l == name || *l == other)
                .map(str::to_string)
                .collect()
        };
        assert_eq!(
            (bc, mine(&bout), berr.replace("berth", "docker")),
            (dc, mine(&dout), derr),
            "ps --filter {filters:?}"
        );
    }
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_container_back_at_another_address_is_published_there() {
    tidy_once();
    let site = Site::new("the berth container\n");
    let volume = format!("{}:/www:ro", site.0.display());
    let page = Some("the berth container\n".to_string());
    // create + start: no rules until it starts
    let name = unique("back");
    let c = Container::named(&name);
    berth_ok(&[
        "create", "--name", &name, "-v", &volume, "-p", "18883:80", "busybox", "httpd", "-f", "-h",
        "/www",
    ]);
    let id12 = c.id12();
    assert!(
        rules_of(&id12).is_empty(),
        "created, not started, yet published"
    );
    assert_eq!(curl("http://127.0.0.1:18883/"), None);
    assert_eq!(berth_ok(&["start", &name]), format!("{name}\n"));
    assert!(eventually(5, || curl("http://127.0.0.1:18883/") == page));
    // stopped, its address taken by another container, started again: published at its
    // new address
    let old_ip = c.ip();
    berth_ok(&["stop", "-t", "1", &name]);
    let holder = run_detached("holder", &["busybox", "sleep", "300"]);
    berth_ok(&["start", &name]);
    let new_ip = c.ip();
    assert_ne!(new_ip, old_ip, "the engine gave the old address back");
    assert!(eventually(5, || curl("http://127.0.0.1:18883/") == page));
    assert!(
        rules_of(&id12)
            .iter()
            .any(|r| r.contains(&format!("--to-destination {new_ip}:80"))),
        "{:?}",
        rules_of(&id12)
    );
    assert!(
        !rules_of(&id12).iter().any(|r| r.contains(&old_ip)),
        "a rule still leads to the old address"
    );
    // restart: published again after it
    assert_eq!(
        berth_ok(&["restart", "-t", "1", &name]),
        format!("{name}\n")
    );
    assert!(eventually(5, || curl("http://127.0.0.1:18883/") == page));
    let after = c.ip();
    assert!(
        rules_of(&id12)
            .iter()
            .any(|r| r.contains(&format!("--to-destination {after}:80")))
    );
    drop(holder);
    drop(c);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn other_commands_are_the_docker_clis_own() {
    tidy_once();
    let web = run_detached(
        "pass",
        &[
            "busybox",
            "sh",
            "-c",
            "echo line-one; echo line-two >&2; exec httpd -f -h /www",
        ],
    );
    assert!(eventually(5, || web.logs().contains("line-two")));
    // the same output and status as docker's, for each
    for args in [
        vec!["logs", web.name.as_str()],
        vec!["images", "--format", "{{.Repository}}:{{.Tag}}", "busybox"],
        vec!["version", "--format", "{{.Client.Version}}"],
        vec!["exec", web.name.as_str(), "cat", "/www/index.html"],
        vec!["logs", "berth-no-such-container"],
        vec!["exec", web.name.as_str(), "sh", "-c", "exit 7"],
        vec!["container", "top", web.name.as_str(), "-o", "comm"],
    ] {
        let d = docker(&args);
        let b = berth_all(&args);
        assert_eq!(b, d, "berth {args:?}");
    }
    // positive control: these really ran (output, and the failing ones failed)
    assert_eq!(docker(&["logs", &web.name]).1, "line-one\n");
    assert_eq!(berth_all(&["exec", &web.name, "sh", "-c", "exit 7"]).0, 7);
    assert_ne!(berth_all(&["logs", "berth-no-such-container"]).0, 0);
    // exec -it under a pseudo-terminal: the container's shell answers what was typed
    let cmd = format!(
        "printf 'echo typed-$((6*7))\\nexit 3\\n' | script -qec '{} exec -it {} sh' /dev/null",
        berth_bin(),
        web.name
    );
    let (_, out) = sh(&format!(
        "BERTH_WATCH=off timeout 30 sh -c \"{cmd}\"; echo \"status=$?\""
    ));
    assert!(out.contains("typed-42"), "{out}");
    assert!(out.contains("status=3"), "{out}");
}
