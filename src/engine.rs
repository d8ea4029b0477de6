//! Everything that talks to the Docker daemon, through bollard: connect (with API
//! version negotiation, so Docker 20.10 works as well as current engines), images and
//! pulls with progress, and the container calls berth's commands need. Errors become
//! docker's texts here, so every command reports the daemon the same way.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::error::{EXIT_BERTH, Error, Result};

/// Seconds bollard waits for one API call; a pull or a long `wait` is a stream and is
/// not bounded by it.
const TIMEOUT_SECS: u64 = 300;

/// A connected engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
}

/// Run a future on a small runtime of berth's own. The engine calls are I/O bound and
/// berth does one thing at a time, so one thread is enough.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let out = rt.block_on(fut);
    // a read of our stdin (run -i) may still be blocked in a helper thread: do not
    // wait for it, the process is done
    rt.shutdown_background();
    out
}

impl Engine {
    /// Connect to `host` (`unix:///path` or `tcp://host:port`) and agree on an API version.
    pub async fn connect(host: &str) -> Result<Engine> {
        let docker = match host {
            h if h.starts_with("unix://") => {
                Docker::connect_with_unix(h, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            h if h.starts_with("tcp://") || h.starts_with("http://") => {
                Docker::connect_with_http(h, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            h if h.starts_with('/') => {
                Docker::connect_with_unix(h, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            other => {
                return Err(Error::failed(format!(
                    "unsupported engine address {other:?}: use unix:///path or tcp://host:port"
                )));
            }
        }
        .map_err(|e| cannot_connect(host, &e))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| cannot_connect(host, &e))?;
        Ok(Engine {
            docker,
            host: host.to_string(),
        })
    }

    /// The address this engine was reached at.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The error for a failed call: docker's text for the daemon's answer.
    pub fn error(&self, e: BollardError) -> Error {
        Error::Message {
            message: self.message(&e),
            code: EXIT_BERTH,
        }
    }

    /// Docker's wording of an engine error.
    pub fn message(&self, e: &BollardError) -> String {
        match e {
            BollardError::DockerResponseServerError { message, .. } => {
                format!("Error response from daemon: {message}")
            }
            BollardError::DockerContainerWaitError { error, code } => {
                format!("container exited with status {code}: {error}")
            }
            e if is_connect_error(e) => cannot_connect_text(&self.host),
            e => e.to_string(),
        }
    }

    pub async fn image_exposed_ports(&self, image: &str) -> Result<Option<Vec<String>>> {
        match self.docker.inspect_image(image).await {
            Ok(img) => Ok(Some(
                img.config.and_then(|c| c.exposed_ports).unwrap_or_default(),
            )),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Pull `image`, showing per-layer progress on `out`: lines redrawn in place on a
    /// terminal (like docker), one line per layer state change otherwise.
    pub async fn pull(&self, image: &str, out: &mut (dyn Write + Send)) -> Result<()> {
        let (repo, tag) = split_image(image);
        let opts = CreateImageOptionsBuilder::default()
            .from_image(repo)
            .tag(tag)
            .build();
        let mut stream = self.docker.create_image(Some(opts), None, None);
        let mut progress = Progress::new(std::io::stderr().is_terminal());
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| self.error(e))?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(Error::Message {
                    message: format!("Error response from daemon: {detail}"),
                    code: EXIT_BERTH,
                });
            }
            progress.update(
                out,
                info.id.as_deref(),
                info.status.as_deref(),
                info.progress_detail,
            )?;
        }
        Ok(())
    }

    pub async fn create(&self, name: Option<&str>, body: ContainerCreateBody) -> Result<String> {
        let mut opts = CreateContainerOptionsBuilder::default();
        if let Some(name) = name {
            opts = opts.name(name);
        }
        let created = self
            .docker
            .create_container(Some(opts.build()), body)
            .await
            .map_err(|e| self.error(e))?;
        for warning in created.warnings {
            eprintln!("WARNING: {warning}");
        }
        Ok(created.id)
    }

    pub async fn start(&self, id: &str) -> std::result::Result<(), BollardError> {
        self.docker.start_container(id, None).await
    }

    pub async fn inspect(
        &self,
        id: &str,
    ) -> std::result::Result<ContainerInspectResponse, BollardError> {
        self.docker.inspect_container(id, None).await
    }

    pub async fn stop(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> std::result::Result<(), BollardError> {
        let mut opts = StopContainerOptionsBuilder::default();
        if let Some(t) = timeout {
            opts = opts.t(t as i32);
        }
        if let Some(s) = signal {
            opts = opts.signal(s);
        }
        self.docker.stop_container(id, Some(opts.build())).await
    }

    pub async fn remove(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> std::result::Result<(), BollardError> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(force)
            .v(volumes)
            .build();
        self.docker.remove_container(id, Some(opts)).await
    }

    pub async fn list(&self, all: bool) -> Result<Vec<ContainerSummary>> {
        let opts = ListContainersOptionsBuilder::default().all(all).build();
        self.docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| self.error(e))
    }

    /// Containers matching engine-side `filters` (e.g. `label` -> `io.berth.ports`).
    pub async fn list_filtered(
        &self,
        all: bool,
        filters: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>> {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in filters {
            map.entry(k.to_string()).or_default().push(v.to_string());
        }
        let opts = ListContainersOptionsBuilder::default()
            .all(all)
            .filters(&map)
            .build();
        self.docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| self.error(e))
    }

    /// An image's labels (by ID or name); `None` when there is no such image.
    pub async fn image_labels(&self, image: &str) -> Result<Option<HashMap<String, String>>> {
        match self.docker.inspect_image(image).await {
            Ok(img) => Ok(Some(img.config.and_then(|c| c.labels).unwrap_or_default())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The bridge interface of a network: its `com.docker.network.bridge.name` option,
    /// or the engine's default `br-<id12>`; `None` for a network that is no bridge (or
    /// is gone).
    pub async fn bridge_of(&self, network: &str) -> Result<Option<String>> {
        let net = match self
            .docker
            .inspect_network(
                network,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        if net.driver.as_deref() != Some("bridge") {
            return Ok(None);
        }
        if let Some(name) = net
            .options
            .as_ref()
            .and_then(|o| o.get("com.docker.network.bridge.name"))
        {
            return Ok(Some(name.clone()));
        }
        let id = net.id.unwrap_or_default();
        Ok(Some(format!("br-{}", &id[..id.len().min(12)])))
    }

    /// Whether a network has IPv6 enabled (`EnableIPv6`).
    pub async fn network_has_ipv6(&self, network: &str) -> Result<bool> {
        let net = self
            .docker
            .inspect_network(
                network,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .map_err(|e| self.error(e))?;
        Ok(net.enable_ipv6.unwrap_or(false))
    }

    pub async fn restart(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> std::result::Result<(), BollardError> {
        let mut opts = bollard::query_parameters::RestartContainerOptionsBuilder::default();
        if let Some(t) = timeout {
            opts = opts.t(t as i32);
        }
        if let Some(s) = signal {
            opts = opts.signal(s);
        }
        self.docker.restart_container(id, Some(opts.build())).await
    }

    pub async fn kill(
        &self,
        id: &str,
        signal: Option<&str>,
    ) -> std::result::Result<(), BollardError> {
        let opts = bollard::query_parameters::KillContainerOptionsBuilder::default()
            .signal(signal.unwrap_or("KILL"))
            .build();
        self.docker.kill_container(id, Some(opts)).await
    }

    /// Every `repo:tag` of the local images.
    pub async fn image_names(&self) -> Result<Vec<String>> {
        let images = self
            .docker
            .list_images(None::<bollard::query_parameters::ListImagesOptions>)
            .await
            .map_err(|e| self.error(e))?;
        Ok(images
            .into_iter()
            .flat_map(|i| i.repo_tags)
            .filter(|t| t != "<none>:<none>")
            .collect())
    }

    /// The underlying client, for streams (attach, wait) the commands drive themselves.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// 12-hex container ID -> name (without the leading `/`), for every container.
    pub async fn short_id_names(&self) -> Result<HashMap<String, String>> {
        Ok(self
            .list(true)
            .await?
            .into_iter()
            .filter_map(|c| Some((c.id.as_ref()?.chars().take(12).collect(), name_of(&c)?)))
            .collect())
    }
}

/// A listed container's name as docker prints it: the first, without its leading `/`.
pub fn name_of(c: &ContainerSummary) -> Option<String> {
    let first = c.names.as_ref()?.first()?;
    Some(first.trim_start_matches('/').to_string())
}

/// The engine's answer was "no such thing".
pub fn is_not_found(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

fn is_connect_error(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::SocketNotFoundError(_)
            | BollardError::HyperLegacyError { .. }
            | BollardError::IOError { .. }
            | BollardError::RequestTimeoutError
    )
}

fn cannot_connect_text(host: &str) -> String {
    format!("Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")
}

fn cannot_connect(host: &str, e: &BollardError) -> Error {
    let message = match e {
        BollardError::DockerResponseServerError { message, .. } => {
            format!("Error response from daemon: {message}")
        }
        _ => cannot_connect_text(host),
    };
    Error::Message {
        message,
        code: EXIT_BERTH,
    }
}

/// `repo[:tag]` with docker's default tag, leaving a registry port (`host:5000/x`) and a
/// digest (`x@sha256:...`) intact.
pub fn split_image(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rfind(':') {
        Some(i) if !image[i + 1..].contains('/') => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    }
}

/// The image reference docker prints: `busybox` -> `busybox:latest`.
pub fn full_image_name(image: &str) -> String {
    match split_image(image) {
        (repo, "") => repo.to_string(),
        (repo, tag) => format!("{repo}:{tag}"),
    }
}

/// Per-layer pull progress, docker style.
struct Progress {
    tty: bool,
    /// Layer IDs in the order they appeared (one screen line each on a terminal).
    layers: Vec<String>,
    last_status: HashMap<String, String>,
}

impl Progress {
    fn new(tty: bool) -> Self {
        Progress {
            tty,
            layers: Vec::new(),
            last_status: HashMap::new(),
        }
    }

    fn update(
        &mut self,
        out: &mut (dyn Write + Send),
        id: Option<&str>,
        status: Option<&str>,
        detail: Option<bollard::models::ProgressDetail>,
    ) -> std::io::Result<()> {
        let status = status.unwrap_or("");
        let Some(id) = id.filter(|id| !id.is_empty() && !status.starts_with("Pulling from")) else {
            // whole-image messages: "Pulling from library/x", "Digest: ...", "Status: ..."
            let line = match id {
                Some(id) if !id.is_empty() => format!("{id}: {status}"),
                _ => status.to_string(),
            };
            return writeln!(out, "{line}");
        };
        let bar = detail
            .and_then(|d| Some((d.current?, d.total?)))
            .map(|(cur, total)| bar(cur, total));
        let line = match &bar {
            Some(bar) => format!("{id}: {status} {bar}"),
            None => format!("{id}: {status}"),
        };
        if !self.tty {
            // one line per state change: progress ticks would flood a log
            if self.last_status.get(id).map(String::as_str) != Some(status) {
                self.last_status.insert(id.to_string(), status.to_string());
                writeln!(out, "{id}: {status}")?;
            }
            return Ok(());
        }
        match self.layers.iter().position(|l| l == id) {
            None => {
                self.layers.push(id.to_string());
                writeln!(out, "{line}")?;
            }
            Some(pos) => {
                let up = self.layers.len() - pos;
                // up to the layer's line, rewrite it, and back down
                write!(out, "\x1b[{up}A\r\x1b[2K{line}\x1b[{up}B\r")?;
            }
        }
        out.flush()
    }
}

/// `[=====>     ]  1.2MB/3.4MB`, like docker's progress bar.
fn bar(current: i64, total: i64) -> String {
    if total <= 0 {
        return human_size(current);
    }
    let width = 50usize;
    let filled = ((current.max(0) as f64 / total as f64) * width as f64) as usize;
    let filled = filled.min(width);
    let arrow = if filled < width { ">" } else { "" };
    let pad = width - filled - arrow.len();
    format!(
        "[{}{}{}] {:>8}/{}",
        "=".repeat(filled),
        arrow,
        " ".repeat(pad),
        human_size(current),
        human_size(total)
    )
}

/// docker's `units.HumanSize`: decimal units, 4 significant digits.
pub fn human_size(n: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let s = format!("{v:.4}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    // four significant digits, as Go's %.4g
    let digits: usize = s.chars().filter(char::is_ascii_digit).count();
    let s = if digits > 4 {
        let int_len = s.split('.').next().unwrap_or("").len();
        let prec = 4usize.saturating_sub(int_len);
        format!("{v:.prec$}")
    } else {
        s.to_string()
    };
    format!("{s}{}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_get_dockers_default_tag() {
        assert_eq!(split_image("busybox"), ("busybox", "latest"));
        assert_eq!(split_image("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(
            split_image("127.0.0.1:5000/busybox"),
            ("127.0.0.1:5000/busybox", "latest")
        );
        assert_eq!(
            split_image("127.0.0.1:5000/busybox:x"),
            ("127.0.0.1:5000/busybox", "x")
        );
        assert_eq!(full_image_name("busybox"), "busybox:latest");
        assert_eq!(full_image_name("x@sha256:ab"), "x@sha256:ab");
    }

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_234_567), "1.235MB");
        assert_eq!(human_size(2_000_000), "2MB");
    }

    #[test]
    fn progress_bar_shape() {
        let b = bar(50, 100);
        assert!(b.starts_with("[=========================>"), "{b}");
        assert!(b.ends_with("50B/100B"), "{b}");
    }
}
