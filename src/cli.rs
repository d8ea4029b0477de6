//! The command line, as clap derive definitions only: no parsing of values, no I/O.
//!
//! Flag names, short forms and help texts follow the docker CLI, so that a user of
//! `docker run -p ...` can type the same words to berth. Completions and man pages are
//! generated from these definitions (see `commands::completions` and `commands::man`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

use crate::complete::complete_containers;

pub mod container;

pub use container::ContainerArgs;

// The rules shown are tests/golden/single-port.rules, the file the rule tests compare
// against, so the documentation cannot drift from what berth writes.
const RUN_LONG_HELP: &str = concat!(
    "Port syntax (-p/--publish), exactly as docker run reads it:\n\n",
    "  [IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTO]\n\n",
    "  80                  container port 80 on a free host port, every address\n",
    "  8080:80             host port 8080 -> container port 80\n",
    "  127.0.0.1:8080:80   only on 127.0.0.1 (reachable from this host only)\n",
    "  127.0.0.1::80       a free host port on 127.0.0.1\n",
    "  [::1]:8080:80       IPv6 host addresses in brackets (or bare: ::1:8080:80)\n",
    "  8000-8010:80-90     ranges of the same length map port by port\n",
    "  8000-8010:80        the first free host port of the range\n",
    "  53/udp, 9/sctp      protocols: tcp (default), udp, sctp\n",
    "  published=8080,target=80,protocol=udp   the long form\n\n",
    "--expose PORT[-END][/PROTO] exposes without publishing; -P publishes every exposed\n",
    "port (the image's EXPOSE too) on free host ports. Bad specs get docker's error text\n",
    "and exit 125, and nothing is created.\n\n",
    "berth allocates the host ports (the kernel's ephemeral range for free ones), creates\n",
    "the container with the label io.berth.ports, starts it, and writes all its rules in\n",
    "one iptables-restore transaction. For -p 8080:80 they are:\n\n",
    include_str!("../tests/golden/single-port.rules"),
    "\nA range is one rule per table whatever its length. See berth-nat(1).",
);

const NAT_LONG_HELP: &str = concat!(
    "berth keeps its rules in chains of its own, jumped to from the builtin chains:\n\n",
    "  nat    PREROUTING, OUTPUT -m addrtype --dst-type LOCAL -j BERTH\n",
    "         BERTH -j BERTH-<id12>         (one chain per container: its DNAT rules)\n",
    "  nat    POSTROUTING -j BERTH-POSTROUTING      (hairpin, localhost)\n",
    "  filter DOCKER-USER (or FORWARD) -j BERTH-FORWARD   (accept only what berth's DNAT made)\n",
    "  filter INPUT -j BERTH-INPUT                        (loopback guard)\n",
    "  raw    PREROUTING -j BERTH-RAW   (127.0.0.1 bindings and the container's address are\n",
    "                                    not reachable from other hosts)\n\n",
    "ip6tables holds the same for containers with an IPv6 address (no loopback guard: IPv6\n",
    "has no route_localnet). Every rule of a container carries the comment\n",
    "berth:<12-hex id>. The rules of berth run -p 8080:80 for a container 0123456789ab at\n",
    "172.17.0.2:\n\n",
    include_str!("../tests/golden/single-port.rules"),
    "\nberth nat ls prints the nat table exactly as iptables -t nat -nL does; --table and\n",
    "--format json tie rules to containers. berth nat sync repairs drift both ways;\n",
    "berth nat check reports it and exits 1. berth watch does what nat sync does, at\n",
    "every engine event and every few seconds.",
);

pub use crate::config::DEFAULT_HOST;

/// A Docker-compatible container runner that publishes ports itself: fast, atomic, visible.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    disable_version_flag = true,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Docker CLI commands (berth hands these, and any other, to the docker CLI unchanged):\n  \
        attach, build, builder, buildx, commit, compose, context, cp, diff, events, exec, export,\n  \
        history, image, images, import, info, load, login, logout, logs, manifest, network,\n  \
        plugin, pull, push, save, search, stats, system, tag, top, update, version, volume\n\n\
        Run 'berth COMMAND --help' for more information on a command."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Print version information and quit
    #[arg(short = 'v', long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,

    #[command(subcommand)]
    pub command: Command,
}

/// The options before the command, the docker CLI's own (where the engine is, TLS) and
/// berth's config file.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var
    /// and default context set with "docker context use")
    #[arg(short = 'c', long, value_name = "string")]
    pub context: Option<String>,

    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,

    /// Daemon socket to connect to (default: $BERTH_HOST, $DOCKER_HOST, the context, berth's
    /// config file, unix:///var/run/docker.sock)
    #[arg(short = 'H', long, value_name = "list")]
    pub host: Option<String>,

    /// Set the logging level ("debug", "info", "warn", "error", "fatal")
    #[arg(short = 'l', long = "log-level", value_name = "string")]
    pub log_level: Option<String>,

    /// Location of client config files (docker's: contexts, config.json)
    #[arg(long, value_name = "string")]
    pub config: Option<PathBuf>,

    /// Use TLS; implied by --tlsverify
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = container::go_bool, value_name = "bool")]
    pub tls: Option<bool>,

    /// Trust certs signed only by this CA
    #[arg(long, value_name = "string")]
    pub tlscacert: Option<PathBuf>,

    /// Path to TLS certificate file
    #[arg(long, value_name = "string")]
    pub tlscert: Option<PathBuf>,

    /// Path to TLS key file
    #[arg(long, value_name = "string")]
    pub tlskey: Option<PathBuf>,

    /// Use TLS and verify the remote
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = container::go_bool, value_name = "bool")]
    pub tlsverify: Option<bool>,

    /// Location of berth's own config file (config.yaml; default ~/.config/berth)
    #[arg(long = "berth-config", value_name = "DIR")]
    pub berth_config: Option<PathBuf>,
}

/// `berth [OPTIONS] nat ls ...` alone: the same options and the same `nat ls` arguments
/// as [`Cli`], without building every other command, so that a listing starts faster
/// (`app` tries it first on such a command line: whatever it does not take as a
/// listing, help included, [`Cli`] parses and reports as usual).
#[derive(Debug, Parser)]
#[command(name = "berth", disable_version_flag = true)]
pub struct NatLsCli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: NatLsOnly,
}

#[derive(Debug, Subcommand)]
pub enum NatLsOnly {
    #[command(subcommand)]
    Nat(NatLsOnlyNat),
}

#[derive(Debug, Subcommand)]
pub enum NatLsOnlyNat {
    Ls(NatLsArgs),
}

// parsed once per process: the size of the largest variant does not matter
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a new container from an image, publishing its ports
    Run(RunArgs),
    /// Create a new container (its ports are published when it starts)
    Create(CreateArgs),
    /// List containers
    Ps(PsArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Return low-level information on containers, with the ports berth published
    Inspect(InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ContainersArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Pause all processes within one or more containers (their ports stay)
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainersArgs),
    /// Keep published ports with their containers: follow the engine and repair rules
    #[command(after_long_help = WATCH_LONG_HELP)]
    Watch(WatchArgs),
    /// Show and repair the NAT rules berth writes
    #[command(subcommand, after_long_help = NAT_LONG_HELP)]
    Nat(NatCommand),
    /// Show berth's effective configuration and where each value comes from
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print berth's man pages, or write them all to a directory
    Man(ManArgs),
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Human-readable text
    #[default]
    Text,
    /// One JSON document
    Json,
}

#[derive(Debug, Args)]
#[command(
    override_usage = "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]",
    after_help = "Port syntax (-p/--publish, as docker run):\n  \
        [IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTO]   e.g. 8080:80, 127.0.0.1::80/udp,\n  \
        [::1]:8080:80, 8000-8010:80 (first free host port of the range), 8000-8010:8000-8010\n  \
        published=8080,target=80,protocol=udp   (long form)\n\
        PROTO is tcp (default), udp or sctp.",
    after_long_help = RUN_LONG_HELP
)]
pub struct RunArgs {
    #[command(flatten)]
    pub container: ContainerArgs,

    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = container::go_bool)]
    pub sig_proxy: Option<bool>,

    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,

    /// Print the plan (ports, bindings, rules) and change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Output format of --dry-run
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "text|json")]
    pub format: Format,
}

impl std::ops::Deref for RunArgs {
    type Target = ContainerArgs;

    fn deref(&self) -> &ContainerArgs {
        &self.container
    }
}

#[derive(Debug, Args)]
#[command(
    override_usage = "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]",
    after_long_help = RUN_LONG_HELP
)]
pub struct CreateArgs {
    #[command(flatten)]
    pub container: ContainerArgs,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth ps [OPTIONS]")]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,

    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "int", default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,

    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,

    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,

    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,

    /// Format output: table, json, or a Go template such as '{{.ID}} {{.Ports}}'
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth port CONTAINER [PRIVATE_PORT[/PROTO]]")]
pub struct PortArgs {
    /// Container name or ID
    #[arg(value_name = "CONTAINER", add = ArgValueCompleter::new(complete_containers))]
    pub container: String,

    /// Only this container port (e.g. 80 or 80/udp)
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub private_port: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "text|json")]
    pub format: Format,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth start [OPTIONS] CONTAINER [CONTAINER...]")]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,

    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Containers to start
    #[arg(value_name = "CONTAINER", required = true, add = ArgValueCompleter::new(complete_containers))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth stop [OPTIONS] CONTAINER [CONTAINER...]")]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,

    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        value_name = "int"
    )]
    pub timeout: Option<i64>,

    /// Containers to stop
    #[arg(value_name = "CONTAINER", required = true, add = ArgValueCompleter::new(complete_containers))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth rm [OPTIONS] CONTAINER [CONTAINER...]")]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,

    /// Containers to remove
    #[arg(value_name = "CONTAINER", required = true, add = ArgValueCompleter::new(complete_containers))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth inspect [OPTIONS] NAME|ID [NAME|ID...]")]
pub struct InspectArgs {
    /// Format output using a custom template: 'json' prints in JSON format; a Go template
    /// otherwise
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,

    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,

    /// Only inspect objects of the given type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,

    /// Containers (or other objects, which the docker CLI inspects)
    #[arg(value_name = "NAME|ID", required = true, add = ArgValueCompleter::new(complete_containers))]
    pub names: Vec<String>,
}

/// Commands that take one or more containers and nothing else.
#[derive(Debug, Args)]
#[command(override_usage = "berth COMMAND CONTAINER [CONTAINER...]")]
pub struct ContainersArgs {
    #[arg(value_name = "CONTAINER", required = true, add = ArgValueCompleter::new(complete_containers))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth rename CONTAINER NEW_NAME")]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER", add = ArgValueCompleter::new(complete_containers))]
    pub container: String,

    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth restart [OPTIONS] CONTAINER [CONTAINER...]")]
pub struct RestartArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,

    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        value_name = "int"
    )]
    pub timeout: Option<i64>,

    /// Containers to restart
    #[arg(value_name = "CONTAINER", required = true, add = ArgValueCompleter::new(complete_containers))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "berth kill [OPTIONS] CONTAINER [CONTAINER...]")]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,

    /// Containers to kill
    #[arg(value_name = "CONTAINER", required = true, add = ArgValueCompleter::new(complete_containers))]
    pub containers: Vec<String>,
}

const WATCH_LONG_HELP: &str = "\
berth watch is the reconciler in a loop. At start, and whenever the engine comes back, it
makes every rule match the running containers; then each engine event (container start,
die, stop, kill, restart, destroy, rename; network connect, disconnect) makes it
reconcile that container at once, and every watch_interval (default 5s) it re-checks
everything, so a firewall reload or an iptables -F is repaired. A published port leads to
its container and to nothing else, whatever the engine or the docker CLI did.

One watcher runs per host. berth run -d, start and restart start one in the background
when none runs (config watch: off turns that off); under systemd, berth watch --install
makes it a unit ordered after docker.service, whose first pass after a boot restores the
rules of every running berth container.

Exit status: 0 on SIGTERM/SIGINT (rules stay in place); 1 when another watcher runs;
--status: 0 when a watcher runs, 3 when none does.";

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Reconcile once and exit
    #[arg(long, conflicts_with_all = ["status", "unit", "install"])]
    pub once: bool,

    /// Say whether a watcher runs (exit 0) or not (exit 3)
    #[arg(long, conflicts_with_all = ["unit", "install"])]
    pub status: bool,

    /// Print a systemd unit for berth watch
    #[arg(long, conflicts_with = "install")]
    pub unit: bool,

    /// Install, enable and start the systemd unit (where systemd runs)
    #[arg(long)]
    pub install: bool,

    /// Format of the lines on stderr (and of --status)
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "text|json")]
    pub format: Format,

    /// Exit quietly when another watcher runs (how berth starts one)
    #[arg(long, hide = true)]
    pub if_none: bool,
}

#[derive(Debug, Subcommand)]
pub enum NatCommand {
    /// List the nat table exactly as `iptables -t nat -nL` does, or as a table
    Ls(NatLsArgs),
    /// Repair berth's rules so they match the running containers
    Sync(NatSyncArgs),
    /// Report drift and risks, changing nothing (exit 1 when anything is found)
    Check,
}

#[derive(Debug, Args)]
pub struct NatLsArgs {
    /// Numeric output (always on; accepted for iptables habits)
    #[arg(short = 'n', long, hide = true)]
    pub numeric: bool,

    /// Only this chain
    #[arg(value_name = "CHAIN")]
    pub chain: Option<String>,

    /// Verbose output: counters, interfaces
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Exact counters (no K/M/G rounding)
    #[arg(short = 'x', long)]
    pub exact: bool,

    /// Number the rules of each chain
    #[arg(long = "line-numbers")]
    pub line_numbers: bool,

    /// The IPv6 nat table, as `ip6tables -t nat -nL` shows it
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// One row per rule, with the container each berth rule belongs to
    #[arg(long)]
    pub table: bool,

    /// Only berth's chains
    #[arg(long)]
    pub berth: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "text|json")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct NatSyncArgs {
    /// Print what would change and change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration: each key, its value and its source
    Show(ConfigShowArgs),
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "text|json")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page (berth.1, berth-run.1, ...) into this directory
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The page of one subcommand, e.g. `run` or `nat-ls`
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}
