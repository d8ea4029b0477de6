//! `berth nat ls` reading the nat table over netlink (src/nat/netlink.rs), judged by
//! iptables itself. Seeded random nat tables made of what the reader knows (addresses
//! with prefixes and masks, interfaces and their `+`, tcp and udp ports, comments,
//! addrtype, DNAT, MASQUERADE, jumps, gotos, verdicts, counters) are loaded with
//! `iptables-nft-restore -c` into a network namespace of their own; the reader's text
//! must equal `iptables-nft-save -c -t nat`'s byte for byte, for both families, with the
//! system's release (Debian 12: 1.8.9) and with `BERTH_ALT_IPTABLES`'s (1.8.11), which
//! write some rules with other expressions. The binary is checked too: on netlink its
//! listing equals `iptables -t nat -nL` (every flag set, one chain), and a table holding
//! something the reader does not know is listed through iptables-save.
//!
//! Needs root and iptables-nft: ignored by a plain `cargo test`; scripts/test runs
//! them (BERTH_E2E=1). `BERTH_NETLINK_SEEDS` (default 150) sets how many tables.

#[path = "support/nat_ls_netns.rs"]
mod netns;
#[path = "support/nat_ls_gen.rs"]
mod rulegen;

use std::fmt::Write as _;
use std::os::fd::AsRawFd;

use berth::model::Family;
use netns::{Iptables, Netns, TempFile, alt_dir, missing};
use rulegen::{CT_STATES, Rng};

/// What `nat_save` reads, run on a thread that entered the namespace.
fn read_in(ns: &Netns, family: Family, header: &str) -> Option<Vec<u8>> {
    let path = format!("/run/netns/{}", ns.name);
    let header = header.to_string();
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace");
        // SAFETY: setns on this thread only, with a descriptor we hold
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        berth::nat::netlink::nat_save(family, &header)
    })
    .join()
    .expect("the reading thread")
}

const USER_D: [&str; 4] = ["BERTH", "BERTH-0a1b2c3d4e5f", "DOCKER", "a-chain"];
const USER_M: [&str; 3] = ["BERTH-POSTROUTING", "Zed_2", "docker-m"];
const IFACES: [&str; 6] = ["docker0", "eth0", "br-1a2b3c4d5e6f", "veth+", "lo", "e+"];
const COMMENT_CHARS: &[u8] = b"abcXYZ019_-:./ @,=";
const ADDR_TYPES: [&str; 5] = ["LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "BLACKHOLE"];
/// What addrtype takes for IPv6 (the kernel refuses the others there).
const ADDR_TYPES6: [&str; 3] = ["LOCAL", "UNICAST", "MULTICAST"];

fn v4(rng: &mut Rng) -> String {
    let b = |rng: &mut Rng| rng.below(256);
    format!("{}.{}.{}.{}", b(rng), b(rng), b(rng), b(rng))
}

/// An IPv6 address with runs of zeros, never in the IPv4-compatible `::a.b.c.d` form.
fn v6(rng: &mut Rng) -> String {
    let mut w = [0u16; 8];
    for x in w.iter_mut() {
        if !rng.chance(40) {
            *x = rng.below(0x10000) as u16;
        }
    }
    if w[..6].iter().all(|x| *x == 0) {
        w[0] = 0x2001;
    }
    std::net::Ipv6Addr::from(w).to_string()
}

fn address(rng: &mut Rng, family: Family) -> String {
    match family {
        Family::V4 => {
            if rng.chance(15) {
                // a mask that is no prefix
                format!("{}/{}", v4(rng), v4(rng)).replace("/0.0.0.0", "/255.0.255.0")
            } else {
                format!("{}/{}", v4(rng), rng.range(1, 32))
            }
        }
        Family::V6 => {
            if rng.chance(10) {
                format!("::ffff:{}/128", v4(rng))
            } else {
                format!("{}/{}", v6(rng), rng.range(1, 128))
            }
        }
    }
}

fn neg(rng: &mut Rng, percent: u64) -> &'static str {
    if rng.chance(percent) { "! " } else { "" }
}

fn ports(rng: &mut Rng) -> String {
    let lo = rng.range(1, 65000);
    if rng.chance(40) {
        format!("{lo}:{}", rng.range(lo + 1, 65535))
    } else {
        lo.to_string()
    }
}

/// One rule for `chain`, whose kind ('P'rerouting, 'I'nput, 'O'utput, po'S'trouting,
/// 'D'NAT user chain, 'M'ASQUERADE user chain) says what it may hold.
fn rule(rng: &mut Rng, family: Family, chain: &str, kind: char) -> String {
    let mut r = format!("-A {chain}");
    if rng.chance(30) {
        write!(r, " {}-s {}", neg(rng, 30), address(rng, family)).unwrap();
    }
    if rng.chance(30) {
        write!(r, " {}-d {}", neg(rng, 30), address(rng, family)).unwrap();
    }
    if matches!(kind, 'P' | 'I' | 'D') && rng.chance(40) {
        write!(r, " {}-i {}", neg(rng, 40), rng.pick(&IFACES)).unwrap();
    }
    if matches!(kind, 'O' | 'S' | 'M') && rng.chance(40) {
        write!(r, " {}-o {}", neg(rng, 40), rng.pick(&IFACES)).unwrap();
    }
    let mut proto = None;
    if rng.chance(60) {
        let p = *rng.pick(&["tcp", "udp"]);
        if rng.chance(10) {
            write!(r, " ! -p {p}").unwrap();
        } else {
            write!(r, " -p {p}").unwrap();
            proto = Some(p);
        }
    }
    // a comment before the ports, after them, or none
    let early = rng.chance(15);
    let comment = |rng: &mut Rng| {
        let n = rng.range(1, 40);
        let text: String = (0..n).map(|_| *rng.pick(COMMENT_CHARS) as char).collect();
        let text = text.trim().to_string();
        let text = if text.is_empty() {
            "x".to_string()
        } else {
            text
        };
        format!(" -m comment --comment \"{text}\"")
    };
    if early {
        r.push_str(&comment(rng));
    }
    if let Some(p) = proto
        && rng.chance(75)
    {
        write!(r, " -m {p}").unwrap();
        let sport = rng.chance(30);
        if sport {
            write!(r, " {}--sport {}", neg(rng, 20), ports(rng)).unwrap();
        }
        if !sport || rng.chance(70) {
            write!(r, " {}--dport {}", neg(rng, 20), ports(rng)).unwrap();
        }
    }
    if rng.chance(30) {
        r.push_str(" -m addrtype");
        let types = |rng: &mut Rng| {
            let names: &[&str] = match family {
                Family::V4 => &ADDR_TYPES,
                Family::V6 => &ADDR_TYPES6,
            };
            let mut t: Vec<&str> = (0..rng.range(1, 3)).map(|_| *rng.pick(names)).collect();
            t.dedup();
            t.join(",")
        };
        let src = rng.chance(40);
        if src {
            write!(r, " {}--src-type {}", neg(rng, 30), types(rng)).unwrap();
        }
        if !src || rng.chance(60) {
            write!(r, " {}--dst-type {}", neg(rng, 30), types(rng)).unwrap();
        }
        if kind == 'P' && rng.chance(30) {
            r.push_str(" --limit-iface-in");
        }
        if kind == 'O' && rng.chance(30) {
            r.push_str(" --limit-iface-out");
        }
    }
    if !early && rng.chance(40) {
        r.push_str(&comment(rng));
    }
    let jump_d = |rng: &mut Rng| rng.pick(&USER_D).to_string();
    let jump_m = |rng: &mut Rng| rng.pick(&USER_M).to_string();
    let target = match (kind, rng.below(6)) {
        ('P' | 'O' | 'D', 0 | 1) => dnat(rng, family, proto.is_some()),
        ('S' | 'M', 0 | 1) => " -j MASQUERADE".to_string(),
        ('P' | 'O', 2) => format!(" -j {}", jump_d(rng)),
        ('P' | 'O', 3) => format!(" -g {}", jump_d(rng)),
        ('S', 2) => format!(" -j {}", jump_m(rng)),
        ('S', 3) => format!(" -g {}", jump_m(rng)),
        (_, 4) => " -j RETURN".to_string(),
        (_, 5) if rng.chance(50) => " -j ACCEPT".to_string(),
        _ => String::new(),
    };
    r.push_str(&target);
    r
}

fn dnat(rng: &mut Rng, family: Family, ports: bool) -> String {
    let addr = |rng: &mut Rng| match family {
        Family::V4 => v4(rng),
        Family::V6 => v6(rng),
    };
    let mut to = addr(rng);
    if rng.chance(15) {
        to = format!("{to}-{}", addr(rng));
    }
    if ports && rng.chance(80) {
        if family == Family::V6 {
            to = format!("[{to}]");
        }
        let lo = rng.range(1, 60000);
        if rng.chance(40) {
            let hi = rng.range(lo + 1, 65535);
            write!(to, ":{lo}-{hi}").unwrap();
            if rng.chance(50) {
                write!(to, "/{}", rng.range(1, 65535)).unwrap();
            }
        } else {
            write!(to, ":{lo}").unwrap();
        }
    }
    format!(" -j DNAT --to-destination {to}")
}

/// An `iptables-restore -c` nat table of about `n` rules.
fn table(seed: u64, family: Family, n: u64) -> String {
    let mut rng = Rng::new(seed);
    let counts = |rng: &mut Rng| {
        if rng.chance(50) {
            "[0:0]".to_string()
        } else {
            format!("[{}:{}]", rng.below(1 << 20), rng.below(1 << 40))
        }
    };
    let mut out = String::from("*nat\n");
    for b in ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"] {
        writeln!(out, ":{b} ACCEPT {}", counts(&mut rng)).unwrap();
    }
    for c in USER_D.iter().chain(USER_M.iter()) {
        writeln!(out, ":{c} - [0:0]").unwrap();
    }
    let chains: Vec<(&str, char)> = [
        ("PREROUTING", 'P'),
        ("INPUT", 'I'),
        ("OUTPUT", 'O'),
        ("POSTROUTING", 'S'),
    ]
    .into_iter()
    .chain(USER_D.iter().map(|c| (*c, 'D')))
    .chain(USER_M.iter().map(|c| (*c, 'M')))
    .collect();
    for _ in 0..n {
        let (chain, kind) = *rng.pick(&chains);
        let line = rule(&mut rng, family, chain, kind);
        writeln!(out, "{} {line}", counts(&mut rng)).unwrap();
    }
    out.push_str("COMMIT\n");
    out
}

fn seeds() -> u64 {
    std::env::var("BERTH_NETLINK_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

fn family_of(ipt: &Iptables) -> Family {
    if ipt.ipv6() { Family::V6 } else { Family::V4 }
}

/// The nft variant of one family, from the system or the other release's folder.
#[track_caller]
fn nft(ipv6: bool, alt: bool) -> Option<Iptables> {
    let dir = if alt { Some(alt_dir()?) } else { None };
    let ipt = Iptables::new(ipv6, "nft", dir);
    if !ipt.available() {
        missing(&format!("{} is not installed", ipt.label()));
        return None;
    }
    Some(ipt)
}

fn load(ns: &Netns, ipt: &Iptables, text: &str) -> Result<(), String> {
    restore(ns, ipt, "-c", text)
}

/// `iptables-restore FLAG FILE` of `text` in the namespace.
fn restore(ns: &Netns, ipt: &Iptables, flag: &str, text: &str) -> Result<(), String> {
    let rules = TempFile::new("rules", text.as_bytes());
    let out = ns
        .command(ipt.program("-restore"))
        .args([flag, &rules.path.display().to_string()])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn save(ns: &Netns, ipt: &Iptables) -> String {
    let out = ns
        .command(ipt.program("-save"))
        .args(["-c", "-t", "nat"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}-save: {}",
        ipt.label(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A filter table beside the nat one, with chains and rules of its own: the kernel
/// dumps every chain of the family, whatever table was asked for.
fn other_tables(ns: &Netns, ipt: &Iptables) {
    let text = "*filter\n:BERTH-NETLINK-OTHER - [0:0]\n-A INPUT -j BERTH-NETLINK-OTHER\n\
                -A BERTH-NETLINK-OTHER -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
    restore(ns, ipt, "--noflush", text).unwrap_or_else(|e| panic!("{e}"));
    let dump = ns.command("nft").args(["list", "chains"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&dump.stdout).contains("BERTH-NETLINK-OTHER"),
        "the filter table's chain is not there"
    );
}

/// `program ARGS` in the namespace, which must succeed.
fn run_ok(ns: &Netns, program: &str, args: &[&str]) {
    let out = ns.command(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// iptables-save's text without its `# Completed on` line (the reader writes none).
fn without_footer(save: &str) -> String {
    save.lines()
        .filter(|l| !l.starts_with("# Completed on "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!(
                "line {}:\n  iptables-save: {w}\n  berth:         {g}",
                i + 1
            );
        }
    }
    format!(
        "{} lines from iptables-save, {} from berth",
        want.lines().count(),
        got.lines().count()
    )
}

#[track_caller]
fn reads_like_save(ipv6: bool, alt: bool) {
    let Some(ipt) = nft(ipv6, alt) else { return };
    let family = family_of(&ipt);
    let ns = Netns::new();
    other_tables(&ns, &ipt);
    let mut problems = Vec::new();
    let mut loaded = 0;
    for seed in 1..=seeds() {
        let text = table(seed, family, 1 + seed % 60);
        if let Err(e) = load(&ns, &ipt, &text) {
            problems.push(format!(
                "{} seed {seed}: the generated table does not load: {e}",
                ipt.label()
            ));
            continue;
        }
        loaded += 1;
        let want = without_footer(&save(&ns, &ipt));
        let header = want.lines().next().unwrap_or("").to_string();
        match read_in(&ns, family, &header) {
            Some(got) => {
                let got = String::from_utf8(got).unwrap();
                if got != want {
                    let keep = std::env::temp_dir()
                        .join(format!("berth-netlink-{}-{seed}.rules", ipt.tag()));
                    let _ = std::fs::write(&keep, &text);
                    problems.push(format!(
                        "{} seed {seed}: {} (kept in {})",
                        ipt.label(),
                        first_difference(&want, &got),
                        keep.display()
                    ));
                }
            }
            None => problems.push(format!(
                "{} seed {seed}: the reader gave up on a table of what it knows",
                ipt.label()
            )),
        }
    }
    assert!(
        loaded > seeds() / 2,
        "only {loaded} tables loaded: {problems:#?}"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn netlink_reads_what_iptables_save_prints() {
    reads_like_save(false, false);
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn netlink_reads_what_ip6tables_save_prints() {
    reads_like_save(true, false);
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn netlink_reads_what_iptables_save_prints_alt() {
    reads_like_save(false, true);
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn netlink_reads_what_ip6tables_save_prints_alt() {
    reads_like_save(true, true);
}

/// Lines the reader must leave to iptables-save, each with a rule it knows beside it.
const UNKNOWN_V4: &[&str] = &[
    "-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080",
    "-A POSTROUTING -o eth0 -j SNAT --to-source 192.0.2.1",
    "-A POSTROUTING -p udp -j MASQUERADE --to-ports 1000-2000",
    "-A POSTROUTING -j MASQUERADE --random-fully",
    "-A PREROUTING -p tcp -m multiport --dports 80,443 -j RETURN",
    "-A PREROUTING -m limit --limit 5/sec -j RETURN",
    "-A PREROUTING -p icmp -j RETURN",
    "-A PREROUTING -p tcp -m tcp --dport 0:80 -j RETURN",
    "-A PREROUTING -p tcp -m tcp --tcp-flags SYN SYN -j RETURN",
    "-A PREROUTING ! -i + -j RETURN",
    "-A PREROUTING -f -j RETURN",
    "-A OUTPUT -p tcp -j DNAT --to-destination 192.0.2.1:80 --random",
];

/// The same for IPv6: addresses inet_ntop writes with a dotted quad, a mask that is no
/// prefix.
const UNKNOWN_V6: &[&str] = &[
    "-A PREROUTING -d ::102:304/128 -j RETURN",
    "-A PREROUTING -s 2001:db8::/ffff:0:ffff:: -j RETURN",
    "-A OUTPUT -p tcp -j DNAT --to-destination [2001:db8::1]:80 --persistent",
];

fn binary_run(
    ns: &Netns,
    ipt: &Iptables,
    run_dir: &std::path::Path,
    source: &str,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = ns.command("env");
    cmd.arg(format!("PATH={}", ipt.path()))
        .arg("BERTH_IPTABLES=nft")
        .arg(format!("BERTH_RUN_DIR={}", run_dir.display()))
        .arg(format!("BERTH_TABLES_SOURCE={source}"))
        .arg(env!("CARGO_BIN_EXE_berth"))
        .args(["nat", "ls"]);
    if ipt.ipv6() {
        cmd.arg("-6");
    }
    cmd.args(args).output().unwrap()
}

#[track_caller]
fn binary_on_netlink(ipv6: bool, alt: bool) {
    let Some(ipt) = nft(ipv6, alt) else { return };
    let who = ipt.label();
    let family = family_of(&ipt);
    let ns = Netns::new();
    let run_dir = std::env::temp_dir().join(format!(
        "berth-netlink-run-{}-{}",
        std::process::id(),
        ns.name
    ));
    let _ = std::fs::remove_dir_all(&run_dir);
    other_tables(&ns, &ipt);
    let text = table(7, family, 120);
    load(&ns, &ipt, &text).unwrap_or_else(|e| panic!("{who}: {e}"));
    let iptables = |args: &[&str]| {
        let mut cmd = ns.command("env");
        cmd.arg(format!("PATH={}", ipt.path())).arg(ipt.tool(""));
        cmd.args(["-t", "nat", "-n"])
            .args(args.iter().filter(|a| a.starts_with('-')));
        cmd.arg("-L")
            .args(args.iter().filter(|a| !a.starts_with('-')));
        cmd.output().unwrap()
    };

    // nothing remembered yet: netlink alone cannot list (it does not know the release)
    let first = binary_run(&ns, &ipt, &run_dir, "netlink", &[]);
    assert_eq!(
        first.status.code(),
        Some(125),
        "{who}: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stderr).contains("cannot be read over netlink"));
    // a listing through iptables-save remembers it
    let auto = binary_run(&ns, &ipt, &run_dir, "", &[]);
    assert!(
        auto.status.success(),
        "{who}: {}",
        String::from_utf8_lossy(&auto.stderr)
    );
    assert_eq!(
        auto.stdout,
        iptables(&[]).stdout,
        "{who}: the first listing"
    );

    let cases: &[&[&str]] = &[
        &[],
        &["-v"],
        &["-v", "-x"],
        &["--line-numbers"],
        &["-x", "--line-numbers"],
        &["-v", "-x", "--line-numbers"],
        &["BERTH"],
        &["-v", "POSTROUTING"],
    ];
    for args in cases {
        let got = binary_run(&ns, &ipt, &run_dir, "netlink", args);
        assert!(
            got.status.success(),
            "{who} {args:?}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        let want = iptables(args);
        assert!(
            want.stdout == got.stdout,
            "{who} {args:?}: {}",
            first_difference(
                &String::from_utf8_lossy(&want.stdout),
                &String::from_utf8_lossy(&got.stdout)
            )
        );
    }
    for view in [&["--format", "json"][..], &["--table"][..]] {
        let a = binary_run(&ns, &ipt, &run_dir, "netlink", view);
        let b = binary_run(&ns, &ipt, &run_dir, "iptables-save", view);
        assert!(a.status.success() && b.status.success(), "{who} {view:?}");
        assert_eq!(
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout),
            "{who} {view:?}: netlink and iptables-save"
        );
    }
    // comments iptables-save quotes and escapes (`"`, `'`, `\`), one it leaves bare,
    // one not ASCII: added with iptables itself (no restore quoting in between)
    for comment in [r#"a"b'c\d e"#, "plain_-0", "ünï:x"] {
        let out = ns
            .command("env")
            .arg(format!("PATH={}", ipt.path()))
            .arg(ipt.tool(""))
            .args([
                "-t",
                "nat",
                "-A",
                "PREROUTING",
                "-m",
                "comment",
                "--comment",
                comment,
            ])
            .args(["-j", "RETURN"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // one save gives both the header (its time to the second) and the text to match
    let want = without_footer(&save(&ns, &ipt));
    let header = want.lines().next().unwrap_or("");
    let read = read_in(&ns, family, header).map(|t| String::from_utf8(t).unwrap());
    assert_eq!(read, Some(want), "{who}: quoted comments");
    for args in [&["-v"][..], &["--format", "json"][..]] {
        let a = binary_run(&ns, &ipt, &run_dir, "netlink", args);
        let b = binary_run(&ns, &ipt, &run_dir, "iptables-save", args);
        assert!(
            a.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&a.stderr)
        );
        assert_eq!(a.stdout, b.stdout, "{who} {args:?}: quoted comments");
    }

    // legacy tables beside: iptables-nft warns on stderr, and so does berth
    let quiet = binary_run(&ns, &ipt, &run_dir, "netlink", &[]);
    assert_eq!(
        String::from_utf8_lossy(&quiet.stderr),
        "",
        "{who}: no legacy tables yet"
    );
    let legacy = Iptables::new(ipv6, "legacy", None);
    if legacy.available() {
        run_ok(
            &ns,
            &legacy.tool(""),
            &["-t", "mangle", "-N", "BERTH-NETLINK-TEST"],
        );
        let got = binary_run(&ns, &ipt, &run_dir, "netlink", &[]);
        let want = iptables(&[]);
        assert!(
            got.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert!(!want.stderr.is_empty(), "{who}: iptables does not warn");
        assert_eq!(
            String::from_utf8_lossy(&got.stderr),
            String::from_utf8_lossy(&want.stderr),
            "{who}: the legacy tables' warning"
        );
        assert_eq!(got.stdout, want.stdout, "{who}: with legacy tables");
    } else {
        missing(&format!("{} is not installed", legacy.label()));
    }

    let missing_chain = binary_run(&ns, &ipt, &run_dir, "netlink", &["NO-SUCH-CHAIN"]);
    let want = iptables(&["NO-SUCH-CHAIN"]);
    assert_eq!(
        missing_chain.status.code(),
        want.status.code(),
        "{who}: exit status"
    );

    // each thing the reader does not know: netlink gives up, the listing is still right
    let (unknown, known) = if ipv6 {
        (
            UNKNOWN_V6,
            "-A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination [2001:db8::2]:80",
        )
    } else {
        (
            UNKNOWN_V4,
            "-A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination 192.0.2.2:80",
        )
    };
    {
        for line in unknown {
            let t = format!("*nat\n{known}\n{line}\nCOMMIT\n");
            load(&ns, &ipt, &t).unwrap_or_else(|e| panic!("{who}: {line}: {e}"));
            let header = save(&ns, &ipt).lines().next().unwrap_or("").to_string();
            assert!(
                read_in(&ns, family, &header).is_none(),
                "{who}: read {line:?}"
            );
            let forced = binary_run(&ns, &ipt, &run_dir, "netlink", &["-v"]);
            assert_eq!(forced.status.code(), Some(125), "{who}: {line}");
            let auto = binary_run(&ns, &ipt, &run_dir, "", &["-v"]);
            assert_eq!(auto.stdout, iptables(&["-v"]).stdout, "{who}: {line}");
            // positive control: without that line the table is read, and as
            // iptables-save prints it (the hooks' chains it never made included)
            let t = t.replace(&format!("{line}\n"), "");
            load(&ns, &ipt, &t).unwrap();
            let want = without_footer(&save(&ns, &ipt));
            let header = want.lines().next().unwrap_or("");
            let read = read_in(&ns, family, header).map(|t| String::from_utf8(t).unwrap());
            assert_eq!(read, Some(want.clone()), "{who}: without {line:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&run_dir);
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn binary_lists_from_netlink() {
    binary_on_netlink(false, false);
    binary_on_netlink(true, false);
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn binary_lists_from_netlink_alt() {
    binary_on_netlink(false, true);
    binary_on_netlink(true, true);
}

// -- every table of a family (what the reconciler reads), src/nat/netlink.rs tables_save

const FILTER_USER: [&str; 3] = ["BERTH-FORWARD", "DOCKER-ISOLATION-STAGE-1", "DOCKER-USER"];
const RAW_USER: [&str; 1] = ["BERTH-RAW"];

/// A filter or raw rule for `chain`, whose kind ('I'nput, 'F'orward, 'O'utput,
/// 'P'rerouting, 'U'ser chain) says which interfaces it may name.
fn filter_rule(rng: &mut Rng, family: Family, chain: &str, kind: char, users: &[&str]) -> String {
    let mut r = format!("-A {chain}");
    if rng.chance(40) {
        write!(r, " {}-s {}", neg(rng, 20), address(rng, family)).unwrap();
    }
    if rng.chance(50) {
        write!(r, " {}-d {}", neg(rng, 20), address(rng, family)).unwrap();
    }
    if matches!(kind, 'I' | 'F' | 'P' | 'U') && rng.chance(50) {
        write!(r, " {}-i {}", neg(rng, 40), rng.pick(&IFACES)).unwrap();
    }
    if matches!(kind, 'O' | 'F' | 'U') && rng.chance(50) {
        write!(r, " {}-o {}", neg(rng, 30), rng.pick(&IFACES)).unwrap();
    }
    if rng.chance(50) {
        let p = *rng.pick(&["tcp", "udp"]);
        write!(r, " -p {p}").unwrap();
        if rng.chance(70) {
            write!(r, " -m {p} {}--dport {}", neg(rng, 15), ports(rng)).unwrap();
        }
    }
    if rng.chance(50) {
        let mut states: Vec<&str> = (0..rng.range(1, 3)).map(|_| *rng.pick(CT_STATES)).collect();
        states.dedup();
        write!(
            r,
            " -m conntrack {}--ctstate {}",
            neg(rng, 15),
            states.join(",")
        )
        .unwrap();
    }
    if rng.chance(40) {
        let id: String = (0..12)
            .map(|_| *rng.pick(b"0123456789abcdef") as char)
            .collect();
        write!(r, " -m comment --comment \"berth:{id}\"").unwrap();
    }
    if rng.chance(25) {
        // podman's netavark marks packets so
        let mark = rng.below(1 << 16) << rng.below(16);
        if rng.chance(50) {
            write!(r, " -m mark {}--mark 0x{mark:x}", neg(rng, 20)).unwrap();
        } else {
            let mask = mark | (rng.below(1 << 16) << 8);
            write!(r, " -m mark {}--mark 0x{mark:x}/0x{mask:x}", neg(rng, 20)).unwrap();
        }
    }
    let target = match rng.below(7) {
        6 => format!(
            " -j MARK --set-xmark 0x{:x}/0x{:x}",
            rng.below(1 << 20),
            rng.below(1 << 20)
        ),
        0 => " -j ACCEPT".to_string(),
        1 => " -j DROP".to_string(),
        2 => " -j RETURN".to_string(),
        // only the hooks' chains jump (a user chain's jump could make a loop)
        3 if kind != 'U' => format!(" -j {}", rng.pick(users)),
        4 if kind != 'U' => format!(" -g {}", rng.pick(users)),
        _ => String::new(),
    };
    r.push_str(&target);
    r
}

/// One table of `n` rules in random chains of `chains` (name, kind), its user chains
/// `users` declared first.
fn section(
    out: &mut String,
    rng: &mut Rng,
    family: Family,
    table: &str,
    users: &[&str],
    chains: &[(&str, char)],
    n: u64,
) {
    writeln!(out, "*{table}").unwrap();
    for c in users {
        writeln!(out, ":{c} - [0:0]").unwrap();
    }
    for _ in 0..n {
        let (chain, kind) = *rng.pick(chains);
        writeln!(out, "{}", filter_rule(rng, family, chain, kind, users)).unwrap();
    }
    out.push_str("COMMIT\n");
}

/// raw, filter and nat tables of about `n` rules each (`iptables-restore` input).
fn tables(seed: u64, family: Family, n: u64) -> String {
    let mut rng = Rng::new(seed ^ 0x7AB1E5);
    let mut out = String::new();
    let raw = [("PREROUTING", 'P'), ("OUTPUT", 'O'), ("BERTH-RAW", 'U')];
    section(&mut out, &mut rng, family, "raw", &RAW_USER, &raw, n);
    let filter = [
        ("INPUT", 'I'),
        ("FORWARD", 'F'),
        ("OUTPUT", 'O'),
        ("BERTH-FORWARD", 'U'),
        ("DOCKER-ISOLATION-STAGE-1", 'U'),
        ("DOCKER-USER", 'U'),
    ];
    section(
        &mut out,
        &mut rng,
        family,
        "filter",
        &FILTER_USER,
        &filter,
        n,
    );
    // the nat table of the listing's tests, without its counters
    let nat = table(seed, family, n);
    for line in nat.lines() {
        let line = match line.split_once("] ") {
            Some((counts, rest)) if counts.starts_with('[') && rest.starts_with("-A ") => rest,
            _ => line,
        };
        writeln!(out, "{line}").unwrap();
    }
    out
}

/// iptables-save's lines without its comments (the reader's headers are given, its
/// dates are not iptables-save's).
fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn full_save(ns: Option<&Netns>, ipt: &Iptables) -> String {
    let out = match ns {
        Some(ns) => ns.command(ipt.program("-save")).output().unwrap(),
        None => std::process::Command::new(ipt.program("-save"))
            .env("PATH", ipt.path())
            .output()
            .unwrap(),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What `tables_save` reads, in the namespace (or, without one, in this host's).
fn tables_in(ns: Option<&Netns>, family: Family, header: &str) -> Option<String> {
    match ns {
        None => berth::nat::netlink::tables_save(family, header),
        Some(ns) => {
            let path = format!("/run/netns/{}", ns.name);
            let header = header.to_string();
            std::thread::spawn(move || {
                let file = std::fs::File::open(&path).expect("open the namespace");
                // SAFETY: setns on this thread only, with a descriptor we hold
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}");
                berth::nat::netlink::tables_save(family, &header)
            })
            .join()
            .expect("the reading thread")
        }
    }
}

#[track_caller]
fn every_table_like_save(ipv6: bool, alt: bool) {
    let Some(ipt) = nft(ipv6, alt) else { return };
    let family = family_of(&ipt);
    let ns = Netns::new();
    let mut problems = Vec::new();
    let mut loaded = 0;
    for seed in 1..=seeds() / 3 {
        let text = tables(seed, family, 1 + seed % 40);
        if let Err(e) = restore(&ns, &ipt, "-c", &text) {
            problems.push(format!("{} seed {seed}: does not load: {e}", ipt.label()));
            continue;
        }
        loaded += 1;
        let want = full_save(Some(&ns), &ipt);
        // positive control: the tables are there to read
        assert!(
            ["*raw", "*filter", "*nat"].iter().all(|t| want.contains(t)),
            "{}: the tables did not load: {want}",
            ipt.label()
        );
        let header = want.lines().next().unwrap_or("").to_string();
        match tables_in(Some(&ns), family, &header) {
            Some(got) if without_comments(&got) == without_comments(&want) => {}
            Some(got) => problems.push(format!(
                "{} seed {seed}: {}",
                ipt.label(),
                first_difference(&without_comments(&want), &without_comments(&got))
            )),
            None => problems.push(format!("{} seed {seed}: the reader gave up", ipt.label())),
        }
    }
    assert!(loaded > seeds() / 6, "only {loaded} loaded: {problems:#?}");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // a mangle table (left to iptables-save whole): the reader gives up; positive
    // control above
    run_ok(&ns, &ipt.tool(""), &["-t", "mangle", "-N", "X"]);
    let header = full_save(Some(&ns), &ipt)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert_eq!(
        tables_in(Some(&ns), family, &header),
        None,
        "{}: mangle",
        ipt.label()
    );
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn netlink_reads_every_table_like_iptables_save() {
    every_table_like_save(false, false);
    every_table_like_save(true, false);
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn netlink_reads_every_table_like_iptables_save_alt() {
    every_table_like_save(false, true);
    every_table_like_save(true, true);
}

/// This host's own tables (the engine's rules, and a container the engine itself
/// publishes a port of): read over netlink as iptables-save prints them. Other tests'
/// watchers may write meanwhile: a few tries.
#[test]
#[ignore = "needs root, a Docker daemon and iptables-nft: run scripts/test"]
fn netlink_reads_this_hosts_tables_like_iptables_save() {
    let name = format!("berth-netlink-{}", std::process::id());
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &name])
        .output();
    let out = std::process::Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "-p",
            "127.0.0.1::80",
            "busybox",
            "sleep",
            "60",
        ])
        .output()
        .expect("run docker");
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", &self.0])
                .output();
        }
    }
    let _gone = Gone(name.clone());
    assert!(
        out.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for ipv6 in [false, true] {
        let ipt = Iptables::new(ipv6, "nft", None);
        let family = family_of(&ipt);
        let mut last = String::new();
        let same = (0..5).any(|_| {
            let want = full_save(None, &ipt);
            let header = want.lines().next().unwrap_or("").to_string();
            let got = tables_in(None, family, &header);
            match got {
                Some(got) if without_comments(&got) == without_comments(&want) => true,
                Some(got) => {
                    last = first_difference(&without_comments(&want), &without_comments(&got));
                    false
                }
                None => {
                    last = "the reader gave up".to_string();
                    false
                }
            }
        });
        assert!(same, "{}: {last}", ipt.label());
        if !ipv6 {
            // positive control: the engine's own rule for the container is in what was read
            let text = tables_in(
                None,
                family,
                "# Generated by iptables-nft-save v1.8.9 (nf_tables)",
            )
            .unwrap();
            assert!(text.contains("-j DNAT --to-destination 172."), "{text}");
        }
    }
}

// -- deletions by rule handle in one transaction (src/firewall/batch.rs), judged by
// iptables-restore doing the same deletions in a twin namespace

/// `f` on a thread that entered the namespace.
fn in_ns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{}", ns.name);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace");
        // SAFETY: setns on this thread only, with a descriptor we hold
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}");
        f()
    })
    .join()
    .expect("the thread in the namespace")
}

/// The tables of the namespace read over netlink, with each rule's handle.
fn snapshot_in(ns: &Netns, ipt: &Iptables) -> berth::firewall::batch::Snapshot {
    let family = family_of(ipt);
    let header = full_save(Some(ns), ipt)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    in_ns(ns, move || {
        berth::nat::netlink::tables_read(family, &header)
    })
    .expect("the tables read over netlink")
    .1
}

/// A removal's deletions of an iptables-save text (as a container's removal writes
/// them, and more): some rules anywhere by `-D`, then one user chain with every rule
/// that jumps to it, emptied (by `-F` or declared anew) and deleted.
fn deletions(rng: &mut Rng, saved: &str) -> String {
    let mut out = String::new();
    let mut table: Option<(String, Vec<String>, Vec<String>)> = None;
    let mut sections = Vec::new();
    for line in saved.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = Some((t.to_string(), Vec::new(), Vec::new()));
        } else if line == "COMMIT" {
            sections.extend(table.take());
        } else if let Some((_, chains, rules)) = table.as_mut() {
            if let Some(c) = line
                .strip_prefix(':')
                .and_then(|c| c.strip_suffix(" - [0:0]"))
            {
                chains.push(c.to_string());
            } else if line.starts_with("-A ") {
                rules.push(line.to_string());
            }
        }
    }
    for (name, chains, rules) in sections {
        let victim = (!chains.is_empty() && rng.chance(70)).then(|| rng.pick(&chains).clone());
        let jumps_to = |rule: &str, chain: &str| {
            let words: Vec<&str> = rule.split(' ').collect();
            words
                .windows(2)
                .any(|w| (w[0] == "-j" || w[0] == "-g") && w[1] == chain)
        };
        let mut lines = Vec::new();
        let mut later = Vec::new();
        for rule in &rules {
            let del = format!("-D {}", &rule[3..]);
            match &victim {
                Some(v) if jumps_to(rule, v) => later.push(del),
                Some(v) if rule.starts_with(&format!("-A {v} ")) => {}
                _ if rng.chance(30) => lines.push(del),
                _ => {}
            }
        }
        if let Some(v) = &victim {
            lines.extend(later);
            if rng.chance(50) {
                lines.push(format!("-F {v}"));
            } else {
                lines.push(format!(":{v} - [0:0]"));
            }
            lines.push(format!("-X {v}"));
        }
        if lines.is_empty() {
            continue;
        }
        writeln!(out, "*{name}").unwrap();
        for l in lines {
            writeln!(out, "{l}").unwrap();
        }
        out.push_str("COMMIT\n");
    }
    out
}

#[track_caller]
fn deletes_like_iptables_restore(ipv6: bool, alt: bool) {
    let Some(ipt) = nft(ipv6, alt) else { return };
    let (by_handle, by_restore) = (Netns::new(), Netns::new());
    let mut problems = Vec::new();
    let mut written = 0;
    for seed in 1..=seeds() / 10 {
        let family = family_of(&ipt);
        let text = tables(seed, family, 1 + seed % 40);
        for ns in [&by_handle, &by_restore] {
            // a clean slate each time (rules of the seed before stay otherwise)
            for t in ["raw", "filter", "nat"] {
                let _ = ns.command(ipt.tool("")).args(["-t", t, "-F"]).output();
                let _ = ns.command(ipt.tool("")).args(["-t", t, "-X"]).output();
            }
            restore(ns, &ipt, "--noflush", &text).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
        let before = full_save(Some(&by_handle), &ipt);
        assert_eq!(
            without_comments(&before),
            without_comments(&full_save(Some(&by_restore), &ipt)),
            "seed {seed}: the twins differ before"
        );
        let mut rng = Rng::new(seed ^ 0xDE1E7E);
        let text = deletions(&mut rng, &before);
        if text.is_empty() {
            continue;
        }
        if let Err(e) = restore(&by_restore, &ipt, "--noflush", &text) {
            problems.push(format!(
                "seed {seed}: iptables-restore refused: {e}\n{text}"
            ));
            continue;
        }
        let mut read = snapshot_in(&by_handle, &ipt);
        let deleting = text.clone();
        let (landed, generation) = in_ns(&by_handle, move || {
            let done = read.write(&deleting);
            eprintln!("{read:#?}");
            (
                done.map(|d| d.map(|()| read.generation())),
                berth::firewall::nftables::generation(),
            )
        });
        match landed {
            Some(Ok(g)) => {
                written += 1;
                // the next read's generation is the one the kernel counts
                if Some(g) != generation {
                    problems.push(format!(
                        "seed {seed}: generation {g}, kernel {generation:?}"
                    ));
                }
            }
            other => {
                problems.push(format!(
                    "seed {seed}: not written by handle: {other:?}\n{text}"
                ));
                continue;
            }
        }
        let want = without_comments(&full_save(Some(&by_restore), &ipt));
        let got = without_comments(&full_save(Some(&by_handle), &ipt));
        if want != got {
            problems.push(format!("seed {seed}: {}", first_difference(&want, &got)));
        }
        // positive control: the deletions changed something
        if got == without_comments(&before) {
            problems.push(format!("seed {seed}: nothing was deleted"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}: {} problems:\n{}",
        ipt.label(),
        problems.len(),
        problems.join("\n")
    );
    assert!(
        written >= seeds() / 20,
        "{}: only {written} written",
        ipt.label()
    );
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn deletes_by_handle_like_iptables_restore() {
    deletes_like_iptables_restore(false, false);
    deletes_like_iptables_restore(true, false);
}

#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn deletes_by_handle_like_iptables_restore_alt() {
    deletes_like_iptables_restore(false, true);
    deletes_like_iptables_restore(true, true);
}

/// A read the tables moved on from is refused whole: nothing changes, and the backend
/// is left to run iptables-restore. Positive control: the same deletion from a fresh
/// read lands.
#[test]
#[ignore = "needs root and iptables-nft: run scripts/test"]
fn deletes_by_handle_only_from_the_tables_as_read() {
    use berth::firewall::batch::Failed;
    for ipv6 in [false, true] {
        let Some(ipt) = nft(ipv6, false) else { return };
        let ns = Netns::new();
        let text = "*nat\n:BERTH - [0:0]\n:BERTH-0123456789ab - [0:0]\n\
            -A PREROUTING -m addrtype --dst-type LOCAL -j BERTH\n\
            -A BERTH -m comment --comment berth:0123456789ab -j BERTH-0123456789ab\n\
            -A BERTH-0123456789ab -p tcp -m tcp --dport 8080 -j RETURN\nCOMMIT\n";
        restore(&ns, &ipt, "--noflush", text).unwrap();
        // the lines as iptables-save prints them (the comment quoted): what a removal has
        let removal = "*nat\n\
            -D BERTH -m comment --comment \"berth:0123456789ab\" -j BERTH-0123456789ab\n\
            -F BERTH-0123456789ab\n-X BERTH-0123456789ab\nCOMMIT\n";
        let stale = snapshot_in(&ns, &ipt);
        // another tool writes meanwhile, elsewhere
        run_ok(&ns, &ipt.tool(""), &["-t", "filter", "-N", "SOMEONE-ELSES"]);
        let before = full_save(Some(&ns), &ipt);
        let mut read = stale.clone();
        let done = in_ns(&ns, move || read.write(removal));
        assert!(
            matches!(done, Some(Err(Failed::Refused(_)))),
            "{}: {done:?}",
            ipt.label()
        );
        let after = full_save(Some(&ns), &ipt);
        assert_eq!(
            without_comments(&after),
            without_comments(&before),
            "{}",
            ipt.label()
        );
        assert!(after.contains("-j BERTH-0123456789ab"), "{after}");

        // a rule deleted and put back has a new handle: refused too, even at the
        // generation now
        let old = snapshot_in(&ns, &ipt);
        let jump = "BERTH -m comment --comment berth:0123456789ab -j BERTH-0123456789ab";
        let args: Vec<&str> = jump.split(' ').collect();
        run_ok(
            &ns,
            &ipt.tool(""),
            &[&["-t", "nat", "-D"][..], &args].concat(),
        );
        run_ok(
            &ns,
            &ipt.tool(""),
            &[&["-t", "nat", "-A"][..], &args].concat(),
        );
        let now = in_ns(&ns, berth::firewall::nftables::generation).unwrap();
        let ops = old.plan(removal).expect("a plan");
        let family = family_of(&ipt);
        let refused = in_ns(&ns, move || {
            berth::firewall::batch::commit(family, now, &ops)
        });
        assert!(matches!(refused, Err(Failed::Refused(_))), "{refused:?}");
        assert!(full_save(Some(&ns), &ipt).contains("-j BERTH-0123456789ab"));

        // positive control: read afresh, the same removal lands
        let mut fresh = snapshot_in(&ns, &ipt);
        let done = in_ns(&ns, move || fresh.write(removal));
        assert!(matches!(done, Some(Ok(()))), "{}: {done:?}", ipt.label());
        let after = full_save(Some(&ns), &ipt);
        assert!(!after.contains("BERTH-0123456789ab"), "{after}");
        assert!(after.contains(":SOMEONE-ELSES"), "{after}");
        assert!(after.contains("-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH"));
    }
}
