//! `berth watch`: the reconciler in a loop, so a published port follows its container
//! whatever the engine, the docker CLI, a crash or a reboot did.
//!
//! At start, and whenever the engine comes back, a full reconcile. Then the engine's
//! events (container start, die, stop, kill, restart, destroy, rename, pause, unpause;
//! network connect and disconnect) each name a container to reconcile at once, and a
//! timer re-checks everything (a firewall reload or an `iptables -F` is repaired, jumps
//! and base chains included). Events that arrive together are reconciled together, one
//! reconcile at a time. One watcher per host: it holds `watch.lock`.

pub mod unit;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};

use crate::cli::{Format, WatchArgs};
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::firewall::backend::Backend;
use crate::lock::{self, Lock};
use crate::model::PORTS_LABEL;
use crate::reconcile::reap::reap_abandoned;
use crate::reconcile::{Looked, Options, Reconciler, Report, Scope};
use crate::settings::{LOG_DIR, Settings};

/// The exit status of `berth watch --status` when no watcher runs.
pub const EXIT_NOT_RUNNING: u8 = 3;

/// Container events after which a container's rules may have to change.
const CONTAINER_EVENTS: [&str; 9] = [
    "start", "die", "stop", "kill", "restart", "destroy", "rename", "pause", "unpause",
];

/// What the watcher says of itself, in `watch.json` beside its lock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    /// Seconds since the epoch.
    pub since: u64,
    /// Running containers it keeps published.
    pub followed: usize,
    pub last_change: Option<String>,
    pub last_change_at: Option<u64>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

pub fn run(settings: &Settings, args: &WatchArgs) -> Result<()> {
    if args.unit {
        print!("{}", unit::text(&std::env::current_exe()?));
        return Ok(());
    }
    if args.install {
        return unit::install();
    }
    if args.status {
        return status(settings, args.format);
    }
    if !crate::firewall::host::may_change_firewall() {
        return Err(Error::failed(crate::firewall::host::NEED_ROOT));
    }
    // an engine elsewhere publishes its containers itself: nothing to watch here
    if settings.endpoint.host != crate::engine::endpoint::DEFAULT_SOCKET {
        let elsewhere = engine::block_on(async {
            let engine = Engine::connect(&settings.endpoint).await.ok()?;
            match crate::engine::place::place(&engine, &settings.host, settings.engine_local).await
            {
                crate::engine::place::Place::Elsewhere(why) => Some(why),
                crate::engine::place::Place::Local => None,
            }
        });
        if let Some(why) = elsewhere {
            return Err(Error::failed(format!(
                "watch: the engine at {} is not on this host ({why}): it publishes its containers' ports itself, and berth keeps no rules for it here",
                settings.host
            )));
        }
    }
    let lock = match Lock::try_acquire(&settings.watch_lock())
        .map_err(|e| Error::failed(e.to_string()))?
    {
        Some(l) => l,
        None if args.once => {
            Lock::acquire(&settings.watch_lock()).map_err(|e| Error::failed(e.to_string()))?
        }
        None if args.if_none => return Ok(()),
        None => {
            return Err(Error::Failed {
                message: format!(
                    "another berth watch runs on this host: {}",
                    lock::describe_holder(&settings.watch_lock())
                ),
                code: 1,
            });
        }
    };
    let mut w = Watcher {
        settings,
        json: args.format == Format::Json,
        status: Status {
            pid: std::process::id(),
            since: now_secs(),
            ..Status::default()
        },
        _lock: lock,
    };
    if !args.once {
        w.save_status();
    }
    engine::block_on(w.main(args.once))
}

struct Watcher<'a> {
    settings: &'a Settings,
    json: bool,
    status: Status,
    _lock: Lock,
}

impl Watcher<'_> {
    async fn main(&mut self, once: bool) -> Result<()> {
        let fw = crate::firewall::iptables(self.settings.iptables)?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut backoff = Duration::from_millis(100);
        let mut said_gone = false;
        loop {
            let engine = tokio::select! {
                r = Engine::connect(&self.settings.endpoint) => r,
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
            };
            let engine = match engine {
                Ok(e) => e,
                Err(e) if once => return Err(e),
                Err(e) => {
                    if !said_gone {
                        self.say_text(&format!("{e}; retrying"), None);
                        said_gone = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = term.recv() => return Ok(()),
                        _ = int.recv() => return Ok(()),
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            if said_gone {
                self.say_text("the engine is back", None);
                said_gone = false;
            }
            backoff = Duration::from_millis(100);
            let rec = Reconciler::new(&engine, &fw, self.settings).warm();
            // subscribe first, so that nothing between the full pass and the stream is
            // missed (a repeated event costs nothing)
            let mut events = Box::pin(events(&engine));
            if let Err(e) = self.full_pass(&rec, &fw).await {
                if once {
                    return Err(e);
                }
                self.say_text(&e.to_string(), None);
            }
            if once {
                return Ok(());
            }
            let mut tick = tokio::time::interval(self.settings.watch_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            // looks at single containers run side by side (the engine may make one wait
            // while it starts or stops that container); at most one per container, and
            // one more after it when events came meanwhile. Writes happen one at a time.
            let mut looks = FuturesUnordered::new();
            let mut in_flight: HashSet<String> = HashSet::new();
            let mut dirty: HashSet<String> = HashSet::new();
            let mut latest: HashMap<String, i128> = HashMap::new();
            let launch = |id: String| {
                let rec = &rec;
                Box::pin(async move {
                    let r = rec.look(&Scope::Containers(vec![id.clone()]), &[]).await;
                    (id, r)
                })
            };
            loop {
                tokio::select! {
                    ev = events.next() => {
                        let Some(Ok(first)) = ev else {
                            // the stream ended: the engine went away (or restarted)
                            break;
                        };
                        let mut batch = vec![first];
                        // whatever else has arrived is handled together
                        while let Some(Some(Ok(more))) = futures_util::FutureExt::now_or_never(events.next()) {
                            batch.push(more);
                        }
                        let mut down = Vec::new();
                        for (id, name, is_down, at) in classify(&batch) {
                            if let Some(at) = at {
                                latest.insert(id.clone(), at);
                            }
                            if is_down {
                                down.push((id, name));
                            } else if in_flight.contains(&id) {
                                dirty.insert(id);
                            } else {
                                in_flight.insert(id.clone());
                                looks.push(launch(id));
                            }
                        }
                        if !down.is_empty() {
                            // down for sure (the engine's own word): no engine call needed
                            let r = rec.write(&Looked::withdrawn(&down), &Options::default());
                            let at = down.iter().filter_map(|(id, _)| latest.get(id)).max().copied();
                            self.told(r, at);
                        }
                    }
                    Some((id, looked)) = looks.next(), if !looks.is_empty() => {
                        in_flight.remove(&id);
                        let r = looked.and_then(|l| rec.write(&l, &Options::default()));
                        self.told(r, latest.get(&id).copied());
                        if dirty.remove(&id) {
                            in_flight.insert(id.clone());
                            looks.push(launch(id));
                        }
                    }
                    _ = tick.tick() => {
                        if let Err(e) = self.full_pass(&rec, &fw).await {
                            self.say_text(&e.to_string(), None);
                        }
                    }
                    _ = term.recv() => return Ok(()),
                    _ = int.recv() => return Ok(()),
                }
            }
        }
    }

    /// Say what a reconcile did; `at` is when the engine's event that caused it happened.
    fn told(&mut self, r: Result<Report>, at: Option<i128>) {
        match r {
            Ok(report) => {
                let done = report.effective_at.unwrap_or_else(now_nanos);
                let latency = at.map(|ns| (done - ns).max(0) as f64 / 1e6);
                self.tell(&report, latency);
                if !report.changes.is_empty() {
                    self.save_status();
                }
            }
            Err(e) => self.say_text(&e.to_string(), None),
        }
    }

    async fn full_pass(&mut self, rec: &Reconciler<'_>, _fw: &dyn Backend) -> Result<()> {
        let report = rec.reconcile(&Scope::All, &Options::default()).await?;
        self.status.followed = report.published.len();
        self.tell(&report, None);
        for r in reap_abandoned(rec.engine, false).await? {
            self.say_text(&r.to_string(), None);
        }
        self.save_status();
        Ok(())
    }

    /// One line per change and per problem; nothing when nothing changed.
    fn tell(&mut self, report: &Report, latency_ms: Option<f64>) {
        for b in &report.base {
            self.say_text(&format!("created {b}"), None);
        }
        for c in &report.changes {
            let text = c.to_string();
            self.status.last_change = Some(text.clone());
            self.status.last_change_at = Some(now_secs());
            if self.json {
                let doc = serde_json::json!({
                    "time": now_secs(),
                    "container": c.id.as_str(),
                    "name": c.name,
                    "family": c.family.name(),
                    "added": c.added,
                    "removed": c.removed,
                    "rules": c.now,
                    "latency_ms": latency_ms,
                    "message": text,
                });
                eprintln!("{doc}");
            } else {
                match latency_ms {
                    Some(ms) => {
                        eprintln!("berth watch: {text} ({ms:.1} ms after the engine's event)")
                    }
                    None => eprintln!("berth watch: {text}"),
                }
            }
        }
        for n in &report.notes {
            let who = if n.name.is_empty() {
                n.id.to_string()
            } else {
                format!("{} ({})", n.name, n.id)
            };
            self.say_text(&format!("{who}: {}", n.problem), None);
        }
    }

    fn say_text(&self, text: &str, _latency: Option<f64>) {
        if self.json {
            eprintln!(
                "{}",
                serde_json::json!({"time": now_secs(), "message": text})
            );
        } else {
            eprintln!("berth watch: {text}");
        }
    }

    fn save_status(&self) {
        let path = self.settings.watch_status();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string(&self.status).unwrap_or_default();
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

/// The containers a batch of events concerns, in order: (id, name, down for sure,
/// when the event happened). A container without berth's label is left out (it never
/// had berth's rules); die, stop, destroy and a SIGKILL mean it is down; anything else
/// (start, restart, rename, pause, unpause, network connect and disconnect, another
/// signal) means: look again.
fn classify(batch: &[bollard::models::EventMessage]) -> Vec<(String, String, bool, Option<i128>)> {
    let mut out: Vec<(String, String, bool, Option<i128>)> = Vec::new();
    for ev in batch {
        let Some(actor) = &ev.actor else { continue };
        let attrs = actor.attributes.clone().unwrap_or_default();
        let action = ev.action.as_deref().unwrap_or("");
        let network = ev.typ == Some(bollard::models::EventMessageTypeEnum::NETWORK);
        let (id, down) = if network {
            (attrs.get("container").cloned(), false)
        } else if !attrs.contains_key(PORTS_LABEL) {
            (None, false)
        } else {
            match action {
                "die" | "stop" | "destroy" => (actor.id.clone(), true),
                "kill" => match attrs.get("signal").map(String::as_str) {
                    Some("9" | "KILL" | "SIGKILL") => (actor.id.clone(), true),
                    // another signal may not end it: its die will say so
                    _ => (None, false),
                },
                _ => (actor.id.clone(), false),
            }
        };
        let Some(id) = id else { continue };
        let name = if network {
            String::new()
        } else {
            attrs.get("name").cloned().unwrap_or_default()
        };
        out.retain(|(i, _, _, _)| *i != id);
        out.push((id, name, down, ev.time_nano.map(i128::from)));
    }
    out
}

/// The engine's events that can change what a container's rules should be.
fn events(
    engine: &Engine,
) -> impl futures_util::Stream<
    Item = std::result::Result<bollard::models::EventMessage, bollard::errors::Error>,
> + use<> {
    let mut filters = std::collections::HashMap::new();
    filters.insert(
        "type".to_string(),
        vec!["container".to_string(), "network".to_string()],
    );
    let mut evs: Vec<String> = CONTAINER_EVENTS.iter().map(|e| e.to_string()).collect();
    evs.push("connect".into());
    evs.push("disconnect".into());
    filters.insert("event".to_string(), evs);
    let opts = bollard::query_parameters::EventsOptionsBuilder::default()
        .filters(&filters)
        .build();
    engine.docker().clone().events(Some(opts))
}

/// `berth watch --status`: whether a watcher runs, and what it says of itself.
fn status(settings: &Settings, format: Format) -> Result<()> {
    let holder = lock::holder(&settings.watch_lock());
    let status: Option<Status> = std::fs::read_to_string(settings.watch_status())
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(|s: &Status| Some(s.pid) == holder);
    if format == Format::Json {
        let doc = serde_json::json!({
            "running": holder.is_some(),
            "pid": holder,
            "since": status.as_ref().map(|s| s.since),
            "followed": status.as_ref().map(|s| s.followed),
            "last_change": status.as_ref().and_then(|s| s.last_change.clone()),
            "last_change_at": status.as_ref().and_then(|s| s.last_change_at),
        });
        println!("{doc}");
    } else {
        match holder {
            Some(pid) => {
                println!("berth watch runs: pid {pid}");
                if let Some(s) = &status {
                    println!(
                        "since:       {}",
                        crate::display::go_time_utc(s.since as i64)
                    );
                    println!("following:   {} published containers", s.followed);
                    match (&s.last_change, s.last_change_at) {
                        (Some(c), Some(at)) => {
                            println!(
                                "last change: {c} ({})",
                                crate::display::go_time_utc(at as i64)
                            )
                        }
                        _ => println!("last change: none yet"),
                    }
                }
            }
            None => println!("no berth watch runs on this host"),
        }
    }
    match holder {
        Some(_) => Ok(()),
        None => Err(Error::Exit(EXIT_NOT_RUNNING)),
    }
}

/// Make sure a watcher runs: start `berth watch` in the background when no process
/// holds the watch lock (unless config `watch: off`, or a service manager runs it).
/// Quiet when one runs; one line on stderr when it starts one.
pub fn ensure_running(settings: &Settings) {
    if !settings.watch {
        return;
    }
    match Lock::try_acquire(&settings.watch_lock()) {
        Ok(Some(free)) => drop(free),
        // held (it runs), or berth may not touch the lock: nothing to do here
        _ => return,
    }
    if unit::managed() {
        let _ = Command::new("systemctl")
            .args(["start", "--no-block", unit::NAME])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        return;
    }
    match spawn(settings) {
        Ok((pid, log)) => eprintln!(
            "berth: started berth watch (pid {pid}) to keep published ports with their containers; log: {}",
            log.display()
        ),
        Err(e) => eprintln!("berth: cannot start berth watch: {e}"),
    }
}

fn spawn(settings: &Settings) -> std::io::Result<(u32, std::path::PathBuf)> {
    let dir = Path::new(LOG_DIR);
    std::fs::create_dir_all(dir)?;
    let log = dir.join("watch.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    // the engine and berth's config this berth used (the host as resolved, so no
    // context or environment can point the watcher elsewhere)
    cmd.args(["-H", &settings.endpoint.host]);
    if let Some(t) = &settings.endpoint.tls {
        cmd.arg("--tlsverify").arg("--tlscacert").arg(&t.ca);
        if let Some(c) = &t.cert {
            cmd.arg("--tlscert").arg(c);
        }
        if let Some(k) = &t.key {
            cmd.arg("--tlskey").arg(k);
        }
    }
    if let Some(dir) = &settings.config_dir {
        cmd.arg("--berth-config").arg(dir);
    }
    cmd.args(["watch", "--if-none"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .env_remove("BERTH_TEST_PAUSE");
    // SAFETY: setsid only detaches the child from our session; it is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    // the watcher outlives us: nobody waits for it here
    let pid = cmd.spawn()?.id();
    let _ = std::io::stderr().flush();
    Ok((pid, log))
}
