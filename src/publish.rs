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
        let fw = Firewall::detect()?;
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

/// Resolve `specs` to concrete host ports.
pub fn allocate(specs: &PortSpecs, taken: &Taken) -> Result<Vec<Published>> {
    let range = port_range_override()?;
    alloc::allocate(
        specs,
        taken,
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        alloc::ephemeral_range(range),
        &alloc::reserved_ports(),
    )
    .map_err(|e| Error::failed(e.0))
}

/// `BERTH_PORT_RANGE=LOW-HIGH` replaces the kernel's ephemeral range.
fn port_range_override() -> Result<Option<(u16, u16)>> {
    let Ok(v) = std::env::var("BERTH_PORT_RANGE") else {
        return Ok(None);
    };
    let bad = || {
        Error::failed(format!(
            "BERTH_PORT_RANGE={v:?}: want LOW-HIGH, e.g. 40000-40999"
        ))
    };
    let (a, b) = v.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok(Some((a, b)))
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
    let save = fw.save_all()?;
    fw.remove_tagged(&save, &ids)
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
        }
    }
}

/// Desired state = running containers with a berth label; present state = tagged rules.
/// Repairs both ways (unless `dry_run`) and says what changed.
pub async fn sync(engine: &Engine, dry_run: bool) -> Result<(Vec<String>, Vec<SyncAction>)> {
    let publisher = Publisher::open()?;
    let fw = &publisher.fw;
    let containers = engine.list(false).await?;
    let save = fw.save_all()?;
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
        let name = c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default();
        if let Some(target) = target_of(engine, &inspect).await? {
            desired.push((target, name, published));
        }
    }

    let mut base_notes = Vec::new();
    let mut bridges: Vec<String> = desired.iter().map(|(t, _, _)| t.bridge.clone()).collect();
    bridges.sort();
    bridges.dedup();
    if !desired.is_empty() {
        let missing = if dry_run {
            crate::nat::apply::missing_base(&save, &bridges, &[])
        } else {
            fw.ensure_base(&save, &bridges)?
        };
        base_notes.extend(missing.iter().map(|m| format!("created {m}")));
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
    Ok((base_notes, actions))
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
