//! IPv6, end to end: on a network with IPv6 a binding with no host address is published
//! on 0.0.0.0 and [::] with one host port, ip6tables mirrors every rule, and the port
//! is reached over IPv6 and IPv4 from a second host (a network namespace with a unique
//! local address of its own) and over this host's own IPv6 address; direct IPv6 routing
//! to the container is dropped. On the default (IPv4-only) bridge berth shows and
//! publishes IPv4 only, and refuses what the kernel cannot NAT.

mod common;

use common::*;

const HELLO: &str = "hello from berth\n";

/// A docker network with IPv6, removed when dropped.
struct Network {
    name: String,
}

impl Network {
    fn ipv6(what: &str, subnet: &str) -> Network {
        tidy_once();
        let name = unique(what);
        // a network a killed run left on the same subnet
        let (_, list) = sh("docker network ls --format '{{.Name}}'");
        for n in list.lines().filter(|n| n.starts_with(PREFIX)) {
            let (_, subs) = sh(&format!(
                "docker network inspect -f '{{{{range .IPAM.Config}}}}{{{{.Subnet}}}} {{{{end}}}}' {n}"
            ));
            if subs.contains(subnet) {
                sh(&format!("docker network rm {n}"));
            }
        }
        sh_ok(&format!(
            "docker network create --ipv6 --subnet {subnet} {name}"
        ));
        Network { name }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        sh(&format!("docker network rm {}", self.name));
    }
}

fn ip6_of(name: &str) -> String {
    sh_ok(&format!(
        "docker inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.GlobalIPv6Address}}}}{{{{end}}}}' {name}"
    ))
    .trim()
    .to_string()
}

/// Every ip6tables rule line of one container.
fn rules6_of(id12: &str) -> Vec<String> {
    sh_ok("ip6tables-save")
        .lines()
        .filter(|l| l.contains(&format!("berth:{id12}")))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn a_port_on_an_ipv6_network_is_reached_over_both_families() {
    let net = Network::ipv6("v6net", "fd00:b1:e2e::/64");
    let peer = Peer::dual();
    let web = run_detached(
        "v6web",
        &[
            "--network",
            &net.name,
            "-p",
            "18840:80",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    let ip6 = ip6_of(&web.name);
    assert!(ip6.starts_with("fd00:b1:e2e::"), "no IPv6 address: {ip6}");
    let own6 = peer.host_ip6();
    let hello = Some(HELLO.to_string());
    assert!(
        eventually(5, || peer.curl(&format!("http://[{own6}]:18840/")) == hello),
        "IPv6 from the second host"
    );
    assert_eq!(
        peer.curl(&format!("http://{}:18840/", peer.host_ip)),
        hello,
        "IPv4 from the second host"
    );
    assert_eq!(
        curl(&format!("http://[{own6}]:18840/")),
        hello,
        "this host's own IPv6 address"
    );
    assert_eq!(curl("http://127.0.0.1:18840/"), hello, "127.0.0.1");

    // both families shown, one host port, as docker shows them
    assert_eq!(
        berth_ok(&["port", &web.name]),
        "80/tcp -> 0.0.0.0:18840\n80/tcp -> [::]:18840\n"
    );
    let ps = berth_ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(
        ps.contains(&format!(
            "{} 0.0.0.0:18840->80/tcp, [::]:18840->80/tcp",
            web.name
        )),
        "{ps}"
    );
    // ip6tables mirrors the rules: DNAT, jump, hairpin, FORWARD, raw guard
    let rules = rules6_of(&web.id12());
    assert_eq!(rules.len(), 5, "{rules:#?}");
    assert!(
        rules
            .iter()
            .any(|r| r.ends_with(&format!("--to-destination [{ip6}]:80")))
    );

    // direct IPv6 routing to the container from the second host: dropped by berth's
    // guard (positive control: without the guard, the engine lets it through, or the
    // engine drops it itself)
    let (ok, out) = peer.exec(&format!("ip -6 route add fd00:b1:e2e::/64 via {own6}"));
    assert!(ok, "{out}");
    let direct = format!("http://[{ip6}]:80/");
    assert_eq!(
        peer.curl(&direct),
        None,
        "direct IPv6 routing to the container"
    );
    let guard = rules
        .iter()
        .find(|r| r.starts_with("-A BERTH-RAW") && r.contains(&format!("-d {ip6}/128 ")))
        .expect("a raw guard")
        .clone();
    sh_ok(&format!(
        "ip6tables -t raw {}",
        guard.replacen("-A ", "-D ", 1)
    ));
    let without_guard = peer.curl(&direct);
    berth_ok(&["nat", "sync"]);
    assert!(
        rules6_of(&web.id12()).contains(&guard),
        "nat sync put the guard back"
    );
    // Docker 20.10 leaves IPv6 routing to containers open; Docker 28 drops it in raw
    // PREROUTING itself (a rule for the address, not berth's)
    let engine_drops = sh_ok("ip6tables-save -t raw")
        .lines()
        .any(|l| l.contains(&format!("-d {ip6}/128 ! -i")) && !l.contains("berth:"));
    if docker_major() < 28 {
        assert_eq!(
            without_guard, hello,
            "the control failed: without berth's guard the container must be reachable"
        );
    } else {
        assert!(
            without_guard == hello || engine_drops,
            "the control failed: without berth's guard the container was unreachable, and the engine has no rule of its own"
        );
    }
    assert_eq!(
        peer.curl(&direct),
        None,
        "direct routing after the guard came back"
    );

    // -P: one host port for both families
    let all = run_detached(
        "v6all",
        &[
            "--network",
            &net.name,
            "-P",
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    let lines = berth_ok(&["port", &all.name, "80"]);
    let ports: Vec<&str> = lines
        .lines()
        .map(|l| l.rsplit(':').next().unwrap())
        .collect();
    assert_eq!(ports.len(), 2, "{lines}");
    assert_eq!(ports[0], ports[1], "{lines}");
    assert!(
        lines.starts_with("0.0.0.0:") && lines.contains("[::]:"),
        "{lines}"
    );
    assert!(eventually(5, || peer
        .curl(&format!("http://[{own6}]:{}/", ports[0]))
        == hello));

    let id = web.id12();
    drop(web);
    assert!(rules6_of(&id).is_empty(), "IPv6 rules left after rm");
    assert_eq!(peer.curl(&format!("http://[{own6}]:18840/")), None);
}

fn docker_major() -> u32 {
    sh_ok("docker version --format '{{.Server.Version}}'")
        .trim()
        .split('.')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn an_explicit_ipv6_address_publishes_on_it_alone() {
    let net = Network::ipv6("v6host", "fd00:b1:e2f::/64");
    let peer = Peer::dual();
    let own6 = peer.host_ip6();
    let web = run_detached(
        "v6only",
        &[
            "--network",
            &net.name,
            "-p",
            &format!("[{own6}]:18843:80"),
            "busybox",
            "httpd",
            "-f",
            "-h",
            "/www",
        ],
    );
    let hello = Some(HELLO.to_string());
    assert!(eventually(5, || peer
        .curl(&format!("http://[{own6}]:18843/"))
        == hello));
    assert_eq!(
        berth_ok(&["port", &web.name]),
        format!("80/tcp -> [{own6}]:18843\n")
    );
    // IPv4 has no binding at all
    assert_eq!(peer.curl(&format!("http://{}:18843/", peer.host_ip)), None);
    assert!(
        rules_of(&web.id12()).is_empty(),
        "an IPv4 rule for an IPv6 binding"
    );
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn on_an_ipv4_only_bridge_ipv6_is_neither_shown_nor_made_up() {
    let web = run_detached(
        "v4only",
        &["-p", "18841:80", "busybox", "httpd", "-f", "-h", "/www"],
    );
    assert_eq!(berth_ok(&["port", &web.name]), "80/tcp -> 0.0.0.0:18841\n");
    assert!(
        rules6_of(&web.id12()).is_empty(),
        "IPv6 rules for a container without IPv6"
    );
    // positive control: the IPv4 port serves
    assert!(eventually(5, || curl("http://127.0.0.1:18841/").is_some()));

    for (spec, why) in [
        (
            "[::1]:18842:80",
            "the kernel does not forward IPv6 loopback traffic to a container",
        ),
        ("[fd00:198:18::1]:18842:80", "network bridge has no IPv6"),
    ] {
        let name = unique("refused");
        let before4 = sh_ok("iptables-save | grep -c berth: || true");
        let before6 = sh_ok("ip6tables-save | grep -c berth: || true");
        let o = berth(&[
            "run", "-d", "--name", &name, "-p", spec, "busybox", "httpd", "-f", "-h", "/www",
        ]);
        assert_eq!(o.status.code(), Some(125), "{spec}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{spec}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(spec.split(':').next().unwrap()),
            "names the binding: {}",
            stderr(&o)
        );
        assert!(
            !sh(&format!("docker inspect {name}")).0,
            "{spec}: a container was created"
        );
        assert_eq!(sh_ok("iptables-save | grep -c berth: || true"), before4);
        assert_eq!(sh_ok("ip6tables-save | grep -c berth: || true"), before6);
    }
}
