//! Docker's own port-spec behaviour, as a table (tests/data/portspec_cases.tsv, a copy of
//! the project's shared test data; the shared copy is read too when it is beside the
//! checkout, so new cases there are checked without a copy step).

use std::path::{Path, PathBuf};

use berth::portspec::{PortSpecs, parse_all};

fn tables() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("tests/data/portspec_cases.tsv")];
    let shared = root.join("../shared/testdata/portspec_cases.tsv");
    if shared.exists() {
        files.push(shared);
    }
    files
}

fn bindings(specs: &PortSpecs) -> String {
    specs
        .each_binding()
        .map(|m| format!("{}|{}|{}", m.binding.host_ip, m.binding.host_port, m.port))
        .collect::<Vec<_>>()
        .join(";")
}

fn exposed(specs: &PortSpecs) -> String {
    specs
        .exposed
        .ports()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";")
}

#[test]
fn every_case_matches_docker() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in tables() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(
                cols.len() >= 4,
                "{}:{}: too few columns",
                file.display(),
                n + 1
            );
            let (kind, input, expect, result) = (cols[0], cols[1], cols[2], cols[3]);
            let got = match kind {
                "publish" | "publish_long" => {
                    parse_all(&[input.to_string()], &[], false).map(|s| bindings(&s))
                }
                "expose" => parse_all(&[], &[input.to_string()], false).map(|s| exposed(&s)),
                other => panic!("{}:{}: unknown kind {other}", file.display(), n + 1),
            };
            let got = match got {
                Ok(v) => ("ok", v),
                Err(e) => ("err", e.0),
            };
            if got != (expect, result.to_string()) {
                failures.push(format!(
                    "{}:{}: {kind} {input:?}: want {expect} {result:?}, got {} {:?}",
                    file.display(),
                    n + 1,
                    got.0,
                    got.1
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 130, "only {checked} cases read");
    eprintln!("{checked} conformance cases match");
}
