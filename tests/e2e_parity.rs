//! `berth create`/`berth run` beside the real docker CLI, flag set by flag set
//! (tests/data/run_flag_parity.tsv): both create a container from the same flags on the
//! same daemon, and `docker inspect` of the two must agree field by field (less what
//! differs by nature: ids, names, times, the random hostname, paths holding the id,
//! berth's own `io.berth.*` labels, ports); when docker refuses the flags, berth must
//! refuse them with the same exit code and the same first line on stderr ("docker"
//! read as "berth").
//!
//! The docker CLI is the `docker` on PATH. Where its text is not docker v29's (the
//! version berth follows; see the notes on v28), the row gives the v29 expectation
//! itself.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use serde_json::Value;

use common::*;

const TABLE: &str = include_str!("data/run_flag_parity.tsv");
const IMAGE: &str = "busybox";

/// One line of the table.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    verb: String,
    text: String,
    /// An explicit expectation (docker v29's), instead of the docker CLI's outcome.
    expect: Option<(i32, String)>,
}

fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    for (i, raw) in TABLE.lines().enumerate() {
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = raw.split('\t').collect();
        assert!(
            cols.len() == 2 || cols.len() == 4,
            "line {}: want VERB<TAB>FLAGS[<TAB>EXIT<TAB>FIRST LINE]: {raw:?}",
            i + 1
        );
        assert!(
            matches!(cols[0], "create" | "run"),
            "line {}: verb {}",
            i + 1,
            cols[0]
        );
        let expect = (cols.len() == 4)
            .then(|| (cols[2].parse().expect("an exit code"), cols[3].to_string()));
        out.push(Row {
            line: i + 1,
            verb: cols[0].to_string(),
            text: cols[1].to_string(),
            expect,
        });
    }
    out
}

/// Shell-like words: blanks separate, '...' is literal, "..." allows \" and \\.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut any = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            '\'' => {
                any = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                any = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        c => cur.push(c),
                    }
                }
            }
            c => {
                any = true;
                cur.push(c);
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// What the rows refer to: files, a container to take volumes from or link to, a
/// user-defined network, a named volume. Removed when dropped.
struct Fixture {
    dir: PathBuf,
    helper: String,
    net: String,
    vol: String,
    /// every container the rows created
    created: Vec<String>,
}

impl Fixture {
    fn new() -> Fixture {
        tidy_once();
        let dir = std::env::temp_dir().join(unique("parity"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("env.list"),
            "# comment\nFROM_FILE=1\n  SPACED= 2 \nHOME\nNOT_SET_ANYWHERE_X\nDUP=file\n",
        )
        .unwrap();
        std::fs::write(dir.join("labels"), "from.file=yes\nbare\n# c\nx=1\n").unwrap();
        std::fs::write(
            dir.join("seccomp.json"),
            "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"architectures\": [ \"SCMP_ARCH_X86_64\" ],\n  \"syscalls\": []\n}\n",
        )
        .unwrap();
        std::fs::write(dir.join("exists"), "").unwrap();
        let helper = unique("helper");
        let net = unique("net");
        let vol = unique("vol");
        sh_ok(&format!(
            "docker create --name {helper} -v /helpervol {IMAGE} >/dev/null"
        ));
        sh_ok(&format!("docker network create {net} >/dev/null"));
        Fixture {
            dir,
            helper,
            net,
            vol,
            created: Vec::new(),
        }
    }

    /// The row's words for one side (`docker` or `berth`): placeholders filled, the
    /// image appended unless the row places it (`{img}`).
    fn args(&self, row: &Row, side: &str) -> Vec<String> {
        let dir = self.dir.display().to_string();
        let mut w: Vec<String> = words(&row.text)
            .into_iter()
            .map(|w| {
                w.replace("{cid}", &format!("{dir}/cid-{side}-{}", row.line))
                    .replace("{dir}", &dir)
                    .replace("{helper}", &self.helper)
                    .replace("{net}", &self.net)
                    .replace("{vol}", &self.vol)
                    .replace("{img}", IMAGE)
            })
            .collect();
        if !row.text.contains("{img}") {
            w.push(IMAGE.to_string());
        }
        w
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let mut names = self.created.clone();
        names.push(self.helper.clone());
        let _ = docker_cli()
            .args(["rm", "-f", "-v"])
            .args(&names)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        sh(&format!("docker network rm {} >/dev/null 2>&1", self.net));
        sh(&format!("docker volume rm {} >/dev/null 2>&1", self.vol));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_cli(program: &str, verb: &str, name: &str, args: &[String]) -> Output {
    let mut cmd = if program == "berth" {
        berth_cmd()
    } else {
        let mut c = docker_cli();
        c.env_remove("DOCKER_HOST");
        c
    };
    cmd.arg(verb)
        .args(["--name", name])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the CLI")
}

fn first_line(o: &Output) -> String {
    stderr(o).lines().next().unwrap_or("").to_string()
}

fn warnings(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with("WARNING:"))
        .map(str::to_string)
        .collect()
}

/// docker's words as berth says them.
fn as_berth(line: &str) -> String {
    line.replace("docker: ", "berth: ")
        .replace("'docker ", "'berth ")
}

/// Replace every run of exactly 64 hex digits (volume names, ids) with `<hex>`.
fn mask_hex64(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let mut j = i;
        while j < b.len() && b[j].is_ascii_hexdigit() {
            j += 1;
        }
        if j - i == 64 {
            out.push_str("<hex>");
            i = j;
        } else if j > i {
            out.push_str(&s[i..j]);
            i = j;
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// An inspect document with what differs by nature taken out.
fn normalized(doc: &Value, side_marks: &[(String, &str)]) -> Value {
    let id = doc["Id"].as_str().unwrap_or("").to_string();
    let name = doc["Name"].as_str().unwrap_or("").to_string();
    let mut text = doc.to_string();
    if !id.is_empty() {
        text = text.replace(&id, "<id>").replace(&id[..12], "<id12>");
    }
    // the name, whole (`"/n"`) or as a link's parent (`"/helper:/n/alias"`)
    text = text
        .replace(&format!("{name}\""), "<name>\"")
        .replace(&format!("{name}/"), "<name>/");
    for (from, to) in side_marks {
        text = text.replace(from.as_str(), to);
    }
    let mut v: Value = serde_json::from_str(&mask_hex64(&text)).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in [
        "Id",
        "Created",
        "Name",
        "State",
        "ResolvConfPath",
        "HostnamePath",
        "HostsPath",
        "LogPath",
        "GraphDriver",
        "SizeRw",
        "SizeRootFs",
    ] {
        o.remove(k);
    }
    if let Some(ns) = o.get_mut("NetworkSettings") {
        let networks = ns.get("Networks").cloned().unwrap_or(Value::Null);
        *ns = serde_json::json!({ "Networks": networks });
    }
    if let Some(c) = o.get_mut("Config").and_then(Value::as_object_mut) {
        c.remove("ExposedPorts");
        if let Some(l) = c.get_mut("Labels").and_then(Value::as_object_mut) {
            l.retain(|k, _| !k.starts_with("io.berth."));
        }
        if let Some(Value::Array(env)) = c.get_mut("Env") {
            // docker sends -e in a random order (a Go map)
            env.sort_by_key(|e| e.to_string());
        }
    }
    if let Some(h) = o.get_mut("HostConfig").and_then(Value::as_object_mut) {
        h.remove("PortBindings");
        h.remove("PublishAllPorts");
        if let Some(Value::Array(binds)) = h.get_mut("Binds") {
            // and -v in a random order too
            binds.sort_by_key(|e| e.to_string());
        }
    }
    if let Some(Value::Array(m)) = o.get_mut("Mounts") {
        m.sort_by_key(|e| e["Destination"].to_string());
    }
    v
}

/// Every leaf of a JSON document by its path.
fn leaves(v: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                leaves(x, format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(path, other.to_string());
        }
    }
}

fn diff(docker: &Value, berth: &Value) -> Vec<String> {
    let (mut d, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves(docker, String::new(), &mut d);
    leaves(berth, String::new(), &mut b);
    let mut out = Vec::new();
    for k in d.keys().chain(b.keys().filter(|k| !d.contains_key(*k))) {
        let (x, y) = (d.get(k), b.get(k));
        if x != y {
            out.push(format!(
                "    {k}: docker {} | berth {}",
                x.map_or("(absent)", String::as_str),
                y.map_or("(absent)", String::as_str)
            ));
        }
    }
    out
}

/// A row created on both sides: compared once every row has run (one inspect call).
struct Created {
    row: Row,
    docker: String,
    berth: String,
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn run_and_create_flags_match_the_docker_cli() {
    let rows = rows();
    assert!(rows.len() >= 60, "the table has {} rows", rows.len());
    let mut fx = Fixture::new();
    let mut failures: Vec<String> = Vec::new();
    let mut created: Vec<Created> = Vec::new();
    let started = std::time::Instant::now();

    for row in &rows {
        let (dn, bn) = (unique("d"), unique("b"));
        let b_args = fx.args(row, "berth");
        let b = run_cli("berth", &row.verb, &bn, &b_args);
        fx.created.push(bn.clone());
        let label = format!("line {} `{} {}`", row.line, row.verb, row.text);
        if let Some((code, text)) = &row.expect {
            let got = (b.status.code().unwrap_or(-1), first_line(&b));
            if got != (*code, text.clone()) {
                failures.push(format!(
                    "{label}\n    want (v29) {code} {text}\n    berth      {} {}",
                    got.0, got.1
                ));
            }
            continue;
        }
        let d_args = fx.args(row, "docker");
        let d = run_cli("docker", &row.verb, &dn, &d_args);
        fx.created.push(dn.clone());
        let (dc, bc) = (d.status.code().unwrap_or(-1), b.status.code().unwrap_or(-1));
        if dc != 0 || row.verb == "run" {
            let want = as_berth(&first_line(&d));
            if (dc, &want) != (bc, &first_line(&b)) {
                failures.push(format!(
                    "{label}\n    docker {dc} {want}\n    berth  {bc} {}",
                    first_line(&b)
                ));
            }
            continue;
        }
        if bc != 0 {
            failures.push(format!(
                "{label}\n    docker created it; berth exited {bc}: {}",
                stderr(&b).trim_end()
            ));
            continue;
        }
        if warnings(&d) != warnings(&b) {
            failures.push(format!(
                "{label}\n    warnings: docker {:?} | berth {:?}",
                warnings(&d),
                warnings(&b)
            ));
        }
        if row.text.contains("{cid}") {
            let dir = fx.dir.display();
            for (side, o) in [("docker", &d), ("berth", &b)] {
                let path = format!("{dir}/cid-{side}-{}", row.line);
                let written = std::fs::read_to_string(&path).unwrap_or_default();
                if written != stdout(o).trim_end() {
                    failures.push(format!(
                        "{label}\n    {side}'s cidfile holds {written:?}, its id is {:?}",
                        stdout(o).trim_end()
                    ));
                }
            }
        }
        created.push(Created {
            row: row.clone(),
            docker: dn,
            berth: bn,
        });
    }

    // one inspect for every container created on both sides
    if !created.is_empty() {
        let mut cmd = docker_cli();
        cmd.arg("inspect");
        for c in &created {
            cmd.args([&c.docker, &c.berth]);
        }
        let o = cmd.output().expect("docker inspect");
        let docs: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!("docker inspect: {e}: {}", stderr(&o));
        });
        assert_eq!(docs.len(), created.len() * 2, "{}", stderr(&o));
        let dir = fx.dir.display().to_string();
        for (c, pair) in created.iter().zip(docs.chunks(2)) {
            let marks =
                |side: &str| vec![(format!("{dir}/cid-{side}-{}", c.row.line), "<cidfile>")];
            let d = normalized(&pair[0], &marks("docker"));
            let b = normalized(&pair[1], &marks("berth"));
            let lines = diff(&d, &b);
            if !lines.is_empty() {
                failures.push(format!(
                    "line {} `{} {}`: inspect differs\n{}",
                    c.row.line,
                    c.row.verb,
                    c.row.text,
                    lines.join("\n")
                ));
            }
        }
    }
    eprintln!(
        "{} rows ({} created on both sides) in {:.1} s",
        rows.len(),
        created.len(),
        started.elapsed().as_secs_f64()
    );
    drop(fx);
    assert!(
        failures.is_empty(),
        "{} of {} rows differ from the docker CLI:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_table_reads() {
    let rows = rows();
    assert!(rows.len() >= 60);
    assert_eq!(
        words(r#"-l 'a b' --x="c \"d\"" e"#),
        ["-l", "a b", "--x=c \"d\"", "e"]
    );
    assert_eq!(words("--entrypoint ''"), ["--entrypoint", ""]);
    assert_eq!(mask_hex64(&"a".repeat(64)), "<hex>");
    assert_eq!(mask_hex64("abc"), "abc");
}
