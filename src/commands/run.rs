//! `berth run`: create and start a container and publish its ports. For now the
//! `--dry-run` plan: ports resolved exactly as Docker resolves them, nothing changed.

use std::io::{self, Write};

use serde::Serialize;

use crate::cli::{Format, RunArgs};
use crate::error::{Error, Result};
use crate::portspec::{self, PortSpecs};

pub fn run(args: &RunArgs) -> Result<()> {
    let specs = portspec::parse_all(&args.publish, &args.expose, args.publish_all)
        .map_err(|e| Error::usage("run", e.0))?;
    if !args.dry_run {
        return Err(Error::NotImplemented("berth run (without --dry-run)"));
    }
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer(&mut out, &DryRun::from(&specs)).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        Format::Text => write_plan(&mut out, args, &specs)?,
    }
    out.flush()?;
    Ok(())
}

/// The `--dry-run --format json` document.
#[derive(Serialize)]
struct DryRun {
    exposed: Vec<String>,
    bindings: Vec<JsonBinding>,
}

#[derive(Serialize)]
struct JsonBinding {
    port: String,
    host_ip: String,
    host_port: String,
}

impl From<&PortSpecs> for DryRun {
    fn from(specs: &PortSpecs) -> Self {
        DryRun {
            exposed: specs.exposed.iter().map(ToString::to_string).collect(),
            bindings: specs
                .bindings
                .iter()
                .map(|m| JsonBinding {
                    port: m.port.to_string(),
                    host_ip: m.binding.host_ip.clone(),
                    host_port: m.binding.host_port.clone(),
                })
                .collect(),
        }
    }
}

fn write_plan(out: &mut impl Write, args: &RunArgs, specs: &PortSpecs) -> io::Result<()> {
    writeln!(out, "image:    {}", args.image())?;
    if !args.command().is_empty() {
        let words: Vec<String> = args.command().iter().map(|w| shell_quote(w)).collect();
        writeln!(out, "command:  {}", words.join(" "))?;
    }
    let exposed: Vec<String> = specs.exposed.iter().map(ToString::to_string).collect();
    let exposed = if exposed.is_empty() {
        "(none)".to_string()
    } else {
        exposed.join(", ")
    };
    writeln!(out, "exposed:  {exposed}")?;
    if specs.bindings.is_empty() {
        writeln!(out, "publish:  (none)")?;
    }
    for (i, m) in specs.bindings.iter().enumerate() {
        let label = if i == 0 { "publish:" } else { "" };
        writeln!(out, "{label:<9} {} -> {}", host_side(&m.binding), m.port)?;
    }
    if args.publish_all {
        writeln!(
            out,
            "          and every port the image exposes, each on a free host port"
        )?;
    }
    writeln!(out, "dry run: nothing was changed")
}

/// `127.0.0.1:8080`, `[::1]:8080`, `*:8080` (every address), `*:<free port>`.
fn host_side(b: &portspec::Binding) -> String {
    let ip = match b.host_ip.as_str() {
        "" => "*".to_string(),
        ip if ip.contains(':') => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let port = match b.host_port.as_str() {
        "" => "<free port>".to_string(),
        p if p.contains('-') => format!("{p} (first free)"),
        p => p.to_string(),
    };
    format!("{ip}:{port}")
}

/// A word as a shell would need it typed: bare when safe, else in single quotes.
fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
