//! Golden tests of `berth nat ls` against the real iptables: seeded random nat tables
//! (tests/support/nat_ls_gen.rs), each loaded with `iptables-restore -c` into a network
//! namespace of its own, listed by iptables with every flag combination berth takes
//! (and one chain), and by berth from the same `iptables-save -c -t nat` text; the two
//! must be equal byte for byte. Both variants, nf_tables and legacy, where the machine
//! has them; the real binary is checked too.
//!
//! Needs root and iptables, so every test is ignored by a plain `cargo test`;
//! scripts/test runs them. `BERTH_GOLDEN_SEEDS` (default 300 per variant) and
//! `BERTH_GOLDEN_SEED` (the first seed, default 1) explore further; a failing rule set
//! is kept in the temp folder as `berth-golden-<variant>-<seed>.rules`.

#[path = "support/nat_ls_netns.rs"]
mod netns;
#[path = "support/nat_ls_gen.rs"]
mod rulegen;

use std::collections::BTreeMap;
use std::time::Instant;

use berth::nat::render::{ChainFilter, ListFlags, list};

use netns::{Netns, TempFile, has_variant};

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
fn oracle(variant: &str, text: &str, chain: &str, chain_flags: &str) -> Result<Oracle, String> {
    let ns = Netns::new();
    let rules = TempFile::new("rules", text.as_bytes());
    let mut script = format!(
        "err=$(iptables-{variant}-restore -c < '{}' 2>&1) || {{ echo '{MARK}restore-failed'; echo \"$err\"; exit 0; }}\n\
         echo '{MARK}save'; iptables-{variant}-save -c -t nat 2>/dev/null\n",
        rules.path.display()
    );
    for (i, (flags, _)) in FLAG_SETS.iter().enumerate() {
        script.push_str(&format!(
            "echo '{MARK}list {i}'; iptables-{variant} -t nat -n {flags} -L 2>/dev/null\n"
        ));
    }
    script.push_str(&format!(
        "echo '{MARK}chain'; iptables-{variant} -t nat -n {chain_flags} -L '{chain}' 2>/dev/null\n"
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
        return Err(format!(
            "iptables-{variant}-restore refused the rule set: {err}"
        ));
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

/// Compare berth with iptables on one rule set; returns what differed.
fn check(variant: &str, seed: u64, set: &rulegen::Ruleset) -> Vec<String> {
    let mut rng = rulegen::Rng::new(seed ^ 0xC4A1);
    let chain = rng.pick(&set.chains).clone();
    let (chain_flags, chain_list_flags) = FLAG_SETS[(seed % FLAG_SETS.len() as u64) as usize];
    let oracle = match oracle(variant, &set.text, &chain, chain_flags) {
        Ok(o) => o,
        Err(e) => {
            let keep = std::env::temp_dir().join(format!("berth-golden-{variant}-{seed}.rules"));
            let _ = std::fs::write(&keep, &set.text);
            return vec![format!(
                "{variant} seed {seed}: {e} (kept in {})",
                keep.display()
            )];
        }
    };
    let save = &oracle.sections["save"];
    let mut problems = Vec::new();
    for (i, (flag_text, flags)) in FLAG_SETS.iter().enumerate() {
        let want = &oracle.sections[&format!("list {i}")];
        let got = String::from_utf8(list(save, *flags, &ChainFilter::default()).unwrap()).unwrap();
        if *want != got {
            problems.push(format!(
                "{variant} seed {seed} ({} rules), flags [{flag_text}]: {}",
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
    let got = String::from_utf8(list(save, chain_list_flags, &filter).unwrap()).unwrap();
    if *want != got {
        problems.push(format!(
            "{variant} seed {seed}, chain {chain} [{chain_flags}]: {}",
            first_difference(want, &got)
        ));
    }
    if !problems.is_empty() {
        let keep = std::env::temp_dir().join(format!("berth-golden-{variant}-{seed}.rules"));
        let _ = std::fs::write(&keep, &set.text);
        problems.push(format!("rule set kept in {}", keep.display()));
    }
    problems
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn golden(variant: &str) {
    if !has_variant(variant) {
        eprintln!("iptables-{variant} is not installed: skipping its golden tests");
        return;
    }
    let first = env_u64("BERTH_GOLDEN_SEED", 1);
    let count = env_u64("BERTH_GOLDEN_SEEDS", 300);
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut rules = 0;
    for seed in first..first + count {
        let set = rulegen::generate(seed, rulegen::size_for(seed));
        rules += set.rules;
        failures.extend(check(variant, seed, &set));
        if failures.len() > 20 {
            break;
        }
    }
    eprintln!(
        "{variant}: {count} rule sets ({rules} rules) x {} listings in {:.1?}",
        FLAG_SETS.len() + 1,
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_nft() {
    golden("nft");
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_legacy() {
    golden("legacy");
}

#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn golden_ten_thousand_rules() {
    for variant in ["nft", "legacy"] {
        if !has_variant(variant) {
            continue;
        }
        let seed = 10_000;
        let set = rulegen::generate(seed, 10_000);
        let problems = check(variant, seed, &set);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

/// The real binary in a namespace: every flag set, one chain, and a chain that is not
/// there (iptables' message on stderr, exit status 1).
#[test]
#[ignore = "needs root and iptables: run scripts/test"]
fn binary_matches_iptables() {
    let berth = env!("CARGO_BIN_EXE_berth");
    for variant in ["nft", "legacy"] {
        if !has_variant(variant) {
            continue;
        }
        let set = rulegen::generate(42, 300);
        let ns = Netns::new();
        let rules = TempFile::new("rules", set.text.as_bytes());
        let out = ns
            .command(format!("iptables-{variant}-restore"))
            .args(["-c", &rules.path.display().to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let run = |program: &str, args: &[&str]| {
            let mut cmd = ns.command("env");
            cmd.arg(format!("BERTH_IPTABLES={variant}"))
                .arg(program)
                .args(args);
            cmd.output().unwrap()
        };
        let iptables = format!("iptables-{variant}");
        let mut cases: Vec<Vec<&str>> = FLAG_SETS
            .iter()
            .map(|(f, _)| f.split_whitespace().collect())
            .collect();
        cases.push(vec!["-v", "POSTROUTING"]);
        cases.push(vec![set.chains.last().unwrap().as_str()]);
        for args in cases {
            let (flags, chain): (Vec<&str>, Vec<&str>) =
                args.iter().partition(|a| a.starts_with('-'));
            let mut ipt_args = vec!["-t", "nat", "-n"];
            ipt_args.extend(&flags);
            ipt_args.push("-L");
            ipt_args.extend(&chain);
            let want = run(&iptables, &ipt_args);
            let mut berth_args = vec!["nat", "ls"];
            berth_args.extend(&args);
            let got = run(berth, &berth_args);
            assert!(
                got.status.success(),
                "berth {args:?}: {}",
                String::from_utf8_lossy(&got.stderr)
            );
            assert!(
                want.stdout == got.stdout,
                "{variant} {args:?}: {}",
                first_difference(
                    &String::from_utf8_lossy(&want.stdout),
                    &String::from_utf8_lossy(&got.stdout)
                )
            );
        }

        let want = run(&iptables, &["-t", "nat", "-n", "-L", "NO-SUCH-CHAIN"]);
        let got = run(berth, &["nat", "ls", "NO-SUCH-CHAIN"]);
        assert_eq!(
            got.status.code(),
            want.status.code(),
            "{variant}: exit status"
        );
        assert_eq!(got.stdout, want.stdout, "{variant}: stdout");
        // iptables-nft also warns on stderr when legacy tables exist: compare the error
        let last = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .lines()
                .last()
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(last(&got.stderr), last(&want.stderr), "{variant}: message");
    }
}
