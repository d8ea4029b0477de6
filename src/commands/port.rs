//! `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: docker's output and errors, from the
//! ports berth published (the container's label) or, for containers berth did not
//! create, from what the engine published.

use std::io::{self, Write};

use serde::Serialize;

use crate::cli::{Format, PortArgs};
use crate::commands::Context;
use crate::display;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};

/// One published port: container port -> host address.
#[derive(Debug, Serialize)]
struct Mapping {
    port: String,
    host_ip: String,
    host_port: String,
}

pub fn run(ctx: &Context, args: &PortArgs) -> Result<()> {
    // the PRIVATE_PORT argument, as moby's ParsePort reads it
    let wanted = match &args.private_port {
        None => None,
        Some(raw) => Some(parse_port(raw).map_err(|message| Error::Message { message, code: 1 })?),
    };
    let mappings = engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.endpoint).await?;
        let c = engine
            .inspect_full(&args.container)
            .await
            .map_err(|e| engine.error(e))?;
        let running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        let mut out = Vec::new();
        let labels = c.config.as_ref().and_then(|c| c.labels.as_ref());
        let image = c.image.clone();
        let shown =
            crate::trust::Shown::of(&ctx.settings.key_path, &engine, [(image.clone(), true)]).await;
        if let Some(published) = shown.published(labels, image.as_deref()) {
            if running {
                let (has_v4, has_v6) = crate::model::families_of(&c);
                for p in &published {
                    for ip in p.host_ips(has_v4, has_v6) {
                        for (h, cport) in p.pairs() {
                            out.push(Mapping {
                                port: format!("{cport}/{}", p.proto),
                                host_ip: ip.to_string(),
                                host_port: h.to_string(),
                            });
                        }
                    }
                }
            }
        } else if let Some(ports) = c.network_settings.as_ref().and_then(|n| n.ports.as_ref()) {
            for (port, bindings) in ports {
                for b in bindings.iter().flatten() {
                    out.push(Mapping {
                        port: port.clone(),
                        host_ip: b.host_ip.clone().unwrap_or_default(),
                        host_port: b.host_port.clone().unwrap_or_default(),
                    });
                }
            }
        }
        Ok::<_, Error>(out)
    })?;

    let selected: Vec<&Mapping> = match &wanted {
        None => mappings.iter().collect(),
        Some(port) => mappings.iter().filter(|m| &m.port == port).collect(),
    };
    if let (Some(raw), true) = (&args.private_port, selected.is_empty()) {
        return Err(Error::Message {
            message: format!("no public port '{raw}' published for {}", args.container),
            code: 1,
        });
    }
    let mut out = io::stdout().lock();
    if args.format == Format::Json {
        serde_json::to_writer(&mut out, &selected).map_err(io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut lines: Vec<String> = selected
        .iter()
        .map(|m| {
            let host = display::join_host_port(&m.host_ip, &m.host_port);
            if wanted.is_some() {
                host
            } else {
                format!("{} -> {host}", m.port)
            }
        })
        .collect();
    lines.sort_by(|a, b| display::natural_cmp(a, b));
    for l in lines {
        writeln!(out, "{l}")?;
    }
    out.flush()?;
    Ok(())
}

/// moby's `network.ParsePort`: `80`, `80/udp`; the protocol lower-cased, tcp by default.
fn parse_port(raw: &str) -> std::result::Result<String, String> {
    if raw.is_empty() {
        return Err("invalid port: value is empty".into());
    }
    let (port, proto) = raw.split_once('/').unwrap_or((raw, ""));
    let n = crate::portspec::parse_expose(port)
        .ok()
        .filter(|ports| ports.len() == 1 && !port.contains('-'))
        .map(|ports| ports[0].number);
    let Some(n) = n else {
        let why = if port.is_empty() {
            "value is empty"
        } else if port.bytes().all(|b| b.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        return Err(format!("invalid port '{port}': {why}"));
    };
    let proto = if proto.is_empty() {
        "tcp".to_string()
    } else {
        proto.to_lowercase()
    };
    Ok(format!("{n}/{proto}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_port_argument() {
        assert_eq!(parse_port("80"), Ok("80/tcp".into()));
        assert_eq!(parse_port("53/UDP"), Ok("53/udp".into()));
        assert_eq!(
            parse_port("abc"),
            Err("invalid port 'abc': invalid syntax".into())
        );
        assert_eq!(
            parse_port("70000"),
            Err("invalid port '70000': value out of range".into())
        );
        assert_eq!(
            parse_port("/tcp"),
            Err("invalid port '': value is empty".into())
        );
    }
}
