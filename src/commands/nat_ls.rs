//! `berth nat ls`: the nat table exactly as `iptables -t nat -nL` prints it (the
//! default, with `-v`, `-x`, `--line-numbers` and CHAIN as iptables takes them), as a
//! table annotated with container names (`--table`), or as JSON (`--format json`).
//!
//! Where the host uses iptables-nft, berth reads the nat table from nf_tables itself
//! (`nat::netlink`) and writes it as `iptables-save -c -t nat` would: no process, so
//! that berth is faster than iptables. Elsewhere, and wherever the table holds
//! something that reader does not know, one process: `iptables-save -c -t nat` of the
//! host's variant (`ip6tables-save` of the same variant with `-6`), the listing built
//! while it is still writing. Either way the listing follows the iptables release
//! that wrote (or would write) the text, named by its header: see `render::Dialect`.
//! The reader needs that header from one earlier run of iptables-save (remembered in
//! berth's run folder while the program is the same file), so the first listing after
//! a boot or an upgrade of iptables runs it.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use crate::cli::{Format, NatLsArgs};
use crate::commands::Context;
use crate::error::{Error, Result};
use crate::model::Family;
use crate::nat::netlink;
use crate::nat::render::{self, ChainFilter, ListFlags, Lister, NoSuchChain};
use crate::nat::save::Table;
use crate::nat::variant::{Tool, Variant, find_program};

/// iptables' exit status for a chain that does not exist.
const EXIT_NO_CHAIN: u8 = 1;

pub fn run(ctx: &Context, args: &NatLsArgs) -> Result<()> {
    // an engine named elsewhere (not the default socket): its containers' ports are not in
    // this host's tables, and a listing here would say nothing about them
    if ctx.settings.endpoint.source != crate::config::Source::Default {
        crate::engine::block_on(async {
            match crate::engine::Engine::connect(&ctx.settings.endpoint).await {
                Ok(engine) => crate::commands::require_local(ctx, &engine, "nat ls").await,
                // no answer: the listing is this host's all the same
                Err(_) => Ok(()),
            }
        })?;
    }
    let variant = crate::firewall::variant(ctx.settings.iptables)?;
    let family = if args.ipv6 { Family::V6 } else { Family::V4 };
    let program = save_program(variant, family)?;
    let filter = ChainFilter {
        chain: args.chain.clone(),
        berth_only: args.berth.then(|| ctx.settings.layout.clone()),
    };
    let flags = ListFlags {
        verbose: args.verbose,
        exact: args.exact,
        line_numbers: args.line_numbers,
    };
    let mut save = Source::open(ctx, variant, family, &program)?;

    if !args.table && args.format == Format::Text {
        let mut lister = Lister::new(flags, filter).with_family(family);
        save.for_each_line(|line| lister.feed_bytes(line))?;
        save.finish(variant, family)?;
        let listing = lister.finish().map_err(no_such_chain)?;
        let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
        listing.write_to(&mut out)?;
        out.flush()?;
        return Ok(());
    }

    let mut text = Vec::new();
    save.for_each_line(|line| {
        text.extend_from_slice(line);
        text.push(b'\n');
    })?;
    save.finish(variant, family)?;
    let text = String::from_utf8_lossy(&text);
    let table = Table::parse_family(&text, family);
    if let Some(chain) = &filter.chain
        && table.chain(chain).is_none()
    {
        return Err(no_such_chain(NoSuchChain {
            chain: chain.clone(),
            generator: table.generator.map(str::to_string),
            family,
        }));
    }
    let names = container_names(&ctx.settings.host);
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.format == Format::Json {
        serde_json::to_writer(&mut out, &render::json(&table, &filter, &names))
            .map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(render::table_view(&table, &filter, flags, &names).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// The variant's iptables-save for one family (`ip6tables-nft-save`, or plain
/// `ip6tables-save` where the host has only that).
fn save_program(variant: Variant, family: Family) -> Result<std::path::PathBuf> {
    if family == Family::V4 {
        return variant.program(Tool::Save);
    }
    let name = variant.command_for(family, Tool::Save);
    find_program(name).ok_or_else(|| {
        Error::failed(format!(
            "{name} not found: `berth nat ls -6` needs ip6tables ({variant}) \
             (Debian and Ubuntu: apt-get install iptables)"
        ))
    })
}

/// iptables' own words and status for a chain it does not have.
fn no_such_chain(err: NoSuchChain) -> Error {
    let _ = writeln!(io::stderr(), "{}", err.iptables_message());
    Error::Exit(EXIT_NO_CHAIN)
}

pub use crate::nat::netlink::SOURCE_ENV;

/// Where the save text comes from: nf_tables itself, or an iptables-save child.
enum Source {
    Netlink(Vec<u8>),
    Child {
        save: IptablesSave,
        remembered: netlink::Remembered,
        run_dir: std::path::PathBuf,
        /// the program's identity before it ran
        id: Option<String>,
        header: Option<String>,
    },
}

impl Source {
    fn open(ctx: &Context, variant: Variant, family: Family, program: &Path) -> Result<Source> {
        let choice = std::env::var(SOURCE_ENV).unwrap_or_default();
        let remembered = netlink::Remembered::new(&ctx.settings.run_dir, family);
        // taken before iptables-save runs (see `Remembered::keep`)
        let id = netlink::identity(program);
        if variant == Variant::Nft && choice != "iptables-save" {
            let text = id
                .as_deref()
                .and_then(|id| remembered.header(id))
                .filter(|h| netlink::knows_release(h))
                .and_then(|header| netlink::nat_save(family, &header));
            if let Some(text) = text {
                return Ok(Source::Netlink(text));
            }
        }
        if choice == "netlink" {
            return Err(Error::failed(format!(
                "{SOURCE_ENV}=netlink: the nat table cannot be read over netlink here"
            )));
        }
        Ok(Source::Child {
            save: IptablesSave::spawn(program)?,
            remembered,
            run_dir: ctx.settings.run_dir.clone(),
            id,
            header: None,
        })
    }

    fn for_each_line(&mut self, mut f: impl FnMut(&[u8])) -> Result<()> {
        match self {
            Source::Netlink(text) => {
                for line in text
                    .strip_suffix(b"\n")
                    .unwrap_or(text)
                    .split(|b| *b == b'\n')
                {
                    f(line);
                }
                Ok(())
            }
            Source::Child { save, header, .. } => save.for_each_line(|line| {
                if header.is_none() && line.starts_with(b"# Generated by ") {
                    *header = Some(String::from_utf8_lossy(line).into_owned());
                }
                f(line)
            }),
        }
    }

    fn finish(self, variant: Variant, family: Family) -> Result<()> {
        match self {
            Source::Netlink(_) => {
                legacy_warning(family);
                Ok(())
            }
            Source::Child {
                save,
                remembered,
                run_dir,
                id,
                header,
            } => {
                save.finish(variant, family)?;
                // the release, for the next listing to read the table itself
                if variant == Variant::Nft
                    && let (Some(id), Some(header)) = (id, header)
                {
                    remembered.keep(&run_dir, &id, &header);
                }
                Ok(())
            }
        }
    }
}

/// A running `iptables-save -c -t nat`.
struct IptablesSave {
    program: String,
    child: Child,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl IptablesSave {
    fn spawn(program: &Path) -> Result<Self> {
        let name = program.display().to_string();
        let mut child = Command::new(program)
            .args(["-c", "-t", "nat"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::failed(format!("cannot run {name}: {e}")))?;
        // read stderr on the side: a chatty iptables must not block on a full pipe
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                buf
            })
        });
        Ok(IptablesSave {
            program: name,
            child,
            stderr,
        })
    }

    /// Call `f` with each line of the output (without its `\n`) as it arrives.
    fn for_each_line(&mut self, mut f: impl FnMut(&[u8])) -> Result<()> {
        let Some(mut pipe) = self.child.stdout.take() else {
            return Ok(());
        };
        let mut buf = vec![0u8; 256 * 1024];
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                // one line longer than the buffer: make room
                buf.resize(buf.len() * 2, 0);
            }
            let n = match pipe.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::failed(format!("reading from {}: {e}", self.program)));
                }
            };
            let end = filled + n;
            let mut start = 0;
            // only the new bytes can hold the next newline
            let mut scan = filled;
            while let Some(pos) = memchr::memchr(b'\n', &buf[scan..end]) {
                f(&buf[start..scan + pos]);
                start = scan + pos + 1;
                scan = start;
            }
            buf.copy_within(start..end, 0);
            filled = end - start;
        }
        if filled > 0 {
            f(&buf[..filled]);
        }
        Ok(())
    }

    /// Wait for iptables-save; its failure (no permission, no kernel support) is ours.
    fn finish(mut self, variant: Variant, family: Family) -> Result<()> {
        let status = self
            .child
            .wait()
            .map_err(|e| Error::failed(format!("waiting for {}: {e}", self.program)))?;
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr);
        if !status.success() {
            let detail = stderr.trim();
            let detail = if detail.is_empty() {
                status.to_string()
            } else {
                detail.to_string()
            };
            return Err(Error::failed(format!(
                "cannot read the nat table ({variant} {}): {detail}",
                program_of(family)
            )));
        }
        // iptables-nft -L warns like iptables-nft-save does, naming itself
        let program = program_of(family);
        if variant == Variant::Nft && stderr.contains(&format!("{program}-legacy tables present")) {
            let _ = writeln!(
                io::stderr(),
                "# Warning: {program}-legacy tables present, use {program}-legacy to see them"
            );
        }
        Ok(())
    }
}

/// The warning iptables-nft gives when the legacy tables are in use too (their names
/// list in /proc is not empty), as iptables-nft -L words it; the nat table read over
/// netlink has no iptables-save to say it.
fn legacy_warning(family: Family) {
    let names = match family {
        Family::V4 => "/proc/net/ip_tables_names",
        Family::V6 => "/proc/net/ip6_tables_names",
    };
    if std::fs::read(names).is_ok_and(|t| !t.is_empty()) {
        let program = program_of(family);
        let _ = writeln!(
            io::stderr(),
            "# Warning: {program}-legacy tables present, use {program}-legacy to see them"
        );
    }
}

/// `iptables` or `ip6tables`.
fn program_of(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

/// 12-hex container ID -> name, for the views that name containers; empty when the
/// engine does not answer within a moment (the rules are shown all the same).
fn container_names(host: &str) -> HashMap<String, String> {
    crate::engine::block_on(async {
        let ask = async {
            let engine = crate::engine::Engine::connect_with(host, None).await.ok()?;
            engine.short_id_names().await.ok()
        };
        tokio::time::timeout(std::time::Duration::from_secs(2), ask)
            .await
            .ok()
            .flatten()
    })
    .unwrap_or_default()
}
