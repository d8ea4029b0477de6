//! Completion scripts really complete: bash is driven through its completion function,
//! zsh through a real interactive shell in tmux; container names come from the engine.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn bin_dir() -> String {
    Path::new(berth_bin())
        .parent()
        .unwrap()
        .display()
        .to_string()
}

/// What bash's completion for berth offers for `words` (the last one being completed).
fn bash_complete(words: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/berth.bash");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let cmd = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={cword}; COMP_TYPE=9; \
         _clap_complete_berth berth '{}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words[cword],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &cmd])
        .env(
            "PATH",
            format!("{}:{}", bin_dir(), std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let got = bash_complete(&["berth", "r"]);
    assert_eq!(got, ["run", "restart", "rm", "rename"], "{got:?}");
    let got = bash_complete(&["berth", "run", "--pub"]);
    assert!(
        got.contains(&"--publish".to_string()) && got.contains(&"--publish-all".to_string()),
        "{got:?}"
    );
    let got = bash_complete(&["berth", "nat", ""]);
    assert!(
        got.contains(&"ls".to_string()) && got.contains(&"sync".to_string()),
        "{got:?}"
    );
}

#[test]
fn completion_is_silent_without_a_daemon() {
    let out = Command::new(berth_bin())
        .args(["--", "berth", "rm", ""])
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("DOCKER_HOST", "unix:///nonexistent/berth.sock")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Cannot connect"));
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn bash_completes_container_and_image_names() {
    let c = run_detached("compl", &["busybox", "sleep", "300"]);
    let prefix = &c.name[..c.name.len() - 3];
    let got = bash_complete(&["berth", "rm", prefix]);
    assert!(got.contains(&c.name), "{got:?}");
    let got = bash_complete(&["berth", "port", prefix]);
    assert!(got.contains(&c.name), "{got:?}");
    let got = bash_complete(&["berth", "run", "-d", "busy"]);
    assert!(got.contains(&"busybox:latest".to_string()), "{got:?}");
}

/// zsh, as a person uses it: an interactive shell in tmux, TAB pressed for real.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn zsh_completes_in_a_real_terminal() {
    let c = run_detached("zsh", &["busybox", "sleep", "300"]);
    let session = unique("tmux");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/_berth");
    let rc_dir = std::env::temp_dir().join(unique("zdot"));
    std::fs::create_dir_all(&rc_dir).unwrap();
    std::fs::write(
        rc_dir.join(".zshrc"),
        format!(
            "PROMPT='READY> '\nexport PATH={}:$PATH\nautoload -U compinit && compinit -u\nsource {}\n",
            bin_dir(),
            script.display()
        ),
    )
    .unwrap();
    sh_ok(&format!(
        "tmux new-session -d -s {session} -x 200 -y 50 'ZDOTDIR={} zsh -i'",
        rc_dir.display()
    ));
    let capture = || sh(&format!("tmux capture-pane -p -t {session}")).1;
    let ready = eventually(10, || capture().contains("READY>"));
    let type_keys = |keys: &str| sh_ok(&format!("tmux send-keys -t {session} {keys}"));
    if ready {
        type_keys("'berth r' Tab Tab");
    }
    let subcommands = eventually(10, || {
        let s = capture();
        s.contains("rm") && s.contains("run")
    });
    let screen1 = capture();
    type_keys("C-u");
    type_keys(&format!("'berth rm {}' Tab", &c.name[..c.name.len() - 3]));
    let names = eventually(10, || capture().contains(&format!("berth rm {}", c.name)));
    let screen2 = capture();
    sh(&format!("tmux kill-session -t {session}"));
    let _ = std::fs::remove_dir_all(&rc_dir);
    assert!(ready, "zsh did not start");
    assert!(
        subcommands,
        "berth r<TAB> did not offer rm and run:\n{screen1}"
    );
    assert!(
        names,
        "berth rm <TAB> did not complete the container name:\n{screen2}"
    );
}
