//! `berth start`: start stopped containers and write their rules again, with their
//! new addresses.

use crate::cli::StartArgs;
use crate::commands::Context;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::publish::{self, Publisher};

pub fn run(ctx: &Context, args: &StartArgs) -> Result<()> {
    engine::block_on(async {
        let engine = Engine::connect(&ctx.host).await?;
        let mut failed = Vec::new();
        for name in &args.containers {
            match start_one(&engine, name).await {
                Ok(()) => println!("{name}"),
                Err(e) => {
                    eprintln!("{}", e.to_string().trim_start_matches("berth: "));
                    failed.push(name.clone());
                }
            }
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

async fn start_one(engine: &Engine, name: &str) -> Result<()> {
    let before = engine.inspect(name).await.map_err(|e| engine.error(e))?;
    let labels = before.config.as_ref().and_then(|c| c.labels.as_ref());
    let published = publish::published_of(labels);
    // check before starting: a container berth cannot publish stays stopped
    let publisher = match &published {
        Some(p) if !p.is_empty() => Some(Publisher::open()?),
        _ => None,
    };
    engine.start(name).await.map_err(|e| engine.error(e))?;
    if let (Some(p), Some(published)) = (publisher, published) {
        let c = engine.inspect(name).await.map_err(|e| engine.error(e))?;
        let Some(target) = publish::target_of(engine, &c).await? else {
            return Ok(());
        };
        let save = p.fw.save_all()?;
        if let Err(e) = publish::attach(&p.fw, &save, &target, &published) {
            // started without its ports would be a half-done start: stop it again
            let _ = engine.stop(name, None, None).await;
            return Err(e);
        }
    }
    Ok(())
}
