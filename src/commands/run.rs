//! `berth run`: create a container, start it, publish its ports, and (in the
//! foreground) stream its output and exit with its status, like `docker run`.
//!
//! Order of work, each step undone if a later one fails or the user interrupts:
//! parse ports (pure) -> image (pull if missing) -> allocation lock: allocate host
//! ports, create (labels `io.berth.ports` + its seal) -> start -> reconcile (the
//! container's rules, in one transaction per family) -> report.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::rc::Rc;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{AttachContainerOptionsBuilder, WaitContainerOptionsBuilder};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::alloc;
use crate::cli::{Format, RunArgs};
use crate::commands::Context;
use crate::commands::tty::{RawMode, terminal_size};
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::firewall::desired;
use crate::firewall::host;
use crate::lock::Lock;
use crate::model::{Family, PORTS_LABEL, Published, RUN_LABEL, SEAL_LABEL};
use crate::portspec::{self, Port, PortSpecs};
use crate::reconcile::{self, Options, Reconciler, Scope};

pub fn run(ctx: &Context, args: &RunArgs) -> Result<()> {
    let specs = portspec::parse_all(&args.publish, &args.expose, args.publish_all)
        .map_err(|e| Error::usage("run", e.0))?;
    if args.dry_run {
        return dry_run(ctx, args, &specs);
    }
    let config = container_config(args).map_err(|e| Error::usage("run", e))?;
    if (!specs.bindings.is_empty() || args.publish_all) && !host::may_change_firewall() {
        // before anything exists: a container berth could not publish is not created
        return Err(Error::failed(host::NEED_ROOT));
    }
    engine::block_on(run_async(ctx, args, specs, config))
}

/// What berth created so far, so an error or an interrupt can undo it.
#[derive(Default)]
struct Undo {
    container: Option<String>,
}

async fn run_async(
    ctx: &Context,
    args: &RunArgs,
    specs: PortSpecs,
    body: ContainerCreateBody,
) -> Result<()> {
    let engine = Engine::connect(&ctx.settings.host)
        .await
        .map_err(|e| run_error(&e))?;
    let fw = crate::firewall::iptables(ctx.settings.iptables)?;
    let rec = Reconciler::new(&engine, &fw, &ctx.settings);
    let undo = Rc::new(RefCell::new(Undo::default()));
    let setup = setup(ctx, &rec, args, specs, body, undo.clone());
    let started = tokio::select! {
        r = setup => r,
        _ = interrupted() => Err(Error::Exit(130)),
    };
    let started = match started {
        Ok(s) => s,
        Err(e) => {
            let done = std::mem::take(&mut *undo.borrow_mut());
            rollback(&rec, &done).await;
            return Err(e);
        }
    };
    if args.detach {
        println!("{}", started.id);
        if started.published {
            crate::watch::ensure_running(&ctx.settings);
        }
        return Ok(());
    }
    foreground(&rec, args, started).await
}

/// A started container, and what the foreground part needs of it.
struct Started {
    id: String,
    attach: Option<bollard::container::AttachContainerResults>,
    /// The container's exit status, from a wait registered before it started.
    exit: Option<tokio::sync::oneshot::Receiver<i64>>,
    published: bool,
}

async fn setup(
    ctx: &Context,
    rec: &Reconciler<'_>,
    args: &RunArgs,
    mut specs: PortSpecs,
    mut body: ContainerCreateBody,
    undo: Rc<RefCell<Undo>>,
) -> Result<Started> {
    let engine = rec.engine;
    let image = args.image();
    let exposed = match engine
        .image_exposed_ports(image)
        .await
        .map_err(|e| run_error(&e))?
    {
        Some(e) => e,
        None => {
            eprintln!(
                "Unable to find image '{}' locally",
                engine::full_image_name(image)
            );
            engine
                .pull(image, &mut io::stderr())
                .await
                .map_err(|e| run_error(&e))?;
            engine
                .image_exposed_ports(image)
                .await
                .map_err(|e| run_error(&e))?
                .ok_or_else(|| Error::failed(format!("No such image: {image}")))?
        }
    };
    if args.publish_all {
        for p in &exposed {
            if let Ok(ports) = portspec::parse_expose(p) {
                specs.exposed.extend(ports);
            }
        }
        specs.publish_all();
    }
    body.exposed_ports = Some(specs.exposed.iter().map(Port::to_string).collect());
    let host_network = matches!(args.network.as_deref(), Some("host"));
    if host_network && !specs.bindings.is_empty() {
        eprintln!("WARNING: Published ports are discarded when using host network mode");
        specs.bindings.clear();
    }

    // Allocate under the allocation lock, held until the container (and so its label,
    // which holds the ports from then on) exists.
    let mut published: Vec<Published> = Vec::new();
    let id = if specs.bindings.is_empty() {
        engine
            .create(args.name.as_deref(), body)
            .await
            .map_err(|e| run_error(&e))?
    } else {
        host::check_other_firewall(None).map_err(|m| Error::usage("run", m))?;
        check_families(engine, args.network.as_deref(), &specs).await?;
        let key = rec.key().cloned().ok_or_else(|| {
            Error::failed(format!(
                "cannot read or create {}",
                ctx.settings.key_path.display()
            ))
        })?;
        let _alloc =
            Lock::acquire(&ctx.settings.alloc_lock()).map_err(|e| Error::failed(e.to_string()))?;
        let taken = reconcile::ports::taken(engine, rec.fw).await?;
        published = alloc::allocate(&specs, &taken, &reconcile::ports::pool(&ctx.settings))
            .map_err(|e| Error::usage("run", e.0))?;
        let label = alloc::to_label(&published);
        let seal = key.seal(&label)?;
        let labels = body.labels.get_or_insert_with(HashMap::new);
        labels.insert(PORTS_LABEL.to_string(), label);
        labels.insert(SEAL_LABEL.to_string(), seal);
        engine
            .create(args.name.as_deref(), body)
            .await
            .map_err(|e| run_error(&e))?
    };
    undo.borrow_mut().container = Some(id.clone());
    ctx.settings.pause("after-create");

    let attach = if args.detach {
        None
    } else {
        let opts = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdin(args.interactive)
            .stdout(true)
            .stderr(true)
            .build();
        Some(
            engine
                .docker()
                .attach_container(&id, Some(opts))
                .await
                .map_err(|e| engine.error(e))?,
        )
    };

    // Like docker: wait for the exit before starting, or a short-lived --rm container
    // could be gone before the wait is registered, and the wait would never end.
    let exit = if args.detach {
        None
    } else {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let docker = engine.docker().clone();
        let condition = if args.rm { "removed" } else { "next-exit" };
        let opts = WaitContainerOptionsBuilder::default()
            .condition(condition)
            .build();
        let wait_id = id.clone();
        tokio::spawn(async move {
            let mut wait = docker.wait_container(&wait_id, Some(opts));
            let code = match wait.next().await {
                Some(Ok(r)) => r.status_code,
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                // the engine lost the container (removed): docker reports 0
                _ => 0,
            };
            let _ = tx.send(code);
        });
        // let the wait reach the engine before the start does
        tokio::task::yield_now().await;
        Some(rx)
    };

    if let Err(e) = engine.start(&id).await {
        let message = engine.message(&e);
        return Err(Error::Failed {
            code: start_exit_code(&message),
            message,
        });
    }
    ctx.settings.pause("after-start");

    if !published.is_empty() {
        publish_started(rec, &id).await?;
    }
    Ok(Started {
        id,
        attach,
        exit,
        published: !published.is_empty(),
    })
}

/// Write a started container's rules; any binding left unpublished is an error.
pub async fn publish_started(rec: &Reconciler<'_>, id: &str) -> Result<()> {
    let report = rec
        .reconcile(
            &Scope::Containers(vec![id.to_string()]),
            &Options::default(),
        )
        .await?;
    let Some(id12) = crate::model::Id12::new(id) else {
        return Ok(());
    };
    if let Some(note) = report.notes_of(&id12).next() {
        return Err(Error::failed(note.problem.to_string()));
    }
    if !report.published.contains(&id12) {
        return Err(Error::failed(
            "the container has no address on a bridge network: cannot publish its ports",
        ));
    }
    Ok(())
}

/// What the kernel cannot NAT, refused before anything exists: IPv6 loopback
/// bindings, and IPv6 addresses on a network without IPv6.
async fn check_families(engine: &Engine, network: Option<&str>, specs: &PortSpecs) -> Result<()> {
    let v6: Vec<&portspec::Mapping> = specs
        .bindings
        .iter()
        .filter(|m| m.binding.host_ip.contains(':'))
        .collect();
    if let Some(m) = v6.iter().find(|m| {
        m.binding
            .host_ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    }) {
        return Err(Error::usage(
            "run",
            format!(
                "cannot publish {}: the kernel does not forward IPv6 loopback traffic to a container (IPv6 has no route_localnet); publish on 127.0.0.1, or on an IPv6 address of this host",
                portspec::render(m)
            ),
        ));
    }
    let Some(m) = v6.first() else { return Ok(()) };
    let net = match network {
        None | Some("default") => "bridge",
        Some(n) => n,
    };
    if !engine.network_has_ipv6(net).await? {
        return Err(Error::usage(
            "run",
            format!(
                "cannot publish {}: network {net} has no IPv6 (create one with docker network create --ipv6)",
                portspec::render(m)
            ),
        ));
    }
    Ok(())
}

/// Undo what `setup` did: the container goes, then its rules (whatever of them landed).
async fn rollback(rec: &Reconciler<'_>, undo: &Undo) {
    let Some(id) = &undo.container else { return };
    if let Err(e) = rec.engine.remove(id, true, true).await
        && !engine::is_not_found(&e)
    {
        eprintln!(
            "berth: cannot remove container {id}: {}",
            rec.engine.message(&e)
        );
    }
    if let Err(e) = rec
        .reconcile(&Scope::Containers(vec![id.clone()]), &Options::default())
        .await
    {
        eprintln!("berth: cannot remove the rules of {id}: {e}");
    }
}

async fn foreground(rec: &Reconciler<'_>, args: &RunArgs, started: Started) -> Result<()> {
    let engine = rec.engine;
    let Started {
        id,
        attach,
        exit,
        published,
    } = started;
    let mut exit = exit.expect("a foreground run waits for its container");
    let raw = if args.tty && io::stdin().is_terminal() {
        RawMode::enable().ok()
    } else {
        None
    };
    if args.tty {
        resize(engine, &id).await;
    }
    let mut output_done = attach.is_none();
    let mut output = None;
    if let Some(a) = attach {
        output = Some(a.output);
        if args.interactive {
            let mut input = a.input;
            tokio::spawn(async move {
                let mut stdin = tokio::io::stdin();
                let _ = tokio::io::copy(&mut stdin, &mut input).await;
                let _ = input.shutdown().await;
            });
        }
    }

    let mut winch =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
    let mut stopping = false;
    let mut code: Option<i64> = None;
    let mut stdout = io::stdout();
    let mut stderr = io::stderr();
    let scope = Scope::Containers(vec![id.clone()]);
    loop {
        tokio::select! {
            item = async { output.as_mut().unwrap().next().await }, if !output_done => {
                match item {
                    Some(Ok(log)) => {
                        use bollard::container::LogOutput;
                        let (w, bytes): (&mut dyn Write, _) = match log {
                            LogOutput::StdErr { message } => (&mut stderr, message),
                            LogOutput::StdOut { message } | LogOutput::Console { message } => (&mut stdout, message),
                            LogOutput::StdIn { .. } => continue,
                        };
                        let _ = w.write_all(&bytes);
                        let _ = w.flush();
                    }
                    _ => output_done = true,
                }
            }
            c = &mut exit, if code.is_none() => {
                code = Some(c.unwrap_or(0));
            }
            // the container has exited: what it wrote arrives at once; do not wait on an
            // attach stream the engine forgot to close
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)), if code.is_some() && !output_done => {
                output_done = true;
            }
            _ = async { winch.as_mut().unwrap().recv().await }, if winch.is_some() && args.tty => {
                resize(engine, &id).await;
            }
            _ = interrupted() => {
                if stopping {
                    // a second interrupt: leave now (the rules still go below)
                    code = Some(130);
                    output_done = true;
                } else {
                    stopping = true;
                    if published {
                        // the ports go dark before the engine lets the address go
                        let withdraw = Options { withdraw: vec![id.clone()], ..Options::default() };
                        if let Err(e) = rec.reconcile(&scope, &withdraw).await {
                            eprintln!("berth: {e}");
                        }
                    }
                    if let Err(e) = engine.stop(&id, None, None).await
                        && crate::engine::is_not_found(&e)
                    {
                        // nothing left to wait for
                        code = code.or(Some(130));
                        output_done = true;
                    }
                }
            }
        }
        if code.is_some() && output_done {
            break;
        }
    }
    drop(raw);
    if published && let Err(e) = rec.reconcile(&scope, &Options::default()).await {
        eprintln!("berth: {e}");
    }
    let code = code.unwrap_or(0);
    if code == 0 {
        Ok(())
    } else {
        Err(Error::Exit(code.clamp(0, 255) as u8))
    }
}

async fn resize(engine: &Engine, id: &str) {
    if let Some((rows, cols)) = terminal_size() {
        let opts = bollard::query_parameters::ResizeContainerTTYOptionsBuilder::default()
            .h(rows.into())
            .w(cols.into())
            .build();
        let _ = engine.docker().resize_container_tty(id, opts).await;
    }
}

/// SIGINT or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// docker run's statuses for a container that cannot start: 127 when the command is
/// not found, 126 when it cannot be invoked, 125 otherwise.
fn start_exit_code(message: &str) -> u8 {
    if [
        "executable file not found",
        "no such file or directory",
        "system cannot find the file specified",
    ]
    .iter()
    .any(|s| message.contains(s))
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

/// run's errors carry docker run's help hint.
fn run_error(e: &Error) -> Error {
    match e {
        Error::Message { message, .. } | Error::Failed { message, .. } => {
            Error::usage("run", message.clone())
        }
        _ => Error::failed(e.to_string()),
    }
}

/// The engine's container config for everything but ports.
fn container_config(args: &RunArgs) -> std::result::Result<ContainerCreateBody, String> {
    let restart = crate::runspec::parse_restart(&args.restart)?;
    if let Some(name) = crate::runspec::unknown_restart_name(&args.restart) {
        return Err(format!(
            "Error response from daemon: invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        ));
    }
    crate::runspec::check_rm_restart(args.rm, &args.restart)?;
    let mut env = Vec::new();
    for file in &args.env_file {
        let text =
            std::fs::read_to_string(file).map_err(|e| format!("open {}: {e}", file.display()))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            push_env(&mut env, line);
        }
    }
    for e in &args.env {
        push_env(&mut env, e);
    }
    let mut labels = HashMap::new();
    // which berth made it: `nat sync` reaps --rm containers a killed berth never started
    labels.insert(RUN_LABEL.to_string(), std::process::id().to_string());
    for l in &args.label {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        if k.starts_with(crate::model::LABEL_PREFIX) {
            return Err(format!("the label {k} is berth's own"));
        }
        labels.insert(k.to_string(), v.to_string());
    }
    let command = args.command();
    Ok(ContainerCreateBody {
        image: Some(args.image().to_string()),
        cmd: (!command.is_empty()).then(|| command.to_vec()),
        entrypoint: args.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            }
        }),
        env: (!env.is_empty()).then_some(env),
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        labels: Some(labels),
        tty: Some(args.tty),
        open_stdin: Some(args.interactive),
        stdin_once: Some(args.interactive),
        attach_stdin: Some(args.interactive && !args.detach),
        attach_stdout: Some(!args.detach),
        attach_stderr: Some(!args.detach),
        host_config: Some(HostConfig {
            auto_remove: Some(args.rm),
            restart_policy: Some(restart),
            network_mode: args.network.clone(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// docker's `-e NAME` takes NAME's value from berth's own environment, if it is set.
fn push_env(env: &mut Vec<String>, entry: &str) {
    if entry.contains('=') {
        env.push(entry.to_string());
    } else if let Ok(v) = std::env::var(entry) {
        env.push(format!("{entry}={v}"));
    }
}

fn dry_run(ctx: &Context, args: &RunArgs, specs: &PortSpecs) -> Result<()> {
    // Rules are shown for the ports as they would be published; the container's ID and
    // address are not known before it exists, so they appear as placeholders.
    let published = preview(specs, ctx.settings.default_host_ip);
    let layout = &ctx.settings.layout;
    let mut rules = [String::new(), String::new()];
    for (i, (family, ip)) in [(Family::V4, "CONTAINER_IP"), (Family::V6, "CONTAINER_IPV6")]
        .into_iter()
        .enumerate()
    {
        let rs = desired::rules_text(
            layout,
            family,
            "berth:CONTAINER_ID",
            &format!("{}-CONTAINER_ID", layout.dnat),
            ip,
            "docker0",
            &published,
            true,
            true,
        );
        rules[i] = rs.restore_text();
    }
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => {
            let doc = DryRun::new(specs, &rules);
            serde_json::to_writer(&mut out, &doc).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        Format::Text => write_plan(&mut out, args, specs, &rules)?,
    }
    out.flush()?;
    Ok(())
}

/// The bindings with host ports as far as they are known without the host: explicit
/// ports as given (runs merged), a host range by its first port, ephemeral ports as 0.
fn preview(specs: &PortSpecs, default_ip: std::net::IpAddr) -> Vec<Published> {
    let mut out: Vec<Published> = Vec::new();
    for m in &specs.bindings {
        let named: Option<std::net::IpAddr> = m.binding.host_ip.parse().ok();
        let p = Published {
            proto: m.port.proto.clone(),
            container_port: m.port.number,
            host_ip: named.unwrap_or(default_ip),
            host_port: m
                .binding
                .host_port
                .split('-')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0),
            count: 1,
            dual: named.is_none() && default_ip.is_unspecified(),
        };
        if let Some(last) = out.last_mut()
            && p.host_port != 0
            && last.proto == p.proto
            && last.host_ip == p.host_ip
            && u32::from(last.host_end()) + 1 == u32::from(p.host_port)
            && u32::from(last.container_end()) + 1 == u32::from(p.container_port)
        {
            last.count += 1;
            continue;
        }
        out.push(p);
    }
    out
}

/// The `--dry-run --format json` document.
#[derive(Serialize)]
struct DryRun {
    exposed: Vec<String>,
    bindings: Vec<JsonBinding>,
    /// iptables-restore input (IPv4)
    rules: Vec<String>,
    /// ip6tables-restore input, for a container with an IPv6 address
    rules6: Vec<String>,
}

#[derive(Serialize)]
struct JsonBinding {
    port: String,
    host_ip: String,
    host_port: String,
}

impl DryRun {
    fn new(specs: &PortSpecs, rules: &[String; 2]) -> Self {
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
            rules: rules[0].lines().map(str::to_string).collect(),
            rules6: rules[1].lines().map(str::to_string).collect(),
        }
    }
}

fn write_plan(
    out: &mut impl Write,
    args: &RunArgs,
    specs: &PortSpecs,
    rules: &[String; 2],
) -> io::Result<()> {
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
    if !rules[0].is_empty() {
        writeln!(
            out,
            "rules (iptables-restore --noflush; free host ports shown as 0):"
        )?;
        for line in rules[0].lines() {
            writeln!(out, "  {line}")?;
        }
    }
    if !rules[1].is_empty() {
        writeln!(
            out,
            "IPv6 rules (ip6tables-restore --noflush), where the container has an IPv6 address:"
        )?;
        for line in rules[1].lines() {
            writeln!(out, "  {line}")?;
        }
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
