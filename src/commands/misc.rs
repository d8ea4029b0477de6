//! `berth wait`, `rename`, `pause` and `unpause`: docker's, through the engine. None of
//! them changes what a container publishes: a paused container keeps its ports, a
//! renamed one keeps its label, and a container that stops while waited for loses its
//! rules to the watcher (or the next start).

use futures_util::StreamExt;

use crate::cli::{ContainersArgs, RenameArgs};
use crate::commands::{Context, report_each};
use crate::engine::{self, Engine};
use crate::error::{Error, Result};

pub fn wait(ctx: &Context, args: &ContainersArgs) -> Result<()> {
    engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.endpoint).await?;
        let mut errors = Vec::new();
        for name in &args.containers {
            let opts = bollard::query_parameters::WaitContainerOptionsBuilder::default()
                .condition("not-running")
                .build();
            let mut w = engine.docker().wait_container(name, Some(opts));
            match w.next().await {
                Some(Ok(r)) => println!("{}", r.status_code),
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                    println!("{code}")
                }
                Some(Err(e)) => errors.push(engine.message(&e)),
                None => println!("0"),
            }
        }
        report_each(errors)
    })
}

pub fn rename(ctx: &Context, args: &RenameArgs) -> Result<()> {
    engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.endpoint).await?;
        if args.new_name.trim().is_empty() {
            return Err(Error::Message {
                message: "Error: Neither old nor new names may be empty".into(),
                code: 1,
            });
        }
        let opts = bollard::query_parameters::RenameContainerOptionsBuilder::default()
            .name(&args.new_name)
            .build();
        engine
            .docker()
            .rename_container(&args.container, opts)
            .await
            .map_err(|e| Error::Message {
                message: format!(
                    "{}\nError: failed to rename container named {}",
                    engine.message(&e),
                    args.container
                ),
                code: 1,
            })
    })
}

/// pause (`true`) or unpause each container; names echoed, failures collected.
pub fn pause(ctx: &Context, args: &ContainersArgs, pause: bool) -> Result<()> {
    engine::block_on(async {
        let engine = Engine::connect(&ctx.settings.endpoint).await?;
        let mut errors = Vec::new();
        for name in &args.containers {
            let r = if pause {
                engine.docker().pause_container(name).await
            } else {
                engine.docker().unpause_container(name).await
            };
            match r {
                Ok(()) => println!("{name}"),
                Err(e) => errors.push(engine.message(&e)),
            }
        }
        report_each(errors)
    })
}
