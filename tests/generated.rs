//! completions/ and man/ are generated from the command line definitions and committed.
//! These tests fail when the committed files are stale; `scripts/gen-docs` writes them
//! anew (these tests never write them).

use std::fs;
use std::path::Path;

use clap_complete::Shell;

const SHELLS: [(Shell, &str); 5] = [
    (Shell::Bash, "berth.bash"),
    (Shell::Zsh, "_berth"),
    (Shell::Fish, "berth.fish"),
    (Shell::Elvish, "berth.elv"),
    (Shell::PowerShell, "_berth.ps1"),
];

fn check(path: &Path, want: &[u8]) {
    let have = fs::read(path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run scripts/gen-docs and commit the result",
        path.display()
    );
}

#[test]
fn completions_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (shell, file) in SHELLS {
        let mut buf = Vec::new();
        berth::commands::write_completions(shell, &mut buf).unwrap();
        assert!(buf.len() > 100, "{file}: suspiciously short");
        check(&dir.join(file), &buf);
    }
}

#[test]
fn man_pages_are_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let tmp = tempdir();
    berth::commands::write_man_pages(&tmp).unwrap();
    let mut names: Vec<String> = fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for want in ["berth.1", "berth-run.1", "berth-nat-ls.1", "berth-ps.1"] {
        assert!(names.iter().any(|n| n == want), "no {want} among {names:?}");
    }
    for name in &names {
        check(&dir.join(name), &fs::read(tmp.join(name)).unwrap());
    }
    let mut committed: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    assert_eq!(
        committed, names,
        "man/ holds pages the code no longer makes"
    );
    fs::remove_dir_all(&tmp).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-man-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir
}
