//! The one reconciler: every path that writes rules goes through [`Reconciler::reconcile`].
//!
//! Desired state: every running container whose `io.berth.ports` label berth itself
//! wrote (see `trust`), with its bindings at its current address in each family, less
//! any binding whose host port a socket of this host holds. Actual state: the rules
//! berth wrote for it. The difference is applied in one iptables-restore transaction
//! per family, under the firewall lock. It is level-triggered: a caller only says
//! *which* containers to look at; what is right is read afresh from the engine and the
//! kernel each time, so a lost or repeated event, a crash halfway or two callers at
//! once all end in the same state.
//!
//! Engine calls happen before the lock is taken; under it there are only the tables,
//! /proc and the restore.

pub mod ports;
pub mod reap;

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use bollard::models::{ContainerInspectResponse, ContainerSummary, EndpointSettings};

use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::firewall::actual::Actual;
use crate::firewall::backend::Backend;
use crate::firewall::desired::{self, ContainerRules};
use crate::firewall::diff::{self, Want};
use crate::firewall::host::{self, Socket};
use crate::lock::Lock;
use crate::model::{
    Address, Endpoint, Family, Id12, PORTS_LABEL, Published, SEAL_LABEL, from_label,
};
use crate::settings::Settings;
use crate::trust::{self, Distrust, Key};

/// Which containers to look at.
#[derive(Debug, Clone)]
pub enum Scope {
    /// These containers (names or IDs); their rules only.
    Containers(Vec<String>),
    /// Every container: rules of containers that are gone are removed too.
    All,
}

/// How to reconcile.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Compute and report, change nothing.
    pub dry_run: bool,
    /// Containers (full IDs) to treat as stopped whatever the engine says: `stop`,
    /// `kill` and `rm` take a container's rules away before the engine lets its
    /// address go.
    pub withdraw: Vec<String>,
    /// What an earlier pass of this command left: these containers had no rules after
    /// berth's write number `seq`. While no berth has written since, a pass that wants
    /// no rules for them has nothing to read or write.
    pub clean: Option<Clean>,
}

/// Containers known to have no rules after one of berth's writes (see
/// [`Options::clean`]). Writes are numbered in the firewall lock's note; only berth
/// writes berth's chains, and every berth write takes that lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clean {
    pub seq: u64,
    pub ids: BTreeSet<Id12>,
}

/// Something about a container that kept (some of) its bindings unpublished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A socket of this host listens on a binding's host port: the host service wins.
    Conflict { binding: String, socket: String },
    /// The label is not berth's own: nothing is published.
    Untrusted(Distrust),
    /// A binding of a family the container has no address in.
    NoAddress { binding: String, family: Family },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Conflict { binding, socket } => write!(
                f,
                "{binding} not published: a socket of this host listens on {socket}"
            ),
            Problem::Untrusted(d) => write!(f, "not published: {d}"),
            Problem::NoAddress { binding, family } => write!(
                f,
                "{binding} not published: the container has no {} address on a bridge network",
                family.name()
            ),
        }
    }
}

/// A problem of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: Id12,
    pub name: String,
    pub problem: Problem,
}

/// What changed for one container in one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub id: Id12,
    pub name: String,
    pub family: Family,
    pub added: usize,
    pub removed: usize,
    /// How many rules the container has now in this family.
    pub now: usize,
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = if self.name.is_empty() {
            self.id.to_string()
        } else {
            format!("{} ({})", self.name, self.id)
        };
        let fam = self.family.name();
        match (self.now, self.added, self.removed) {
            (0, _, r) => write!(f, "{fam}: removed {r} rules of {who}"),
            (n, a, 0) => write!(f, "{fam}: published {who}: {a} of {n} rules added"),
            (n, a, r) => write!(
                f,
                "{fam}: updated {who}: {a} rules added, {r} removed, {n} now"
            ),
        }
    }
}

/// What a reconcile did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub changes: Vec<Changed>,
    /// Base pieces created (chains, jumps, kernel switches).
    pub base: Vec<String>,
    pub notes: Vec<Note>,
    /// Containers looked at that run and are published now.
    pub published: Vec<Id12>,
    /// When the change took effect (ns since the epoch): the ports that went dark went
    /// dark then, the rest was in place.
    pub effective_at: Option<i128>,
    /// After a write: the containers of this pass that have no rules now, and the
    /// write's number.
    pub clean: Option<Clean>,
}

impl Report {
    pub fn is_quiet(&self) -> bool {
        self.changes.is_empty() && self.base.is_empty() && self.notes.is_empty()
    }

    /// The problems of one container.
    pub fn notes_of<'a>(&'a self, id: &'a Id12) -> impl Iterator<Item = &'a Note> + 'a {
        self.notes.iter().filter(move |n| &n.id == id)
    }
}

/// One container as the engine shows it, from a list or an inspect.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    id12: Id12,
    name: String,
    running: bool,
    labels: HashMap<String, String>,
    image_id: String,
    /// When it was created: seconds and nanoseconds (a list gives whole seconds).
    created: (i64, u32),
    networks: Vec<(String, EndpointSettings)>,
}

impl Seen {
    fn from_summary(c: &ContainerSummary) -> Option<Seen> {
        let id = c.id.clone()?;
        let running = matches!(
            c.state,
            Some(bollard::models::ContainerSummaryStateEnum::RUNNING)
                | Some(bollard::models::ContainerSummaryStateEnum::PAUSED)
        );
        let mut networks: Vec<(String, EndpointSettings)> = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.clone())
            .unwrap_or_default()
            .into_iter()
            .collect();
        networks.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Seen {
            id12: Id12::new(&id)?,
            id,
            name: engine::name_of(c).unwrap_or_default(),
            running,
            labels: c.labels.clone().unwrap_or_default(),
            image_id: c.image_id.clone().unwrap_or_default(),
            created: (c.created.unwrap_or(0), 0),
            networks,
        })
    }

    fn from_inspect(c: &ContainerInspectResponse) -> Option<Seen> {
        let id = c.id.clone()?;
        let state = c.state.as_ref();
        let running = state.and_then(|s| s.running).unwrap_or(false)
            && !state.and_then(|s| s.restarting).unwrap_or(false);
        let mut networks: Vec<(String, EndpointSettings)> = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.clone())
            .unwrap_or_default()
            .into_iter()
            .collect();
        networks.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Seen {
            id12: Id12::new(&id)?,
            id,
            name: c
                .name
                .as_deref()
                .unwrap_or("")
                .trim_start_matches('/')
                .to_string(),
            running,
            labels: c
                .config
                .as_ref()
                .and_then(|c| c.labels.clone())
                .unwrap_or_default(),
            image_id: c.image.clone().unwrap_or_default(),
            created: c
                .created
                .as_deref()
                .and_then(crate::display::parse_rfc3339)
                .unwrap_or((0, 0)),
            networks,
        })
    }
}

/// A container judged: what it should have, and why not more.
#[derive(Debug, Clone)]
struct Judged {
    id12: Id12,
    name: String,
    /// Its endpoint and bindings, when it should be published.
    want: Option<(Endpoint, Vec<Published>)>,
    notes: Vec<Problem>,
}

/// What the engine said, ready for the tables.
#[derive(Debug, Clone, Default)]
pub struct Looked {
    all: bool,
    judged: Vec<Judged>,
    /// For a look at every container: the containers that had rules before the engine
    /// was asked. Only their rules may go as "gone": rules that appeared since were
    /// written by someone who saw a container this look did not (one just created).
    before: BTreeSet<Id12>,
    /// When the engine was asked (`lock::boot_nanos`), to order this look against
    /// those of other berth processes.
    at: u128,
}

impl Looked {
    /// Containers known to be down (from the engine's own event): no engine call is
    /// needed to know they should have no rules.
    pub fn withdrawn(ids: &[(String, String)]) -> Looked {
        Looked {
            all: false,
            judged: ids
                .iter()
                .filter_map(|(id, name)| Some((Id12::new(id)?, name)))
                .map(|(id12, name)| Judged {
                    id12,
                    name: name.clone(),
                    want: None,
                    notes: Vec::new(),
                })
                .collect(),
            before: BTreeSet::new(),
            at: crate::lock::boot_nanos(),
        }
    }
}

/// What does not change between passes of a long-running reconciler.
#[derive(Default)]
struct Cache {
    /// network ID -> its bridge interface (`None`: not a bridge).
    bridges: HashMap<String, Option<String>>,
    /// image ID -> its own seal label.
    image_seals: HashMap<String, Option<String>>,
    /// The tables as last read, and the generation they were read at.
    saves: Option<(u32, [String; 2])>,
}

/// The reconciler of one host's rules.
pub struct Reconciler<'a> {
    pub engine: &'a Engine,
    pub fw: &'a dyn Backend,
    pub settings: &'a Settings,
    key: Option<Key>,
    cache: RefCell<Cache>,
    /// Read the tables again after each write, so that the next reconcile (a watcher's
    /// next event) starts from a fresh copy instead of running iptables-save.
    warm: bool,
}

impl<'a> Reconciler<'a> {
    /// Keep a fresh copy of the tables after each write (for a long-running watcher).
    pub fn warm(mut self) -> Self {
        self.warm = true;
        self
    }

    /// A reconciler with the host's sealing key (read, or made, as root).
    pub fn new(engine: &'a Engine, fw: &'a dyn Backend, settings: &'a Settings) -> Self {
        let key = Key::load_or_create(&settings.key_path).ok();
        Reconciler::with_key(engine, fw, settings, key)
    }

    pub fn with_key(
        engine: &'a Engine,
        fw: &'a dyn Backend,
        settings: &'a Settings,
        key: Option<Key>,
    ) -> Self {
        Reconciler {
            engine,
            fw,
            settings,
            key,
            cache: RefCell::new(Cache::default()),
            warm: false,
        }
    }

    pub fn key(&self) -> Option<&Key> {
        self.key.as_ref()
    }

    /// Both families' tables: read again only when their generation moved since the
    /// last read (a long-running reconciler runs no process while nothing changes).
    pub fn save_both(&self) -> [crate::firewall::backend::FwResult<String>; 2] {
        let before = self.fw.generation();
        if let (Some(g), Some((cached, texts))) = (before, &self.cache.borrow().saves)
            && g == *cached
        {
            return [Ok(texts[0].clone()), Ok(texts[1].clone())];
        }
        let saves = self.fw.save_both();
        let after = self.fw.generation();
        let mut cache = self.cache.borrow_mut();
        cache.saves = match (before, after, &saves) {
            (Some(a), Some(b), [Ok(v4), Ok(v6)]) if a == b => Some((a, [v4.clone(), v6.clone()])),
            _ => None,
        };
        saves
    }

    /// Look, then write: the whole reconcile.
    pub async fn reconcile(&self, scope: &Scope, opts: &Options) -> Result<Report> {
        let looked = self.look(scope, &opts.withdraw).await?;
        self.write(&looked, opts)
    }

    /// Read what the engine says of the containers in scope and judge them.
    pub async fn look(&self, scope: &Scope, withdraw: &[String]) -> Result<Looked> {
        let mut before = BTreeSet::new();
        let at = crate::lock::boot_nanos();
        let (all, seen, sealed) = match scope {
            Scope::All => {
                for save in self.save_both().into_iter().flatten() {
                    let actual = Actual::parse(&save, &self.settings.layout);
                    before.extend(actual.containers.into_keys());
                }
                let list = self
                    .engine
                    .list_filtered(true, &[("label", PORTS_LABEL)])
                    .await?;
                let seen: Vec<Seen> = list.iter().filter_map(Seen::from_summary).collect();
                (true, seen.clone(), seen)
            }
            Scope::Containers(names) => {
                let mut seen = Vec::new();
                let mut sealed = Vec::new();
                for name in names {
                    match self.engine.inspect(name).await {
                        Ok(c) => {
                            if let Some(s) = Seen::from_inspect(&c) {
                                if let Some(seal) = s.labels.get(SEAL_LABEL) {
                                    let same = self
                                        .engine
                                        .list_filtered(
                                            true,
                                            &[("label", &format!("{SEAL_LABEL}={seal}"))],
                                        )
                                        .await?;
                                    sealed.extend(same.iter().filter_map(Seen::from_summary));
                                }
                                seen.push(s);
                            }
                        }
                        Err(e) if engine::is_not_found(&e) => {
                            // gone: its rules go
                            if let Some(id12) = Id12::new(name) {
                                seen.push(Seen {
                                    id: name.clone(),
                                    id12,
                                    name: String::new(),
                                    running: false,
                                    labels: HashMap::new(),
                                    image_id: String::new(),
                                    created: (0, 0),
                                    networks: Vec::new(),
                                });
                            }
                        }
                        Err(e) => return Err(self.engine.error(e)),
                    }
                }
                (false, seen, sealed)
            }
        };
        let mut judged = Vec::new();
        for s in &seen {
            let withdrawn = withdraw
                .iter()
                .any(|w| *w == s.id || Id12::new(w).as_ref() == Some(&s.id12));
            judged.push(self.judge(s, &sealed, withdrawn).await?);
        }
        Ok(Looked {
            all,
            judged,
            before,
            at,
        })
    }

    async fn judge(&self, s: &Seen, sealed: &[Seen], withdrawn: bool) -> Result<Judged> {
        let mut j = Judged {
            id12: s.id12.clone(),
            name: s.name.clone(),
            want: None,
            notes: Vec::new(),
        };
        let Some(text) = s.labels.get(PORTS_LABEL) else {
            return Ok(j);
        };
        if !s.running || withdrawn {
            return Ok(j);
        }
        let Some(published) = from_label(text) else {
            j.notes.push(Problem::Untrusted(Distrust::BadSeal));
            return Ok(j);
        };
        let seal = s.labels.get(SEAL_LABEL).map(String::as_str);
        let image_seal = self.image_seal(&s.image_id).await?;
        let earlier = match seal {
            Some(seal) => self.earlier_copy(s, sealed, seal).await?,
            None => None,
        };
        if let Err(d) = trust::judge(
            self.key.as_ref(),
            text,
            seal,
            image_seal.as_deref(),
            earlier.as_deref(),
        ) {
            j.notes.push(Problem::Untrusted(d));
            return Ok(j);
        }
        let endpoint = self.endpoint(s).await?;
        j.want = Some((endpoint, published));
        Ok(j)
    }

    /// Another container with the same seal that was created before `s` (the
    /// original, when `s` is a copy): its name.
    async fn earlier_copy(&self, s: &Seen, sealed: &[Seen], seal: &str) -> Result<Option<String>> {
        let others: Vec<&Seen> = sealed
            .iter()
            .filter(|o| o.id != s.id && o.labels.get(SEAL_LABEL).map(String::as_str) == Some(seal))
            .collect();
        if others.is_empty() {
            return Ok(None);
        }
        let mut mine = s.created;
        if mine.1 == 0 {
            // from a list: whole seconds; ask for the exact time
            if let Ok(c) = self.engine.inspect(&s.id).await
                && let Some(me) = Seen::from_inspect(&c)
            {
                mine = me.created;
            }
        }
        for o in others {
            let theirs = match self.engine.inspect(&o.id).await {
                Ok(c) => Seen::from_inspect(&c).map_or(o.created, |x| x.created),
                Err(_) => continue,
            };
            if (theirs, &o.id) < (mine, &s.id) {
                return Ok(Some(if o.name.is_empty() {
                    o.id12.to_string()
                } else {
                    o.name.clone()
                }));
            }
        }
        Ok(None)
    }

    async fn image_seal(&self, image_id: &str) -> Result<Option<String>> {
        if image_id.is_empty() {
            return Ok(None);
        }
        if let Some(v) = self.cache.borrow().image_seals.get(image_id) {
            return Ok(v.clone());
        }
        let seal = self
            .engine
            .image_labels(image_id)
            .await?
            .and_then(|l| l.get(SEAL_LABEL).cloned());
        self.cache
            .borrow_mut()
            .image_seals
            .insert(image_id.to_string(), seal.clone());
        Ok(seal)
    }

    /// The container's first IPv4 and first IPv6 address on bridge networks (networks
    /// in name order).
    async fn endpoint(&self, s: &Seen) -> Result<Endpoint> {
        let mut ep = Endpoint {
            id: s.id12.clone(),
            v4: None,
            v6: None,
        };
        for (name, net) in &s.networks {
            let v4: Option<IpAddr> = net
                .ip_address
                .as_deref()
                .filter(|a| !a.is_empty())
                .and_then(|a| a.parse().ok());
            let v6: Option<IpAddr> = net
                .global_ipv6_address
                .as_deref()
                .filter(|a| !a.is_empty())
                .and_then(|a| a.parse().ok());
            if v4.is_none() && v6.is_none() {
                continue;
            }
            let net_id = net.network_id.clone().unwrap_or_else(|| name.clone());
            let Some(bridge) = self.bridge(&net_id).await? else {
                continue;
            };
            if ep.v4.is_none()
                && let Some(ip) = v4
            {
                ep.v4 = Some(Address {
                    ip,
                    bridge: bridge.clone(),
                });
            }
            if ep.v6.is_none()
                && let Some(ip) = v6
            {
                ep.v6 = Some(Address { ip, bridge });
            }
        }
        Ok(ep)
    }

    async fn bridge(&self, network: &str) -> Result<Option<String>> {
        if let Some(b) = self.cache.borrow().bridges.get(network) {
            return Ok(b.clone());
        }
        let b = self.engine.bridge_of(network).await?;
        self.cache
            .borrow_mut()
            .bridges
            .insert(network.to_string(), b.clone());
        Ok(b)
    }

    /// Under the firewall lock: read the tables, compare, write what differs.
    pub fn write(&self, looked: &Looked, opts: &Options) -> Result<Report> {
        let lock = if opts.dry_run {
            None
        } else {
            Some(
                Lock::acquire(&self.settings.firewall_lock())
                    .map_err(|e| Error::failed(e.to_string()))?,
            )
        };
        // Another berth that looked at the engine after us may have written already:
        // its view of those containers is fresher than ours, so we leave them be.
        let mut epochs = Epochs::parse(&lock.as_ref().map(|l| l.read_note()).unwrap_or_default());
        let fresher: BTreeSet<Id12> = epochs.newer_than(looked.at);
        let mut report = Report::default();
        let sockets = host::sockets();
        let mut wanted = plan(&self.settings.layout, looked, &sockets, &mut report);
        // (published by the fresher writer, as this look wanted them too)
        let published_by_fresher: Vec<Id12> = wanted
            .iter()
            .filter(|(id, rules)| fresher.contains(id) && rules.iter().any(|r| !r.is_empty()))
            .map(|(id, _)| id.clone())
            .collect();
        wanted.retain(|(id, _)| !fresher.contains(id));
        let looked_now;
        let looked = if fresher.is_empty() {
            looked
        } else {
            let mut l = looked.clone();
            l.before.retain(|id| !fresher.contains(id));
            looked_now = l;
            &looked_now
        };
        let names: HashMap<Id12, String> = looked
            .judged
            .iter()
            .map(|j| (j.id12.clone(), j.name.clone()))
            .collect();

        // Nothing to want and nothing there: an earlier pass of this command took
        // these containers' rules away and no berth has written since. That saves
        // reading the whole ruleset again, which is what costs on a host with many
        // rules. The epochs below are still written, so that an older look (a
        // watcher's) cannot publish them afterwards.
        let unchanged = lock.is_some()
            && !looked.all
            && opts.clean.as_ref().is_some_and(|c| {
                epochs.seq == Some(c.seq)
                    && wanted
                        .iter()
                        .all(|(id, r)| c.ids.contains(id) && r.iter().all(|x| x.is_empty()))
            });
        // A pass that writes is numbered before it touches the tables (a write that
        // fails or is killed halfway still counts as one); a pass that finds nothing to
        // write is not, so that a watcher's look at a container whose rules are already
        // gone does not make `rm -f` read the tables again.
        let mut numbered = false;
        let mut number = || {
            if let Some(lock) = &lock
                && !numbered
            {
                numbered = true;
                epochs.seq = Some(epochs.seq.unwrap_or(0).wrapping_add(1));
                let _ = lock.write_note(&epochs.text());
            }
        };
        let mut attempt = 0;
        while !unchanged && attempt < 2 {
            attempt += 1;
            match self.write_once(looked, &wanted, opts, &names, &mut number) {
                Ok((changes, base, at)) => {
                    report.changes = changes;
                    report.base = base;
                    report.effective_at = at;
                    break;
                }
                // someone else (not berth) changed the tables between our read and our
                // write: read again, once
                Err(_) if attempt == 1 && !opts.dry_run => continue,
                Err(e) => return Err(e),
            }
        }
        if lock.is_some()
            && let Some(seq) = epochs.seq
        {
            report.clean = Some(Clean {
                seq,
                ids: wanted
                    .iter()
                    .filter(|(_, r)| r.iter().all(|x| x.is_empty()))
                    .map(|(id, _)| id.clone())
                    .collect(),
            });
        }
        if let Some(lock) = &lock {
            for (id, _) in &wanted {
                epochs.set(id, looked.at);
            }
            for c in &report.changes {
                epochs.set(&c.id, looked.at);
            }
            epochs.prune(crate::lock::boot_nanos());
            let _ = lock.write_note(&epochs.text());
        }
        if !opts.dry_run {
            for j in &looked.judged {
                if report.changes.iter().any(|c| c.id == j.id12 && c.added > 0)
                    && let Some((_, published)) = &j.want
                {
                    host::flush_udp_conntrack(published);
                }
            }
        }
        if self.warm && !opts.dry_run && !report.changes.is_empty() {
            let _ = self.save_both();
        }
        report.published = wanted
            .iter()
            .filter(|(_, rules)| rules.iter().any(|r| !r.is_empty()))
            .map(|(id, _)| id.clone())
            .chain(published_by_fresher)
            .collect();
        Ok(report)
    }

    #[allow(clippy::type_complexity)]
    fn write_once(
        &self,
        looked: &Looked,
        wanted: &[(Id12, [ContainerRules; 2])],
        opts: &Options,
        names: &HashMap<Id12, String>,
        before_writing: &mut dyn FnMut(),
    ) -> Result<(Vec<Changed>, Vec<String>, Option<i128>)> {
        let layout = &self.settings.layout;
        let mut effective: Option<i128> = None;
        let saves = self.save_both();
        let mut diffs = Vec::new();
        let mut base_notes = Vec::new();
        for (i, family) in Family::ALL.into_iter().enumerate() {
            let wants_here = wanted.iter().any(|(_, r)| !r[i].is_empty());
            let save = match &saves[i] {
                Ok(s) => s.clone(),
                // a host without ip6tables (or IPv6): nothing to do there unless wanted
                Err(e) if !wants_here && family == Family::V6 => {
                    let _ = e;
                    continue;
                }
                Err(e) => return Err(Error::failed(e.to_string())),
            };
            let actual = Actual::parse(&save, layout);
            let mut wants: Vec<Want> = wanted
                .iter()
                .map(|(id, r)| Want {
                    id: id.clone(),
                    rules: r[i].clone(),
                })
                .collect();
            if looked.all {
                let known: BTreeSet<&Id12> = wanted.iter().map(|(id, _)| id).collect();
                for id in actual.containers.keys() {
                    if !known.contains(id) && looked.before.contains(id) {
                        wants.push(Want {
                            id: id.clone(),
                            rules: ContainerRules::default(),
                        });
                    }
                }
            }
            let mut bridges: Vec<String> = Vec::new();
            for (id, r) in wanted {
                if r[i].is_empty() {
                    continue;
                }
                if let Some(j) = looked.judged.iter().find(|j| &j.id12 == id)
                    && let Some((ep, _)) = &j.want
                    && let Some(a) = ep.address(family)
                    && !bridges.contains(&a.bridge)
                {
                    bridges.push(a.bridge.clone());
                }
            }
            bridges.sort();
            let base = if wants_here {
                desired::base(layout, family, actual.forward_from(), &bridges)
            } else {
                Vec::new()
            };
            let d = diff::diff(layout, &actual, &base, &wants);
            if family == Family::V4 && layout.localhost && wants_here {
                for br in &bridges {
                    if host::route_localnet_off(br) {
                        base_notes.push(format!("net.ipv4.conf.{br}.route_localnet=1"));
                        if !opts.dry_run {
                            host::set_route_localnet(br).map_err(|e| {
                                Error::failed(format!(
                                    "cannot set net.ipv4.conf.{br}.route_localnet=1: {e}"
                                ))
                            })?;
                        }
                    }
                }
            }
            if family == Family::V6 && wants_here && !host::ipv6_forwarding() {
                base_notes.push("net.ipv6.conf.all.forwarding=1".to_string());
                if !opts.dry_run {
                    std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1").map_err(|e| {
                        Error::failed(format!("cannot set net.ipv6.conf.all.forwarding=1: {e}"))
                    })?;
                }
            }
            for b in &d.base {
                base_notes.push(match family {
                    Family::V4 => b.to_string(),
                    Family::V6 => format!("{b} (IPv6)"),
                });
            }
            diffs.push((family, actual, d));
        }
        if !opts.dry_run {
            self.settings.pause("apply");
            if diffs
                .iter()
                .any(|(_, _, d)| !d.urgent.is_empty() || !d.is_empty())
            {
                before_writing();
            }
            // ports that must go dark go dark first, in every family
            for (family, _, d) in &diffs {
                if !d.urgent.is_empty() {
                    self.fw
                        .restore(*family, &d.urgent)
                        .map_err(|e| Error::failed(e.to_string()))?;
                }
            }
            if diffs.iter().any(|(_, _, d)| !d.urgent.is_empty()) {
                effective = Some(epoch_nanos());
            }
            let mut landed: Vec<(Family, &Actual, &diff::Diff)> = Vec::new();
            for (family, actual, d) in &diffs {
                if d.is_empty() {
                    continue;
                }
                if let Err(e) = self.fw.restore(*family, &d.text) {
                    // all or nothing: put back what landed in the other family
                    for (f, before, done) in landed {
                        self.revert(f, before, done);
                    }
                    return Err(Error::failed(e.to_string()));
                }
                landed.push((*family, actual, d));
            }
            if effective.is_none() && !landed.is_empty() {
                effective = Some(epoch_nanos());
            }
        }
        let mut changes = Vec::new();
        for (family, _, d) in &diffs {
            let i = Family::ALL
                .iter()
                .position(|f| f == family)
                .expect("a family");
            for c in &d.changes {
                let now = wanted
                    .iter()
                    .find(|(id, _)| *id == c.id)
                    .map_or(0, |(_, r)| r[i].len());
                changes.push(Changed {
                    id: c.id.clone(),
                    name: names.get(&c.id).cloned().unwrap_or_default(),
                    family: *family,
                    added: c.added,
                    removed: c.removed,
                    now,
                });
            }
        }
        Ok((changes, base_notes, effective))
    }

    /// Put the rules of the containers `done` changed back as `before` had them (best
    /// effort: this runs after another failure).
    fn revert(&self, family: Family, before: &Actual, done: &diff::Diff) {
        let layout = &self.settings.layout;
        let Ok(now) = self.fw.save(family) else {
            return;
        };
        let now = Actual::parse(&now, layout);
        let wants: Vec<Want> = done
            .changes
            .iter()
            .map(|c| Want {
                id: c.id.clone(),
                rules: before.of(&c.id).as_rules(layout.container_chain(&c.id)),
            })
            .collect();
        let d = diff::diff(layout, &now, &[], &wants);
        let _ = self.fw.restore(family, &d.text);
        // and the base rules this pass added (a bridge's localhost rule, a jump)
        let mut text = String::new();
        for table in crate::firewall::desired::Table::ALL {
            let lines: Vec<String> = done
                .base
                .iter()
                .filter(|b| b.table() == table)
                .filter_map(|b| b.save_line())
                .filter(|l| !before.has_line(table, l) && now.has_line(table, l))
                .map(|l| format!("-D{}", &l[2..]))
                .collect();
            if !lines.is_empty() {
                text.push_str(&format!(
                    "*{}\n{}\nCOMMIT\n",
                    table.name(),
                    lines.join("\n")
                ));
            }
        }
        if !text.is_empty() {
            let _ = self.fw.restore(family, &text);
        }
    }
}

/// Nanoseconds since the epoch (the engine's event times use the same clock).
fn epoch_nanos() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// When each container's rules were last written, by the time of the look they were
/// written from: `<id12> <nanos>` lines, kept in the firewall lock file.
#[derive(Debug, Default)]
struct Epochs {
    at: HashMap<Id12, u128>,
    /// The number of berth's latest write (a `seq <n>` line).
    seq: Option<u64>,
}

/// How long an epoch is kept: no look takes longer than this to be written.
const EPOCH_KEEP_NS: u128 = 600 * 1_000_000_000;

impl Epochs {
    fn parse(text: &str) -> Epochs {
        let mut m = HashMap::new();
        let mut seq = None;
        for line in text.lines() {
            let mut w = line.split_whitespace();
            match (w.next(), w.next()) {
                (Some("seq"), Some(n)) => seq = n.parse().ok(),
                (Some(id), Some(at)) => {
                    if let (Some(id), Ok(at)) = (Id12::new(id), at.parse::<u128>()) {
                        m.insert(id, at);
                    }
                }
                _ => {}
            }
        }
        Epochs { at: m, seq }
    }

    fn newer_than(&self, at: u128) -> BTreeSet<Id12> {
        self.at
            .iter()
            .filter(|(_, t)| **t > at)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn set(&mut self, id: &Id12, at: u128) {
        let e = self.at.entry(id.clone()).or_insert(at);
        *e = (*e).max(at);
    }

    fn prune(&mut self, now: u128) {
        self.at
            .retain(|_, t| now.saturating_sub(*t) < EPOCH_KEEP_NS);
    }

    fn text(&self) -> String {
        let mut lines: Vec<String> = self
            .at
            .iter()
            .map(|(id, t)| format!("{id} {t}\n"))
            .collect();
        lines.sort();
        if let Some(n) = self.seq {
            lines.push(format!("seq {n}\n"));
        }
        lines.concat()
    }
}

/// `0.0.0.0:8080->80/tcp`.
pub fn binding_text(p: &Published, host_ip: IpAddr) -> String {
    let host = crate::display::join_host_port(
        &host_ip.to_string(),
        &ports_text(p.host_port, p.host_end()),
    );
    format!(
        "{host}->{}/{}",
        ports_text(p.container_port, p.container_end()),
        p.proto
    )
}

fn ports_text(first: u16, last: u16) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

/// The rules wanted per container and family; problems go into `report`.
fn plan(
    layout: &desired::Layout,
    looked: &Looked,
    sockets: &[Socket],
    report: &mut Report,
) -> Vec<(Id12, [ContainerRules; 2])> {
    let mut out = Vec::new();
    for j in &looked.judged {
        for p in &j.notes {
            report.notes.push(Note {
                id: j.id12.clone(),
                name: j.name.clone(),
                problem: p.clone(),
            });
        }
        let mut rules: [ContainerRules; 2] = Default::default();
        if let Some((ep, published)) = &j.want {
            let (has4, has6) = (ep.v4.is_some(), ep.v6.is_some());
            for (i, family) in Family::ALL.into_iter().enumerate() {
                let mut concrete = Vec::new();
                for p in published {
                    let mut ips = p.host_ips(true, true);
                    // explicit addresses of a family the container lacks: say so
                    for ip in ips.clone() {
                        if Family::of(&ip) != family {
                            continue;
                        }
                        let have = match family {
                            Family::V4 => has4,
                            Family::V6 => has6,
                        };
                        // a dual binding's IPv6 half only exists with an IPv6 address
                        let implied = p.dual && family == Family::V6;
                        if !have && !implied {
                            report.notes.push(Note {
                                id: j.id12.clone(),
                                name: j.name.clone(),
                                problem: Problem::NoAddress {
                                    binding: binding_text(p, ip),
                                    family,
                                },
                            });
                        }
                    }
                    ips.retain(|ip| Family::of(ip) == family);
                    for ip in ips {
                        if let Some(sock) = host::socket_on(sockets, p, ip) {
                            report.notes.push(Note {
                                id: j.id12.clone(),
                                name: j.name.clone(),
                                problem: Problem::Conflict {
                                    binding: binding_text(p, ip),
                                    socket: format!(
                                        "{}/{}",
                                        crate::display::join_host_port(
                                            &sock.ip.to_string(),
                                            &sock.port.to_string()
                                        ),
                                        sock.proto
                                    ),
                                },
                            });
                            continue;
                        }
                        concrete.push(Published {
                            host_ip: ip,
                            dual: false,
                            ..p.clone()
                        });
                    }
                }
                if let Some(addr) = ep.address(family) {
                    rules[i] = desired::container_rules(
                        layout, family, &j.id12, addr, &concrete, true, true,
                    );
                }
            }
        }
        out.push((j.id12.clone(), rules));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_note_keeps_epochs_and_the_write_number() {
        let id = Id12::new("0123456789ab").unwrap();
        let mut e = Epochs::parse("");
        assert_eq!(e.seq, None);
        e.set(&id, 7);
        e.seq = Some(41);
        let text = e.text();
        assert_eq!(text, "0123456789ab 7\nseq 41\n");
        let back = Epochs::parse(&text);
        assert_eq!(back.seq, Some(41));
        assert_eq!(back.at.get(&id), Some(&7));
        // a note an earlier berth wrote has no number: no write is taken as known
        let old = Epochs::parse("0123456789ab 7\n");
        assert_eq!(old.seq, None);
        assert_eq!(old.newer_than(6).len(), 1);
        assert!(Epochs::parse("seq x\n").seq.is_none());
    }
}
