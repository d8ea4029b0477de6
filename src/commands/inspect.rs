//! `berth inspect`: docker's JSON for containers, as the engine wrote it, with the ports
//! berth published filled in where docker puts its own (`NetworkSettings.Ports` while
//! the container runs, `HostConfig.PortBindings`), so that every tool that reads
//! `docker inspect` sees them. `-f` takes docker's templates. Other objects (images,
//! networks, volumes) are the docker CLI's.

use std::io::{self, Write};

use serde_json::{Value, json};

use crate::cli::InspectArgs;
use crate::commands::Context;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::model::Published;
use crate::present::template::{Template, docker};

pub fn run(ctx: &Context, args: &InspectArgs) -> Result<()> {
    if args.kind.as_deref().is_some_and(|k| k != "container") {
        return Err(crate::passthrough::hand_over());
    }
    // docker parses the template before it looks anything up
    let format = Format::parse(args.format.as_deref())?;
    let only_containers = args.kind.is_some();
    let found = engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.endpoint).await?;
        let mut found = Vec::new();
        for name in &args.names {
            found.push((
                name.clone(),
                container_json(&engine, name, args.size, &ctx.settings.key_path).await?,
            ));
        }
        Ok::<_, Error>(found)
    })?;
    if found.iter().any(|(_, v)| v.is_none()) && !only_containers {
        // maybe images, networks or volumes: the docker CLI knows them all
        if crate::passthrough::docker_available(ctx) {
            return Err(crate::passthrough::hand_over());
        }
    }
    let mut errors = Vec::new();
    let mut values = Vec::new();
    let mut texts = Vec::new();
    for (name, v) in &found {
        let Some(v) = v else {
            errors.push(if only_containers {
                format!("Error response from daemon: No such container: {name}")
            } else {
                format!("error: no such object: {name}")
            });
            continue;
        };
        match &format {
            Format::Template(t) => match t.inspect(v, Some(&docker::CONTAINER)) {
                Ok(text) => texts.push(text),
                Err(e) => errors.push(format!("template parsing error: {e}")),
            },
            _ => values.push(v.clone()),
        }
    }
    let mut out = io::stdout().lock();
    format.flush(&mut out, &values, &texts)?;
    out.flush()?;
    if errors.is_empty() {
        return Ok(());
    }
    Err(Error::Message {
        message: errors.join("\n"),
        code: 1,
    })
}

/// `-f`: docker's indented JSON (none given), compact JSON (`json`), or a template.
enum Format {
    Indented,
    Json,
    Template(Template),
}

impl Format {
    fn parse(format: Option<&str>) -> Result<Format> {
        Ok(match format {
            None | Some("") => Format::Indented,
            Some("json") => Format::Json,
            Some(t) => Format::Template(Template::parse(t).map_err(|e| Error::Message {
                message: format!("template parsing error: {e}"),
                code: 64,
            })?),
        })
    }

    /// Everything inspected, written at once as docker does: the JSON array, or one
    /// line per template result (a lone empty line when there is none).
    fn flush(&self, out: &mut impl Write, values: &[Value], texts: &[String]) -> Result<()> {
        match self {
            Format::Indented => {
                let arr = Value::Array(values.to_vec());
                let mut buf = Vec::new();
                let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
                let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
                serde::Serialize::serialize(&arr, &mut ser).map_err(io::Error::from)?;
                out.write_all(&buf)?;
                writeln!(out)?;
            }
            Format::Json => {
                serde_json::to_writer(&mut *out, &Value::Array(values.to_vec()))
                    .map_err(io::Error::from)?;
                writeln!(out)?;
            }
            Format::Template(_) => {
                if texts.is_empty() {
                    writeln!(out)?;
                }
                for t in texts {
                    out.write_all(t.as_bytes())?;
                    writeln!(out)?;
                }
            }
        }
        Ok(())
    }
}

/// The engine's JSON of one container (None when there is no such container), with
/// berth's ports in it.
async fn container_json(
    engine: &Engine,
    name: &str,
    size: bool,
    key_path: &std::path::Path,
) -> Result<Option<Value>> {
    let path = format!(
        "/containers/{}/json{}",
        crate::engine::urlencode(name),
        if size { "?size=1" } else { "" }
    );
    let mut v: Value = match engine.raw_get(&path).await {
        Ok(Some((404, _))) => return Ok(None),
        Ok(Some((200, body))) => serde_json::from_slice(&body)
            .map_err(|e| Error::failed(format!("the engine's answer is not JSON: {e}")))?,
        Ok(Some((_, body))) => {
            let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            return Err(Error::Message {
                message: format!(
                    "Error response from daemon: {}",
                    msg["message"].as_str().unwrap_or("unexpected answer")
                ),
                code: 1,
            });
        }
        // over TLS or ssh: the typed answer, written out again
        Ok(None) | Err(_) => match engine.inspect(name).await {
            Ok(c) => serde_json::to_value(&c).map_err(|e| Error::failed(e.to_string()))?,
            Err(e) if engine::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(engine.error(e)),
        },
    };
    let shown = crate::trust::Shown::of(
        key_path,
        engine,
        [(v["Image"].as_str().map(str::to_string), true)],
    )
    .await;
    fill_ports(&mut v, &shown);
    Ok(Some(v))
}

/// Put berth's bindings where docker puts the ones it publishes.
pub fn fill_ports(v: &mut Value, shown: &crate::trust::Shown) {
    let labels: std::collections::HashMap<String, String> = v["Config"]["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), x.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let Some(published) = shown.published(Some(&labels), v["Image"].as_str()) else {
        return;
    };
    let running = v["State"]["Running"].as_bool().unwrap_or(false);
    let (has4, has6) = families(v);
    // HostConfig.PortBindings: what was asked (an address only where one was named)
    let mut asked = serde_json::Map::new();
    for p in &published {
        for (h, c) in p.pairs() {
            let key = format!("{c}/{}", p.proto);
            let ip = if p.dual {
                String::new()
            } else {
                p.host_ip.to_string()
            };
            push(
                &mut asked,
                &key,
                json!({"HostIp": ip, "HostPort": h.to_string()}),
            );
        }
    }
    merge(&mut v["HostConfig"]["PortBindings"], asked);
    if running {
        let mut served = serde_json::Map::new();
        for p in &published {
            add_served(&mut served, p, has4, has6);
        }
        merge(&mut v["NetworkSettings"]["Ports"], served);
    }
}

fn add_served(served: &mut serde_json::Map<String, Value>, p: &Published, has4: bool, has6: bool) {
    for ip in p.host_ips(has4, has6) {
        for (h, c) in p.pairs() {
            let key = format!("{c}/{}", p.proto);
            push(
                served,
                &key,
                json!({"HostIp": ip.to_string(), "HostPort": h.to_string()}),
            );
        }
    }
}

fn push(m: &mut serde_json::Map<String, Value>, key: &str, entry: Value) {
    match m.get_mut(key) {
        Some(Value::Array(a)) => a.push(entry),
        _ => {
            m.insert(key.to_string(), Value::Array(vec![entry]));
        }
    }
}

/// Merge bindings into a `{"80/tcp": [...] | null}` object (created when missing).
fn merge(target: &mut Value, add: serde_json::Map<String, Value>) {
    if add.is_empty() {
        return;
    }
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let obj = target.as_object_mut().expect("an object");
    for (k, list) in add {
        match obj.get_mut(&k) {
            Some(Value::Array(a)) => a.extend(list.as_array().cloned().unwrap_or_default()),
            _ => {
                obj.insert(k, list);
            }
        }
    }
}

fn families(v: &Value) -> (bool, bool) {
    let (mut has4, mut has6) = (false, false);
    if let Some(nets) = v["NetworkSettings"]["Networks"].as_object() {
        for n in nets.values() {
            has4 |= n["IPAddress"].as_str().is_some_and(|s| !s.is_empty());
            has6 |= n["GlobalIPv6Address"]
                .as_str()
                .is_some_and(|s| !s.is_empty());
        }
    }
    (has4, has6)
}
