//! The one place where the command line is routed, parsed, dispatched, and where every
//! outcome becomes an exit code: 0 on success, 125 when berth fails (like docker), the
//! container's own status when it ran. A closed stdout (`berth nat ls | head`) is
//! success. Commands berth does not implement go to the docker CLI (`passthrough`).

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::commands;
use crate::error::{EXIT_BERTH, Error};
use crate::passthrough::{self, Route};

pub fn main() -> ExitCode {
    // a shell asking for completions (COMPLETE=SHELL berth -- WORDS): answer and exit
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(crate::complete::COMPLETE_VAR)
        .completer("berth")
        .complete();
    let args: Vec<OsString> = std::env::args_os().collect();
    let program = args.first().cloned().unwrap_or_else(|| "berth".into());
    let rest = &args[1.min(args.len())..];
    let native = match passthrough::route(rest) {
        Route::Docker => return report(&hand_on(rest)),
        Route::Native(native) => native,
    };
    let mut argv = vec![program];
    argv.extend(native.iter().cloned());
    let cli = match nat_ls_alone(&argv, &native) {
        Some(cli) => cli,
        None => {
            let matches = match Cli::command().try_get_matches_from(&argv) {
                Ok(m) => m,
                Err(e) => return clap_error(e, &native),
            };
            match Cli::from_arg_matches(&matches) {
                Ok(c) => c,
                Err(e) => return clap_error(e, &native),
            }
        }
    };
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let color = wants_color(&native);
            report_colored(&err, color)
        }
    }
}

/// `berth [OPTIONS] nat ls ...` parsed without building the other commands (see
/// `cli::NatLsCli`); `None` for anything that parser does not take as a listing (help
/// too), which then goes through [`Cli`] as usual and gets its help, or its error.
fn nat_ls_alone(argv: &[OsString], native: &[OsString]) -> Option<Cli> {
    use crate::cli::{Command, NatCommand, NatLsCli, NatLsOnly, NatLsOnlyNat};
    let i = passthrough::command_index(native)?;
    if native.get(i)? != "nat" || native.get(i + 1)? != "ls" {
        return None;
    }
    // an error, help included, is for the whole command line to give
    let matches = NatLsCli::command().try_get_matches_from(argv).ok()?;
    let parsed = NatLsCli::from_arg_matches(&matches).ok()?;
    let NatLsOnly::Nat(NatLsOnlyNat::Ls(args)) = parsed.command;
    Some(Cli {
        global: parsed.global,
        version: None,
        command: Command::Nat(NatCommand::Ls(args)),
    })
}

/// Run a command berth does not implement with the docker CLI (this process becomes
/// it); returns only when that fails.
pub fn hand_on(rest: &[OsString]) -> Error {
    let word = passthrough::command_index(rest)
        .map(|i| rest[i].to_string_lossy().into_owned())
        .unwrap_or_default();
    // berth's own settings: the docker CLI to run, and the engine when berth's own
    // configuration (BERTH_HOST, its config file) chose it
    let berth_dir = flag_value(rest, "--berth-config").map(std::path::PathBuf::from);
    let env = |n: &str| std::env::var(n).ok();
    let config = match crate::config::load(None, berth_dir.as_deref(), &env) {
        Ok(c) => c,
        Err(e) => return e,
    };
    // (as berth resolves it: DOCKER_CONTEXT beats berth's file, as it does for berth's
    // own commands)
    let context_env = std::env::var("DOCKER_CONTEXT").is_ok_and(|c| !c.is_empty());
    let host = match &config.host.source {
        crate::config::Source::File(_) if !context_env => Some(config.host.value.clone()),
        crate::config::Source::Env(v) if v == "BERTH_HOST" => Some(config.host.value.clone()),
        _ => None,
    };
    let given = flag_value(rest, "-H").is_some()
        || flag_value(rest, "--host").is_some()
        || flag_value(rest, "--context").is_some()
        || flag_value(rest, "-c").is_some();
    let Some(docker) = passthrough::docker_cli(
        config.docker_cli.value.as_deref(),
        std::env::var_os("PATH").as_deref(),
    ) else {
        return passthrough::no_docker_cli(&word);
    };
    // berth's own flag means nothing to docker
    let args = strip_flag(rest, "--berth-config");
    passthrough::exec(&docker, &args, host.as_deref().filter(|_| !given))
}

/// The value of a global flag (`--flag VALUE` or `--flag=VALUE`) before the command.
fn flag_value(args: &[OsString], flag: &str) -> Option<String> {
    let end = passthrough::command_index(args).unwrap_or(args.len());
    let mut i = 0;
    while i < end {
        let a = args[i].to_string_lossy();
        if a == flag {
            return args.get(i + 1).map(|v| v.to_string_lossy().into_owned());
        }
        if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            return Some(v.to_string());
        }
        i += 1;
    }
    None
}

/// `args` without a global flag and its value.
fn strip_flag(args: &[OsString], flag: &str) -> Vec<OsString> {
    let end = passthrough::command_index(args).unwrap_or(args.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if i < end && a == flag {
            i += 2;
            continue;
        }
        if i < end && a.starts_with(&format!("{flag}=")) {
            i += 1;
            continue;
        }
        out.push(args[i].clone());
        i += 1;
    }
    out
}

/// Whether berth's own error lines are coloured: config `color` (`always`, `never`,
/// `auto`: only on a terminal); `NO_COLOR` means never.
fn wants_color(native: &[OsString]) -> bool {
    use std::io::IsTerminal;
    let dir = flag_value(native, "--berth-config").map(std::path::PathBuf::from);
    let env = |n: &str| std::env::var(n).ok();
    match crate::config::load(None, dir.as_deref(), &env).map(|c| c.color.value) {
        Ok(crate::config::Color::Always) => true,
        Ok(crate::config::Color::Auto) => io::stderr().is_terminal(),
        _ => false,
    }
}

/// Print an error once, on stderr, and return its exit code.
fn report(err: &Error) -> ExitCode {
    report_colored(err, false)
}

/// The same, with berth's `berth:` prefix in bold red when `color`.
fn report_colored(err: &Error, color: bool) -> ExitCode {
    if let Error::Io(e) = err
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    let mut text = err.to_string();
    if color && let Some(rest) = text.strip_prefix("berth:") {
        text = format!("\x1b[1;31mberth:\x1b[0m{rest}");
    }
    if !text.is_empty() {
        let _ = writeln!(io::stderr(), "{text}");
    }
    ExitCode::from(err.code())
}

/// The subcommand a command line names (`run`, `nat ls`), and its clap definition.
fn subcommand(native: &[OsString]) -> (String, Option<clap::Command>) {
    let mut cmd = Cli::command();
    let mut path = Vec::new();
    let mut i = passthrough::command_index(native);
    while let Some(at) = i {
        let word = native[at].to_string_lossy().into_owned();
        let Some(sub) = cmd.find_subcommand(&word).cloned() else {
            break;
        };
        path.push(word);
        cmd = sub;
        i = (at + 1 < native.len()).then_some(at + 1).filter(|n| {
            let w = native[*n].to_string_lossy();
            !w.starts_with('-')
        });
    }
    if path.is_empty() {
        return (String::new(), None);
    }
    (path.join(" "), Some(cmd))
}

/// docker's usage line of a subcommand (`berth run [OPTIONS] IMAGE [COMMAND] [ARG...]`).
fn usage_line(path: &str, cmd: Option<&clap::Command>) -> String {
    match cmd.and_then(|c| c.get_overridden_usage()) {
        Some(u) => u
            .to_string()
            .replacen("berth COMMAND", &format!("berth {path}"), 1),
        None if path.is_empty() => "berth [OPTIONS] COMMAND [ARG...]".to_string(),
        None => format!("berth {path} [OPTIONS]"),
    }
}

/// A flag as docker names it in its errors: `"-m, --memory"` or `"--memory-swap"`.
fn flag_display(cmd: Option<&clap::Command>, shown: &str) -> String {
    let word = shown.split([' ', '=', '[']).next().unwrap_or(shown);
    let arg = cmd.and_then(|c| {
        c.get_arguments().find(|a| {
            a.get_long().is_some_and(|l| format!("--{l}") == word)
                || a.get_short().is_some_and(|s| format!("-{s}") == word)
                || a.get_all_aliases()
                    .is_some_and(|al| al.iter().any(|l| format!("--{l}") == word))
        })
    });
    match arg {
        Some(a) => match (a.get_short(), a.get_long()) {
            (Some(_), Some(l)) if word.starts_with("--") && format!("--{l}") != word => {
                word.to_string()
            }
            (Some(s), Some(l)) => format!("-{s}, --{l}"),
            (None, Some(l)) if format!("--{l}") == word => format!("--{l}"),
            _ => word.to_string(),
        },
        None => word.to_string(),
    }
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        other => Some(other.to_string()),
    }
}

/// clap's errors in docker's words (pflag and cobra's): unknown flags, bad values and
/// missing arguments exit 125 with the usage line; too few arguments exit 1.
/// How many arguments a command takes: (at least, at most; None for no limit).
fn arg_counts(cmd: &clap::Command) -> (usize, Option<usize>) {
    let mut min = 0;
    let mut max = Some(0usize);
    for a in cmd.get_positionals() {
        let range = a.get_num_args().unwrap_or_default();
        if a.is_required_set() {
            min += range.min_values().max(1);
        }
        max = match (max, range.max_values()) {
            (Some(m), n) if n != usize::MAX => Some(m + n.max(1)),
            _ => None,
        };
    }
    (min, max)
}

/// docker's words for a wrong number of arguments (its `cli.NoArgs`, `ExactArgs`,
/// `RequiresMinArgs`, `RequiresMaxArgs`, `RequiresRangeArgs`).
fn count_error(help: &str, usage: &str, min: usize, max: Option<usize>) -> String {
    let noun = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let (what, hint) = match max {
        Some(0) => ("accepts no arguments".to_string(), "Run"),
        None => (format!("requires at least {min} {}", noun(min)), "See"),
        Some(m) if m == min => (format!("requires {m} {}", noun(m)), "Run"),
        Some(m) if min == 0 => (format!("requires at most {m} {}", noun(m)), "Run"),
        Some(m) => (
            format!("requires at least {min} and at most {m} {}", noun(m)),
            "Run",
        ),
    };
    format!(
        "berth: '{help}' {what}\n\nUsage:  {usage}\n\n{hint} '{help} --help' for more information"
    )
}

fn clap_error(e: clap::Error, native: &[OsString]) -> ExitCode {
    let code = match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        _ => EXIT_BERTH,
    };
    let (path, cmd) = subcommand(native);
    let usage = usage_line(&path, cmd.as_ref());
    let help = if path.is_empty() {
        "berth".to_string()
    } else {
        format!("berth {path}")
    };
    let arg = context(&e, ContextKind::InvalidArg).unwrap_or_default();
    let first = match e.kind() {
        ErrorKind::UnknownArgument if !arg.starts_with('-') && !path.is_empty() => {
            let (min, max) = cmd.as_ref().map(arg_counts).unwrap_or((0, Some(0)));
            let text = count_error(&help, &usage, min, max);
            let _ = writeln!(io::stderr(), "{text}");
            return ExitCode::from(1);
        }
        ErrorKind::UnknownArgument => {
            if arg.starts_with("--") {
                format!("unknown flag: {}", arg.split('=').next().unwrap_or(&arg))
            } else {
                let c = arg.trim_start_matches('-').chars().next().unwrap_or('?');
                let group = native
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .find(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(c))
                    .unwrap_or_else(|| format!("-{c}"));
                format!("unknown shorthand flag: '{c}' in {group}")
            }
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
            if e.kind() == ErrorKind::ValueValidation
                || context(&e, ContextKind::InvalidValue).is_some_and(|v| !v.is_empty()) =>
        {
            let value = context(&e, ContextKind::InvalidValue).unwrap_or_default();
            let why = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "invalid value".to_string());
            format!(
                "invalid argument {} for {} flag: {why}",
                crate::display::go_quote(&value),
                crate::display::go_quote(&flag_display(cmd.as_ref(), &arg))
            )
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals | ErrorKind::WrongNumberOfValues => {
            let word = arg.split([' ', '=']).next().unwrap_or(&arg).to_string();
            if word.starts_with("--") {
                format!("flag needs an argument: {word}")
            } else {
                let c = word.trim_start_matches('-');
                format!("flag needs an argument: '{c}' in -{c}")
            }
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::MissingSubcommand if !path.is_empty() => {
            let (min, max) = cmd.as_ref().map(arg_counts).unwrap_or((1, None));
            let text = count_error(&help, &usage, min.max(1), max);
            let _ = writeln!(io::stderr(), "{text}");
            return ExitCode::from(1);
        }
        ErrorKind::InvalidSubcommand => {
            let word = context(&e, ContextKind::InvalidSubcommand).unwrap_or_default();
            let text = format!(
                "berth: unknown command: {help} {word}\n\nRun '{help} --help' for more information"
            );
            let _ = writeln!(io::stderr(), "{text}");
            return ExitCode::from(1);
        }
        _ => {
            // anything else: clap's own words, first line
            let rendered = e.render().to_string();
            rendered
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string()
        }
    };
    let text = format!("{first}\n\nUsage:  {usage}\n\nRun '{help} --help' for more information");
    let _ = writeln!(io::stderr(), "{text}");
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("berth")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn nat_ls_alone_parses_as_the_whole_command_line_does() {
        let lines: &[&[&str]] = &[
            &["nat", "ls"],
            &["nat", "ls", "-v", "-x", "--line-numbers", "BERTH"],
            &["nat", "ls", "-nvx"],
            &["nat", "ls", "-6", "--format", "json"],
            &["nat", "ls", "--table", "--berth"],
            &["nat", "ls", "help"],
            &["-H", "unix:///tmp/x.sock", "nat", "ls"],
            &["--tls", "--tlscacert", "/ca", "-D", "nat", "ls", "-v"],
            &[
                "--berth-config",
                "/etc/b",
                "-l",
                "debug",
                "nat",
                "ls",
                "--ipv6",
            ],
            &["--context=other", "nat", "ls", "POSTROUTING", "-x"],
        ];
        for words in lines {
            let a = argv(words);
            let alone = nat_ls_alone(&a, &a[1..]).unwrap_or_else(|| panic!("{words:?}"));
            let whole = Cli::try_parse_from(&a).unwrap();
            assert_eq!(format!("{alone:?}"), format!("{whole:?}"), "{words:?}");
        }
    }

    #[test]
    fn nat_ls_alone_leaves_help_version_errors_and_other_commands() {
        let lines: &[&[&str]] = &[
            &["nat", "ls", "-h"],
            &["nat", "ls", "--help"],
            &["nat", "ls", "-vh"],
            &["nat", "--help", "ls"],
            &["-v", "nat", "ls"],
            &["--version", "nat", "ls"],
            &["nat", "ls", "--bogus"],
            &["nat", "ls", "--format", "yaml"],
            &["nat", "ls", "A", "B"],
            &["nat", "sync"],
            &["nat"],
            &["ps"],
            &["help", "nat", "ls"],
        ];
        for words in lines {
            let a = argv(words);
            assert!(nat_ls_alone(&a, &a[1..]).is_none(), "{words:?}");
        }
        // positive control: the same line without the help flag is taken
        let a = argv(&["nat", "ls", "-v"]);
        assert!(nat_ls_alone(&a, &a[1..]).is_some());
    }
}
