//! `berth start`: start stopped containers and publish their ports at their new
//! addresses. A container berth cannot publish is stopped again.

use crate::cli::StartArgs;
use crate::commands::Context;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::firewall::host;
use crate::model::PORTS_LABEL;
use crate::reconcile::Reconciler;

pub fn run(ctx: &Context, args: &StartArgs) -> Result<()> {
    engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.endpoint).await?;
        let local =
            crate::engine::place::place(&engine, &ctx.settings.host, ctx.settings.engine_local)
                .await
                .is_local();
        let fw = crate::firewall::iptables_if_any(ctx.settings.iptables);
        let rec = Reconciler::new(&engine, &fw, &ctx.settings);
        let mut failed = Vec::new();
        let mut published = false;
        for name in &args.containers {
            match start_one(&rec, name, local).await {
                Ok(p) => {
                    published |= p;
                    println!("{name}");
                }
                Err(e) => {
                    eprintln!("{}", e.to_string().trim_start_matches("berth: "));
                    failed.push(name.clone());
                }
            }
        }
        if published {
            crate::watch::ensure_running(&ctx.settings);
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::Message {
                message: format!("failed to start containers: {}", failed.join(", ")),
                code: 1,
            })
        }
    })
}

/// Start one container; true when it has ports berth published.
async fn start_one(rec: &Reconciler<'_>, name: &str, local: bool) -> Result<bool> {
    let engine = rec.engine;
    let before = engine.inspect(name).await.map_err(|e| engine.error(e))?;
    let id = before.id.clone().unwrap_or_default();
    let publishes = before
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .is_some_and(|l| l.contains_key(PORTS_LABEL))
        && local;
    // check before starting: a container berth cannot publish stays stopped
    if publishes && !host::may_change_firewall() {
        return Err(Error::failed(host::NEED_ROOT));
    }
    if publishes {
        host::check_other_firewall(None).map_err(Error::failed)?;
        crate::firewall::variant(rec.settings.iptables)?;
    }
    engine.start(&id).await.map_err(|e| engine.error(e))?;
    if publishes && let Err(e) = crate::commands::run::publish_started(rec, &id).await {
        // started without its ports would be a half-done start: stop it again
        let _ = engine.stop(&id, None, None).await;
        let _ = rec
            .reconcile(
                &crate::reconcile::Scope::Containers(vec![id.clone()]),
                &Default::default(),
            )
            .await;
        return Err(e);
    }
    Ok(publishes)
}
