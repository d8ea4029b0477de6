//! berth's settings: `config.yaml` in the user's config directory, environment
//! overrides (`BERTH_*`, `DOCKER_HOST`, `NO_COLOR`) and defaults that need no file.
//!
//! Each key is taken from the first of: flag, environment, file, default. The file is
//! validated whole even where a flag or variable overrides a key, so a bad file stops
//! every command; a variable is checked only when its value is the one used, so a
//! `DOCKER_HOST` meant for another tool does not matter when `-H` is given. Nothing here
//! reads the environment itself: `load` takes a lookup function, so tests pass their own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::json;

use crate::error::{Error, Result};

/// The engine address used when neither `-H` nor `DOCKER_HOST` names one.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The file's name inside the config directory.
pub const FILE_NAME: &str = "config.yaml";

/// The chain prefix when none is configured.
pub const DEFAULT_CHAIN_PREFIX: &str = "BERTH";

/// The longest chain prefix: berth appends up to 13 characters (`-` and a container's
/// 12-hex ID) and iptables refuses chain names longer than 28.
pub const CHAIN_PREFIX_MAX: usize = 15;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command line flag, e.g. `-H`.
    Flag(&'static str),
    /// An environment variable, by name.
    Env(String),
    /// The config file.
    File(PathBuf),
    /// A docker context (its meta.json), by name.
    Context(String),
    Default,
}

impl Source {
    /// `flag`, `env`, `file` or `default`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Flag(_) => "flag",
            Source::Env(_) => "env",
            Source::File(_) => "file",
            Source::Context(_) => "context",
            Source::Default => "default",
        }
    }

    /// The flag, variable or file the value came from; `None` for a default.
    pub fn origin(&self) -> Option<String> {
        match self {
            Source::Flag(flag) => Some(flag.to_string()),
            Source::Env(var) => Some(var.clone()),
            Source::File(path) => Some(path.display().to_string()),
            Source::Context(name) => Some(name.clone()),
            Source::Default => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin() {
            Some(origin) => write!(f, "{} {origin}", self.kind()),
            None => f.write_str(self.kind()),
        }
    }
}

/// One setting's value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Setting<T> {
    fn default(value: T) -> Self {
        Setting {
            value,
            source: Source::Default,
        }
    }
}

/// Which iptables variant berth writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IptablesChoice {
    /// Whatever `iptables` on the host is.
    Auto,
    Nft,
    Legacy,
}

impl IptablesChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            IptablesChoice::Auto => "auto",
            IptablesChoice::Nft => "nft",
            IptablesChoice::Legacy => "legacy",
        }
    }
}

impl fmt::Display for IptablesChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// Only on a terminal.
    Auto,
    Always,
    Never,
}

impl Color {
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Auto => "auto",
            Color::Always => "always",
            Color::Never => "never",
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The effective settings, each with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The engine address.
    pub host: Setting<String>,
    /// The host address of a `-p` that names none (dockerd's `--ip`).
    pub default_host_ip: Setting<IpAddr>,
    /// Where ephemeral host ports come from; `None` is the kernel's range.
    pub port_range: Setting<Option<(u16, u16)>>,
    /// The first word of every chain berth creates.
    pub chain_prefix: Setting<String>,
    pub iptables: Setting<IptablesChoice>,
    /// Whether published ports are reachable through 127.0.0.1.
    pub localhost_access: Setting<bool>,
    pub color: Setting<Color>,
    /// Whether commands that leave a container running make sure `berth watch` runs.
    pub watch: Setting<bool>,
    /// How often the watcher re-checks every rule.
    pub watch_interval: Setting<Duration>,
    /// Whether the engine runs on this host (berth publishes) or not (the engine
    /// does); `None`: find out.
    pub engine_local: Setting<Option<bool>>,
    /// The docker CLI that berth hands other commands to; `None`: `docker` on PATH.
    pub docker_cli: Setting<Option<PathBuf>>,
    /// Say on stderr when an engine that is not on this host publishes ports itself.
    pub engine_notice: Setting<bool>,
    /// The file read, if one was there.
    pub file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: Setting::default(DEFAULT_HOST.to_string()),
            default_host_ip: Setting::default(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port_range: Setting::default(None),
            chain_prefix: Setting::default(DEFAULT_CHAIN_PREFIX.to_string()),
            iptables: Setting::default(IptablesChoice::Auto),
            localhost_access: Setting::default(true),
            color: Setting::default(Color::Auto),
            watch: Setting::default(true),
            watch_interval: Setting::default(DEFAULT_WATCH_INTERVAL),
            engine_local: Setting::default(None),
            docker_cli: Setting::default(None),
            engine_notice: Setting::default(true),
            file: None,
        }
    }
}

/// The config file berth reads: `DIR/config.yaml` for `--config DIR`, else
/// `$XDG_CONFIG_HOME/berth/config.yaml` (looked up through `env`, and used only when
/// absolute, as the XDG spec says), else the platform's config directory
/// (`~/.config/berth/config.yaml`). `None` when not even a home directory is known.
pub fn file_path(
    config_dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    if let Some(dir) = config_dir {
        return Some(dir.join(FILE_NAME));
    }
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(dirs::config_dir)?;
    Some(base.join("berth").join(FILE_NAME))
}

/// The effective config: `host_flag` is `-H`'s value (`None` when not given),
/// `config_dir` is `--config DIR`, and `env` looks up an environment variable (pass
/// `&|name| std::env::var(name).ok()`).
///
/// A missing file means defaults, also under an explicit `--config DIR` (as docker's
/// `--config` does): the directory names where settings live, not that some must. An
/// empty flag or variable counts as not given, as docker treats `DOCKER_HOST=`.
/// For the engine address `BERTH_HOST` wins over `DOCKER_HOST`, so berth can be pointed
/// elsewhere than the docker CLI of the same shell. Any non-empty `NO_COLOR` makes the
/// color `never`, over `BERTH_COLOR` and the file (stricter than no-color.org, which
/// lets a config file win): only a flag beats it. berth has no color flag yet; a caller
/// that adds one sets `color` after loading.
pub fn load(
    host_flag: Option<&str>,
    config_dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config> {
    let path = file_path(config_dir, env);
    let file = match &path {
        Some(path) => read_file(path)?,
        None => None,
    };
    let values = file.as_ref().map(|f| &f.values);
    let from_file = |key: Key| {
        let text = values?.get(&key)?.as_deref()?;
        let path = &file.as_ref()?.path;
        Some((text, path))
    };
    let resolve_with = |key, flag| Layers {
        key,
        flag,
        env,
        file: from_file(key),
    };
    let color = match env("NO_COLOR").filter(|v| !v.is_empty()) {
        Some(_) => Setting {
            value: Color::Never,
            source: Source::Env("NO_COLOR".to_string()),
        },
        None => resolve_with(Key::Color, None).resolve(parse_color, Color::Auto)?,
    };
    Ok(Config {
        host: resolve_with(Key::Host, host_flag.map(|v| ("-H", v)))
            .resolve(parse_host, DEFAULT_HOST.to_string())?,
        default_host_ip: resolve_with(Key::DefaultHostIp, None)
            .resolve(parse_host_ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED))?,
        port_range: resolve_with(Key::PortRange, None).resolve(parse_port_range, None)?,
        chain_prefix: resolve_with(Key::ChainPrefix, None)
            .resolve(parse_chain_prefix, DEFAULT_CHAIN_PREFIX.to_string())?,
        iptables: resolve_with(Key::Iptables, None)
            .resolve(parse_iptables, IptablesChoice::Auto)?,
        localhost_access: resolve_with(Key::LocalhostAccess, None).resolve(parse_switch, true)?,
        color,
        watch: resolve_with(Key::Watch, None).resolve(parse_switch, true)?,
        watch_interval: resolve_with(Key::WatchInterval, None)
            .resolve(parse_interval, DEFAULT_WATCH_INTERVAL)?,
        engine_local: resolve_with(Key::EngineLocal, None).resolve(parse_engine_local, None)?,
        docker_cli: resolve_with(Key::DockerCli, None).resolve(parse_docker_cli, None)?,
        engine_notice: resolve_with(Key::EngineNotice, None).resolve(parse_switch, true)?,
        file: file.map(|f| f.path),
    })
}

impl Config {
    /// One line per key, `key: value  (from SOURCE)`, in aligned columns: the text of
    /// `berth config show`.
    pub fn show(&self) -> String {
        let rows = self.rows();
        let key_width = rows.iter().map(|r| r.0.len() + 1).max().unwrap_or(0);
        let value_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (key, value, source) in rows {
            let from = match source {
                Source::Default => "(default)".to_string(),
                other => format!("(from {other})"),
            };
            let key = format!("{key}:");
            out.push_str(&format!(
                "{key:<key_width$} {value:<value_width$}  {from}\n"
            ));
        }
        out
    }

    /// `berth config show --format json`: each key as `{"value", "source", "from"}`
    /// (`from` names the flag, variable or file, absent for a default), and `file`, the
    /// file read or null.
    pub fn show_json(&self) -> serde_json::Value {
        let entry = |value: serde_json::Value, source: &Source| {
            let mut e = json!({"value": value, "source": source.kind()});
            if let Some(origin) = source.origin() {
                e["from"] = json!(origin);
            }
            e
        };
        json!({
            "host": entry(json!(self.host.value), &self.host.source),
            "default_host_ip": entry(
                json!(self.default_host_ip.value.to_string()),
                &self.default_host_ip.source,
            ),
            "port_range": entry(
                match self.port_range.value {
                    Some((low, high)) => json!(format!("{low}-{high}")),
                    None => serde_json::Value::Null,
                },
                &self.port_range.source,
            ),
            "chain_prefix": entry(json!(self.chain_prefix.value), &self.chain_prefix.source),
            "iptables": entry(json!(self.iptables.value.as_str()), &self.iptables.source),
            "localhost_access": entry(
                json!(self.localhost_access.value),
                &self.localhost_access.source,
            ),
            "color": entry(json!(self.color.value.as_str()), &self.color.source),
            "watch": entry(json!(self.watch.value), &self.watch.source),
            "watch_interval": entry(
                json!(show_interval(self.watch_interval.value)),
                &self.watch_interval.source,
            ),
            "engine_local": entry(json!(self.engine_local.value), &self.engine_local.source),
            "docker_cli": entry(
                json!(self.docker_cli.value.as_ref().map(|p| p.display().to_string())),
                &self.docker_cli.source,
            ),
            "engine_notice": entry(json!(self.engine_notice.value), &self.engine_notice.source),
            "file": self.file.as_ref().map(|p| p.display().to_string()),
        })
    }

    /// (key, value as the file would spell it, source), in the order of `KEYS`.
    fn rows(&self) -> Vec<(&'static str, String, &Source)> {
        let range = match self.port_range.value {
            Some((low, high)) => format!("{low}-{high}"),
            None => "kernel".to_string(),
        };
        let switch = if self.localhost_access.value {
            "on"
        } else {
            "off"
        };
        vec![
            ("host", self.host.value.clone(), &self.host.source),
            (
                "default_host_ip",
                self.default_host_ip.value.to_string(),
                &self.default_host_ip.source,
            ),
            ("port_range", range, &self.port_range.source),
            (
                "chain_prefix",
                self.chain_prefix.value.clone(),
                &self.chain_prefix.source,
            ),
            (
                "iptables",
                self.iptables.value.to_string(),
                &self.iptables.source,
            ),
            (
                "localhost_access",
                switch.to_string(),
                &self.localhost_access.source,
            ),
            ("color", self.color.value.to_string(), &self.color.source),
            (
                "watch",
                if self.watch.value { "on" } else { "off" }.to_string(),
                &self.watch.source,
            ),
            (
                "watch_interval",
                show_interval(self.watch_interval.value),
                &self.watch_interval.source,
            ),
            (
                "engine_local",
                match self.engine_local.value {
                    None => "auto",
                    Some(true) => "yes",
                    Some(false) => "no",
                }
                .to_string(),
                &self.engine_local.source,
            ),
            (
                "docker_cli",
                self.docker_cli
                    .value
                    .as_ref()
                    .map_or_else(|| "docker".to_string(), |p| p.display().to_string()),
                &self.docker_cli.source,
            ),
            (
                "engine_notice",
                if self.engine_notice.value {
                    "on"
                } else {
                    "off"
                }
                .to_string(),
                &self.engine_notice.source,
            ),
        ]
    }
}

// ---------------------------------------------------------------------------------
// Values: one parser per key, shared by flags, variables and the file. Each returns
// what it wants on failure; the caller says where the bad value came from.

const WANT_HOST: &str = "want unix:///PATH, tcp://HOST:PORT, http://HOST:PORT, ssh://[USER@]HOST[:PORT] or an absolute socket path";
const WANT_IP: &str = "want an IPv4 or IPv6 address (e.g. 0.0.0.0, 127.0.0.1 or ::1)";
const WANT_RANGE: &str = "want LOW-HIGH (e.g. 40000-40999)";
const WANT_RANGE_BOUNDS: &str = "want LOW-HIGH with 1 <= LOW <= HIGH <= 65535";
const WANT_PREFIX: &str =
    "want 1 to 15 of A-Z, 0-9, '_' and '-', not starting with '-' (e.g. BERTH)";
const WANT_IPTABLES: &str = "want auto, nft or legacy";
const WANT_SWITCH: &str = "want on or off (or true/false, yes/no)";
const WANT_COLOR: &str = "want auto, always or never";
const WANT_INTERVAL: &str = "want a duration from 100ms to 1h (e.g. 5s, 500ms, 2m)";
const WANT_ENGINE_LOCAL: &str = "want auto, yes or no";
const WANT_DOCKER_CLI: &str =
    "want a program name or an absolute path (e.g. docker, /usr/bin/docker)";

/// How often the watcher re-checks everything unless configured.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// Chain names that already mean something to iptables: a prefix equal to one would
/// make berth's main nat chain that chain.
const IPTABLES_NAMES: [&str; 9] = [
    "PREROUTING",
    "INPUT",
    "FORWARD",
    "OUTPUT",
    "POSTROUTING",
    "ACCEPT",
    "DROP",
    "RETURN",
    "QUEUE",
];

/// An engine address: `unix:///path`, `tcp://...`, `http://...`, `ssh://...`, or a bare
/// absolute socket path (what `Engine::connect` accepts).
pub fn parse_host(text: &str) -> std::result::Result<String, String> {
    let host = text.trim();
    let shaped = match host.split_once("://") {
        Some(("unix", path)) => path.starts_with('/'),
        Some(("tcp" | "http", addr)) => !addr.is_empty(),
        Some(("ssh", addr)) => !addr.is_empty(),
        Some(_) => false,
        // docker reads a bare HOST:PORT as tcp
        None => {
            host.starts_with('/')
                || host.rsplit_once(':').is_some_and(|(h, p)| {
                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !h.contains('/')
                })
        }
    };
    if shaped && !host.contains(char::is_whitespace) {
        Ok(host.to_string())
    } else {
        Err(WANT_HOST.to_string())
    }
}

/// An IPv4 or IPv6 literal.
pub fn parse_host_ip(text: &str) -> std::result::Result<IpAddr, String> {
    text.trim().parse().map_err(|_| WANT_IP.to_string())
}

/// `LOW-HIGH`, 1 <= LOW <= HIGH <= 65535; `kernel` (what `config show` prints for the
/// default) is the kernel's ephemeral range, so a variable can undo a file's range.
pub fn parse_port_range(text: &str) -> std::result::Result<Option<(u16, u16)>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("kernel") {
        return Ok(None);
    }
    let number = |s: &str| {
        let s = s.trim();
        // all digits but too many for u64: out of range all the same
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().unwrap_or(u64::MAX))
    };
    let Some((low, high)) = text
        .split_once('-')
        .and_then(|(low, high)| Some((number(low)?, number(high)?)))
    else {
        return Err(WANT_RANGE.to_string());
    };
    match (u16::try_from(low), u16::try_from(high)) {
        (Ok(low), Ok(high)) if 1 <= low && low <= high => Ok(Some((low, high))),
        _ => Err(WANT_RANGE_BOUNDS.to_string()),
    }
}

/// 1 to 15 of `A-Z 0-9 _ -`, not starting with `-` (iptables would take it for an
/// option), and not a name of Docker's or of iptables' own: berth flushes and deletes
/// the chains it owns, and a prefix of `DOCKER` would make those Docker's.
pub fn parse_chain_prefix(text: &str) -> std::result::Result<String, String> {
    let prefix = text.trim();
    let shaped = (1..=CHAIN_PREFIX_MAX).contains(&prefix.len())
        && !prefix.starts_with('-')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !shaped {
        return Err(WANT_PREFIX.to_string());
    }
    if prefix.starts_with("DOCKER") {
        return Err("want a prefix of berth's own: chains named DOCKER... are Docker's".into());
    }
    if IPTABLES_NAMES.contains(&prefix) {
        return Err(format!(
            "want a prefix of berth's own: {prefix} is a name iptables has already"
        ));
    }
    Ok(prefix.to_string())
}

/// `auto`, `nft` (also `nf_tables`, `nftables`, as `BERTH_IPTABLES` always took) or
/// `legacy`, in any case.
pub fn parse_iptables(text: &str) -> std::result::Result<IptablesChoice, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(IptablesChoice::Auto),
        "nft" | "nf_tables" | "nftables" => Ok(IptablesChoice::Nft),
        "legacy" => Ok(IptablesChoice::Legacy),
        _ => Err(WANT_IPTABLES.to_string()),
    }
}

/// `on`/`off`, `true`/`false` or `yes`/`no`, in any case (YAML's own booleans arrive
/// here as `true`/`false`).
pub fn parse_switch(text: &str) -> std::result::Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(WANT_SWITCH.to_string()),
    }
}

/// A duration: `5s`, `500ms`, `2m`, `1h`, or bare seconds (`5`, `0.5`); 100 ms to 1 h.
pub fn parse_interval(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t.as_str(), 1.0)
    };
    let n = number.trim();
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(WANT_INTERVAL.to_string());
    }
    let secs: f64 = n.parse().map_err(|_| WANT_INTERVAL.to_string())?;
    let secs = secs * scale;
    if !(0.1..=3600.0).contains(&secs) {
        return Err(WANT_INTERVAL.to_string());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration as `parse_interval` reads it back: `5s`, `500ms`.
pub fn show_interval(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `auto` (find out), `yes`/`on`/`true` or `no`/`off`/`false`.
pub fn parse_engine_local(text: &str) -> std::result::Result<Option<bool>, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    parse_switch(text)
        .map(Some)
        .map_err(|_| WANT_ENGINE_LOCAL.to_string())
}

/// A program: a bare name (looked up on PATH) or an absolute path.
pub fn parse_docker_cli(text: &str) -> std::result::Result<Option<PathBuf>, String> {
    let t = text.trim();
    let shaped = !t.is_empty()
        && !t.contains(char::is_whitespace)
        && (t.starts_with('/') || !t.contains('/'));
    if !shaped {
        return Err(WANT_DOCKER_CLI.to_string());
    }
    Ok(Some(PathBuf::from(t)))
}

/// `auto`, `always` or `never`, in any case.
pub fn parse_color(text: &str) -> std::result::Result<Color, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Color::Auto),
        "always" => Ok(Color::Always),
        "never" => Ok(Color::Never),
        _ => Err(WANT_COLOR.to_string()),
    }
}

// ---------------------------------------------------------------------------------
// Keys and layers

/// A key of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Host,
    DefaultHostIp,
    PortRange,
    ChainPrefix,
    Iptables,
    LocalhostAccess,
    Color,
    Watch,
    WatchInterval,
    EngineLocal,
    DockerCli,
    EngineNotice,
}

const KEYS: [Key; 12] = [
    Key::Host,
    Key::DefaultHostIp,
    Key::PortRange,
    Key::ChainPrefix,
    Key::Iptables,
    Key::LocalhostAccess,
    Key::Color,
    Key::Watch,
    Key::WatchInterval,
    Key::EngineLocal,
    Key::DockerCli,
    Key::EngineNotice,
];

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Host => "host",
            Key::DefaultHostIp => "default_host_ip",
            Key::PortRange => "port_range",
            Key::ChainPrefix => "chain_prefix",
            Key::Iptables => "iptables",
            Key::LocalhostAccess => "localhost_access",
            Key::Color => "color",
            Key::Watch => "watch",
            Key::WatchInterval => "watch_interval",
            Key::EngineLocal => "engine_local",
            Key::DockerCli => "docker_cli",
            Key::EngineNotice => "engine_notice",
        }
    }

    fn from_name(name: &str) -> Option<Key> {
        KEYS.into_iter().find(|k| k.name() == name)
    }

    /// The variables that set this key, strongest first (`NO_COLOR` is handled apart:
    /// it is not a color name).
    fn vars(self) -> &'static [&'static str] {
        match self {
            Key::Host => &["BERTH_HOST", "DOCKER_HOST"],
            Key::DefaultHostIp => &["BERTH_DEFAULT_HOST_IP"],
            Key::PortRange => &["BERTH_PORT_RANGE"],
            Key::ChainPrefix => &["BERTH_CHAIN_PREFIX"],
            Key::Iptables => &["BERTH_IPTABLES"],
            Key::LocalhostAccess => &["BERTH_LOCALHOST_ACCESS"],
            Key::Color => &["BERTH_COLOR"],
            Key::Watch => &["BERTH_WATCH"],
            Key::WatchInterval => &["BERTH_WATCH_INTERVAL"],
            Key::EngineLocal => &["BERTH_ENGINE_LOCAL"],
            Key::DockerCli => &["BERTH_DOCKER_CLI"],
            Key::EngineNotice => &["BERTH_ENGINE_NOTICE"],
        }
    }

    /// Whether `text` is a good value for this key; what it wants if not.
    fn check(self, text: &str) -> std::result::Result<(), String> {
        match self {
            Key::Host => parse_host(text).map(drop),
            Key::DefaultHostIp => parse_host_ip(text).map(drop),
            Key::PortRange => parse_port_range(text).map(drop),
            Key::ChainPrefix => parse_chain_prefix(text).map(drop),
            Key::Iptables => parse_iptables(text).map(drop),
            Key::LocalhostAccess => parse_switch(text).map(drop),
            Key::Color => parse_color(text).map(drop),
            Key::Watch => parse_switch(text).map(drop),
            Key::WatchInterval => parse_interval(text).map(drop),
            Key::EngineLocal => parse_engine_local(text).map(drop),
            Key::DockerCli => parse_docker_cli(text).map(drop),
            Key::EngineNotice => parse_switch(text).map(drop),
        }
    }

    /// What this key wants, for a value that is no scalar at all.
    fn want(self) -> &'static str {
        match self {
            Key::Host => WANT_HOST,
            Key::DefaultHostIp => WANT_IP,
            Key::PortRange => WANT_RANGE,
            Key::ChainPrefix => WANT_PREFIX,
            Key::Iptables => WANT_IPTABLES,
            Key::LocalhostAccess => WANT_SWITCH,
            Key::Color => WANT_COLOR,
            Key::Watch => WANT_SWITCH,
            Key::WatchInterval => WANT_INTERVAL,
            Key::EngineLocal => WANT_ENGINE_LOCAL,
            Key::DockerCli => WANT_DOCKER_CLI,
            Key::EngineNotice => WANT_SWITCH,
        }
    }
}

fn known_keys() -> String {
    KEYS.map(Key::name).join(", ")
}

/// The candidates for one key, strongest first.
struct Layers<'a> {
    key: Key,
    flag: Option<(&'static str, &'a str)>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The file's (already validated) text, and the file.
    file: Option<(&'a str, &'a PathBuf)>,
}

impl Layers<'_> {
    fn resolve<T>(
        self,
        parse: fn(&str) -> std::result::Result<T, String>,
        default: T,
    ) -> Result<Setting<T>> {
        if let Some((flag, text)) = self.flag.filter(|(_, text)| !text.is_empty()) {
            let value =
                parse(text).map_err(|want| Error::failed(format!("{flag} {text:?}: {want}")))?;
            return Ok(Setting {
                value,
                source: Source::Flag(flag),
            });
        }
        for var in self.key.vars() {
            if let Some(text) = (self.env)(var).filter(|v| !v.is_empty()) {
                let value = parse(&text)
                    .map_err(|want| Error::failed(format!("{var}={text:?}: {want}")))?;
                return Ok(Setting {
                    value,
                    source: Source::Env(var.to_string()),
                });
            }
        }
        if let Some((text, path)) = self.file {
            // checked when the file was read; a failure here would be a bug, still
            // reported rather than a panic
            let value = parse(text).map_err(|want| {
                Error::failed(format!("{}: {}: {want}", path.display(), self.key.name()))
            })?;
            return Ok(Setting {
                value,
                source: Source::File(path.clone()),
            });
        }
        Ok(Setting::default(default))
    }
}

// ---------------------------------------------------------------------------------
// The file. serde_yaml knows where in the file an error happened (`location()`) but
// not which key it concerned, so each value is checked inside the deserializer, where
// serde_yaml stamps the error with that value's line, and the words of the message go
// beside it in `Problem`.

/// The file's keys, each with its text (`None` for an empty value, as if absent).
struct FileSettings {
    path: PathBuf,
    values: HashMap<Key, Option<String>>,
}

/// The message of the last error a check raised, for serde_yaml's error to carry.
type Problem = RefCell<Option<String>>;

fn read_file(path: &Path) -> Result<Option<FileSettings>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::failed(format!(
                "{}: cannot read: {e}",
                path.display()
            )));
        }
    };
    let values = parse_file(&text).map_err(|(line, message)| {
        Error::failed(match line {
            Some(line) => format!("{}:{line}: {message}", path.display()),
            None => format!("{}: {message}", path.display()),
        })
    })?;
    Ok(Some(FileSettings {
        path: path.to_path_buf(),
        values,
    }))
}

/// The file's text -> its keys and values, or (line, message).
fn parse_file(
    text: &str,
) -> std::result::Result<HashMap<Key, Option<String>>, (Option<usize>, String)> {
    let problem = Problem::default();
    let failure = |e: serde_yaml::Error, problem: &Problem| {
        let line = e.location().map(|l| l.line());
        let message = problem.take().unwrap_or_else(|| yaml_message(&e));
        (line, message)
    };
    // YAML errors first: the checks below stop at the first node they dislike, which
    // may sit just before the actual mistake (`color: [never` is a list to them)
    for document in serde_yaml::Deserializer::from_str(text) {
        de::IgnoredAny::deserialize(document).map_err(|e| failure(e, &problem))?;
    }
    let mut documents = serde_yaml::Deserializer::from_str(text);
    // no document at all: an empty file, or only comments
    let Some(document) = documents.next() else {
        return Ok(HashMap::new());
    };
    let values = FileVisitor { problem: &problem }
        .deserialize(document)
        .map_err(|e| failure(e, &problem))?;
    if let Some(document) = documents.next() {
        let second = Check {
            problem: &problem,
            check: |_| -> std::result::Result<(), String> {
                Err("a second YAML document: berth reads one".to_string())
            },
        };
        second
            .deserialize(document)
            .map_err(|e| failure(e, &problem))?;
    }
    Ok(values)
}

/// serde_yaml's own message (syntax errors and the like) without the position that
/// the caller prints first.
fn yaml_message(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    match e.location() {
        Some(l) => text.replacen(
            &format!(" at line {} column {}", l.line(), l.column()),
            "",
            1,
        ),
        None => text,
    }
}

/// The whole document: a mapping of keys, or nothing.
struct FileVisitor<'a> {
    problem: &'a Problem,
}

impl<'de> DeserializeSeed<'de> for FileVisitor<'_> {
    type Value = HashMap<Key, Option<String>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FileVisitor<'_> {
    type Value = HashMap<Key, Option<String>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a mapping of settings (keys: {})", known_keys())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(HashMap::new())
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
        Ok(HashMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut values: HashMap<Key, Option<String>> = HashMap::new();
        loop {
            let seen = &values;
            let key = map.next_key_seed(Check {
                problem: self.problem,
                check: |node: Node| key_of(node, seen),
            })?;
            let Some(key) = key else { break };
            let text = map.next_value_seed(Check {
                problem: self.problem,
                check: |node: Node| value_of(key, node),
            })?;
            values.insert(key, text);
        }
        Ok(values)
    }
}

fn key_of(node: Node, seen: &HashMap<Key, Option<String>>) -> std::result::Result<Key, String> {
    let name = match node {
        Node::Text(name) => name,
        Node::List | Node::Mapping => {
            return Err(format!(
                "a key is a name, got {} (known: {})",
                node.shown(),
                known_keys()
            ));
        }
        other => other.text(),
    };
    match Key::from_name(&name) {
        Some(key) if seen.contains_key(&key) => Err(format!("duplicate key '{name}'")),
        Some(key) => Ok(key),
        None => Err(format!("unknown key '{name}' (known: {})", known_keys())),
    }
}

fn value_of(key: Key, node: Node) -> std::result::Result<Option<String>, String> {
    let text = match &node {
        Node::Null => return Ok(None),
        Node::Text(text) | Node::Plain(text) => text,
        Node::List | Node::Mapping => {
            return Err(format!(
                "{}: {}, got {}",
                key.name(),
                key.want(),
                node.shown()
            ));
        }
    };
    match key.check(text) {
        Ok(()) => Ok(Some(text.clone())),
        Err(want) => Err(format!("{}: {want}, got {}", key.name(), node.shown())),
    }
}

/// One YAML node, as a check sees it.
enum Node {
    Null,
    /// A string.
    Text(String),
    /// A number or a boolean, in its YAML spelling.
    Plain(String),
    List,
    Mapping,
}

impl Node {
    /// As a message quotes it.
    fn shown(&self) -> String {
        match self {
            Node::Text(text) => format!("{text:?}"),
            other => other.text(),
        }
    }

    /// As a key would be named.
    fn text(&self) -> String {
        match self {
            Node::Null => "null".to_string(),
            Node::Text(text) | Node::Plain(text) => text.clone(),
            Node::List => "a list".to_string(),
            Node::Mapping => "a mapping".to_string(),
        }
    }
}

/// Deserializes one node and runs `check` on it; a failed check becomes a serde_yaml
/// error (so it gets the node's line) with the message in `problem`.
struct Check<'a, F> {
    problem: &'a Problem,
    check: F,
}

impl<F> Check<'_, F> {
    fn run<T, E: de::Error>(self, node: Node) -> std::result::Result<T, E>
    where
        F: FnOnce(Node) -> std::result::Result<T, String>,
    {
        (self.check)(node).map_err(|message| {
            self.problem.replace(Some(message));
            E::custom("bad config value")
        })
    }
}

impl<'de, T, F> DeserializeSeed<'de> for Check<'_, F>
where
    F: FnOnce(Node) -> std::result::Result<T, String>,
{
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T, F> Visitor<'de> for Check<'_, F>
where
    F: FnOnce(Node) -> std::result::Result<T, String>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<T, E> {
        self.run(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<T, E> {
        self.run(Node::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<T, E> {
        self.run(Node::Plain(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<T, E> {
        self.run(Node::Plain(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<T, E> {
        self.run(Node::Plain(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<T, E> {
        self.run(Node::Plain(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<T, E> {
        self.run(Node::Text(v.to_string()))
    }

    // a check never accepts a list or a mapping, so what is inside is never read
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> std::result::Result<T, A::Error> {
        self.run(Node::List)
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> std::result::Result<T, A::Error> {
        self.run(Node::Mapping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(
        text: &str,
    ) -> std::result::Result<HashMap<Key, Option<String>>, (Option<usize>, String)> {
        parse_file(text)
    }

    /// The (line, message) of a bad file.
    fn problem(text: &str) -> (Option<usize>, String) {
        parsed(text).expect_err(text)
    }

    #[test]
    fn intervals_read_their_units_and_stay_between_100_ms_and_an_hour() {
        for (text, ms) in [
            ("5s", 5_000),
            ("500ms", 500),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("5", 5_000),
            ("0.5", 500),
            (" 2M ", 120_000),
            ("100ms", 100),
        ] {
            assert_eq!(
                parse_interval(text),
                Ok(Duration::from_millis(ms)),
                "{text:?}"
            );
        }
        for bad in [
            "", "s", "ms", "-1", "1e3", "abc", "1.5.2", "50ms", "0.05", "2h", "3601",
        ] {
            assert_eq!(
                parse_interval(bad),
                Err(WANT_INTERVAL.to_string()),
                "{bad:?}"
            );
        }
        // what `config show` prints reads back as itself
        for text in ["5s", "500ms", "1500ms"] {
            assert_eq!(show_interval(parse_interval(text).unwrap()), text);
        }
    }

    #[test]
    fn engine_local_is_auto_or_a_switch() {
        assert_eq!(parse_engine_local(" AUTO "), Ok(None));
        for on in ["yes", "on", "true"] {
            assert_eq!(parse_engine_local(on), Ok(Some(true)), "{on:?}");
        }
        for off in ["no", "off", "false"] {
            assert_eq!(parse_engine_local(off), Ok(Some(false)), "{off:?}");
        }
        for bad in ["", "maybe", "automatic"] {
            assert_eq!(
                parse_engine_local(bad),
                Err(WANT_ENGINE_LOCAL.to_string()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn docker_cli_is_a_bare_name_or_an_absolute_path() {
        for (text, path) in [
            ("docker", "docker"),
            ("/usr/bin/docker", "/usr/bin/docker"),
            (" docker.io ", "docker.io"),
        ] {
            assert_eq!(parse_docker_cli(text), Ok(Some(PathBuf::from(path))));
        }
        for bad in [
            "",
            "  ",
            "bin/docker",
            "./docker",
            "my docker",
            "/usr/bin/my docker",
        ] {
            assert_eq!(
                parse_docker_cli(bad),
                Err(WANT_DOCKER_CLI.to_string()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn host_takes_the_three_schemes_and_a_socket_path() {
        for good in [
            "unix:///var/run/docker.sock",
            "tcp://127.0.0.1:2375",
            "http://localhost:2375",
            "/run/user/1000/docker.sock",
            "ssh://me@host",
            // docker reads a bare HOST:PORT as tcp
            "localhost:2375",
            "10.0.0.1:2375",
        ] {
            assert_eq!(parse_host(good).as_deref(), Ok(good));
        }
        assert_eq!(parse_host("  tcp://h:1 ").as_deref(), Ok("tcp://h:1"));
        for bad in [
            "",
            "docker.sock",
            "unix://relative.sock",
            "unix://",
            "tcp://",
            "ssh://",
            "https://h:2376",
            "npipe:////./pipe/docker_engine",
            "tcp://a b:1",
            // a bare HOST:PORT needs a port of digits, and a host that is not a path
            "localhost:",
            "localhost:port",
            "run/docker:2375",
        ] {
            assert_eq!(parse_host(bad), Err(WANT_HOST.to_string()), "{bad:?}");
        }
    }

    #[test]
    fn host_ip_is_any_literal() {
        assert_eq!(parse_host_ip("127.0.0.1"), Ok("127.0.0.1".parse().unwrap()));
        assert_eq!(parse_host_ip("::1"), Ok("::1".parse().unwrap()));
        assert_eq!(
            parse_host_ip("0.0.0.0"),
            Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        );
        for bad in ["", "localhost", "1.2.3", "[::1]", "10.0.0.1/8", "1.2.3.256"] {
            assert_eq!(parse_host_ip(bad), Err(WANT_IP.to_string()), "{bad:?}");
        }
    }

    #[test]
    fn port_range_is_low_dash_high_within_bounds() {
        assert_eq!(parse_port_range("40000-40999"), Ok(Some((40000, 40999))));
        assert_eq!(parse_port_range("1-65535"), Ok(Some((1, 65535))));
        assert_eq!(parse_port_range("8080-8080"), Ok(Some((8080, 8080))));
        assert_eq!(parse_port_range(" 100 - 200 "), Ok(Some((100, 200))));
        assert_eq!(parse_port_range("kernel"), Ok(None));
        for bad in [
            "", "abc", "40000", "40000-", "-40000", "1-2-3", "a-b", "+1-2", "1..2",
        ] {
            assert_eq!(
                parse_port_range(bad),
                Err(WANT_RANGE.to_string()),
                "{bad:?}"
            );
        }
        for bad in [
            "0-10",
            "10-9",
            "1-65536",
            "70000-70001",
            "1-99999999999999999999999",
        ] {
            assert_eq!(
                parse_port_range(bad),
                Err(WANT_RANGE_BOUNDS.to_string()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn chain_prefix_is_short_upper_and_berths_own() {
        for good in ["B", "BERTH", "MY_NAT-2", "0123456789ABCDE"] {
            assert_eq!(parse_chain_prefix(good).as_deref(), Ok(good));
        }
        for bad in [
            "",
            "berth",
            "BERTH!",
            "B RTH",
            "-BERTH",
            "0123456789ABCDEF",
            "0123456789ABCDEFG",
        ] {
            assert_eq!(
                parse_chain_prefix(bad),
                Err(WANT_PREFIX.to_string()),
                "{bad:?}"
            );
        }
        for taken in [
            "DOCKER",
            "DOCKER-USER",
            "DOCKERX",
            "INPUT",
            "POSTROUTING",
            "ACCEPT",
        ] {
            let err = parse_chain_prefix(taken).unwrap_err();
            assert!(
                err.starts_with("want a prefix of berth's own"),
                "{taken}: {err}"
            );
        }
        // berth's longest chain must still be a legal iptables name
        assert!(CHAIN_PREFIX_MAX + "-POSTROUTING".len() <= 28);
    }

    #[test]
    fn iptables_switch_and_color_words() {
        assert_eq!(parse_iptables("auto"), Ok(IptablesChoice::Auto));
        assert_eq!(parse_iptables("NFT"), Ok(IptablesChoice::Nft));
        assert_eq!(parse_iptables("nf_tables"), Ok(IptablesChoice::Nft));
        assert_eq!(parse_iptables("legacy"), Ok(IptablesChoice::Legacy));
        assert_eq!(parse_iptables("xtables"), Err(WANT_IPTABLES.to_string()));
        for (text, want) in [
            ("on", true),
            ("off", false),
            ("true", true),
            ("False", false),
            ("yes", true),
            ("NO", false),
        ] {
            assert_eq!(parse_switch(text), Ok(want), "{text}");
        }
        for bad in ["", "1", "0", "enabled", "y"] {
            assert_eq!(parse_switch(bad), Err(WANT_SWITCH.to_string()), "{bad:?}");
        }
        assert_eq!(parse_color("auto"), Ok(Color::Auto));
        assert_eq!(parse_color("Always"), Ok(Color::Always));
        assert_eq!(parse_color("never"), Ok(Color::Never));
        assert_eq!(parse_color("sometimes"), Err(WANT_COLOR.to_string()));
    }

    #[test]
    fn every_key_has_a_name_a_variable_and_round_trips() {
        assert_eq!(KEYS.len(), 12);
        for key in KEYS {
            assert_eq!(Key::from_name(key.name()), Some(key));
            assert!(key.vars()[0].starts_with("BERTH_"), "{key:?}");
            // the default, spelled as `config show` spells it, is a good value
            let shown = Config::default()
                .rows()
                .into_iter()
                .find(|r| r.0 == key.name())
                .unwrap()
                .1;
            assert_eq!(key.check(&shown), Ok(()), "{key:?} {shown}");
        }
        assert_eq!(Key::from_name("colour"), None);
    }

    #[test]
    fn a_file_of_every_key_parses_yaml_scalars_as_text() {
        let values = parsed(
            "host: tcp://10.0.0.1:2375\n\
             default_host_ip: ::1\n\
             port_range: 40000-40999\n\
             chain_prefix: NAT\n\
             iptables: legacy\n\
             localhost_access: false\n\
             color: never\n",
        )
        .unwrap();
        assert_eq!(values.len(), 7);
        assert_eq!(values[&Key::DefaultHostIp].as_deref(), Some("::1"));
        // a YAML boolean arrives as its spelling
        assert_eq!(values[&Key::LocalhostAccess].as_deref(), Some("false"));
    }

    #[test]
    fn empty_comment_only_and_null_files_are_no_settings() {
        for text in ["", "\n\n", "# nothing yet\n", "---\n", "~\n", "{}\n"] {
            assert_eq!(parsed(text).map(|v| v.len()), Ok(0), "{text:?}");
        }
        // an empty value is as if the key were absent
        let values = parsed("host:\ncolor: ~\n").unwrap();
        assert_eq!(values.get(&Key::Host), Some(&None));
        assert_eq!(values.get(&Key::Color), Some(&None));
    }

    #[test]
    fn a_bad_value_names_its_line_and_key() {
        assert_eq!(
            problem("host: unix:///s\n\nport_range: abc\n"),
            (
                Some(3),
                "port_range: want LOW-HIGH (e.g. 40000-40999), got \"abc\"".to_string()
            )
        );
        // a number is quoted as YAML spells it
        assert_eq!(
            problem("port_range: 40000\n"),
            (
                Some(1),
                "port_range: want LOW-HIGH (e.g. 40000-40999), got 40000".to_string()
            )
        );
        // the line of the value, even when it is on the next line
        assert_eq!(problem("color:\n  blue\n").0, Some(2));
        assert_eq!(
            problem("localhost_access: [on]\n").1,
            format!("localhost_access: {WANT_SWITCH}, got a list")
        );
        assert_eq!(
            problem("chain_prefix: {a: b}\n").1,
            format!("chain_prefix: {WANT_PREFIX}, got a mapping")
        );
    }

    #[test]
    fn an_unknown_or_repeated_key_names_its_line() {
        let (line, message) = problem("host: unix:///s\ncolour: never\n");
        assert_eq!(line, Some(2));
        assert_eq!(
            message,
            "unknown key 'colour' (known: host, default_host_ip, port_range, chain_prefix, \
             iptables, localhost_access, color, watch, watch_interval, engine_local, docker_cli, \
             engine_notice)"
        );
        assert_eq!(
            problem("color: auto\n7: x\n").1.get(..15),
            Some("unknown key '7'")
        );
        let (line, message) = problem("color: auto\n? [host]\n: /s\n");
        assert_eq!(line, Some(2));
        assert!(
            message.starts_with("a key is a name, got a list (known: host,"),
            "{message}"
        );
        assert_eq!(
            problem("color: auto\nhost: /s\ncolor: never\n"),
            (Some(3), "duplicate key 'color'".to_string())
        );
        // a key given twice counts even when its first value was empty
        assert_eq!(problem("color:\ncolor: never\n").0, Some(2));
    }

    #[test]
    fn not_a_mapping_and_bad_yaml_name_a_line() {
        let (line, message) = problem("- host\n- color\n");
        assert_eq!(line, Some(1));
        assert!(
            message.contains("expected a mapping of settings"),
            "{message}"
        );
        let (line, message) = problem("just words\n");
        assert_eq!(line, Some(1));
        assert!(
            message.contains("expected a mapping of settings"),
            "{message}"
        );
        let (line, message) = problem("host: unix:///s\ncolor: [never\n");
        assert_eq!(line, Some(3), "{message}");
        assert!(!message.contains(" at line 3 column"), "{message}");
        let (line, message) = problem("host: /s\n  color: never\n");
        assert_eq!(line, Some(2), "{message}");
        let (line, message) = problem("host: /s\n---\ncolor: never\n");
        assert_eq!(line, Some(3));
        assert_eq!(message, "a second YAML document: berth reads one");
    }

    #[test]
    fn show_aligns_three_columns() {
        let config = Config {
            host: Setting {
                value: "tcp://10.0.0.1:2375".to_string(),
                source: Source::Flag("-H"),
            },
            port_range: Setting {
                value: Some((40000, 40999)),
                source: Source::File(PathBuf::from("/c/config.yaml")),
            },
            color: Setting {
                value: Color::Never,
                source: Source::Env("NO_COLOR".to_string()),
            },
            ..Config::default()
        };
        assert_eq!(
            config.show(),
            "host:             tcp://10.0.0.1:2375  (from flag -H)\n\
             default_host_ip:  0.0.0.0              (default)\n\
             port_range:       40000-40999          (from file /c/config.yaml)\n\
             chain_prefix:     BERTH                (default)\n\
             iptables:         auto                 (default)\n\
             localhost_access: on                   (default)\n\
             color:            never                (from env NO_COLOR)\n\
             watch:            on                   (default)\n\
             watch_interval:   5s                   (default)\n\
             engine_local:     auto                 (default)\n\
             docker_cli:       docker               (default)\n\
             engine_notice:    on                   (default)\n"
        );
        let doc = config.show_json();
        assert_eq!(
            doc["host"],
            json!({"value": "tcp://10.0.0.1:2375", "source": "flag", "from": "-H"})
        );
        assert_eq!(doc["port_range"]["value"], json!("40000-40999"));
        assert_eq!(
            doc["localhost_access"],
            json!({"value": true, "source": "default"})
        );
        assert_eq!(doc["file"], serde_json::Value::Null);
        assert_eq!(
            Config::default().show_json()["port_range"]["value"],
            serde_json::Value::Null
        );
    }
}
