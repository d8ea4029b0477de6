//! `berth run`: create a container, start it, publish its ports, and (in the
//! foreground) stream its output and exit with its status, like `docker run`.
//!
//! Order of work, each step undone if a later one fails or the user interrupts:
//! parse ports (pure) -> image (pull if missing) -> allocation lock: allocate host
//! ports, create (labels `io.berth.ports` + its seal) -> start -> reconcile (the
//! container's rules, in one transaction per family) -> report.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::rc::Rc;

use bollard::models::ContainerCreateBody;
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
use crate::portspec::{self, PortSpecs};
use crate::reconcile::{self, Options, Reconciler, Scope};

pub fn run(ctx: &Context, args: &RunArgs) -> Result<()> {
    if args.dry_run {
        let specs = portspec::parse_all(&args.publish, &args.expose, args.publish_all)
            .map_err(|e| Error::usage("run", e.0))?;
        return dry_run(ctx, args, &specs);
    }
    engine::block_on(run_async(ctx, args))
}

/// The container as docker's client builds it once the engine is known, and its
/// `--cidfile` (created empty; the ID goes in once the container exists).
pub struct Planned {
    pub spec: crate::runspec::Spec,
    cidfile: Option<(std::path::PathBuf, std::fs::File)>,
    /// The engine's create call while it runs: an interrupted `run` waits for it, to
    /// remove what it created.
    creating: Creating,
}

type Creating = Rc<RefCell<Option<tokio::task::JoinHandle<Result<String>>>>>;

impl Planned {
    /// docker's steps before its create call, in its order: deprecation notices, the
    /// flags (checked against the engine's API version), the TTY, `--detach-keys`,
    /// `--platform`, the cidfile, then the engine's own refusals. An engine that cannot
    /// be reached is reported after the flags' errors, as docker does.
    pub fn new(
        engine: &Result<Engine>,
        args: &crate::cli::ContainerArgs,
        verb: Verb,
        detach: bool,
        detach_keys: Option<&str>,
    ) -> Result<Planned> {
        use crate::runspec;
        for n in runspec::notices(args) {
            println!("{n}");
        }
        let api = match engine {
            Ok(e) => runspec::api_version(e),
            Err(_) => CURRENT_API.to_string(),
        };
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        let env = |k: &str| std::env::var(k).ok();
        let info = runspec::EngineInfo {
            api_version: &api,
            os_type: "linux",
        };
        let stdin_tty = io::stdin().is_terminal();
        let mut spec = runspec::plan(args, verb, detach, detach_keys, stdin_tty, info, &env, &cwd)
            .map_err(|e| e.into_error(verb))?;
        // which berth made it: `nat sync` reaps --rm containers a killed berth never started
        debug_assert!(
            verb != Verb::Run
                || !args.rm
                || spec
                    .body
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(RUN_LABEL))
        );
        // docker sends the size of its stdout's terminal
        if io::stdout().is_terminal()
            && let Some((rows, cols)) = terminal_size()
            && let Some(hc) = spec.body.host_config.as_mut()
        {
            hc.console_size = Some(vec![rows.into(), cols.into()]);
        }
        let cidfile = match &spec.cidfile {
            Some(p) => Some((
                p.clone(),
                runspec::create_cidfile(p, verb).map_err(|e| e.into_error(verb))?,
            )),
            None => None,
        };
        let mut planned = Planned {
            spec,
            cidfile,
            creating: Creating::default(),
        };
        if let Err(e) = runspec::daemon_check(&planned.spec, verb, &api) {
            planned.abandon();
            return Err(e.into_error(verb));
        }
        Ok(planned)
    }

    /// The container exists: its ID goes into the cidfile (without a newline, as docker
    /// writes it).
    fn created(&mut self, id: &str) {
        if let Some((_, f)) = &mut self.cidfile {
            let _ = f.write_all(id.as_bytes());
        }
    }

    /// The container of a create call that was still running when the caller gave up.
    async fn created_meanwhile(&self) -> Option<String> {
        let pending = self.creating.borrow_mut().take()?;
        pending.await.ok()?.ok()
    }

    /// Nothing was created (or it was rolled back): the cidfile goes.
    pub fn abandon(&mut self) {
        if let Some((p, _)) = self.cidfile.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The API version docker's current client speaks, for the flags' checks when the
/// engine cannot be reached (its error comes after them).
const CURRENT_API: &str = "1.52";

/// What berth created so far, so an error or an interrupt can undo it.
#[derive(Default)]
struct Undo {
    container: Option<String>,
    /// berth allocated host ports for it (its rules may have landed, in part).
    published: bool,
}

async fn run_async(ctx: &Context, args: &RunArgs) -> Result<()> {
    let engine = Engine::connect(&ctx.settings.endpoint).await;
    let mut planned = Planned::new(
        &engine,
        &args.container,
        Verb::Run,
        args.detach,
        args.detach_keys.as_deref(),
    )?;
    let engine = match engine {
        Ok(e) => e,
        Err(e) => {
            planned.abandon();
            return Err(run_error(&e));
        }
    };
    let fw = crate::firewall::iptables_if_any(ctx.settings.iptables);
    let rec = Reconciler::new(&engine, &fw, &ctx.settings);
    let undo = Rc::new(RefCell::new(Undo::default()));
    let mut interrupts = Interrupts::new();
    let setup = setup(ctx, &rec, args, &mut planned, undo.clone());
    let started = tokio::select! {
        r = setup => r,
        _ = interrupts.next() => Err(Error::Exit(130)),
    };
    let started = match started {
        Ok(s) => s,
        Err(e) => {
            let mut done = std::mem::take(&mut *undo.borrow_mut());
            if let Some(id) = planned.created_meanwhile().await {
                done.container.get_or_insert(id);
            }
            rollback(&rec, &done).await;
            planned.abandon();
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
    foreground(&rec, args, started, &mut interrupts).await
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
    planned: &mut Planned,
    undo: Rc<RefCell<Undo>>,
) -> Result<Started> {
    let engine = rec.engine;
    let (id, published) = prepare(ctx, rec, &args.container, planned, Verb::Run).await?;
    undo.borrow_mut().container = Some(id.clone());
    undo.borrow_mut().published = !published.is_empty();
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
            code: crate::runspec::run_status(&message),
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

/// Which command is creating: their errors differ (docker's `run` wraps the engine's
/// errors with its help hint and exits 125; `create` prints them bare and exits 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Run,
    Create,
}

impl Verb {
    pub fn name(self) -> &'static str {
        match self {
            Verb::Run => "run",
            Verb::Create => "create",
        }
    }

    /// An engine error as this command reports it.
    pub fn error(self, e: &Error) -> Error {
        match self {
            Verb::Run => run_error(e),
            Verb::Create => match e {
                Error::Message { message, .. } | Error::Failed { message, .. } => Error::Message {
                    message: message.clone(),
                    code: 1,
                },
                other => Error::failed(other.to_string()),
            },
        }
    }
}

/// What run and create share: the image (pulled when missing), the ports (`-P` with the
/// image's EXPOSE), their host ports (allocated under the allocation lock, recorded in
/// the sealed label), and the container. Returns its ID and its bindings.
pub async fn prepare(
    ctx: &Context,
    rec: &Reconciler<'_>,
    args: &crate::cli::ContainerArgs,
    planned: &mut Planned,
    verb: Verb,
) -> Result<(String, Vec<Published>)> {
    use crate::runspec::Pull;
    let engine = rec.engine;
    let image = args.image();
    let creating = planned.creating.clone();
    let spec = &mut planned.spec;
    let mut specs = std::mem::take(&mut spec.ports);
    let mut body = std::mem::take(&mut spec.body);
    let name = spec.name.clone();
    let platform = spec.platform.clone();
    let quiet = spec.quiet;
    let run_error = |e: &Error| verb.error(e);
    let pull = |quiet: bool| {
        let platform = platform.clone();
        async move {
            let mut sink = io::sink();
            let mut err = io::stderr();
            let out: &mut (dyn Write + Send) = if quiet { &mut sink } else { &mut err };
            engine.pull(image, platform.as_deref(), out).await
        }
    };
    if spec.pull == Pull::Always {
        pull(spec.quiet).await.map_err(|e| run_error(&e))?;
    }
    let exposed = match engine
        .image_exposed_ports(image)
        .await
        .map_err(|e| run_error(&e))?
    {
        Some(e) => e,
        // the create call gives the engine's own words for the missing image
        None if spec.pull == Pull::Never => Vec::new(),
        None => {
            if !spec.quiet {
                eprintln!(
                    "Unable to find image '{}' locally",
                    engine::full_image_name(image)
                );
            }
            pull(spec.quiet).await.map_err(|e| run_error(&e))?;
            engine
                .image_exposed_ports(image)
                .await
                .map_err(|e| run_error(&e))?
                .ok_or_else(|| Error::failed(format!("No such image: {image}")))?
        }
    };
    // the create call runs in a task of its own: dropped here (Ctrl-C), it still ends,
    // and the interrupted run removes what it made
    let create = |body: ContainerCreateBody| {
        let task = engine.spawn_create(name.clone(), platform.clone(), body);
        let creating = creating.clone();
        *creating.borrow_mut() = Some(task);
        async move {
            let done = std::future::poll_fn(|cx| {
                let mut slot = creating.borrow_mut();
                match slot.as_mut() {
                    Some(task) => std::pin::Pin::new(task).poll(cx),
                    None => std::task::Poll::Pending,
                }
            })
            .await;
            creating.borrow_mut().take();
            match done {
                Ok(r) => r.map_err(|e| run_error(&e)),
                Err(e) => Err(Error::failed(format!("the create call failed: {e}"))),
            }
        }
    };
    // what the user asked for, as docker sends it to an engine that publishes itself
    let asked = specs.clone();
    if args.publish_all {
        for p in &exposed {
            if let Ok((proto, first, last)) = portspec::parse_expose_run(p) {
                specs.exposed.insert(&proto, first, last);
            }
        }
        specs.publish_all();
    }
    body.exposed_ports = Some(specs.exposed.keys());
    let host_network = matches!(args.network.as_deref(), Some("host"));
    if host_network && !specs.bindings.is_empty() {
        eprintln!("WARNING: Published ports are discarded when using host network mode");
        specs.bindings.clear();
    }

    // An engine berth cannot firewall (another host, another namespace, rootless)
    // publishes its containers' ports itself, as docker has it do
    if !specs.bindings.is_empty() || args.publish_all {
        let place =
            crate::engine::place::place(engine, &ctx.settings.host, ctx.settings.engine_local)
                .await;
        if let crate::engine::place::Place::Elsewhere(why) = place {
            if ctx.settings.engine_notice && !quiet {
                eprintln!(
                    "berth: the engine at {} publishes these ports itself ({why}); berth writes no rules for it",
                    ctx.settings.host
                );
            }
            let hc = body.host_config.get_or_insert_with(Default::default);
            hc.port_bindings = Some(engine_bindings(&asked));
            hc.publish_all_ports = Some(args.publish_all);
            let id = create(body).await?;
            planned.created(&id);
            return Ok((id, Vec::new()));
        }
        if !host::may_change_firewall() {
            // before anything exists: a container berth could not publish is not created
            return Err(Error::failed(host::NEED_ROOT));
        }
        crate::firewall::variant(ctx.settings.iptables)?;
    }

    // Allocate under the allocation lock, held until the container (and so its label,
    // which holds the ports from then on) exists.
    let mut published: Vec<Published> = Vec::new();
    let id = if specs.bindings.is_empty() {
        create(body).await?
    } else {
        host::check_other_firewall(None).map_err(|m| Error::usage(verb.name(), m))?;
        check_families(engine, args.network.as_deref(), &specs, verb).await?;
        let key = rec.key().cloned().ok_or_else(|| {
            Error::failed(format!(
                "cannot read or create {}",
                ctx.settings.key_path.display()
            ))
        })?;
        let _alloc =
            Lock::acquire(&ctx.settings.alloc_lock()).map_err(|e| Error::failed(e.to_string()))?;
        let taken = reconcile::ports::taken(engine, rec).await?;
        published = alloc::allocate(&specs, &taken, &reconcile::ports::pool(&ctx.settings))
            .map_err(|e| Error::usage(verb.name(), e.0))?;
        let label = alloc::to_label(&published);
        let seal = key.seal(&label)?;
        let labels = body.labels.get_or_insert_with(HashMap::new);
        labels.insert(PORTS_LABEL.to_string(), label);
        labels.insert(SEAL_LABEL.to_string(), seal);
        create(body).await?
    };
    planned.created(&id);
    Ok((id, published))
}

/// The bindings as docker hands them to an engine that publishes them: per container
/// port, each host address and port as given.
fn engine_bindings(
    specs: &PortSpecs,
) -> HashMap<String, Option<Vec<bollard::models::PortBinding>>> {
    let mut out: HashMap<String, Option<Vec<bollard::models::PortBinding>>> = HashMap::new();
    for m in specs.each_binding() {
        out.entry(m.port.to_string())
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(bollard::models::PortBinding {
                host_ip: Some(m.binding.host_ip.clone()),
                host_port: Some(m.binding.host_port.clone()),
            });
    }
    out
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
async fn check_families(
    engine: &Engine,
    network: Option<&str>,
    specs: &PortSpecs,
    verb: Verb,
) -> Result<()> {
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
            verb.name(),
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
            verb.name(),
            format!(
                "cannot publish {}: network {net} has no IPv6 (create one with docker network create --ipv6)",
                portspec::render(m)
            ),
        ));
    }
    Ok(())
}

/// Undo what `setup` did: the container's rules go first (whatever of them landed; the
/// container is treated as stopped, so its address leads nowhere before the engine can
/// hand it to another container), then the container.
async fn rollback(rec: &Reconciler<'_>, undo: &Undo) {
    let Some(id) = &undo.container else { return };
    if undo.published {
        let withdraw = Options {
            withdraw: vec![id.clone()],
            ..Options::default()
        };
        if let Err(e) = rec
            .reconcile(&Scope::Containers(vec![id.clone()]), &withdraw)
            .await
        {
            eprintln!("berth: cannot remove the rules of {id}: {e}");
        }
    }
    if let Err(e) = rec.engine.remove(id, true, true).await
        && !engine::is_not_found(&e)
    {
        eprintln!(
            "berth: cannot remove container {id}: {}",
            rec.engine.message(&e)
        );
    }
}

async fn foreground(
    rec: &Reconciler<'_>,
    args: &RunArgs,
    started: Started,
    interrupts: &mut Interrupts,
) -> Result<()> {
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
            _ = interrupts.next() => {
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
/// SIGINT and SIGTERM, listened for once for the whole run, so that none arriving
/// between two waits is lost.
struct Interrupts {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn new() -> Interrupts {
        use tokio::signal::unix::{SignalKind, signal};
        Interrupts {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// The next interrupt (never, where berth could not listen for them).
    async fn next(&mut self) {
        match (&mut self.int, &mut self.term) {
            (Some(int), Some(term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            (Some(one), None) | (None, Some(one)) => {
                one.recv().await;
            }
            (None, None) => std::future::pending().await,
        }
    }
}

/// run's errors carry docker run's help hint.
fn run_error(e: &Error) -> Error {
    match e {
        // docker's toStatusError: 127, 126 or 125 by what the message says
        Error::Message { message, .. } | Error::Failed { message, .. } => Error::Message {
            code: crate::runspec::run_status(message),
            message: format!("berth: {message}\n\nRun 'berth run --help' for more information"),
        },
        _ => Error::failed(e.to_string()),
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
    for m in specs.each_binding() {
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
            exposed: specs
                .exposed
                .ports()
                .iter()
                .map(ToString::to_string)
                .collect(),
            bindings: specs
                .each_binding()
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
    let exposed: Vec<String> = specs
        .exposed
        .ports()
        .iter()
        .map(ToString::to_string)
        .collect();
    let exposed = if exposed.is_empty() {
        "(none)".to_string()
    } else {
        exposed.join(", ")
    };
    writeln!(out, "exposed:  {exposed}")?;
    if specs.bindings.is_empty() {
        writeln!(out, "publish:  (none)")?;
    }
    for (i, m) in specs.each_binding().enumerate() {
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
