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

pub mod endpoint;
pub mod place;
pub mod slim;
pub mod ssh;

/// Seconds bollard waits for one API call; a pull or a long `wait` is a stream and is
/// not bounded by it.
const TIMEOUT_SECS: u64 = 300;

/// A connected engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
    /// Reached over TLS.
    tls: bool,
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
    /// Connect to the engine of `target` and agree on an API version.
    pub async fn connect(target: &endpoint::Endpoint) -> Result<Engine> {
        Engine::connect_with(&target.host, target.tls.as_ref()).await
    }

    /// Connect to `host` (`unix:///path` or `tcp://host:port`), plain or over TLS.
    pub async fn connect_with(host: &str, tls: Option<&endpoint::Tls>) -> Result<Engine> {
        let docker = match (host, tls) {
            (h, Some(t)) if h.starts_with("tcp://") => {
                if !t.verify {
                    return Err(Error::Message {
                        message: format!(
                            "berth: TLS without verifying the engine (--tls, DOCKER_TLS, or a context with skip-tls-verify) is not supported: use --tlsverify with the engine's CA (reaching {h})"
                        ),
                        code: EXIT_BERTH,
                    });
                }
                let dir = t.ca.parent().unwrap_or(std::path::Path::new("/"));
                let cert = t.cert.clone().unwrap_or_else(|| dir.join("cert.pem"));
                let key = t.key.clone().unwrap_or_else(|| dir.join("key.pem"));
                Docker::connect_with_ssl(h, &key, &cert, &t.ca, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            (h, _) if h.starts_with("unix://") => {
                Docker::connect_with_unix(h, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            (h, _) if h.starts_with("tcp://") || h.starts_with("http://") => {
                Docker::connect_with_http(h, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            (h, _) if h.starts_with('/') => {
                Docker::connect_with_unix(h, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            (h, _) if h.starts_with("ssh://") => {
                return ssh::connect(h).await;
            }
            (other, _) => {
                return Err(Error::failed(format!(
                    "unsupported engine address {other:?}: use unix:///path, tcp://host:port or ssh://[user@]host"
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
            tls: tls.is_some() && host.starts_with("tcp://"),
        })
    }

    /// An engine reached some other way (ssh).
    pub fn from_parts(docker: Docker, host: &str) -> Engine {
        Engine {
            docker,
            host: host.to_string(),
            tls: false,
        }
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
    pub async fn pull(
        &self,
        image: &str,
        platform: Option<&str>,
        out: &mut (dyn Write + Send),
    ) -> Result<()> {
        let (repo, tag) = split_image(image);
        let mut opts = CreateImageOptionsBuilder::default()
            .from_image(repo)
            .tag(tag);
        if let Some(p) = platform {
            opts = opts.platform(p);
        }
        let opts = opts.build();
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

    pub async fn create(
        &self,
        name: Option<&str>,
        platform: Option<&str>,
        body: ContainerCreateBody,
    ) -> Result<String> {
        let mut opts = CreateContainerOptionsBuilder::default();
        if let Some(name) = name {
            opts = opts.name(name);
        }
        if let Some(p) = platform {
            opts = opts.platform(p);
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

    /// [`Engine::create`] in a task of its own, so that it runs to its end even when the
    /// caller gives up on it (Ctrl-C): the caller can still learn the container's ID,
    /// and remove it.
    pub fn spawn_create(
        &self,
        name: Option<String>,
        platform: Option<String>,
        body: ContainerCreateBody,
    ) -> tokio::task::JoinHandle<Result<String>> {
        let engine = self.clone();
        tokio::spawn(async move {
            engine
                .create(name.as_deref(), platform.as_deref(), body)
                .await
        })
    }

    pub async fn start(&self, id: &str) -> std::result::Result<(), BollardError> {
        self.docker.start_container(id, None).await
    }

    /// A container's inspect answer without its per-port maps (`Config.ExposedPorts`,
    /// `NetworkSettings.Ports`, see [`slim`]): what every command but `port` needs, at a
    /// cost that does not grow with the container's port count. Over TLS or ssh, and for
    /// any answer but a container, the engine's full answer through bollard.
    pub async fn inspect(
        &self,
        id: &str,
    ) -> std::result::Result<ContainerInspectResponse, BollardError> {
        let path = format!("/containers/{}/json", urlencode(id));
        if let Ok(Some((200, body))) = self.raw_get(&path).await
            && let Ok(c) = serde_json::from_slice(&slim::without_port_maps(body))
        {
            return Ok(c);
        }
        self.inspect_full(id).await
    }

    /// A container's whole inspect answer, port maps included.
    pub async fn inspect_full(
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

    /// The list `docker ps` asks for: `filters` as given, `limit` (-1: none), sizes.
    pub async fn list_with(
        &self,
        all: bool,
        filters: &[(&str, &str)],
        limit: i64,
        size: bool,
    ) -> Result<Vec<ContainerSummary>> {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in filters {
            map.entry(k.to_string()).or_default().push(v.to_string());
        }
        let mut opts = ListContainersOptionsBuilder::default()
            .all(all)
            .filters(&map)
            .size(size);
        if limit > 0 {
            opts = opts.limit(limit.min(i64::from(i32::MAX)) as i32);
        }
        self.docker
            .list_containers(Some(opts.build()))
            .await
            .map_err(|e| Error::Message {
                message: self.message(&e),
                code: 1,
            })
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

    /// The engine's own JSON for `GET path` (e.g. `/containers/x/json`), byte for byte,
    /// where berth reaches the engine directly (unix socket or plain tcp); `Ok(None)`
    /// over TLS or ssh (callers then use the typed answer), `Ok(Some(None))`-like
    /// "not found" as `Err` with the engine's status.
    pub async fn raw_get(&self, path: &str) -> std::result::Result<Option<(u16, Vec<u8>)>, String> {
        use http_body_util::BodyExt;
        let v = self.docker.client_version();
        let uri = format!("/v{}.{}{path}", v.major_version, v.minor_version);
        let host = self.host.clone();
        macro_rules! over {
            ($stream:expr, $authority:expr) => {{
                let io = hyper_util::rt::TokioIo::new($stream);
                let (mut send, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                let req = hyper::Request::get(&uri)
                    .header("Host", $authority)
                    .body(http_body_util::Empty::<bytes::Bytes>::new())
                    .map_err(|e| e.to_string())?;
                let res = send.send_request(req).await.map_err(|e| e.to_string())?;
                let status = res.status().as_u16();
                let body = res
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes()
                    .to_vec();
                Ok(Some((status, body)))
            }};
        }
        if let Some(path) = host
            .strip_prefix("unix://")
            .or_else(|| host.starts_with('/').then_some(host.as_str()))
        {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| e.to_string())?;
            return over!(stream, "docker");
        }
        if let Some(addr) = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
        {
            if self.tls {
                return Ok(None);
            }
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            return over!(stream, addr);
        }
        Ok(None)
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

/// `s` as one segment of a URL path.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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

/// Whether the error, or one it wraps, is a refused permission (a socket of another
/// user's).
fn is_permission_denied(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
        {
            return true;
        }
        cur = err.source();
    }
    false
}

fn cannot_connect(host: &str, e: &BollardError) -> Error {
    let message = match e {
        BollardError::DockerResponseServerError { message, .. } => {
            format!("Error response from daemon: {message}")
        }
        // docker's words when the socket is not this user's to use
        e if is_permission_denied(e) && host.starts_with("unix://") => {
            let path = &host["unix://".len()..];
            let escaped: String = path.replace('/', "%2F");
            format!(
                "permission denied while trying to connect to the Docker daemon socket at {host}: Head \"http://{escaped}/_ping\": dial unix {path}: connect: permission denied"
            )
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
    human_size_with_precision(n, 4)
}

/// docker's `units.HumanSizeWithPrecision`: decimal units, `digits` significant digits
/// (Go's `%.*g`, trailing zeros dropped).
pub fn human_size_with_precision(n: i64, digits: usize) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let int_len = if v < 1.0 {
        1
    } else {
        (v.log10().floor() as usize) + 1
    };
    let prec = digits.saturating_sub(int_len);
    let s = format!("{v:.prec$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
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
        assert_eq!(human_size_with_precision(7_473_000, 3), "7.47MB");
        assert_eq!(human_size_with_precision(12_345, 3), "12.3kB");
        assert_eq!(human_size_with_precision(123_456, 3), "123kB");
    }

    #[test]
    fn progress_bar_shape() {
        let b = bar(50, 100);
        assert!(b.starts_with("[=========================>"), "{b}");
        assert!(b.ends_with("50B/100B"), "{b}");
    }
}
