//! docker's own PORTS column cases (tests/data/ps_ports_cases.tsv, from docker/cli's
//! TestDisplayablePorts and its code): berth renders every row as docker does. The
//! shared copy of the table is read too when it is beside the checkout.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use berth::display::{PortEntry, displayable_ports};

fn tables() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("tests/data/ps_ports_cases.tsv")];
    let shared = root.join("../shared/testdata/ps_ports_cases.tsv");
    if shared.exists() {
        files.push(shared);
    }
    files
}

/// `IP|PUBLIC|PRIVATE/PROTO;...` (an empty IP: exposed only).
fn entries(text: &str) -> Vec<PortEntry> {
    text.split(';')
        .map(|e| {
            let mut f = e.split('|');
            let ip = f.next().unwrap();
            let public: u16 = f.next().unwrap().parse().unwrap();
            let (private, proto) = f.next().unwrap().split_once('/').unwrap();
            PortEntry {
                ip: (!ip.is_empty()).then(|| ip.parse::<IpAddr>().unwrap()),
                public,
                private: private.parse().unwrap(),
                proto: proto.to_string(),
            }
        })
        .collect()
}

#[test]
fn every_row_renders_as_docker_renders_it() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in tables() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let got = displayable_ports(&entries(cols[0]));
            if got != cols[1] {
                failures.push(format!(
                    "{}:{}: {:?}\n  want {:?}\n  got  {:?}",
                    file.display(),
                    n + 1,
                    cols[0],
                    cols[1],
                    got
                ));
            }
            checked += 1;
        }
    }
    assert!(checked >= 27, "only {checked} rows read");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_wrong_expectation_is_seen() {
    // the positive control of the table's own check: a row with a wrong expectation fails
    let got = displayable_ports(&entries("0.0.0.0|8080|80/tcp"));
    assert_eq!(got, "0.0.0.0:8080->80/tcp");
    assert_ne!(got, "0.0.0.0:8080->81/tcp");
}
