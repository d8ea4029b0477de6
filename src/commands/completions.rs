//! Shell completion. `berth completions SHELL` prints a small registration script (the
//! committed copies under completions/ are checked fresh by a test); the shell then
//! asks berth itself for candidates (clap_complete's dynamic engine, `COMPLETE=SHELL
//! berth -- WORDS`), so subcommands and flags always match this binary, and container
//! names (start/stop/rm/port) and image names (run) come from the engine: fast, and
//! silent when no daemon answers.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::time::Duration;

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::Shells;

use crate::cli::{CompletionsArgs, DEFAULT_HOST};
use crate::engine::{self, Engine};
use crate::error::Result;

/// The variable the registration scripts set when they call berth back.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// How long a completion may wait for the engine before it offers nothing.
const ENGINE_WAIT: Duration = Duration::from_millis(300);

pub fn run(args: &CompletionsArgs) -> Result<()> {
    let mut out = io::stdout().lock();
    write_completions(args.shell, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Write the registration script for `shell`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) -> io::Result<()> {
    let name = match shell {
        clap_complete::Shell::Bash => "bash",
        clap_complete::Shell::Zsh => "zsh",
        clap_complete::Shell::Fish => "fish",
        clap_complete::Shell::Elvish => "elvish",
        clap_complete::Shell::PowerShell => "powershell",
        _ => return Err(io::Error::other("unsupported shell")),
    };
    let shells = Shells::builtins();
    let completer = shells
        .completer(name)
        .ok_or_else(|| io::Error::other("unsupported shell"))?;
    let mut buf = Vec::new();
    completer.write_registration(COMPLETE_VAR, "berth", "berth", "berth", &mut buf)?;
    out.write_all(&buf)
}

/// Container names, for start/stop/rm/port.
pub fn complete_containers(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = from_engine(|engine| async move {
        let list = engine.list(true).await.ok()?;
        Some(
            list.iter()
                .filter_map(crate::engine::name_of)
                .collect::<Vec<_>>(),
        )
    });
    candidates(names, current)
}

/// Image names (`repo:tag`), for run.
pub fn complete_images(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = from_engine(|engine| async move { engine.image_names().await.ok() });
    candidates(names, current)
}

fn candidates(names: Vec<String>, current: &OsStr) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    let mut names: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(current.as_ref()))
        .collect();
    names.sort();
    names.dedup();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// Ask the engine (DOCKER_HOST or the default socket), giving up quietly after
/// `ENGINE_WAIT`.
fn from_engine<F, Fut>(ask: F) -> Vec<String>
where
    F: FnOnce(Engine) -> Fut,
    Fut: std::future::Future<Output = Option<Vec<String>>>,
{
    let host = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    let host = host.unwrap_or_else(|| DEFAULT_HOST.to_string());
    engine::block_on(async move {
        let work = async {
            let engine = Engine::connect(&host).await.ok()?;
            ask(engine).await
        };
        tokio::time::timeout(ENGINE_WAIT, work).await.ok().flatten()
    })
    .unwrap_or_default()
}
