//! `berth man`: man pages rendered from the clap definitions (clap_mangen). One page per
//! subcommand: berth.1, berth-run.1, berth-nat-ls.1, ...; the committed copies under man/
//! are checked fresh by a test.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{Error, Result};

pub fn run(args: &ManArgs) -> Result<()> {
    if let Some(dir) = &args.out {
        fs::create_dir_all(dir)?;
        return Ok(write_man_pages(dir)?);
    }
    let wanted = match &args.command {
        Some(sub) => format!("berth-{sub}"),
        None => "berth".to_string(),
    };
    let page = pages()?
        .into_iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, page)| page)
        .ok_or_else(|| Error::usage("man", format!("no man page for '{wanted}'")))?;
    let mut out = io::stdout().lock();
    out.write_all(&page)?;
    out.flush()?;
    Ok(())
}

/// Write every page into `dir` (used by the freshness test).
pub fn write_man_pages(dir: &Path) -> io::Result<()> {
    for (name, page) in pages()? {
        fs::write(dir.join(format!("{name}.1")), page)?;
    }
    Ok(())
}

/// Every page as (name, roff text), the top-level page first.
fn pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut pages = Vec::new();
    collect(&cmd, "berth", &mut pages)?;
    Ok(pages)
}

fn collect(cmd: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) -> io::Result<()> {
    let mut buf = Vec::new();
    // the long help is laid out for a terminal; the page gets it as preformatted text
    let long_help = cmd.get_after_long_help().map(|h| h.to_string());
    let page_cmd = cmd
        .clone()
        .name(name.to_string())
        .after_long_help(None::<&str>);
    clap_mangen::Man::new(page_cmd).render(&mut buf)?;
    if let Some(text) = long_help {
        let title = if name == "berth-run" {
            "PORTS AND RULES"
        } else {
            "RULES"
        };
        buf.extend_from_slice(
            format!(".SH \"{title}\"\n.nf\n{}\n.fi\n", roff_escape(&text)).as_bytes(),
        );
    }
    pages.push((name.to_string(), buf));
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        collect(sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}

/// Text for a roff `.nf` block: backslashes doubled, no line starting with a control
/// character.
fn roff_escape(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
