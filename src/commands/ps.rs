//! `berth ps`: docker's container list, column for column. PORTS shows the ports berth
//! published (from each container's `io.berth.ports` label) exactly as docker renders
//! published ports; containers berth did not create show what the engine published.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use serde_json::Value;

use crate::cli::PsArgs;
use crate::commands::Context;
use crate::display::{self, PortEntry};
use crate::engine::{self, Engine};
use crate::error::{Error, Result};

pub fn run(ctx: &Context, args: &PsArgs) -> Result<()> {
    let containers = engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.host).await?;
        engine.list(args.all).await
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let rows: Vec<Row> = containers
        .iter()
        .map(|c| Row::new(c, !args.no_trunc, now))
        .collect();
    let mut out = io::stdout().lock();
    let format = args.format.as_deref().unwrap_or("");
    if args.quiet {
        if !format.is_empty() {
            eprintln!(
                "WARNING: Ignoring custom format, because both --format and --quiet are set."
            );
        }
        for r in &rows {
            writeln!(out, "{}", r.id)?;
        }
    } else {
        out.write_all(render(&rows, format)?.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// One container, its fields as docker's template context has them.
pub struct Row {
    pub id: String,
    pub image: String,
    pub command: String,
    pub created_at: String,
    pub running_for: String,
    pub status: String,
    pub state: String,
    pub ports: String,
    pub names: String,
    pub labels: String,
    pub networks: String,
    pub mounts: String,
    pub local_volumes: String,
}

impl Row {
    pub fn new(c: &ContainerSummary, trunc: bool, now: i64) -> Row {
        let full_id = c.id.clone().unwrap_or_default();
        let id = if trunc {
            full_id.chars().take(12).collect()
        } else {
            full_id
        };
        let command = c.command.clone().unwrap_or_default();
        let command = display::go_quote(&if trunc {
            display::ellipsis(&command, 20)
        } else {
            command
        });
        let created = c.created.unwrap_or(0);
        let names = c.names.clone().unwrap_or_default();
        let names = if trunc {
            names
                .iter()
                .map(|n| n.trim_start_matches('/'))
                .find(|n| !n.contains('/'))
                .unwrap_or("")
                .to_string()
        } else {
            names
                .iter()
                .map(|n| n.trim_start_matches('/'))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut labels: Vec<String> = c
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.sort();
        let mut networks: Vec<String> = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .map(|n| n.keys().cloned().collect())
            .unwrap_or_default();
        networks.sort();
        let mounts = c.mounts.clone().unwrap_or_default();
        let mount_names: Vec<String> = mounts
            .iter()
            .map(|m| {
                let n = m
                    .name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .or(m.source.clone())
                    .unwrap_or_default();
                if trunc { display::ellipsis(&n, 15) } else { n }
            })
            .collect();
        let local = mounts
            .iter()
            .filter(|m| m.driver.as_deref() == Some("local"))
            .count();
        Row {
            id,
            image: image_name(c, trunc),
            command,
            created_at: display::go_time_utc(created),
            running_for: format!("{} ago", display::human_duration(now - created)),
            status: c.status.clone().unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            ports: display::displayable_ports(&port_entries(c)),
            names,
            labels: labels.join(","),
            networks: networks.join(","),
            mounts: mount_names.join(","),
            local_volumes: local.to_string(),
        }
    }

    /// A template field by name, as `{{.Name}}` reads it.
    fn field(&self, name: &str) -> Option<&str> {
        Some(match name {
            "ID" => &self.id,
            "Image" => &self.image,
            "Command" => &self.command,
            "CreatedAt" => &self.created_at,
            "RunningFor" => &self.running_for,
            "Status" => &self.status,
            "State" => &self.state,
            "Ports" => &self.ports,
            "Names" => &self.names,
            "Labels" => &self.labels,
            "Networks" => &self.networks,
            "Mounts" => &self.mounts,
            "LocalVolumes" => &self.local_volumes,
            "Size" => "0B",
            _ => return None,
        })
    }

    /// `{{json .}}`: every field, keys sorted, as docker prints it.
    fn json(&self) -> String {
        let mut m = BTreeMap::new();
        for key in [
            "Command",
            "CreatedAt",
            "ID",
            "Image",
            "Labels",
            "LocalVolumes",
            "Mounts",
            "Names",
            "Networks",
            "Ports",
            "RunningFor",
            "Size",
            "State",
            "Status",
        ] {
            m.insert(
                key.to_string(),
                Value::String(self.field(key).unwrap_or("").to_string()),
            );
        }
        display::go_json(&Value::Object(m.into_iter().collect()))
    }
}

fn header(field: &str) -> &'static str {
    match field {
        "ID" => "CONTAINER ID",
        "Image" => "IMAGE",
        "Command" => "COMMAND",
        "CreatedAt" => "CREATED AT",
        "RunningFor" => "CREATED",
        "Status" => "STATUS",
        "State" => "STATE",
        "Ports" => "PORTS",
        "Names" => "NAMES",
        "Labels" => "LABELS",
        "Networks" => "NETWORKS",
        "Mounts" => "MOUNTS",
        "LocalVolumes" => "LOCAL VOLUMES",
        "Size" => "SIZE",
        _ => "",
    }
}

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// One piece of a template: literal text or an action.
enum Piece {
    Text(String),
    Field(String),
    Json,
}

/// The subset of Go templates docker users script `ps` with: `{{.Field}}`, `{{json .}}`,
/// a leading `table`, and `\t` / `\n` escapes.
fn parse_template(t: &str) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| template_error(format!("template: :1: unclosed action in {t:?}")))?;
        let action = rest[start + 2..start + end].trim();
        let action = action.trim_start_matches('-').trim_end_matches('-').trim();
        if action == "json ." {
            pieces.push(Piece::Json);
        } else if let Some(name) = action.strip_prefix('.') {
            if header(name).is_empty() {
                return Err(template_error(format!(
                    "template: :1:{}: executing \"\" at <.{name}>: can't evaluate field {name} in type *formatter.ContainerContext",
                    start + 3
                )));
            }
            pieces.push(Piece::Field(name.to_string()));
        } else {
            return Err(template_error(format!(
                "template: :1: function {action:?} not defined"
            )));
        }
        rest = &rest[start + end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

fn template_error(message: String) -> Error {
    Error::Message { message, code: 1 }
}

/// The list in `format` (empty or `table` = docker's default table; `json` = one JSON
/// object per line; otherwise a template, a table when it starts with `table`).
pub fn render(rows: &[Row], format: &str) -> Result<String> {
    let format = match format {
        "" | "table" => DEFAULT_TABLE,
        "json" => "{{json .}}",
        f => f,
    };
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_matches(' ')),
        None => (false, format),
    };
    let body = body.replace("\\t", "\t").replace("\\n", "\n");
    let pieces = parse_template(&body)?;
    let render_row = |row: Option<&Row>| -> String {
        let mut s = String::new();
        for p in &pieces {
            match (p, row) {
                (Piece::Text(t), _) => s.push_str(t),
                (Piece::Field(f), Some(r)) => s.push_str(r.field(f).unwrap_or("")),
                (Piece::Field(f), None) => s.push_str(header(f)),
                (Piece::Json, Some(r)) => s.push_str(&r.json()),
                (Piece::Json, None) => {}
            }
        }
        s
    };
    if !table {
        let mut out = String::new();
        for r in rows {
            out.push_str(&render_row(Some(r)));
            out.push('\n');
        }
        return Ok(out);
    }
    let mut lines = vec![render_row(None)];
    lines.extend(rows.iter().map(|r| render_row(Some(r))));
    let cells: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    Ok(display::tabwrite(&cells))
}

/// docker's IMAGE column: the reference as given, without `docker.io/library/` and
/// without a digest; an image ID truncated like container IDs.
fn image_name(c: &ContainerSummary, trunc: bool) -> String {
    let image = c.image.clone().unwrap_or_default();
    if image.is_empty() {
        return "<no image>".into();
    }
    if !trunc {
        return image;
    }
    let short = |s: &str| -> String {
        let s = s.split_once(':').map_or(s, |(_, r)| r);
        s.chars().take(12).collect()
    };
    if let Some(id) = &c.image_id
        && short(id) == short(&image)
    {
        return short(&image);
    }
    let mut name = image.as_str();
    let mut tag = "";
    if let Some((n, _digest)) = name.split_once('@') {
        name = n;
    }
    if let Some(i) = name.rfind(':')
        && !name[i + 1..].contains('/')
    {
        tag = &name[i + 1..];
        name = &name[..i];
    }
    let name = name
        .strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name);
    if tag.is_empty() {
        name.to_string()
    } else {
        format!("{name}:{tag}")
    }
}

/// The PORTS entries of a container: berth's published ports (running containers
/// only, as docker shows none for stopped ones), the engine's published ports, and the
/// ports only exposed.
pub fn port_entries(c: &ContainerSummary) -> Vec<PortEntry> {
    let running = c.state == Some(ContainerSummaryStateEnum::RUNNING);
    let mut entries = Vec::new();
    let published = if running {
        crate::model::published_of(c.labels.as_ref())
    } else {
        None
    };
    let mut bound: Vec<(u16, String)> = Vec::new();
    let (has_v4, has_v6) = crate::model::families_of_listed(c);
    for p in published.iter().flatten() {
        for ip in p.host_ips(has_v4, has_v6) {
            for (h, cport) in p.pairs() {
                entries.push(PortEntry {
                    ip: Some(ip),
                    public: h,
                    private: cport,
                    proto: p.proto.clone(),
                });
                bound.push((cport, p.proto.clone()));
            }
        }
    }
    for p in c.ports.iter().flatten() {
        let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
        let ip: Option<IpAddr> =
            p.ip.as_deref()
                .filter(|s| !s.is_empty())
                .and_then(|s| s.parse().ok());
        if ip.is_none() && bound.contains(&(p.private_port, proto.clone())) {
            continue;
        }
        entries.push(PortEntry {
            ip,
            public: p.public_port.unwrap_or(0),
            private: p.private_port,
            proto,
        });
    }
    entries
}
