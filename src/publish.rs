//! The publish layer: the hooks the container commands call so that a container's
//! rules follow its life. `prepare` allocates host ports (under the lock), `attach`
//! writes the rules once the container has an address, `release` removes them, and
//! `sync` repairs drift both ways. The truth lives in the engine (the `io.berth.ports`
//! label of each container) and in the kernel (rules tagged `berth:<id>`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};

use bollard::models::{ContainerInspectResponse, ContainerSummary};

use crate::alloc::{self, Lock, PORTS_LABEL, Published, Taken};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::nat::apply::Firewall;
use crate::nat::plan::{self, Ruleset, Target};
use crate::portspec::PortSpecs;

/// The firewall, and the lock while berth changes it.
pub struct Publisher {
    pub fw: Firewall,
    _lock: Lock,
}

impl Publisher {
    /// Take the lock and get the host's firewall. Checks permission first, so nothing is
    /// created when berth may not write rules.
    pub fn open() -> Result<Publisher> {
        crate::nat::apply::check_permission()?;
        let fw = firewall()?;
        let lock = Lock::acquire(&alloc::lock_path()).map_err(|e| {
            Error::failed(format!("cannot take {}: {e}", alloc::lock_path().display()))
        })?;
        Ok(Publisher { fw, _lock: lock })
    }
}

/// Every port held on this host: DNAT rules in `save_text`, labels of all containers,
/// bound sockets.
pub fn taken(save_text: &str, containers: &[ContainerSummary]) -> Taken {
    let mut taken = Taken::default();
    taken.add_dnat_rules(save_text);
    for c in containers {
        if let Some(p) = c
            .labels
            .as_ref()
            .and_then(|l| l.get(PORTS_LABEL))
            .and_then(|t| alloc::from_label(t))
        {
            taken.add_published(&p);
        }
    }
    taken.add_sockets();
    taken
}

/// What the publish layer takes from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The host address for bindings that name none (dockerd's `--ip`).
    pub default_host_ip: IpAddr,
    /// Replaces the kernel's ephemeral range for free host ports.
    pub port_range: Option<(u16, u16)>,
    pub iptables: crate::config::IptablesChoice,
}

impl From<&crate::config::Config> for Settings {
    fn from(c: &crate::config::Config) -> Self {
        Settings {
            default_host_ip: c.default_host_ip.value,
            port_range: c.port_range.value,
            iptables: c.iptables.value,
        }
    }
}

static SETTINGS: std::sync::OnceLock<Settings> = std::sync::OnceLock::new();

/// Fix the settings for this process (from the config).
pub fn set_settings(s: Settings) {
    let _ = SETTINGS.set(s);
}

fn settings() -> &'static Settings {
    SETTINGS.get_or_init(|| Settings {
        default_host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port_range: None,
        iptables: crate::config::IptablesChoice::Auto,
    })
}

/// The firewall in the configured (or detected) variant.
pub fn firewall() -> Result<Firewall> {
    use crate::nat::variant::Variant;
    Ok(match settings().iptables {
        crate::config::IptablesChoice::Auto => Firewall::detect()?,
        crate::config::IptablesChoice::Nft => Firewall::new(Variant::Nft),
        crate::config::IptablesChoice::Legacy => Firewall::new(Variant::Legacy),
    })
}

/// Resolve `specs` to concrete host ports.
pub fn allocate(specs: &PortSpecs, taken: &Taken) -> Result<Vec<Published>> {
    let s = settings();
    alloc::allocate(
        specs,
        taken,
        s.default_host_ip,
        alloc::ephemeral_range(s.port_range),
        &alloc::reserved_ports(),
    )
    .map_err(|e| Error::failed(e.0))
}

/// A container's bindings, from its label.
pub fn published_of(labels: Option<&HashMap<String, String>>) -> Option<Vec<Published>> {
    labels?.get(PORTS_LABEL).and_then(|t| alloc::from_label(t))
}

/// Where a running container's traffic goes: its first IPv4 address on a bridge
/// network, and that bridge's interface name.
pub async fn target_of(engine: &Engine, c: &ContainerInspectResponse) -> Result<Option<Target>> {
    let id = c.id.clone().unwrap_or_default();
    let Some(networks) = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
    else {
        return Ok(None);
    };
    let mut names: Vec<&String> = networks.keys().collect();
    names.sort();
    for name in names {
        let ep = &networks[name];
        let Some(ip) = ep
            .ip_address
            .as_deref()
            .and_then(|s| s.parse::<Ipv4Addr>().ok())
        else {
            continue;
        };
        let net_id = ep.network_id.clone().unwrap_or_else(|| name.clone());
        let bridge = bridge_name(engine, &net_id).await?;
        return Ok(Some(Target {
            id12: id.chars().take(12).collect(),
            ip,
            bridge,
        }));
    }
    Ok(None)
}

/// The bridge interface of a network: its `com.docker.network.bridge.name` option, or
/// the engine's default `br-<id>`.
pub async fn bridge_name(engine: &Engine, network: &str) -> Result<String> {
    let net = engine
        .docker()
        .inspect_network(network, None)
        .await
        .map_err(|e| engine.error(e))?;
    if let Some(name) = net
        .options
        .as_ref()
        .and_then(|o| o.get("com.docker.network.bridge.name"))
    {
        return Ok(name.clone());
    }
    let id = net.id.unwrap_or_default();
    Ok(format!("br-{}", &id[..id.len().min(12)]))
}

/// Write a container's rules: base layout first (if missing), then the container's
/// rules in one transaction; stale rules of the same container go in the same call.
pub fn attach(
    fw: &Firewall,
    save_text: &str,
    target: &Target,
    published: &[Published],
) -> Result<Ruleset> {
    let rules = plan::plan(target, published);
    if rules.is_empty() {
        return Ok(rules);
    }
    fw.ensure_base(save_text, std::slice::from_ref(&target.bridge))?;
    test_pause("apply");
    let stale = plan::find_tagged(save_text, &target.id12);
    let text = format!("{}{}", stale.delete_text(), rules.restore_text());
    if let Err(e) = fw.restore(&text) {
        // all or nothing: take away whatever of ours may have landed
        if let Ok(now) = fw.save_all() {
            let _ = fw.remove_tagged(&now, std::slice::from_ref(&target.id12));
        }
        return Err(e);
    }
    flush_udp_conntrack(published);
    Ok(rules)
}

/// Remove every rule of these containers (12-hex or full IDs); one save, one restore.
pub fn release(fw: &Firewall, ids: &[String]) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = ids.iter().map(|id| id.chars().take(12).collect()).collect();
    // under the lock, so a concurrent `nat sync` cannot delete the same rules between
    // our read and our delete (the delete would then fail)
    let _lock = Lock::acquire(&alloc::lock_path())
        .map_err(|e| Error::failed(format!("cannot take {}: {e}", alloc::lock_path().display())))?;
    let save = fw.save_all()?;
    match fw.remove_tagged(&save, &ids) {
        Ok(n) => Ok(n),
        // someone else (not berth) changed the tables meanwhile: read again, once
        Err(_) => fw.remove_tagged(&fw.save_all()?, &ids),
    }
}

/// Stale UDP conntrack entries keep sending a flow to the container's old address after
/// its rules change: drop them for the published host ports (best effort).
pub fn flush_udp_conntrack(published: &[Published]) {
    for p in published.iter().filter(|p| p.proto == "udp") {
        // one call per port; long ranges are left to the entries' own timeout
        for port in p.host_port..=p.host_end().min(p.host_port.saturating_add(63)) {
            let _ = Command::new("conntrack")
                .args(["-D", "-p", "udp", "--orig-port-dst", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// What `nat sync` did (or would do) for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncAction {
    /// The container runs but some or all of its rules were missing or out of date.
    Restored {
        id12: String,
        name: String,
        rules: usize,
    },
    /// Rules of a container that is gone or stopped.
    Removed { id12: String, rules: usize },
    /// A `run --rm` container that was created but never started, whose berth died.
    Reaped { id12: String, name: String },
}

impl std::fmt::Display for SyncAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncAction::Restored { id12, name, rules } => {
                write!(f, "restored {rules} rules for {name} ({id12})")
            }
            SyncAction::Removed { id12, rules } => {
                write!(
                    f,
                    "removed {rules} rules of {id12} (container gone or stopped)"
                )
            }
            SyncAction::Reaped { id12, name } => write!(
                f,
                "removed container {name} ({id12}): run --rm never started it and its berth is gone"
            ),
        }
    }
}

/// Desired state = running containers with a berth label; present state = tagged rules.
/// Repairs both ways (unless `dry_run`) and says what changed.
pub async fn sync(engine: &Engine, dry_run: bool) -> Result<(Vec<String>, Vec<SyncAction>)> {
    let publisher = Publisher::open()?;
    let save = publisher.fw.save_all()?;
    let (missing, actions) = reconcile(engine, &publisher.fw, &save, dry_run).await?;
    Ok((
        missing.iter().map(|m| format!("created {m}")).collect(),
        actions,
    ))
}

/// `nat check`: every drift or risk found, changing nothing. Empty when all is well.
pub async fn check(engine: &Engine) -> Result<Vec<String>> {
    let publisher = Publisher::open()?;
    let fw = &publisher.fw;
    let save = fw.save_all()?;
    let (missing, actions) = reconcile(engine, fw, &save, true).await?;
    let mut findings: Vec<String> = missing.iter().map(|m| format!("missing: {m}")).collect();
    for a in &actions {
        findings.push(match a {
            SyncAction::Restored { id12, name, rules } => {
                format!("drift: {name} ({id12}) runs but its {rules} rules are missing or out of date")
            }
            SyncAction::Removed { id12, rules } => {
                format!("orphan: {rules} rules of {id12}, a container that is gone or stopped")
            }
            SyncAction::Reaped { id12, name } => {
                format!("abandoned: {name} ({id12}) was created by a berth run --rm that died before starting it")
            }
        });
    }
    // route_localnet opens 127.0.0.0/8 to other hosts unless the guard is there
    let guard = format!(
        "-A {} {}",
        plan::layout().input,
        crate::nat::apply::LOOPBACK_GUARD
    );
    if !save.lines().any(|l| l == guard) {
        for br in route_localnet_on() {
            findings.push(format!(
                "risk: net.ipv4.conf.{br}.route_localnet=1 without berth's loopback guard: other hosts may reach 127.0.0.0/8"
            ));
        }
    }
    if let Some(other) = fw.other_variant_save()
        && (other.contains(":BERTH") || other.contains("berth:"))
    {
        findings.push(format!(
            "other variant: {} holds berth chains or rules; berth uses {} on this host",
            crate::nat::apply::other_variant(*fw.variant()).save_cmd(),
            fw.variant().save_cmd()
        ));
    }
    Ok(findings)
}

/// Interfaces whose route_localnet is on.
fn route_localnet_on() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/sys/net/ipv4/conf") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "all" || name == "default" {
                continue;
            }
            if std::fs::read_to_string(e.path().join("route_localnet"))
                .is_ok_and(|v| v.trim() == "1")
            {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

/// Compare desired and present state; repair unless `dry_run`. Returns the base pieces
/// that were (or would be) created and the per-container actions.
async fn reconcile(
    engine: &Engine,
    fw: &Firewall,
    save: &str,
    dry_run: bool,
) -> Result<(Vec<crate::nat::apply::Missing>, Vec<SyncAction>)> {
    let save = save.to_string();
    let containers = engine.list(false).await?;
    let mut desired: Vec<(Target, String, Vec<Published>)> = Vec::new();
    for c in &containers {
        let Some(published) = published_of(c.labels.as_ref()) else {
            continue;
        };
        let id = c.id.clone().unwrap_or_default();
        let inspect = match engine.inspect(&id).await {
            Ok(i) => i,
            Err(_) => continue, // gone meanwhile: its rules are orphans below
        };
        let name = crate::engine::name_of(c).unwrap_or_default();
        if let Some(target) = target_of(engine, &inspect).await? {
            desired.push((target, name, published));
        }
    }

    let mut base = Vec::new();
    let mut bridges: Vec<String> = desired.iter().map(|(t, _, _)| t.bridge.clone()).collect();
    bridges.sort();
    bridges.dedup();
    if !desired.is_empty() {
        base = if dry_run {
            crate::nat::apply::missing_base(&save, &bridges, &[])
        } else {
            fw.ensure_base(&save, &bridges)?
        };
    }

    let mut actions = Vec::new();
    for (target, name, published) in &desired {
        let want = plan::plan(target, published);
        let have = plan::find_tagged(&save, &target.id12);
        if same_rules(&want, &have) {
            continue;
        }
        if !dry_run {
            fw.restore(&format!("{}{}", have.delete_text(), want.restore_text()))?;
            flush_udp_conntrack(published);
        }
        actions.push(SyncAction::Restored {
            id12: target.id12.clone(),
            name: name.clone(),
            rules: want.len(),
        });
    }
    let wanted: Vec<&str> = desired.iter().map(|(t, _, _)| t.id12.as_str()).collect();
    for id12 in plan::tagged_ids(&save) {
        if wanted.contains(&id12.as_str()) {
            continue;
        }
        let rules = plan::find_tagged(&save, &id12);
        if !dry_run {
            fw.restore(&rules.delete_text())?;
        }
        actions.push(SyncAction::Removed {
            id12,
            rules: rules.len(),
        });
    }
    actions.extend(reap_abandoned(engine, dry_run).await?);
    Ok((base, actions))
}

/// The label recording which berth process created a container.
pub const RUN_LABEL: &str = "io.berth.run";

/// `run --rm` containers left in "created" by a berth that was killed before it could
/// start them: the engine's AutoRemove only acts on containers that ran, so nobody
/// else would ever remove them.
async fn reap_abandoned(engine: &Engine, dry_run: bool) -> Result<Vec<SyncAction>> {
    let mut out = Vec::new();
    for c in engine.list(true).await? {
        if c.state != Some(bollard::models::ContainerSummaryStateEnum::CREATED) {
            continue;
        }
        let Some(pid) = c.labels.as_ref().and_then(|l| l.get(RUN_LABEL)) else {
            continue;
        };
        if process_is_berth(pid) {
            continue;
        }
        let id = c.id.clone().unwrap_or_default();
        let Ok(inspect) = engine.inspect(&id).await else {
            continue;
        };
        let auto_remove = inspect
            .host_config
            .as_ref()
            .and_then(|h| h.auto_remove)
            .unwrap_or(false);
        if !auto_remove {
            continue;
        }
        if !dry_run {
            engine
                .remove(&id, true, true)
                .await
                .map_err(|e| engine.error(e))?;
        }
        let name = crate::engine::name_of(&c).unwrap_or_default();
        out.push(SyncAction::Reaped {
            id12: id.chars().take(12).collect(),
            name,
        });
    }
    Ok(out)
}

/// Whether `pid` is a live berth process.
fn process_is_berth(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "berth")
}

/// A test seam: with `BERTH_TEST_PAUSE=<step>`, berth stops at that step of `run`
/// (after-create, after-start, apply) so a test can kill it there. Unset, it costs one
/// environment lookup.
pub fn test_pause(step: &str) {
    if std::env::var("BERTH_TEST_PAUSE").is_ok_and(|s| s == step) {
        eprintln!("berth: paused at {step} (BERTH_TEST_PAUSE)");
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
}

/// The same rules, whatever their order.
fn same_rules(a: &Ruleset, b: &Ruleset) -> bool {
    fn sorted(v: &[String]) -> Vec<&String> {
        let mut v: Vec<&String> = v.iter().collect();
        v.sort();
        v
    }
    sorted(&a.nat) == sorted(&b.nat)
        && sorted(&a.filter) == sorted(&b.filter)
        && sorted(&a.raw) == sorted(&b.raw)
}
