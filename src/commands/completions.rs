//! Shell completion. `berth completions SHELL` prints a small registration script (the
//! committed copies under completions/ are checked fresh by a test); the shell then
//! asks berth itself for candidates (clap_complete's dynamic engine, `COMPLETE=SHELL
//! berth -- WORDS`), so subcommands and flags always match this binary, and container
//! names (start/stop/rm/port) and image names (run) come from the engine: fast, and
//! silent when no daemon answers.

use std::io::{self, Write};

use clap_complete::env::Shells;

use crate::cli::CompletionsArgs;
use crate::complete::COMPLETE_VAR;
use crate::error::Result;

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
