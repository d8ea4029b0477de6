//! `berth create`: create a container as docker does, with its host ports allocated and
//! recorded (sealed label) so they are its own; its rules are written when it starts
//! (`berth start`, or the watcher when something else starts it).

use crate::cli::CreateArgs;
use crate::commands::Context;
use crate::commands::run::{Planned, Verb, prepare};
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::reconcile::Reconciler;

pub fn run(ctx: &Context, args: &CreateArgs) -> Result<()> {
    let a = &args.container;
    let verb = Verb::Create;
    let published = engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.endpoint).await;
        let mut planned = Planned::new(&engine, a, verb, false, None)?;
        let engine = match engine {
            Ok(e) => e,
            Err(e) => {
                planned.abandon();
                return Err(verb.error(&e));
            }
        };
        let fw = crate::firewall::iptables_if_any(ctx.settings.iptables);
        let rec = Reconciler::new(&engine, &fw, &ctx.settings);
        let (id, published) = match prepare(ctx, &rec, a, &mut planned, verb).await {
            Ok(x) => x,
            Err(e) => {
                planned.abandon();
                return Err(e);
            }
        };
        println!("{id}");
        Ok::<_, Error>(!published.is_empty())
    })?;
    if published {
        crate::watch::ensure_running(&ctx.settings);
    }
    Ok(())
}
