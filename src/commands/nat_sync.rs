//! `berth nat sync` and `berth nat check`: the reconciler over every container. sync
//! makes the rules match the running containers again (after a firewall flush, a
//! daemon restart, an address change or a crash) and says what changed; check says
//! what sync would change, and what else is at risk, changing nothing.

use crate::cli::NatSyncArgs;
use crate::commands::Context;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::firewall::desired::LOOPBACK_GUARD;
use crate::firewall::host;
use crate::model::Family;
use crate::nat::variant::Tool;
use crate::reconcile::reap::{Reaped, reap_abandoned};
use crate::reconcile::{Changed, Options, Problem, Reconciler, Report, Scope};

/// The whole picture: the reconcile (or its dry run) and the reaping.
async fn all(ctx: &Context, dry_run: bool) -> Result<(Report, Vec<Reaped>)> {
    if !host::may_change_firewall() {
        return Err(Error::failed(host::NEED_ROOT));
    }
    let engine = Engine::connect(&ctx.settings.endpoint).await?;
    crate::commands::require_local(ctx, &engine, if dry_run { "nat check" } else { "nat sync" })
        .await?;
    let fw = crate::firewall::iptables(ctx.settings.iptables)?;
    let rec = Reconciler::new(&engine, &fw, &ctx.settings);
    let opts = Options {
        dry_run,
        ..Options::default()
    };
    let report = rec.reconcile(&Scope::All, &opts).await?;
    let reaped = reap_abandoned(&engine, dry_run).await?;
    Ok((report, reaped))
}

fn family_note(c: &Changed) -> &'static str {
    match c.family {
        Family::V4 => "",
        Family::V6 => " (IPv6)",
    }
}

fn who(name: &str, id: &str) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        format!("{name} ({id})")
    }
}

pub fn run(ctx: &Context, args: &NatSyncArgs) -> Result<()> {
    let (report, reaped) = engine::block_on(all(ctx, args.dry_run))?;
    let prefix = if args.dry_run { "would have " } else { "" };
    for b in &report.base {
        println!("{prefix}created {b}");
    }
    for c in &report.changes {
        if c.now > 0 {
            println!(
                "{prefix}restored {} rules for {}{}",
                c.added,
                who(&c.name, c.id.as_str()),
                family_note(c)
            );
        } else {
            println!(
                "{prefix}removed {} rules of {} (container gone or stopped){}",
                c.removed,
                c.id,
                family_note(c)
            );
        }
    }
    for n in &report.notes {
        println!("{}: {}", who(&n.name, n.id.as_str()), n.problem);
    }
    for r in &reaped {
        println!("{prefix}{r}");
    }
    if report.base.is_empty() && report.changes.is_empty() && reaped.is_empty() {
        if report.notes.is_empty() {
            println!("in sync: nothing to do");
        } else {
            println!("in sync, with the problems above");
        }
    }
    Ok(())
}

/// `berth nat check`: for cron and systemd; prints each finding, exit 1 if any.
pub fn check(ctx: &Context) -> Result<()> {
    let (report, reaped) = engine::block_on(all(ctx, true))?;
    let mut findings: Vec<String> = report
        .base
        .iter()
        .map(|b| format!("missing: {b}"))
        .collect();
    for c in &report.changes {
        findings.push(if c.now > 0 {
            format!(
                "drift: {} runs but its {} rules are missing or out of date{}",
                who(&c.name, c.id.as_str()),
                c.now,
                family_note(c)
            )
        } else {
            format!(
                "orphan: {} rules of {}, a container that is gone or stopped{}",
                c.removed,
                c.id,
                family_note(c)
            )
        });
    }
    for n in &report.notes {
        let kind = match n.problem {
            Problem::Untrusted(_) => "untrusted",
            Problem::Conflict { .. } => "conflict",
            Problem::NoAddress { .. } => "unpublished",
        };
        findings.push(format!(
            "{kind}: {}: {}",
            who(&n.name, n.id.as_str()),
            n.problem
        ));
    }
    for r in &reaped {
        findings.push(format!(
            "abandoned: {} ({}) was created by a berth run --rm that died before starting it",
            r.name, r.id
        ));
    }
    findings.extend(host_risks(ctx)?);
    if findings.is_empty() {
        println!("ok: berth's rules match the running containers");
        return Ok(());
    }
    for f in &findings {
        println!("{f}");
    }
    Err(Error::Exit(1))
}

/// Risks outside berth's rules: route_localnet without the loopback guard, berth's
/// rules in the other iptables variant, another firewall that would drop them.
fn host_risks(ctx: &Context) -> Result<Vec<String>> {
    use crate::firewall::backend::Backend;
    let mut out = Vec::new();
    let fw = crate::firewall::iptables(ctx.settings.iptables)?;
    let save = fw
        .save(Family::V4)
        .map_err(|e| Error::failed(e.to_string()))?;
    let guard = format!("-A {} {LOOPBACK_GUARD}", ctx.settings.layout.input);
    if !save.lines().any(|l| l == guard) {
        for br in host::route_localnet_on() {
            out.push(format!(
                "risk: net.ipv4.conf.{br}.route_localnet=1 without berth's loopback guard: other hosts may reach 127.0.0.0/8"
            ));
        }
    }
    let other = crate::nat::variant::other(fw.variant());
    if let Ok(o) = std::process::Command::new(other.command_for(Family::V4, Tool::Save)).output()
        && o.status.success()
    {
        let text = String::from_utf8_lossy(&o.stdout);
        let l = &ctx.settings.layout;
        if text.contains(&format!(":{} ", l.dnat)) || text.contains("\"berth:") {
            out.push(format!(
                "other variant: {} holds berth chains or rules; berth uses {} on this host",
                other.command_for(Family::V4, Tool::Save),
                fw.variant().command_for(Family::V4, Tool::Save)
            ));
        }
    }
    for t in host::docker_nft_tables() {
        out.push(format!(
            "risk: nftables table {t} (Docker's nftables firewall backend) drops what berth's iptables rules accept"
        ));
    }
    Ok(out)
}
