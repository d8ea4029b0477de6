//! The flags `run` and `create` share: docker's own (docker/cli
//! `cli/command/container/opts.go` `addFlags`, and the create/run options), as clap
//! definitions only, with docker's names, short forms, hidden aliases and help texts.
//! A value docker checks while parsing the flag (`invalid argument "12x" for "-m,
//! --memory" flag: invalid suffix: 'x'`) is checked here by its value parser, whose
//! error is docker's reason; what the values mean, and docker's later checks, live in
//! `crate::runspec`.
//!
//! As pflag does: a value-taking flag takes the next argument even when it starts with
//! `-` (`-m -5`), a bool flag takes `--flag=false` but never the next argument, and a
//! repeated scalar flag keeps its last value.

use clap::{ArgAction, Args, FromArgMatches};
use clap_complete::engine::ArgValueCompleter;

use bollard::models::{
    DeviceRequest, ResourcesBlkioWeightDevice, ResourcesUlimits, ThrottleDevice,
};

use crate::complete::complete_images;
use crate::runspec::mounts::MountSpec;
use crate::runspec::network::NetworkAttachment;
use crate::runspec::{gpus, mounts, network, values};

/// Go's `strconv.ParseBool`, for flags docker lets be written `--rm=false`.
pub fn go_bool(text: &str) -> Result<bool, String> {
    values::bool_flag(text)
}

/// Every flag of `run` and `create` (but `run`'s own `-d`, `--sig-proxy` and
/// `--detach-keys`), and the image and command.
#[derive(Debug, Args, Clone, Default)]
#[command(args_override_self = true, disable_help_flag = true)]
pub struct ContainerFlags {
    // create/run options (docker/cli create.go, run.go)
    /// Assign a name to the container
    #[arg(long = "name", value_name = "string", allow_hyphen_values = true)]
    pub name: Option<String>,
    /// Pull image before creating ("always", "missing", "never")
    #[arg(
        long = "pull",
        value_name = "string",
        allow_hyphen_values = true,
        default_value = "missing"
    )]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long = "quiet", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", value_name = "string", allow_hyphen_values = true)]
    pub platform: Option<String>,
    /// Bind mount Docker API socket and required auth
    #[arg(long = "use-api-socket", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub use_api_socket: bool,
    /// Skip image verification (deprecated)
    #[arg(long = "disable-content-trust", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", hide = true, action = ArgAction::Append)]
    pub disable_content_trust: Vec<bool>,
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,

    // general purpose (opts.go addFlags)
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_name = "list", value_parser = values::attach, allow_hyphen_values = true)]
    pub attach: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule", value_name = "list", value_parser = values::device_cgroup_rule, allow_hyphen_values = true)]
    pub device_cgroup_rule: Vec<String>,
    /// Add a host device to the container
    #[arg(long = "device", value_name = "list", allow_hyphen_values = true)]
    pub device: Vec<String>,
    /// GPU devices to add to the container ('all' to pass all GPUs)
    #[arg(long = "gpus", value_name = "gpu-request", value_parser = gpus::gpus, allow_hyphen_values = true)]
    pub gpus: Vec<DeviceRequest>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list", value_parser = values::env, allow_hyphen_values = true)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list", allow_hyphen_values = true)]
    pub env_file: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long = "entrypoint", value_name = "string", allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "list", allow_hyphen_values = true)]
    pub group_add: Vec<String>,
    /// Container host name
    #[arg(
        short = 'h',
        long = "hostname",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long = "domainname", value_name = "string", allow_hyphen_values = true)]
    pub domainname: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub interactive: bool,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list", value_parser = values::label, allow_hyphen_values = true)]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list", allow_hyphen_values = true)]
    pub label_file: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(
        long = "restart",
        value_name = "string",
        allow_hyphen_values = true,
        default_value = "no"
    )]
    pub restart: String,
    /// Signal to stop the container
    #[arg(
        long = "stop-signal",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Sysctl options
    #[arg(long = "sysctl", value_name = "map", value_parser = values::sysctl, allow_hyphen_values = true)]
    pub sysctl: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub tty: bool,
    /// Ulimit options
    #[arg(long = "ulimit", value_name = "ulimit", value_parser = values::ulimit, allow_hyphen_values = true)]
    pub ulimit: Vec<ResourcesUlimits>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(
        short = 'u',
        long = "user",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(
        short = 'w',
        long = "workdir",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub workdir: Option<String>,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long = "rm", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub rm: bool,

    // security
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list", allow_hyphen_values = true)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list", allow_hyphen_values = true)]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long = "privileged", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub privileged: bool,
    /// Security Options
    #[arg(long = "security-opt", value_name = "list", allow_hyphen_values = true)]
    pub security_opt: Vec<String>,
    /// User namespace to use
    #[arg(long = "userns", value_name = "string", allow_hyphen_values = true)]
    pub userns: Option<String>,
    /// Cgroup namespace to use (host|private)
    /// 'host':    Run the container in the Docker host's cgroup namespace
    /// 'private': Run the container in its own private cgroup namespace
    /// '':        Use the cgroup namespace as configured by the
    ///            default-cgroupns-mode option on the daemon (default)
    #[arg(
        long = "cgroupns",
        value_name = "string",
        allow_hyphen_values = true,
        verbatim_doc_comment
    )]
    pub cgroupns: Option<String>,

    // network and port publishing
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list", value_parser = values::extra_host, allow_hyphen_values = true)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "list", value_parser = values::ip_address, allow_hyphen_values = true)]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(
        long = "dns-option",
        alias = "dns-opt",
        value_name = "list",
        allow_hyphen_values = true
    )]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "list", value_parser = values::dns_search, allow_hyphen_values = true)]
    pub dns_search: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long = "expose", value_name = "list", allow_hyphen_values = true)]
    pub expose: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip", value_name = "ip", value_parser = values::ip, allow_hyphen_values = true)]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long = "ip6", value_name = "ip", value_parser = values::ip, allow_hyphen_values = true)]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long = "link", value_name = "list", value_parser = values::link, allow_hyphen_values = true)]
    pub link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(
        long = "link-local-ip",
        value_name = "list",
        allow_hyphen_values = true
    )]
    pub link_local_ip: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(
        long = "mac-address",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub mac_address: Option<String>,
    /// Publish a container's port(s) to the host
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "list",
        allow_hyphen_values = true
    )]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub publish_all: bool,
    /// Connect a container to a network
    #[arg(long = "network", alias = "net", value_name = "network", value_parser = network::network, allow_hyphen_values = true)]
    pub networks: Vec<NetworkAttachment>,
    /// Add network-scoped alias for the container
    #[arg(
        long = "network-alias",
        alias = "net-alias",
        value_name = "list",
        allow_hyphen_values = true
    )]
    pub network_alias: Vec<String>,

    // logging and storage
    /// Logging driver for the container
    #[arg(long = "log-driver", value_name = "string", allow_hyphen_values = true)]
    pub log_driver: Option<String>,
    /// Optional volume driver for the container
    #[arg(
        long = "volume-driver",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub volume_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt", value_name = "list", allow_hyphen_values = true)]
    pub log_opt: Vec<String>,
    /// Storage driver options for the container
    #[arg(long = "storage-opt", value_name = "list", allow_hyphen_values = true)]
    pub storage_opt: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs", value_name = "list", allow_hyphen_values = true)]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "list", allow_hyphen_values = true)]
    pub volumes_from: Vec<String>,
    /// Bind mount a volume
    #[arg(
        short = 'v',
        long = "volume",
        value_name = "list",
        allow_hyphen_values = true
    )]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount", value_name = "mount", value_parser = mounts::mount, allow_hyphen_values = true)]
    pub mount: Vec<MountSpec>,

    // health-checking
    /// Command to run to check health
    #[arg(long = "health-cmd", value_name = "string", allow_hyphen_values = true)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long = "health-interval", value_name = "duration", value_parser = values::duration, allow_hyphen_values = true)]
    pub health_interval: Option<i64>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long = "health-timeout", value_name = "duration", value_parser = values::duration, allow_hyphen_values = true)]
    pub health_timeout: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period", value_name = "duration", value_parser = values::duration, allow_hyphen_values = true)]
    pub health_start_period: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-interval", value_name = "duration", value_parser = values::duration, allow_hyphen_values = true)]
    pub health_start_interval: Option<i64>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub no_healthcheck: bool,

    // resource management
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16", value_parser = values::uint16, allow_hyphen_values = true)]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight)
    #[arg(long = "blkio-weight-device", value_name = "list", value_parser = values::weight_device, allow_hyphen_values = true)]
    pub blkio_weight_device: Vec<ResourcesBlkioWeightDevice>,
    /// Write the container ID to the file
    #[arg(long = "cidfile", value_name = "string", allow_hyphen_values = true)]
    pub cidfile: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(
        long = "cpuset-cpus",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(
        long = "cpuset-mems",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub cpuset_mems: Option<String>,
    /// CPU count (Windows only)
    #[arg(long = "cpu-count", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub cpu_count: Option<i64>,
    /// CPU percent (Windows only)
    #[arg(long = "cpu-percent", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub cpu_percent: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub cpu_rt_period: Option<i64>,
    /// Limit CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long = "cpus", value_name = "decimal", value_parser = values::nano_cpus, allow_hyphen_values = true)]
    pub cpus: Option<i64>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long = "device-read-bps", value_name = "list", value_parser = values::throttle_bps_device, allow_hyphen_values = true)]
    pub device_read_bps: Vec<ThrottleDevice>,
    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops", value_name = "list", value_parser = values::throttle_iops_device, allow_hyphen_values = true)]
    pub device_read_iops: Vec<ThrottleDevice>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps", value_name = "list", value_parser = values::throttle_bps_device, allow_hyphen_values = true)]
    pub device_write_bps: Vec<ThrottleDevice>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops", value_name = "list", value_parser = values::throttle_iops_device, allow_hyphen_values = true)]
    pub device_write_iops: Vec<ThrottleDevice>,
    /// Maximum IO bandwidth limit for the system drive (Windows only)
    #[arg(long = "io-maxbandwidth", value_name = "bytes", value_parser = values::mem_bytes, allow_hyphen_values = true)]
    pub io_maxbandwidth: Option<i64>,
    /// Maximum IOps limit for the system drive (Windows only)
    #[arg(long = "io-maxiops", value_name = "uint", value_parser = values::uint64, allow_hyphen_values = true)]
    pub io_maxiops: Option<u64>,
    /// Memory limit
    #[arg(short = 'm', long = "memory", value_name = "bytes", value_parser = values::mem_bytes, allow_hyphen_values = true)]
    pub memory: Option<i64>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = values::mem_bytes, allow_hyphen_values = true)]
    pub memory_reservation: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", value_parser = values::mem_swap_bytes, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", value_name = "int", value_parser = values::int64, allow_hyphen_values = true, default_value = "-1")]
    pub memory_swappiness: i64,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool", default_value = "false", hide_default_value = true, action = ArgAction::Set)]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", value_parser = values::int64, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,

    // low-level execution (cgroups, namespaces, ...)
    /// Optional parent cgroup for the container
    #[arg(
        long = "cgroup-parent",
        value_name = "string",
        allow_hyphen_values = true
    )]
    pub cgroup_parent: Option<String>,
    /// IPC mode to use
    #[arg(long = "ipc", value_name = "string", allow_hyphen_values = true)]
    pub ipc: Option<String>,
    /// Container isolation technology
    #[arg(long = "isolation", value_name = "string", allow_hyphen_values = true)]
    pub isolation: Option<String>,
    /// PID namespace to use
    #[arg(long = "pid", value_name = "string", allow_hyphen_values = true)]
    pub pid: Option<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes", value_parser = values::mem_bytes, allow_hyphen_values = true)]
    pub shm_size: Option<i64>,
    /// UTS namespace to use
    #[arg(long = "uts", value_name = "string", allow_hyphen_values = true)]
    pub uts: Option<String>,
    /// Runtime to use for this container
    #[arg(long = "runtime", value_name = "string", allow_hyphen_values = true)]
    pub runtime: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long = "init", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool, value_name = "bool")]
    pub init: Option<bool>,
    /// Add an annotation to the container (passed through to the OCI runtime)
    #[arg(long = "annotation", value_name = "map", value_parser = values::map_entry, allow_hyphen_values = true)]
    pub annotation: Vec<String>,
    /// Kernel memory limit (deprecated)
    #[arg(long = "kernel-memory", value_name = "bytes", value_parser = values::mem_bytes, allow_hyphen_values = true, hide = true)]
    pub kernel_memory: Vec<i64>,

    /// The image to run, then the command and its arguments: berth's options end at
    /// IMAGE, so `berth run img sh -c 'echo -p'` passes `-p` to the container
    #[arg(
        value_name = "IMAGE",
        add = ArgValueCompleter::new(complete_images),
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub image_and_command: Vec<String>,
}

impl ContainerFlags {
    /// The image (the first word after the options).
    pub fn image(&self) -> &str {
        &self.image_and_command[0]
    }

    /// The command and its arguments, empty for the image's default.
    pub fn command(&self) -> &[String] {
        &self.image_and_command[1..]
    }
}

/// The flags of `run`/`create` (through `Deref`, `args.memory`, `args.image()`...), and
/// what is derived from them for the callers that need it.
#[derive(Debug, Clone, Default)]
pub struct ContainerArgs {
    pub flags: ContainerFlags,
    /// The first `--network`'s network (`host`, `mynet`), as docker's `NetworkMode`;
    /// `None` without `--network` (the engine's default network).
    pub network: Option<String>,
}

impl ContainerArgs {
    pub fn new(flags: ContainerFlags) -> Self {
        let network = flags.networks.first().map(|n| n.target.clone());
        ContainerArgs { flags, network }
    }
}

impl std::ops::Deref for ContainerArgs {
    type Target = ContainerFlags;

    fn deref(&self) -> &ContainerFlags {
        &self.flags
    }
}

impl std::ops::DerefMut for ContainerArgs {
    fn deref_mut(&mut self) -> &mut ContainerFlags {
        &mut self.flags
    }
}

impl FromArgMatches for ContainerArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        ContainerFlags::from_arg_matches(matches).map(ContainerArgs::new)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.flags.update_from_arg_matches(matches)?;
        *self = ContainerArgs::new(std::mem::take(&mut self.flags));
        Ok(())
    }
}

impl Args for ContainerArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        ContainerFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        ContainerFlags::augment_args_for_update(cmd)
    }
}
