//! What stop, kill, restart and rm share: the engine, and the reconciler when berth may
//! change this host's firewall. A container's ports go dark before the engine lets its
//! address go (withdraw), and its rules are reconciled once the engine is done.

use crate::commands::Context;
use crate::engine::Engine;
use crate::error::Result;
use crate::firewall::backend::Iptables;
use crate::firewall::host;
use crate::reconcile::{Clean, Options, Reconciler, Scope};

/// The engine, and the firewall when berth may change it (without root the rules are
/// left to a watcher that has it).
pub struct Lifecycle {
    pub engine: Engine,
    fw: Option<Iptables>,
}

impl Lifecycle {
    pub async fn connect(ctx: &Context) -> Result<Lifecycle> {
        let engine = Engine::connect(&ctx.settings.endpoint).await?;
        // rules only for an engine of this host; one elsewhere publishes itself
        let fw = if host::may_change_firewall()
            && crate::engine::place::place(&engine, &ctx.settings.host, ctx.settings.engine_local)
                .await
                .is_local()
        {
            Some(crate::firewall::iptables(ctx.settings.iptables)?)
        } else {
            None
        };
        Ok(Lifecycle { engine, fw })
    }

    fn reconciler<'a>(&'a self, ctx: &'a Context) -> Option<Reconciler<'a>> {
        self.fw
            .as_ref()
            .map(|fw| Reconciler::new(&self.engine, fw, &ctx.settings))
    }

    /// Take the rules of these containers (full IDs) away, whatever the engine says.
    /// Returns what [`Lifecycle::settle`] may start from.
    pub async fn withdraw(&self, ctx: &Context, ids: &[String]) -> Option<Clean> {
        if ids.is_empty() {
            return None;
        }
        let rec = self.reconciler(ctx)?;
        let opts = Options {
            withdraw: ids.to_vec(),
            ..Options::default()
        };
        match rec.reconcile(&Scope::Containers(ids.to_vec()), &opts).await {
            Ok(report) => report.clean,
            Err(e) => {
                eprintln!("{e}");
                None
            }
        }
    }

    /// Make the rules of these containers right again (`clean`: what the withdrawal
    /// before left, if there was one).
    pub async fn settle(&self, ctx: &Context, ids: &[String], clean: Option<Clean>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        if let Some(rec) = self.reconciler(ctx) {
            let opts = Options {
                clean,
                ..Options::default()
            };
            let report = rec
                .reconcile(&Scope::Containers(ids.to_vec()), &opts)
                .await?;
            for n in &report.notes {
                eprintln!(
                    "berth: {}: {}",
                    display_name(&n.name, &n.id.to_string()),
                    n.problem
                );
            }
        }
        Ok(())
    }
}

fn display_name(name: &str, id: &str) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        name.to_string()
    }
}
