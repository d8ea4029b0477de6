//! `run --rm` containers left behind: created by a berth that was killed before it
//! started them. The engine's AutoRemove only acts on containers that ran, so nobody
//! else would ever remove them.

use crate::engine::Engine;
use crate::error::Result;
use crate::model::{Id12, RUN_LABEL};

/// One container reaped (or, in a dry run, to reap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub id: Id12,
    pub name: String,
}

impl std::fmt::Display for Reaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed container {} ({}): run --rm never started it and its berth is gone",
            self.name, self.id
        )
    }
}

/// Find (and unless `dry_run`, remove) abandoned `run --rm` containers.
pub async fn reap_abandoned(engine: &Engine, dry_run: bool) -> Result<Vec<Reaped>> {
    let mut out = Vec::new();
    for c in engine
        .list_filtered(true, &[("label", RUN_LABEL), ("status", "created")])
        .await?
    {
        let Some(pid) = c.labels.as_ref().and_then(|l| l.get(RUN_LABEL)) else {
            continue;
        };
        if pid.parse::<u32>().is_err() || process_is_berth(pid) {
            continue;
        }
        // a label the image carries is not berth's word
        if let Some(image) = c.image.as_deref()
            && engine
                .image_labels(image)
                .await
                .ok()
                .flatten()
                .is_none_or(|l| l.contains_key(RUN_LABEL))
        {
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
        let Some(id12) = Id12::new(&id) else { continue };
        out.push(Reaped {
            id: id12,
            name: crate::engine::name_of(&c).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Whether `pid` is a live berth process.
fn process_is_berth(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "berth")
}
