//! Everything berth does not implement itself goes to the docker CLI, unchanged: berth
//! execs it with the same arguments (as `hub` does for git), so stdin, the terminal,
//! signals and the exit status are docker's own. berth implements what touches ports
//! or a container's life; [`NATIVE`] lists those commands.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;

/// The commands berth runs itself (also under `container`, as docker has them).
pub const NATIVE: &[&str] = &[
    "run",
    "create",
    "start",
    "stop",
    "restart",
    "kill",
    "rm",
    "ps",
    "port",
    "inspect",
    "wait",
    "rename",
    "pause",
    "unpause",
    "nat",
    "watch",
    "completions",
    "man",
    "help",
];

/// `docker container X` names for berth's native commands (`ls` and `list` are `ps`).
pub fn container_alias(word: &str) -> Option<&'static str> {
    match word {
        "ls" | "list" | "ps" => Some("ps"),
        "run" => Some("run"),
        "create" => Some("create"),
        "start" => Some("start"),
        "stop" => Some("stop"),
        "restart" => Some("restart"),
        "kill" => Some("kill"),
        "rm" | "remove" => Some("rm"),
        "port" => Some("port"),
        "inspect" => Some("inspect"),
        "wait" => Some("wait"),
        "rename" => Some("rename"),
        "pause" => Some("pause"),
        "unpause" => Some("unpause"),
        _ => None,
    }
}

/// Global flags that take a value (docker's and berth's own).
const VALUE_FLAGS: &[&str] = &[
    "-H",
    "--host",
    "-c",
    "--context",
    "--config",
    "--berth-config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
];

/// Where the command word is in `args` (without the program name), skipping global
/// flags; `None` when there is none.
pub fn command_index(args: &[OsString]) -> Option<usize> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--" {
            return (i + 1 < args.len()).then_some(i + 1);
        }
        if !a.starts_with('-') || a == "-" {
            return Some(i);
        }
        let takes_value = VALUE_FLAGS.contains(&a.as_ref());
        i += if takes_value { 2 } else { 1 };
    }
    None
}

/// What to do with a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// berth runs it (the arguments may have been rewritten: `container ls` -> `ps`).
    Native(Vec<OsString>),
    /// The docker CLI runs it.
    Docker,
}

/// Decide who runs `args` (the program name left out).
pub fn route(args: &[OsString]) -> Route {
    let Some(i) = command_index(args) else {
        return Route::Native(args.to_vec());
    };
    let word = args[i].to_string_lossy();
    let next = args.get(i + 1).map(|a| a.to_string_lossy().into_owned());
    match word.as_ref() {
        // berth's own `config show`; docker's `config` (swarm configs) otherwise
        "config" => match next.as_deref() {
            Some("show") | Some("--help") | Some("-h") | None => Route::Native(args.to_vec()),
            _ => Route::Docker,
        },
        "container" => match next.as_deref().and_then(container_alias) {
            Some(native) => {
                let mut out = args[..i].to_vec();
                out.push(OsString::from(native));
                out.extend_from_slice(&args[i + 2..]);
                Route::Native(out)
            }
            None => Route::Docker,
        },
        w if NATIVE.contains(&w) => Route::Native(args.to_vec()),
        _ => Route::Docker,
    }
}

/// The docker CLI to hand commands to: the configured one, else `docker` on PATH, never
/// berth itself (a user may have linked berth as `docker`).
pub fn docker_cli(configured: Option<&Path>, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    let is_me = |p: &Path| {
        p.canonicalize()
            .ok()
            .is_some_and(|c| Some(&c) == me.as_ref())
    };
    let usable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            && !is_me(p)
    };
    if let Some(c) = configured {
        if c.is_absolute() {
            return usable(c).then(|| c.to_path_buf());
        }
        return std::env::split_paths(path_var?)
            .map(|d| d.join(c))
            .find(|p| usable(p));
    }
    std::env::split_paths(path_var?)
        .map(|d| d.join("docker"))
        .find(|p| usable(p))
}

/// Replace this process with the docker CLI running `args`; `host` (when berth's own
/// settings chose the engine) is given to it as DOCKER_HOST. Returns only on failure.
pub fn exec(docker: &Path, args: &[OsString], host: Option<&str>) -> Error {
    let mut cmd = Command::new(docker);
    cmd.args(args);
    if let Some(h) = host {
        cmd.env("DOCKER_HOST", h);
    }
    let e = cmd.exec();
    Error::Failed {
        message: format!("cannot run {}: {e}", docker.display()),
        code: 126,
    }
}

/// The error for a command berth hands on when there is no docker CLI.
pub fn no_docker_cli(word: &str) -> Error {
    Error::Failed {
        message: format!(
            "'{word}' is run by the docker CLI, which is not on PATH (set docker_cli in berth's config to name one).\n\
             berth runs these itself: {}",
            NATIVE
                .iter()
                .filter(|c| !matches!(**c, "help"))
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        code: 127,
    }
}

/// Hand this whole command line (as berth got it) to the docker CLI; returns only when
/// that fails.
pub fn hand_over() -> Error {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    crate::app::hand_on(&args)
}

/// Whether there is a docker CLI to hand commands to.
pub fn docker_available(ctx: &crate::commands::Context) -> bool {
    docker_cli(
        ctx.config.docker_cli.value.as_deref(),
        std::env::var_os("PATH").as_deref(),
    )
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn routes() {
        assert_eq!(
            route(&os(&["run", "-d", "busybox"])),
            Route::Native(os(&["run", "-d", "busybox"]))
        );
        assert_eq!(
            route(&os(&["-H", "tcp://x:1", "logs", "web"])),
            Route::Docker
        );
        assert_eq!(route(&os(&["--debug", "images"])), Route::Docker);
        assert_eq!(
            route(&os(&["config", "show"])),
            Route::Native(os(&["config", "show"]))
        );
        assert_eq!(route(&os(&["config", "ls"])), Route::Docker);
        assert_eq!(
            route(&os(&["-H", "h", "container", "ls", "-a"])),
            Route::Native(os(&["-H", "h", "ps", "-a"]))
        );
        assert_eq!(route(&os(&["container", "logs", "x"])), Route::Docker);
        assert_eq!(route(&os(&["--help"])), Route::Native(os(&["--help"])));
        assert_eq!(route(&os(&[])), Route::Native(vec![]));
        assert_eq!(route(&os(&["version"])), Route::Docker);
        // a global flag's value is not the command
        assert_eq!(route(&os(&["--context", "run", "images"])), Route::Docker);
    }
}
