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
use crate::present::template::{Options, Template, docker};

pub fn run(ctx: &Context, args: &PsArgs) -> Result<()> {
    // docker hands every filter to the engine; berth keeps `publish` for itself, since
    // the engine does not know the ports berth publishes
    let mut engine_filters: Vec<(String, String)> = Vec::new();
    let mut publish: Vec<String> = Vec::new();
    for f in &args.filter {
        let (k, v) = f.split_once('=').unwrap_or((f.as_str(), ""));
        let k = k.trim().to_lowercase();
        let v = v.trim().to_string();
        if k == "publish" {
            if v.contains(':') {
                return Err(Error::Message {
                    message: format!(
                        "Error response from daemon: filter for 'publish' should not contain ':': {v}"
                    ),
                    code: 1,
                });
            }
            publish.push(v);
        } else {
            engine_filters.push((k, v));
        }
    }
    let wanted = publish
        .iter()
        .map(|p| parse_port_filter(p))
        .collect::<std::result::Result<Vec<_>, String>>()
        .map_err(|m| Error::Message {
            message: m,
            code: 1,
        })?;
    // docker: --latest is --last 1 unless --last is given
    let limit = if args.latest && args.last == -1 {
        1
    } else {
        args.last
    };
    // docker's order: the format (the flag, else config.json's psFormat), checked and
    // run once on an empty row before the list is asked for (which also tells whether
    // the sizes are needed)
    let format = match &args.format {
        Some(f) if !f.is_empty() => {
            if args.quiet {
                eprintln!(
                    "WARNING: Ignoring custom format, because both --format and --quiet are set."
                );
            }
            f.clone()
        }
        _ => config_ps_format(&ctx.docker_config).unwrap_or_default(),
    };
    let mut size = args.size;
    if !format.is_empty() {
        let used = check_format(&format)?;
        if !args.quiet && !size && used {
            size = true;
        }
    }
    let containers = engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.endpoint).await?;
        let filters: Vec<(&str, &str)> = engine_filters
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let list = engine.list_with(args.all, &filters, limit, size).await?;
        // berth's ports only from labels it sealed, not from an image's
        let shown = crate::trust::Shown::of(
            &ctx.settings.key_path,
            &engine,
            list.iter().map(|c| {
                let sealed = c
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(crate::model::SEAL_LABEL));
                (c.image_id.clone(), sealed)
            }),
        )
        .await;
        Ok::<_, Error>((list, shown))
    })?;
    let (containers, shown) = containers;
    let containers: Vec<ContainerSummary> = containers
        .into_iter()
        .filter(|c| {
            wanted.is_empty()
                || port_entries(c, &shown).iter().any(|e| {
                    e.ip.is_some()
                        && wanted
                            .iter()
                            .any(|(a, b, proto)| (*a..=*b).contains(&e.public) && *proto == e.proto)
                })
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let rows: Vec<Row> = containers
        .iter()
        .map(|c| Row::new(c, !args.no_trunc, now, &shown))
        .collect();
    let mut out = io::stdout().lock();
    out.write_all(render(&rows, &final_format(&format, args.quiet, size))?.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `psFormat` in docker's config.json, if set.
fn config_ps_format(dir: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("psFormat")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
}

/// docker's check of a `--format` before it lists: the template parses, and runs on an
/// empty row. Returns whether the template reads `.Size`.
fn check_format(format: &str) -> Result<bool> {
    let tmpl = Template::parse(format).map_err(|e| Error::Message {
        message: format!("failed to parse template: {e}"),
        code: 1,
    })?;
    let used = std::cell::Cell::new(false);
    let run = |size: &str| {
        let row = Row {
            size: size.to_string(),
            ..Row::default()
        };
        let opts = Options::typed(&docker::PS_CONTAINER)
            .method("Label", 1, |_| Ok(Value::String(String::new())))
            .method("Size", 0, |_| {
                used.set(true);
                Ok(Value::String(size.to_string()))
            });
        tmpl.execute(&row.data(), &opts)
    };
    let empty = run("").map_err(|e| Error::Message {
        message: format!("failed to execute template: {e}"),
        code: 1,
    })?;
    // `{{json .}}` or `{{print .}}` read every column, Size among them
    let other = run("0B").unwrap_or_default();
    Ok(used.get() || empty != other)
}

/// The template docker lays the list out with (its `NewContainerFormat`).
fn final_format(format: &str, quiet: bool, size: bool) -> String {
    match format {
        "" | "table" if quiet => "{{.ID}}".to_string(),
        "" | "table" if size => format!("{DEFAULT_TABLE}\t{{{{.Size}}}}"),
        "" | "table" => DEFAULT_TABLE.to_string(),
        "raw" => {
            let mut f = if quiet {
                "container_id: {{.ID}}".to_string()
            } else {
                "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n".to_string()
            };
            if size && !quiet {
                f.push_str("size: {{.Size}}\\n");
            }
            f
        }
        _ if quiet => "{{.ID}}".to_string(),
        f => f.to_string(),
    }
}

/// A `publish=`/`expose=` filter value: `80`, `80-90`, `80/udp` (tcp by default).
fn parse_port_filter(v: &str) -> std::result::Result<(u16, u16, String), String> {
    let ports = crate::portspec::parse_expose(v).map_err(|e| {
        format!("Error response from daemon: error while looking up for publish {v}: {e}")
    })?;
    let first = ports
        .first()
        .ok_or_else(|| format!("Error response from daemon: invalid filter value {v}"))?;
    let last = ports.last().expect("one at least");
    Ok((first.number, last.number, first.proto.clone()))
}

/// One container, its fields as docker's template context has them.
#[derive(Default)]
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
    pub size: String,
    /// For `{{.Label "key"}}`.
    pub label_map: BTreeMap<String, String>,
    /// The image's platform (`{"architecture":"amd64","os":"linux"}`), when the engine
    /// says it (an engine with a multi-platform image store); `null` otherwise.
    pub platform: Value,
}

impl Row {
    pub fn new(c: &ContainerSummary, trunc: bool, now: i64, shown: &crate::trust::Shown) -> Row {
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
            ports: display::displayable_ports(&port_entries(c, shown)),
            names,
            labels: labels.join(","),
            networks: networks.join(","),
            mounts: mount_names.join(","),
            local_volumes: local.to_string(),
            size: size_text(c),
            label_map: c.labels.clone().unwrap_or_default().into_iter().collect(),
            platform: c
                .image_manifest_descriptor
                .as_ref()
                .and_then(|d| d.platform.as_ref())
                .and_then(|p| serde_json::to_value(p).ok())
                .unwrap_or(Value::Null),
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
            "Size" => &self.size,
            _ => return None,
        })
    }

    /// The row as the template's data: every column, by its Go method's name.
    fn data(&self) -> Value {
        let mut m: serde_json::Map<String, Value> = COLUMNS
            .iter()
            .map(|(k, _)| {
                (
                    k.to_string(),
                    Value::String(self.field(k).unwrap_or("").to_string()),
                )
            })
            .collect();
        m.insert("Platform".into(), self.platform.clone());
        Value::Object(m)
    }
}

/// Each column's Go method and its table header.
const COLUMNS: [(&str, &str); 14] = [
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("State", "STATE"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Networks", "NETWORKS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Size", "SIZE"),
];

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// The list in `format` as docker's formatter writes it: empty or `table` is docker's
/// default table, `json` one JSON object per line, anything else a Go template, laid
/// out as a table (header from the column names, tab-aligned) when it starts with
/// `table`. Nothing is written when a row fails: the error is docker's text.
pub fn render(rows: &[Row], format: &str) -> Result<String> {
    let format = match format {
        "" | "table" => DEFAULT_TABLE,
        "json" => "{{json .}}",
        f => f,
    };
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, format),
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    let tmpl = Template::parse(&body).map_err(|e| Error::Message {
        message: format!("template parsing error: {e}"),
        code: 1,
    })?;
    let mut text = String::new();
    for r in rows {
        let labels = &r.label_map;
        let opts = Options::typed(&docker::PS_CONTAINER).method("Label", 1, |a| {
            let key = a.first().and_then(Value::as_str).unwrap_or("");
            Ok(Value::String(labels.get(key).cloned().unwrap_or_default()))
        });
        // (the words of docker's formatter, once the template passed the check before
        // the list)
        let out = tmpl.execute(&r.data(), &opts).map_err(|e| Error::Message {
            message: format!("template parsing error: {e}"),
            code: 1,
        })?;
        text.push_str(&out);
        text.push('\n');
    }
    if !table {
        return Ok(text);
    }
    // the header: the same template over the column names, with docker's header
    // functions; a header that fails to render is left out, as docker leaves it
    let mut names: serde_json::Map<String, Value> = COLUMNS
        .iter()
        .map(|(k, h)| (k.to_string(), Value::String(h.to_string())))
        .collect();
    names.insert("Platform".into(), Value::String("PLATFORM".into()));
    let opts = Options::new().header_functions().method("Label", 1, |a| {
        let key = a.first().and_then(Value::as_str).unwrap_or("");
        let last = key.rsplit('.').next().unwrap_or("");
        Ok(Value::String(last.replace(['-', '_'], " ")))
    });
    let header = tmpl
        .execute(&Value::Object(names), &opts)
        .unwrap_or_default();
    let all = format!("{header}\n{text}");
    let cells: Vec<Vec<String>> = all
        .strip_suffix('\n')
        .unwrap_or(&all)
        .split('\n')
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    Ok(display::tabwrite(&cells))
}

/// docker's SIZE: `12.3kB (virtual 7.47MB)`.
fn size_text(c: &ContainerSummary) -> String {
    let rw = c.size_rw.unwrap_or(0);
    match c.size_root_fs {
        Some(root) if root > 0 => format!(
            "{} (virtual {})",
            crate::engine::human_size_with_precision(rw, 3),
            crate::engine::human_size_with_precision(root, 3)
        ),
        _ => crate::engine::human_size_with_precision(rw, 3),
    }
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
pub fn port_entries(c: &ContainerSummary, shown: &crate::trust::Shown) -> Vec<PortEntry> {
    let running = c.state == Some(ContainerSummaryStateEnum::RUNNING);
    let mut entries = Vec::new();
    let published = if running {
        shown.published(c.labels.as_ref(), c.image_id.as_deref())
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
