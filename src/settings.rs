//! Settings as one value: the config (file, environment, flags; see `config`) resolved
//! into what the layers below need, passed down by reference from `app`. Nothing below
//! this reads the environment, so a long-running watcher can load settings afresh.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Config, IptablesChoice};
use crate::engine::endpoint::Endpoint;
use crate::firewall::desired::Layout;

/// Where berth's locks live unless `BERTH_RUN_DIR` says otherwise (tests).
pub const RUN_DIR: &str = "/run/berth";

/// The run folder `BERTH_RUN_DIR` names (an absolute path), else [`RUN_DIR`].
pub fn run_dir_from(value: Option<String>) -> PathBuf {
    value
        .filter(|d| d.starts_with('/'))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(RUN_DIR))
}

/// berth's sealing key (see `trust`).
pub const KEY_PATH: &str = "/var/lib/berth/seal.key";

/// Where a watcher that berth starts writes its log.
pub const LOG_DIR: &str = "/var/log/berth";

#[derive(Debug, Clone)]
pub struct Settings {
    /// The engine address.
    pub host: String,
    /// The engine, as chosen (TLS included).
    pub endpoint: Endpoint,
    pub layout: Layout,
    /// The host address of a `-p` that names none (dockerd's `--ip`).
    pub default_host_ip: IpAddr,
    /// Replaces the kernel's ephemeral range for free host ports.
    pub port_range: Option<(u16, u16)>,
    pub iptables: IptablesChoice,
    pub run_dir: PathBuf,
    pub key_path: PathBuf,
    /// Whether commands that leave a container running make sure a watcher runs.
    pub watch: bool,
    /// How often the watcher re-checks everything.
    pub watch_interval: Duration,
    /// `BERTH_TEST_PAUSE`: the step at which berth stops for a test to kill it.
    pub test_pause: Option<String>,
    /// `BERTH_TEST_RESUME`: a file whose appearance ends that pause (else 120 s).
    pub test_resume: Option<PathBuf>,
    /// `--config DIR`, passed on to a watcher berth starts.
    pub config_dir: Option<PathBuf>,
    /// Whether the engine runs here (`None`: find out).
    pub engine_local: Option<bool>,
    /// Say on stderr when an engine publishes ports itself.
    pub engine_notice: bool,
}

impl Settings {
    /// Resolve `config`; `env` looks up the few test seams (`BERTH_RUN_DIR`,
    /// `BERTH_TEST_PAUSE`).
    pub fn new(
        config: &Config,
        config_dir: Option<PathBuf>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Settings {
        Settings {
            host: config.host.value.clone(),
            endpoint: Endpoint {
                host: config.host.value.clone(),
                tls: None,
                source: config.host.source.clone(),
            },
            layout: Layout::new(&config.chain_prefix.value, config.localhost_access.value),
            default_host_ip: config.default_host_ip.value,
            port_range: config.port_range.value,
            iptables: config.iptables.value,
            run_dir: run_dir_from(env("BERTH_RUN_DIR")),
            key_path: PathBuf::from(KEY_PATH),
            watch: config.watch.value,
            watch_interval: config.watch_interval.value,
            test_pause: env("BERTH_TEST_PAUSE").filter(|s| !s.is_empty()),
            test_resume: env("BERTH_TEST_RESUME")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            config_dir,
            engine_local: config.engine_local.value,
            engine_notice: config.engine_notice.value,
        }
    }

    /// Held while the rules are read, compared and written.
    pub fn firewall_lock(&self) -> PathBuf {
        self.run_dir.join("firewall.lock")
    }

    /// Held from reading which host ports are taken until the container exists.
    pub fn alloc_lock(&self) -> PathBuf {
        self.run_dir.join("alloc.lock")
    }

    /// Held by the host's one watcher.
    pub fn watch_lock(&self) -> PathBuf {
        self.run_dir.join("watch.lock")
    }

    /// What the watcher says of itself (`berth watch --status`).
    pub fn watch_status(&self) -> PathBuf {
        self.run_dir.join("watch.json")
    }

    /// A test seam: with `BERTH_TEST_PAUSE=<step>`, berth stops at that step so a test
    /// can kill it there, or act and then let it go on by creating the file
    /// `BERTH_TEST_RESUME` names. Unset, it costs nothing.
    pub fn pause(&self, step: &str) {
        if self.test_pause.as_deref() == Some(step) {
            eprintln!("berth: paused at {step} (BERTH_TEST_PAUSE)");
            let until = std::time::Instant::now() + Duration::from_secs(120);
            while std::time::Instant::now() < until {
                if self.test_resume.as_ref().is_some_and(|f| f.exists()) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::new(&Config::default(), None, &|_| None)
    }
}
