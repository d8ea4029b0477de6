//! Dynamic completion candidates that come from the engine: container names
//! (start/stop/rm/port/...) and image names (run). Fast, and silent when no daemon
//! answers. Kept apart from `cli` (which only names them) and `commands`.

use std::ffi::OsStr;
use std::time::Duration;

use clap_complete::engine::CompletionCandidate;

use crate::config::DEFAULT_HOST;
use crate::engine::{self, Engine};

/// The variable the registration scripts set when they call berth back.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// How long a completion may wait for the engine before it offers nothing.
const ENGINE_WAIT: Duration = Duration::from_millis(300);

/// Container names, for start/stop/rm/port.
pub fn complete_containers(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = from_engine(|engine| async move {
        let list = engine.list(true).await.ok()?;
        Some(
            list.iter()
                .filter_map(crate::engine::name_of)
                .collect::<Vec<_>>(),
        )
    });
    candidates(names, current)
}

/// Image names (`repo:tag`), for run.
pub fn complete_images(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = from_engine(|engine| async move { engine.image_names().await.ok() });
    candidates(names, current)
}

fn candidates(names: Vec<String>, current: &OsStr) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    let mut names: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(current.as_ref()))
        .collect();
    names.sort();
    names.dedup();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// Ask the engine (DOCKER_HOST or the default socket), giving up quietly after
/// `ENGINE_WAIT`.
fn from_engine<F, Fut>(ask: F) -> Vec<String>
where
    F: FnOnce(Engine) -> Fut,
    Fut: std::future::Future<Output = Option<Vec<String>>>,
{
    let host = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    let host = host.unwrap_or_else(|| DEFAULT_HOST.to_string());
    engine::block_on(async move {
        let work = async {
            let engine = Engine::connect_with(&host, None).await.ok()?;
            ask(engine).await
        };
        tokio::time::timeout(ENGINE_WAIT, work).await.ok().flatten()
    })
    .unwrap_or_default()
}
