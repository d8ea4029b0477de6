//! Golden tests of `berth nat ls` against the real iptables: seeded random nat tables
//! (tests/support/nat_ls_gen.rs), each loaded with `iptables-restore -c` into a network
//! namespace of its own, listed by iptables with every flag combination berth takes
//! (and one chain), and by berth from the same `iptables-save -c -t nat` text; the two
//! must be equal byte for byte. Both variants, nf_tables and legacy; both families,
//! iptables and ip6tables (`berth nat ls -6`); the system's release (Debian 12: 1.8.9)
//! and, with `BERTH_ALT_IPTABLES=<folder of wrappers>` (scripts/test sets it to
//! iptables 1.8.11's, see scripts/lib/versions.sh), that one too. The real binary is
//! checked as well.
//!
//! Needs root and iptables, so every test is ignored by a plain `cargo test`;
//! scripts/test runs them, with BERTH_E2E=1: then a variant or release that is missing
//! fails the test (elsewhere it is skipped, saying so). `BERTH_GOLDEN_SEEDS` (default
//! 300 for the system's IPv4, 100 for the other combinations) and `BERTH_GOLDEN_SEED`
//! (the first seed, default 1) explore further, `BERTH_GOLDEN_JOBS` (default 2) seeds
//! at a time; a failing rule set is kept in the temp folder as
//! `berth-golden-<iptables>-<seed>.rules`.

#[path = "support/nat_ls_netns.rs"]
mod netns;
#[path = "support/nat_ls_gen.rs"]
mod rulegen;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use berth::nat::render::{ChainFilter, ListFlags, list_family};

use netns::{Iptables, Netns, TempFile, alt_dir, missing};
use rulegen::Family;

/// The flags compared on every rule set, as iptables takes them and as berth's
/// renderer takes them.
const FLAG_SETS: &[(&str, ListFlags)] = &[
    ("", flags(false, false, false)),
    ("-v", flags(true, false, false)),
    ("-v -x", flags(true, true, false)),
    ("--line-numbers", flags(false, false, true)),
    ("-v --line-numbers", flags(true, false, true)),
    ("-x", flags(false, true, false)),
    ("-v -x --line-numbers", flags(true, true, true)),
];

const fn flags(verbose: bool, exact: bool, line_numbers: bool) -> ListFlags {
    ListFlags {
        verbose,
        exact,
        line_numbers,
    }
}

const MARK: &str = "@@@BERTH ";

/// What iptables printed for one rule set: `save`, `list N` (FLAG_SETS[N]), `chain`.
struct Oracle {
    sections: BTreeMap<String, String>,
}

/// Load `text` into a fresh namespace and list it with iptables.
fn oracle(ipt: &Iptables, text: &str, chain: &str, chain_flags: &str) -> Result<Oracle, String> {
    let ns = Netns::new();
    let rules = TempFile::new("rules", text.as_bytes());
    let (list, save, restore) = (ipt.tool(""), ipt.tool("-save"), ipt.tool("-restore"));
    let mut script = format!(
        "PATH='{}'; export PATH\n\
         err=$({restore} -c < '{}' 2>&1) || {{ echo '{MARK}restore-failed'; echo \"$err\"; exit 0; }}\n\
         echo '{MARK}save'; {save} -c -t nat 2>/dev/null\n",
        ipt.path(),
        rules.path.display()
    );
    for (i, (flags, _)) in FLAG_SETS.iter().enumerate() {
        script.push_str(&format!(
            "echo '{MARK}list {i}'; {list} -t nat -n {flags} -L 2>/dev/null\n"
        ));
    }
    script.push_str(&format!(
        "echo '{MARK}chain'; {list} -t nat -n {chain_flags} -L '{chain}' 2>/dev/null\n"
    ));
    let out = ns.sh(&script);
    let stdout = String::from_utf8(out.stdout).map_err(|e| format!("iptables output: {e}"))?;
    let mut sections = BTreeMap::new();
    let mut name: Option<String> = None;
    let mut body = String::new();
    for line in stdout.split_inclusive('\n') {
        if let Some(next) = line.strip_prefix(MARK) {
            if let Some(n) = name.take() {
                sections.insert(n, std::mem::take(&mut body));
            }
            name = Some(next.trim_end().to_string());
        } else {
            body.push_str(line);
        }
    }
    if let Some(n) = name {
        sections.insert(n, body);
    }
    if let Some(err) = sections.get("restore-failed") {
        return Err(format!("{restore} refused the rule set: {err}"));
    }
    if !sections.contains_key("save") {
        return Err(format!(
            "no output from iptables in the namespace: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(Oracle { sections })
}

/// The first line where two listings differ, for the failure message.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            return format!(
                "line {}:\n  iptables: {:?}\n  berth:    {:?}",
                i + 1,
                a.unwrap_or(&"<none>"),
                b.unwrap_or(&"<none>")
            );
        }
    }
    if want.ends_with('\n') != got.ends_with('\n') {
        return "the final newline differs".into();
    }
    "same lines, different bytes".into()
}

fn family(ipt: &Iptables) -> Family {
    if ipt.ipv6() { Family::V6 } else { Family::V4 }
}

/// Compare berth with iptables on one rule set; returns what differed. `version` is
/// what `-V` says: the save text's header must name it (the PATH took effect).
fn check(ipt: &Iptables, version: &str, seed: u64, set: &rulegen::Ruleset) -> Vec<String> {
    let who = ipt.label();
    let keep = || {
        let keep = std::env::temp_dir().join(format!("berth-golden-{}-{seed}.rules", ipt.tag()));
        let _ = std::fs::write(&keep, &set.text);
        keep
    };
    let mut rng = rulegen::Rng::new(seed ^ 0xC4A1);
    let chain = rng.pick(&set.chains).clone();
    let (chain_flags, chain_list_flags) = FLAG_SETS[(seed % FLAG_SETS.len() as u64) as usize];
    let oracle = match oracle(ipt, &set.text, &chain, chain_flags) {
        Ok(o) => o,
        Err(e) => {
            return vec![format!(
                "{who} seed {seed}: {e} (kept in {})",
                keep().display()
            )];
        }
    };
    let save = &oracle.sections["save"];
    let header = save.lines().next().unwrap_or("");
    let mut problems = Vec::new();
    // `ip6tables-nft-save v1.8.9 (nf_tables)`, `ip6tables-save v1.8.9` (legacy)
    let named = header
        .strip_prefix("# Generated by ")
        .is_some_and(|g| g.starts_with(ipt.base) && g.split(' ').nth(1) == Some(version));
    if !named {
        problems.push(format!(
            "{who} seed {seed}: the save text's header is {header:?}, not {}'s {version}",
            ipt.tool("-save")
        ));
    }
    let family = family(ipt);
    for (i, (flag_text, flags)) in FLAG_SETS.iter().enumerate() {
        let want = &oracle.sections[&format!("list {i}")];
        let got =
            String::from_utf8(list_family(save, *flags, &ChainFilter::default(), family).unwrap())
                .unwrap();
        if *want != got {
            problems.push(format!(
                "{who} seed {seed} ({} rules), flags [{flag_text}]: {}",
                set.rules,
                first_difference(want, &got)
            ));
        }
    }
    let filter = ChainFilter {
        chain: Some(chain.clone()),
        berth_only: None,
    };
    let want = &oracle.sections["chain"];
    let got =
        String::from_utf8(list_family(save, chain_list_flags, &filter, family).unwrap()).unwrap();
    if *want != got {
        problems.push(format!(
            "{who} seed {seed}, chain {chain} [{chain_flags}]: {}",
            first_difference(want, &got)
        ));
    }
    if !problems.is_empty() {
        problems.push(format!("rule set kept in {}", keep().display()));
    }
    problems
}

/// The iptables of one family and variant, from the system or from the other
/// release's folder; `None` (after `missing` said why) when it is not there.
#[track_caller]
fn iptables(ipv6: bool, variant: &'static str, alt: bool) -> Option<(Iptables, String)> {
    let dir = if alt { Some(alt_dir()?) } else { None };
    let ipt = Iptables::new(ipv6, variant, dir);
    if !ipt.available() {
        missing(&format!("{} is not installed", ipt.label()));
        return None;
    }
    let version = ipt.version();
    if alt {
        let system = Iptables::new(ipv6, variant, None);
        if system.available() && system.version() == version {
            panic!(
                "{} is {version}, the system's own release: {} should name another",
                ipt.label(),
                netns::ALT_ENV
            );
        }
    }
    Some((ipt, version))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `count` seeded rule sets (BERTH_GOLDEN_SEEDS overrides it) through one iptables.
#[track_caller]
fn golden(ipv6: bool, variant: &'static str, alt: bool, count: u64) {
    let Some((ipt, version)) = iptables(ipv6, variant, alt) else {
        return;
    };
    let first = env_u64("BERTH_GOLDEN_SEED", 1);
    let count = env_u64("BERTH_GOLDEN_SEEDS", count);
    let started = Instant::now();
    // the seeds on a few threads (each in a namespace of its own): iptables' own
    // runs are most of the time
    let workers = env_u64("BERTH_GOLDEN_JOBS", 2).max(1);
    let next = AtomicU64::new(first);
    let failed = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= first + count || failed.load(Ordering::Relaxed) > 20 {
                        break;
                    }
                    let set = rulegen::generate_for(family(&ipt), seed, rulegen::size_for(seed));
                    let problems = check(&ipt, &version, seed, &set);
                    failed.fetch_add(problems.len(), Ordering::Relaxed);
                    results.lock().unwrap().push((seed, set.rules, problems));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    let rules: usize = results.iter().map(|r| r.1).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.2).collect();
    eprintln!(
        "{} {version}: {count} rule sets ({rules} rules) x {} listings in {:.1?}",
        ipt.label(),
        FLAG_SETS.len() + 1,
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The system's release, IPv4: the most seeds.
const SYSTEM_V4_SEEDS: u64 = 300;
/// Every other combination.
const OTHER_SEEDS: u64 = 100;

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_nft() {
    golden(false, "nft", false, SYSTEM_V4_SEEDS);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_legacy() {
    golden(false, "legacy", false, SYSTEM_V4_SEEDS);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_ipv6_nft() {
    golden(true, "nft", false, OTHER_SEEDS);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_ipv6_legacy() {
    golden(true, "legacy", false, OTHER_SEEDS);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_alt_nft() {
    golden(false, "nft", true, OTHER_SEEDS);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_alt_legacy() {
    golden(false, "legacy", true, OTHER_SEEDS);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_alt_ipv6_nft() {
    golden(true, "nft", true, OTHER_SEEDS);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_alt_ipv6_legacy() {
    golden(true, "legacy", true, OTHER_SEEDS);
}

/// One table of 10,000 rules through each of `combos` (family, variant).
#[track_caller]
fn ten_thousand(alt: bool, combos: &[(bool, &'static str)]) {
    for &(ipv6, variant) in combos {
        let Some((ipt, version)) = iptables(ipv6, variant, alt) else {
            continue;
        };
        let started = Instant::now();
        let seed = 10_000;
        let set = rulegen::generate_for(family(&ipt), seed, 10_000);
        let problems = check(&ipt, &version, seed, &set);
        eprintln!(
            "{} {version}: 10,000 rules x {} listings in {:.1?}",
            ipt.label(),
            FLAG_SETS.len() + 1,
            started.elapsed()
        );
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_ten_thousand_rules() {
    ten_thousand(false, &[(false, "nft"), (false, "legacy"), (true, "nft")]);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_alt_ten_thousand_rules() {
    ten_thousand(true, &[(false, "nft"), (true, "legacy")]);
}

/// The real binary in a namespace (`berth nat ls`, and `-6` for ip6tables): every
/// flag set, one chain, and a chain that is not there (iptables' message on stderr,
/// exit status 1).
#[track_caller]
fn binary_matches(alt: bool) {
    let berth = env!("CARGO_BIN_EXE_berth");
    for ipv6 in [false, true] {
        for variant in ["nft", "legacy"] {
            let Some((ipt, version)) = iptables(ipv6, variant, alt) else {
                continue;
            };
            binary_matches_one(berth, &ipt, &version);
        }
    }
}

fn binary_matches_one(berth: &str, ipt: &Iptables, version: &str) {
    let who = format!("{} {version}", ipt.label());
    let set = rulegen::generate_for(family(ipt), 42, 300);
    let ns = Netns::new();
    let rules = TempFile::new("rules", set.text.as_bytes());
    let out = ns
        .command(ipt.program("-restore"))
        .args(["-c", &rules.path.display().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{who}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // berth's run folder of this test: what the first listing remembers of the
    // release (src/nat/netlink.rs) stays here, not in the host's /run/berth
    struct RunDir(std::path::PathBuf);
    impl Drop for RunDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let run_dir = RunDir(std::env::temp_dir().join(format!(
        "berth-golden-run-{}-{}",
        std::process::id(),
        ns.name
    )));
    let _ = std::fs::remove_dir_all(&run_dir.0);
    let run = |program: &str, args: &[&str]| {
        let mut cmd = ns.command("env");
        cmd.arg(format!("PATH={}", ipt.path()))
            .arg(format!("BERTH_RUN_DIR={}", run_dir.0.display()))
            .arg(format!("BERTH_IPTABLES={}", ipt.variant))
            .arg(program)
            .args(args);
        cmd.output().unwrap()
    };
    let iptables = ipt.tool("");
    let mut cases: Vec<Vec<&str>> = FLAG_SETS
        .iter()
        .map(|(f, _)| f.split_whitespace().collect())
        .collect();
    cases.push(vec!["-v", "POSTROUTING"]);
    cases.push(vec![set.chains.last().unwrap().as_str()]);
    let family_flag: &[&str] = if ipt.ipv6() { &["-6"] } else { &[] };
    for args in cases {
        let (flags, chain): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with('-'));
        let mut ipt_args = vec!["-t", "nat", "-n"];
        ipt_args.extend(&flags);
        ipt_args.push("-L");
        ipt_args.extend(&chain);
        let want = run(&iptables, &ipt_args);
        let mut berth_args = vec!["nat", "ls"];
        berth_args.extend(family_flag);
        berth_args.extend(&args);
        let got = run(berth, &berth_args);
        assert!(
            got.status.success(),
            "{who}: berth {args:?}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert!(
            want.stdout == got.stdout,
            "{who} {args:?}: {}",
            first_difference(
                &String::from_utf8_lossy(&want.stdout),
                &String::from_utf8_lossy(&got.stdout)
            )
        );
    }

    let want = run(&iptables, &["-t", "nat", "-n", "-L", "NO-SUCH-CHAIN"]);
    let mut berth_args = vec!["nat", "ls"];
    berth_args.extend(family_flag);
    berth_args.push("NO-SUCH-CHAIN");
    let got = run(berth, &berth_args);
    assert_eq!(got.status.code(), want.status.code(), "{who}: exit status");
    assert_eq!(got.stdout, want.stdout, "{who}: stdout");
    // iptables-nft also warns on stderr when legacy tables exist: compare the error
    let last = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .last()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(last(&got.stderr), last(&want.stderr), "{who}: message");
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn binary_matches_iptables() {
    binary_matches(false);
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn binary_matches_alt_iptables() {
    binary_matches(true);
}
