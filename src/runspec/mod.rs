//! `run`/`create` flags -> the engine's create body, with docker's parsing, defaults,
//! validation order and error texts (docker/cli v29 `cli/command/container/opts.go`
//! `parse`, `cli/opts`, and the checks of `runRun`/`createContainer`).
//!
//! [`build`] is pure apart from reading the files the flags name (`--env-file`,
//! `--label-file`, `--security-opt seccomp=FILE`); what depends on the engine (its API
//! version, and values the engine's typed model cannot carry) is [`check_supported`]
//! and [`daemon_check`]. The flag values themselves are checked while clap parses them
//! (`values`, `mounts`, `network`, `gpus`).

pub mod go;
pub mod gpus;
pub mod kvfile;
pub mod mounts;
pub mod network;
pub mod platform;
pub mod values;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::models::{
    ContainerCreateBody, DeviceMapping, DeviceRequest, HealthConfig, HostConfig,
    HostConfigCgroupnsModeEnum, HostConfigIsolationEnum, HostConfigLogConfig, Mount,
    MountBindOptions, MountBindOptionsPropagationEnum, MountImageOptions, MountTmpfsOptions,
    MountType, MountVolumeOptions, MountVolumeOptionsDriverConfig, NetworkingConfig, RestartPolicy,
    RestartPolicyNameEnum,
};

use crate::cli::ContainerArgs;
use crate::commands::run::Verb;
use crate::portspec::{self, PortSpecs};

/// What `run`/`create` will send and do, as docker would.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Everything docker sends, NetworkingConfig included; `ExposedPorts`,
    /// `PortBindings` and `PublishAllPorts` are left to the caller (from `ports`).
    pub body: ContainerCreateBody,
    /// `-p`/`-P`/`--expose`, parsed at docker's place in the order of checks.
    pub ports: PortSpecs,
    pub name: Option<String>,
    /// `--platform` (or `$DOCKER_DEFAULT_PLATFORM`), normalised: `linux/amd64`.
    pub platform: Option<String>,
    pub pull: Pull,
    pub quiet: bool,
    pub cidfile: Option<PathBuf>,
    /// Deprecation notices docker prints on stdout (`Flag --kernel-memory has been
    /// deprecated, ...`).
    pub notices: Vec<String>,
    /// Values docker sends that the engine's typed model cannot hold: the engine's own
    /// error for them comes from [`daemon_check`].
    pub deferred: Vec<Deferred>,
}

/// `--pull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pull {
    /// Pull when the image is missing (docker's default).
    #[default]
    Missing,
    Always,
    /// `never`, or `--pull ''`.
    Never,
}

/// A docker error, and how the caller prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// Printed `berth: MSG\n\nRun 'berth VERB --help' for more information`, exit 125.
    Parse(String),
    /// Printed as it is, exit `code`.
    Plain { message: String, code: u8 },
}

impl SpecError {
    fn plain(message: impl Into<String>) -> Self {
        SpecError::Plain {
            message: message.into(),
            code: 1,
        }
    }

    /// An error of docker's `createContainer` step: `create` prints it bare (exit 1),
    /// `run` with its help hint and the status `toStatusError` picks.
    pub fn create_step(verb: Verb, message: impl Into<String>) -> Self {
        let message = message.into();
        match verb {
            Verb::Create => SpecError::plain(message),
            Verb::Run => SpecError::Plain {
                code: run_status(&message),
                message: format!("berth: {message}\n\nRun 'berth run --help' for more information"),
            },
        }
    }

    /// The text as printed (with `verb`'s help hint for `Parse`).
    pub fn render(&self, verb: Verb) -> String {
        match self {
            SpecError::Parse(m) => format!(
                "berth: {m}\n\nRun 'berth {} --help' for more information",
                verb.name()
            ),
            SpecError::Plain { message, .. } => message.clone(),
        }
    }

    /// As berth's error, printed as docker prints it for `verb`.
    pub fn into_error(self, verb: Verb) -> crate::error::Error {
        match self {
            SpecError::Parse(m) => crate::error::Error::usage(verb.name(), m),
            SpecError::Plain { message, code } => crate::error::Error::Message { message, code },
        }
    }

    pub fn code(&self) -> u8 {
        match self {
            SpecError::Parse(_) => 125,
            SpecError::Plain { code, .. } => *code,
        }
    }
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecError::Parse(m) => f.write_str(m),
            SpecError::Plain { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for SpecError {}

/// docker run's `toStatusError`: 127 for a missing file or executable, 126 for one
/// that cannot be used, 125 otherwise.
pub fn run_status(message: &str) -> u8 {
    if [
        "executable file not found",
        "no such file or directory",
        "system cannot find the file specified",
    ]
    .iter()
    .any(|s| message.contains(s))
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

/// A value docker sends as typed but the engine's typed model cannot carry; the engine
/// refuses each of them, and [`daemon_check`] gives its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    /// `--restart NAME` with a name the engine does not know.
    RestartPolicy { name: String, count: i64 },
    /// `--mount type=NAME` (the `index`th mount): the engine's "mount type unknown".
    MountType { index: usize, typ: String },
    /// `--mount bind-propagation=NAME` (the `index`th mount).
    Propagation { index: usize, value: String },
    /// `--isolation NAME` the engine's model has no word for.
    Isolation { value: String },
}

/// The `io.berth.` labels are berth's own.
fn check_label_key(key: &str) -> Result<(), SpecError> {
    if key.starts_with(crate::model::LABEL_PREFIX) {
        return Err(SpecError::Parse(format!("the label {key} is berth's own")));
    }
    Ok(())
}

/// `ConvertKVStringsToMap`: `k` -> `""`, `k=v=w` -> `v=w`; the last one wins.
fn kv_map(values: &[String]) -> HashMap<String, String> {
    values
        .iter()
        .map(|v| {
            let (k, v) = v.split_once('=').unwrap_or((v, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// `parseSecurityOpts` and `parseSystemPaths`: the options to send, and whether
/// `systempaths=unconfined` was given.
fn security_opts(opts: &[String]) -> Result<(Vec<String>, bool), SpecError> {
    let mut out = Vec::new();
    let mut unconfined = false;
    for opt in opts {
        let (k, v, ok) = match opt.split_once('=') {
            Some((k, v)) => (k, v, true),
            None if opt != "no-new-privileges" => match opt.split_once(':') {
                Some((k, v)) => (k, v, true),
                None => (opt.as_str(), "", false),
            },
            None => (opt.as_str(), "", false),
        };
        if (!ok || v.is_empty()) && k != "no-new-privileges" {
            return Err(SpecError::Parse(format!(
                "invalid --security-opt: {}",
                go::quote(opt)
            )));
        }
        if k == "seccomp" && !matches!(v, "builtin" | "unconfined") {
            let text = std::fs::read(v).map_err(|e| {
                let op = if e.raw_os_error() == Some(libc::EISDIR) {
                    "read"
                } else {
                    "open"
                };
                SpecError::Parse(format!(
                    "opening seccomp profile ({v}) failed: {op} {v}: {}",
                    go::os_error_text(&e)
                ))
            })?;
            let json = json_compact(&text).map_err(|e| {
                SpecError::Parse(format!(
                    "compacting json for seccomp profile ({v}) failed: {e}"
                ))
            })?;
            out.push(format!("seccomp={json}"));
            continue;
        }
        if opt == "systempaths=unconfined" {
            unconfined = true;
            continue;
        }
        out.push(opt.clone());
    }
    Ok((out, unconfined))
}

/// `json.Compact`: the document without insignificant whitespace, keys in their order.
fn json_compact(text: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(text).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(text);
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Ok(out)
}

/// The namespace modes docker checks on the client.
fn check_modes(a: &ContainerArgs) -> Result<(), SpecError> {
    let pid = a.pid.as_deref().unwrap_or("");
    let pid_ok = pid.is_empty()
        || pid == "host"
        || pid
            .strip_prefix("container:")
            .is_some_and(|c| !c.is_empty());
    if !pid_ok {
        return Err(SpecError::Parse("--pid: invalid PID mode".into()));
    }
    if !matches!(a.uts.as_deref().unwrap_or(""), "" | "host") {
        return Err(SpecError::Parse("--uts: invalid UTS mode".into()));
    }
    if !matches!(a.userns.as_deref().unwrap_or(""), "" | "host") {
        return Err(SpecError::Parse("--userns: invalid USER mode".into()));
    }
    if !matches!(a.cgroupns.as_deref().unwrap_or(""), "" | "host" | "private") {
        return Err(SpecError::Parse("--cgroupns: invalid CGROUP mode".into()));
    }
    Ok(())
}

/// `opts.ParseRestartPolicy`: the name (as typed) and the retry count.
pub fn parse_restart(policy: &str) -> Result<(String, i64), String> {
    if policy.is_empty() {
        return Ok((String::new(), 0));
    }
    let (name, count) = match policy.split_once(':') {
        Some(("", _)) => {
            return Err("invalid restart policy format: no policy provided before colon".into());
        }
        Some((name, count)) => (name, count),
        None => (policy, ""),
    };
    let retries = if count.is_empty() {
        0
    } else {
        go::atoi(count).map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?
    };
    Ok((name.to_string(), retries))
}

/// The health settings (`--health-*`, `--no-healthcheck`).
fn healthcheck(a: &ContainerArgs) -> Result<Option<HealthConfig>, SpecError> {
    let cmd = a.health_cmd.as_deref().unwrap_or("");
    let interval = a.health_interval.unwrap_or(0);
    let timeout = a.health_timeout.unwrap_or(0);
    let start_period = a.health_start_period.unwrap_or(0);
    let start_interval = a.health_start_interval.unwrap_or(0);
    let retries = a.health_retries.unwrap_or(0);
    let given = !cmd.is_empty()
        || interval != 0
        || timeout != 0
        || start_period != 0
        || retries != 0
        || start_interval != 0;
    if a.no_healthcheck {
        if given {
            return Err(SpecError::Parse(
                "--no-healthcheck conflicts with --health-* options".into(),
            ));
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..HealthConfig::default()
        }));
    }
    if !given {
        return Ok(None);
    }
    for (value, flag) in [
        (interval, "--health-interval"),
        (timeout, "--health-timeout"),
        (retries, "--health-retries"),
        (start_period, "--health-start-period"),
        (start_interval, "--health-start-interval"),
    ] {
        if value < 0 {
            return Err(SpecError::Parse(format!("{flag} cannot be negative")));
        }
    }
    let nz = |v: i64| (v != 0).then_some(v);
    Ok(Some(HealthConfig {
        test: (!cmd.is_empty()).then(|| vec!["CMD-SHELL".to_string(), cmd.to_string()]),
        interval: nz(interval),
        timeout: nz(timeout),
        start_period: nz(start_period),
        start_interval: nz(start_interval),
        retries: nz(retries),
    }))
}

/// A `--mount` in the engine's model; what the model cannot hold is deferred.
fn engine_mount(
    index: usize,
    m: &mounts::MountSpec,
    cwd: &Path,
    deferred: &mut Vec<Deferred>,
) -> Mount {
    let typ = match m.typ.as_str() {
        "bind" => Some(MountType::BIND),
        "volume" => Some(MountType::VOLUME),
        "tmpfs" => Some(MountType::TMPFS),
        "image" => Some(MountType::IMAGE),
        "npipe" => Some(MountType::NPIPE),
        "cluster" => Some(MountType::CLUSTER),
        other => {
            deferred.push(Deferred::MountType {
                index,
                typ: other.to_string(),
            });
            None
        }
    };
    let mut source = m.source.clone();
    if !source.starts_with('/') && source.starts_with('.') {
        source = go::abs_path(cwd, &source);
    }
    let ne = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let bind = m.bind.as_ref().map(|b| MountBindOptions {
        propagation: match b.propagation.as_str() {
            "" => None,
            "private" => Some(MountBindOptionsPropagationEnum::PRIVATE),
            "rprivate" => Some(MountBindOptionsPropagationEnum::RPRIVATE),
            "shared" => Some(MountBindOptionsPropagationEnum::SHARED),
            "rshared" => Some(MountBindOptionsPropagationEnum::RSHARED),
            "slave" => Some(MountBindOptionsPropagationEnum::SLAVE),
            "rslave" => Some(MountBindOptionsPropagationEnum::RSLAVE),
            other => {
                deferred.push(Deferred::Propagation {
                    index,
                    value: other.to_string(),
                });
                None
            }
        },
        non_recursive: b.non_recursive.then_some(true),
        create_mountpoint: b.create_mountpoint.then_some(true),
        read_only_non_recursive: b.read_only_non_recursive.then_some(true),
        read_only_force_recursive: b.read_only_force_recursive.then_some(true),
    });
    let volume = m.volume.as_ref().map(|v| MountVolumeOptions {
        no_copy: v.no_copy.then_some(true),
        labels: v.labels.clone(),
        subpath: ne(&v.subpath),
        driver_config: v.driver.as_ref().map(|d| MountVolumeOptionsDriverConfig {
            name: ne(&d.name),
            options: d.options.clone(),
        }),
    });
    Mount {
        target: ne(&m.target),
        source: ne(&source),
        typ,
        read_only: m.read_only.then_some(true),
        consistency: ne(&m.consistency),
        bind_options: bind,
        volume_options: volume,
        image_options: m.image.as_ref().map(|i| MountImageOptions {
            subpath: ne(&i.subpath),
        }),
        tmpfs_options: m.tmpfs.as_ref().map(|t| MountTmpfsOptions {
            size_bytes: (t.size_bytes != 0).then_some(t.size_bytes),
            mode: (t.mode != 0).then_some(t.mode),
            options: None,
        }),
    }
}

/// The API client's `normalizeCapabilities`: upper case, `CAP_` prefix (but `ALL`),
/// unique, sorted; null when empty.
fn capabilities(caps: &[String]) -> Option<Vec<String>> {
    let mut out: Vec<String> = caps
        .iter()
        .map(|c| {
            let c = c.to_uppercase();
            if c == "ALL" || c.starts_with("CAP_") {
                c
            } else {
                format!("CAP_{c}")
            }
        })
        .collect();
    out.sort();
    out.dedup();
    (!out.is_empty()).then_some(out)
}

/// The `-e` list as docker sends it: each name once (the last value wins), `NAME`
/// alone taken from berth's environment when it is set there.
fn env_list(entries: &[String], env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut values: HashMap<String, Option<String>> = HashMap::new();
    for e in entries {
        let (k, v) = match e.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (e.clone(), env(e)),
        };
        if !values.contains_key(&k) {
            order.push(k.clone());
        }
        values.insert(k, v);
    }
    order
        .into_iter()
        .map(|k| match &values[&k] {
            Some(v) => format!("{k}={v}"),
            None => k,
        })
        .collect()
}

/// `run`/`create` flags -> what docker sends (and does), in docker's order of checks.
///
/// `detach` is `run -d` (ignored for `create`); `env` is berth's environment (for
/// `-e NAME`, `--env-file` lines without a value, `$DOCKER_DEFAULT_PLATFORM`); `cwd`
/// makes relative bind sources absolute.
pub fn build(
    args: &ContainerArgs,
    verb: Verb,
    detach: bool,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Spec, SpecError> {
    let mut spec = build_parsed(args, verb, detach, env, cwd)?;
    spec.platform = platform_of(args, verb, env)?;
    Ok(spec)
}

/// The API version berth and `engine` agreed on (`1.41`): the engine's own, with a
/// current bollard.
pub fn api_version(engine: &crate::engine::Engine) -> String {
    let v = engine.docker().client_version();
    format!("{}.{}", v.major_version, v.minor_version)
}

/// The engine `plan` needs to know about.
#[derive(Debug, Clone, Copy)]
pub struct EngineInfo<'a> {
    /// The negotiated API version (`1.41`).
    pub api_version: &'a str,
    /// `linux` or `windows`.
    pub os_type: &'a str,
}

/// Every client-side step of `docker run`/`docker create` before its `createContainer`
/// (and the first steps of that), in docker's order, once the engine is known:
/// the flags the engine's API version lacks ([`check_supported`]), then [`build`]'s
/// checks, then for `run` the TTY check (when not detached) and `--detach-keys`, then
/// `--platform`.
///
/// Before it, right after the flags parsed, docker prints [`notices`] (also in
/// `Spec::notices`). What follows, in docker's order, is the caller's: `--cidfile`
/// ([`create_cidfile`]),
/// then [`daemon_check`] (the engine's own refusals, which come before its image
/// lookup, so before any pull), then the image (pull) and the create call, then the ID
/// into the cidfile (which is removed if the create fails).
#[allow(clippy::too_many_arguments)]
pub fn plan(
    args: &ContainerArgs,
    verb: Verb,
    detach: bool,
    detach_keys: Option<&str>,
    stdin_is_terminal: bool,
    engine: EngineInfo,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Spec, SpecError> {
    check_supported(args, engine.api_version, engine.os_type)?;
    let mut spec = build_parsed(args, verb, detach, env, cwd)?;
    if verb == Verb::Run {
        if !detach {
            check_tty(&spec, stdin_is_terminal)?;
        }
        validate_detach_keys(detach_keys.unwrap_or(""))?;
    }
    spec.platform = platform_of(args, verb, env)?;
    Ok(spec)
}

/// `--platform` (or `$DOCKER_DEFAULT_PLATFORM`), checked as `createContainer` does.
fn platform_of(
    args: &ContainerArgs,
    verb: Verb,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, SpecError> {
    match args
        .platform
        .clone()
        .or_else(|| env("DOCKER_DEFAULT_PLATFORM"))
    {
        Some(p) if !p.is_empty() => platform::parse(&p)
            .map(Some)
            .map_err(|e| SpecError::create_step(verb, e)),
        _ => Ok(None),
    }
}

/// The deprecation notices docker prints (on stdout) once the flags parsed, before
/// anything else: one per use of a deprecated flag.
pub fn notices(args: &ContainerArgs) -> Vec<String> {
    let mut out = Vec::new();
    for _ in &args.kernel_memory {
        out.push(
            "Flag --kernel-memory has been deprecated, and no longer supported by the kernel"
                .to_string(),
        );
    }
    for _ in &args.disable_content_trust {
        out.push(
            "Flag --disable-content-trust has been deprecated, support for docker content trust was removed"
                .to_string(),
        );
    }
    out
}

/// `build` but `--platform`.
fn build_parsed(
    args: &ContainerArgs,
    verb: Verb,
    detach: bool,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Spec, SpecError> {
    let a = args;
    let parse = SpecError::Parse;
    let mut deferred = Vec::new();
    let notices = notices(args);

    // runRun/runCreate: validatePullOpt
    let pull = match a.pull.as_str() {
        "missing" => Pull::Missing,
        "always" => Pull::Always,
        "never" | "" => Pull::Never,
        other => {
            return Err(parse(format!(
                "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
            )));
        }
    };

    // parse(), in docker's order
    let mac = a.mac_address.as_deref().unwrap_or("");
    if !mac.is_empty() && go::parse_mac(mac.trim()).is_none() {
        return Err(parse(format!("{mac} is not a valid mac address")));
    }
    let attach_stdin = a.attach.iter().any(|s| s == "stdin") || a.interactive;
    let (attach_stdout, attach_stderr) = if a.attach.is_empty() {
        (true, true)
    } else {
        (
            a.attach.iter().any(|s| s == "stdout"),
            a.attach.iter().any(|s| s == "stderr"),
        )
    };
    let swappiness = a.memory_swappiness;
    if swappiness != -1 && !(0..=100).contains(&swappiness) {
        return Err(parse(format!(
            "invalid value: {swappiness}. Valid memory swappiness range is 0-100"
        )));
    }

    let mut binds = Vec::new();
    let mut volumes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for spec in &a.volume {
        if !seen.insert(spec.as_str()) {
            continue;
        }
        let parsed = mounts::volume(spec).map_err(parse)?;
        if parsed.source.is_empty() {
            volumes.push(spec.clone());
            continue;
        }
        let mut bind = spec.clone();
        if parsed.typ == "bind"
            && let Some((host, target)) = spec.split_once(':')
            && !host.starts_with('/')
            && host.starts_with('.')
        {
            bind = format!("{}:{target}", go::abs_path(cwd, host));
        }
        binds.push(bind);
    }

    let mut tmpfs = HashMap::new();
    for t in &a.tmpfs {
        let (k, v) = mounts::tmpfs(t);
        tmpfs.insert(k, v);
    }

    let entrypoint = a.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let command = a.command();

    let ports =
        portspec::parse_all(&a.publish, &a.expose, a.publish_all).map_err(|e| parse(e.0))?;

    let mut devices = Vec::new();
    let mut cdi = Vec::new();
    for d in &a.device {
        match mounts::device(d).map_err(parse)? {
            mounts::Device::Cdi(name) => cdi.push(name),
            mounts::Device::Mapping {
                host,
                container,
                permissions,
            } => devices.push(DeviceMapping {
                path_on_host: Some(host),
                path_in_container: Some(container),
                cgroup_permissions: Some(permissions),
            }),
        }
    }

    let mut env_vars = Vec::new();
    for file in &a.env_file {
        let lookup = |k: &str| env(k);
        env_vars.extend(
            kvfile::parse_file(file, Some(&lookup))
                .map_err(|e| parse(format!("--env-file: {e}")))?,
        );
    }
    env_vars.extend(env_list(&a.env, env));

    let mut label_list = Vec::new();
    for file in &a.label_file {
        label_list.extend(
            kvfile::parse_file(file, None).map_err(|e| parse(format!("--label-file: {e}")))?,
        );
    }
    label_list.extend(a.label.iter().cloned());
    let mut labels = kv_map(&label_list);
    for key in labels.keys() {
        check_label_key(key)?;
    }
    // which berth made it: `nat sync` reaps `run --rm` containers a killed berth never
    // started (a `create --rm` container is the user's to start, whenever)
    if verb == Verb::Run && a.rm {
        labels.insert(
            crate::model::RUN_LABEL.to_string(),
            std::process::id().to_string(),
        );
    }

    check_modes(a)?;

    let (restart_name, restart_count) = parse_restart(&a.restart).map_err(parse)?;
    let restart_enum = match restart_name.as_str() {
        "" => Some(RestartPolicyNameEnum::EMPTY),
        "no" => Some(RestartPolicyNameEnum::NO),
        "always" => Some(RestartPolicyNameEnum::ALWAYS),
        "unless-stopped" => Some(RestartPolicyNameEnum::UNLESS_STOPPED),
        "on-failure" => Some(RestartPolicyNameEnum::ON_FAILURE),
        other => {
            deferred.push(Deferred::RestartPolicy {
                name: other.to_string(),
                count: restart_count,
            });
            None
        }
    };

    let log_driver = a.log_driver.clone().unwrap_or_default();
    if log_driver == "none" && !a.log_opt.is_empty() {
        return Err(parse("invalid logging opts for driver none".into()));
    }
    let log_opts = kv_map(&a.log_opt);

    let (security, systempaths_unconfined) = security_opts(&a.security_opt)?;

    let mut storage = HashMap::new();
    for o in &a.storage_opt {
        let Some((k, v)) = o.split_once('=') else {
            return Err(parse("invalid storage option".into()));
        };
        storage.insert(k.to_string(), v.to_string());
    }

    let health = healthcheck(a)?;

    let mut device_requests: Vec<DeviceRequest> = a.gpus.clone();
    if !cdi.is_empty() {
        device_requests.push(DeviceRequest {
            driver: Some("cdi".to_string()),
            device_ids: Some(cdi),
            ..DeviceRequest::default()
        });
    }

    if a.rm && !matches!(restart_name.as_str(), "" | "no") {
        return Err(parse(
            "conflicting options: cannot specify both --restart and --rm".into(),
        ));
    }

    let ip = |v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| go::parse_ip(s.trim()))
    };
    let legacy = network::Legacy {
        aliases: &a.network_alias,
        links: &a.link,
        ipv4: ip(&a.ip),
        ipv6: ip(&a.ip6),
        mac_address: mac,
        link_local_ips: &a.link_local_ip,
    };
    let endpoints = network::endpoints(&a.networks, &legacy).map_err(parse)?;
    let network_mode = a
        .networks
        .first()
        .map(|n| n.target.clone())
        .unwrap_or_else(|| "default".to_string());

    // run: the attach streams against -d
    let mut attach = (attach_stdin, attach_stdout, attach_stderr);
    let mut stdin_once = a.interactive && attach_stdin;
    if verb == Verb::Run && detach {
        if !a.attach.is_empty() {
            return Err(SpecError::plain(
                "conflicting options: cannot specify both --attach and --detach",
            ));
        }
        attach = (false, false, false);
        stdin_once = false;
    }

    let mut mounts_out = Vec::new();
    for (i, m) in a.mount.iter().enumerate() {
        mounts_out.push(engine_mount(i, m, cwd, &mut deferred));
    }
    if a.use_api_socket {
        mounts_out.push(Mount {
            typ: Some(MountType::BIND),
            source: Some("/var/run/docker.sock".to_string()),
            target: Some("/var/run/docker.sock".to_string()),
            bind_options: Some(MountBindOptions::default()),
            ..Mount::default()
        });
    }

    let isolation = match a.isolation.as_deref().unwrap_or("") {
        "" => None,
        "default" => Some(HostConfigIsolationEnum::DEFAULT),
        "process" => Some(HostConfigIsolationEnum::PROCESS),
        "hyperv" => Some(HostConfigIsolationEnum::HYPERV),
        other if other.eq_ignore_ascii_case("default") => Some(HostConfigIsolationEnum::DEFAULT),
        other => {
            deferred.push(Deferred::Isolation {
                value: other.to_string(),
            });
            None
        }
    };

    let mut ulimits: Vec<_> = a.ulimit.clone();
    // a map keyed by name: the last one wins; sent sorted by name
    let mut by_name: std::collections::BTreeMap<String, _> = std::collections::BTreeMap::new();
    for u in ulimits.drain(..) {
        by_name.insert(u.name.clone().unwrap_or_default(), u);
    }
    let ulimits: Vec<_> = by_name.into_values().collect();

    let sysctls = kv_map(&a.sysctl);
    let annotations = kv_map(&a.annotation);
    let non_empty = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    let some_str = |v: &Option<String>| Some(v.clone().unwrap_or_default());

    let host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        container_id_file: some_str(&a.cidfile),
        oom_score_adj: Some(a.oom_score_adj.unwrap_or(0)),
        auto_remove: Some(a.rm),
        privileged: Some(a.privileged),
        links: non_empty(&a.link),
        publish_all_ports: None,
        port_bindings: None,
        // v28 sends `[]` for an empty --dns (v29 sends null): the engine keeps what it
        // is sent, so `[]` is what `docker inspect` shows for docker's containers
        dns: Some(a.dns.clone()),
        dns_search: Some(a.dns_search.clone()),
        dns_options: Some(a.dns_option.clone()),
        extra_hosts: non_empty(&a.add_host),
        volumes_from: non_empty(&a.volumes_from),
        ipc_mode: some_str(&a.ipc),
        network_mode: Some(network_mode),
        pid_mode: some_str(&a.pid),
        uts_mode: some_str(&a.uts),
        userns_mode: some_str(&a.userns),
        cgroupns_mode: match a.cgroupns.as_deref().unwrap_or("") {
            "host" => Some(HostConfigCgroupnsModeEnum::HOST),
            "private" => Some(HostConfigCgroupnsModeEnum::PRIVATE),
            _ => Some(HostConfigCgroupnsModeEnum::EMPTY),
        },
        cap_add: capabilities(&a.cap_add),
        cap_drop: capabilities(&a.cap_drop),
        group_add: non_empty(&a.group_add),
        restart_policy: Some(RestartPolicy {
            name: restart_enum,
            maximum_retry_count: Some(restart_count),
        }),
        security_opt: if a.security_opt.is_empty() {
            None
        } else {
            Some(security)
        },
        storage_opt: (!storage.is_empty()).then_some(storage),
        readonly_rootfs: Some(a.read_only),
        log_config: Some(HostConfigLogConfig {
            typ: Some(log_driver),
            config: Some(log_opts),
        }),
        volume_driver: some_str(&a.volume_driver),
        isolation,
        shm_size: Some(a.shm_size.unwrap_or(0)),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        sysctls: (!sysctls.is_empty()).then_some(sysctls),
        runtime: a.runtime.clone().filter(|r| !r.is_empty()),
        mounts: (!mounts_out.is_empty()).then_some(mounts_out),
        masked_paths: systempaths_unconfined.then(Vec::new),
        readonly_paths: systempaths_unconfined.then(Vec::new),
        annotations: (!annotations.is_empty()).then_some(annotations),
        init: a.init,
        console_size: Some(vec![0, 0]),
        // resources
        cgroup_parent: some_str(&a.cgroup_parent),
        memory: Some(a.memory.unwrap_or(0)),
        memory_reservation: Some(a.memory_reservation.unwrap_or(0)),
        memory_swap: Some(a.memory_swap.unwrap_or(0)),
        memory_swappiness: Some(swappiness),
        oom_kill_disable: Some(a.oom_kill_disable),
        nano_cpus: Some(a.cpus.unwrap_or(0)),
        cpu_count: Some(a.cpu_count.unwrap_or(0)),
        cpu_percent: Some(a.cpu_percent.unwrap_or(0)),
        cpu_shares: Some(a.cpu_shares.unwrap_or(0)),
        cpu_period: Some(a.cpu_period.unwrap_or(0)),
        cpuset_cpus: some_str(&a.cpuset_cpus),
        cpuset_mems: some_str(&a.cpuset_mems),
        cpu_quota: Some(a.cpu_quota.unwrap_or(0)),
        cpu_realtime_period: Some(a.cpu_rt_period.unwrap_or(0)),
        cpu_realtime_runtime: Some(a.cpu_rt_runtime.unwrap_or(0)),
        pids_limit: Some(a.pids_limit.unwrap_or(0)),
        blkio_weight: Some(a.blkio_weight.unwrap_or(0)),
        blkio_weight_device: Some(a.blkio_weight_device.clone()),
        blkio_device_read_bps: Some(a.device_read_bps.clone()),
        blkio_device_write_bps: Some(a.device_write_bps.clone()),
        blkio_device_read_iops: Some(a.device_read_iops.clone()),
        blkio_device_write_iops: Some(a.device_write_iops.clone()),
        io_maximum_iops: Some(a.io_maxiops.unwrap_or(0) as i64),
        io_maximum_bandwidth: Some(a.io_maxbandwidth.unwrap_or(0)),
        ulimits: Some(ulimits),
        device_cgroup_rules: non_empty(&a.device_cgroup_rule),
        devices: Some(devices),
        device_requests: (!device_requests.is_empty()).then_some(device_requests),
        ..HostConfig::default()
    };

    let body = ContainerCreateBody {
        hostname: some_str(&a.hostname),
        domainname: some_str(&a.domainname),
        user: some_str(&a.user),
        tty: Some(a.tty),
        open_stdin: Some(a.interactive),
        attach_stdin: Some(attach.0),
        attach_stdout: Some(attach.1),
        attach_stderr: Some(attach.2),
        stdin_once: Some(stdin_once),
        env: (!env_vars.is_empty()).then_some(env_vars),
        cmd: (!command.is_empty()).then(|| command.to_vec()),
        image: Some(a.image().to_string()),
        volumes: Some(volumes),
        entrypoint,
        working_dir: some_str(&a.workdir),
        labels: Some(labels),
        stop_signal: a.stop_signal.clone().filter(|s| !s.is_empty()),
        stop_timeout: a.stop_timeout,
        healthcheck: health,
        args_escaped: (verb == Verb::Run).then_some(false),
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(endpoints),
        }),
        ..ContainerCreateBody::default()
    };

    Ok(Spec {
        body,
        ports,
        name: a.name.clone().filter(|n| !n.is_empty()),
        platform: None,
        pull,
        quiet: a.quiet,
        cidfile: a
            .cidfile
            .clone()
            .filter(|c| !c.is_empty())
            .map(PathBuf::from),
        notices,
        deferred,
    })
}

/// docker's `isSupported` for the flags set (`areFlagsSupported`): flags that need a
/// newer engine API, or a Windows engine. Checked once the engine is known, before
/// anything else (docker checks it even before the image argument). A plain error,
/// exit 1.
pub fn check_supported(
    args: &ContainerArgs,
    api_version: &str,
    os_type: &str,
) -> Result<(), SpecError> {
    let a = args;
    // (flag, minimum API version), in pflag's (sorted) order
    let versioned: [(&str, &str, bool); 11] = [
        ("annotation", "1.43", !a.annotation.is_empty()),
        ("cgroupns", "1.41", a.cgroupns.is_some()),
        ("cpu-rt-period", "1.25", a.cpu_rt_period.is_some()),
        ("cpu-rt-runtime", "1.25", a.cpu_rt_runtime.is_some()),
        ("cpus", "1.25", a.cpus.is_some()),
        ("gpus", "1.40", !a.gpus.is_empty()),
        (
            "health-start-interval",
            "1.44",
            a.health_start_interval.is_some(),
        ),
        (
            "health-start-period",
            "1.29",
            a.health_start_period.is_some(),
        ),
        ("init", "1.25", a.init.is_some()),
        ("platform", "1.32", a.platform.is_some()),
        ("stop-timeout", "1.25", a.stop_timeout.is_some()),
    ];
    let windows_only: [(&str, bool); 4] = [
        ("cpu-count", a.cpu_count.is_some()),
        ("cpu-percent", a.cpu_percent.is_some()),
        ("io-maxbandwidth", a.io_maxbandwidth.is_some()),
        ("io-maxiops", a.io_maxiops.is_some()),
    ];
    let mut errs: Vec<(&str, String)> = Vec::new();
    for (flag, min, set) in versioned {
        if set && go::version_less(api_version, min) {
            errs.push((
                flag,
                format!(
                    "\"--{flag}\" requires API version {min}, but the Docker daemon API version is {api_version}"
                ),
            ));
        }
    }
    for (flag, set) in windows_only {
        if set && os_type != "windows" {
            errs.push((
                flag,
                format!(
                    "\"--{flag}\" is only supported on a Docker daemon running on windows, but the Docker daemon is running on {os_type}"
                ),
            ));
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    errs.sort_by(|x, y| x.0.cmp(y.0));
    Err(SpecError::plain(
        errs.into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join("\n"),
    ))
}

/// What depends on the engine, once its API version is known (the negotiated one,
/// which is the engine's own with a current bollard):
/// * the API client's refusals for older engines (an endpoint MAC address needs API
///   1.44, `bind-recursive=readonly` too), in the words of the docker CLI that still
///   talks to them (v28);
/// * the engine's error for each [`Deferred`] value, in that engine version's words
///   and in the engine's order of checks. An engine error prints as docker prints one
///   for the verb (`create` bare, exit 1; `run` with its help hint, exit 125).
pub fn daemon_check(spec: &Spec, verb: Verb, api_version: &str) -> Result<(), SpecError> {
    let old = |min: &str| go::version_less(api_version, min);
    let host = spec.body.host_config.as_ref();
    let mounts = host.and_then(|h| h.mounts.as_deref()).unwrap_or_default();
    if old("1.44")
        && mounts.iter().any(|m| {
            m.bind_options
                .as_ref()
                .is_some_and(|b| b.read_only_force_recursive == Some(true))
        })
    {
        return Err(SpecError::create_step(
            verb,
            "bind-recursive=readonly requires API v1.44 or later",
        ));
    }
    if old("1.40")
        && mounts.iter().any(|m| {
            m.bind_options
                .as_ref()
                .is_some_and(|b| b.non_recursive == Some(true))
        })
    {
        return Err(SpecError::create_step(
            verb,
            "bind-recursive=disabled requires API v1.40 or later",
        ));
    }
    let endpoint_mac = spec
        .body
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.as_ref())
        .is_some_and(|eps| eps.values().any(|ep| ep.mac_address.is_some()));
    if old("1.44") && endpoint_mac {
        return Err(SpecError::create_step(
            verb,
            format!(
                "\"specify mac-address per network\" requires API version 1.44, but the Docker daemon API version is {api_version}"
            ),
        ));
    }
    if spec.deferred.is_empty() {
        return Ok(());
    }
    let daemon =
        |m: String| SpecError::create_step(verb, format!("Error response from daemon: {m}"));
    // the request decoder first (runconfig): isolation
    for d in &spec.deferred {
        if let Deferred::Isolation { value } = d {
            return Err(daemon(if old("1.48") {
                format!(
                    "Invalid isolation: {} - linux only supports 'default'",
                    go::quote(value)
                )
            } else {
                format!("invalid isolation ({value}): linux only supports 'default'")
            }));
        }
    }
    // then validateContainerConfig: the working directory
    if let Some(wd) = spec.body.working_dir.as_deref()
        && !wd.is_empty()
        && !wd.starts_with('/')
    {
        return Err(daemon(format!(
            "the working directory '{wd}' is invalid, it needs to be an absolute path"
        )));
    }
    // then validateHostConfig: the mounts, in order (ValidateMountConfig), then the
    // restart policy
    for (i, m) in mounts.iter().enumerate() {
        let typ = spec.deferred.iter().find_map(|d| match d {
            Deferred::MountType { index, typ } if *index == i => Some(typ.clone()),
            _ => None,
        });
        let propagation = spec.deferred.iter().find_map(|d| match d {
            Deferred::Propagation { index, value } if *index == i => Some(value.clone()),
            _ => None,
        });
        let shown = typ
            .clone()
            .unwrap_or_else(|| m.typ.map(|t| t.to_string()).unwrap_or_default());
        let fail = |why: String| {
            Err(daemon(format!(
                "invalid mount config for type {}: {why}",
                go::quote(&shown)
            )))
        };
        let target = m.target.as_deref().unwrap_or("");
        if target.is_empty() {
            return fail("field Target must not be empty".into());
        }
        if go::clean_path(&target.replace('\\', "/")) == "/" {
            return fail("invalid specification: destination can't be '/'".into());
        }
        if !target.starts_with('/') {
            return fail(format!(
                "invalid mount path: '{target}' mount path must be absolute"
            ));
        }
        if typ.is_some() {
            return fail("mount type unknown".into());
        }
        if let Some(value) = propagation {
            if m.source.as_deref().unwrap_or("").is_empty() {
                return fail("field Source must not be empty".into());
            }
            return fail(format!("invalid propagation mode: {value}"));
        }
    }
    for d in &spec.deferred {
        if let Deferred::RestartPolicy { name, .. } = d {
            return Err(daemon(if old("1.44") {
                format!("invalid restart policy '{name}'")
            } else {
                format!(
                    "invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
                )
            }));
        }
    }
    Ok(())
}

/// v29's `validateDetachKeys` (`run --detach-keys`): a comma-separated list of single
/// characters, `ctrl-@`..`ctrl-_` and `DEL`. A plain error, exit 1.
pub fn validate_detach_keys(keys: &str) -> Result<(), SpecError> {
    if keys.is_empty() {
        return Ok(());
    }
    for key in keys.split(',') {
        if key.len() == 1 || key == "DEL" {
            continue;
        }
        let ctrl = key.strip_prefix("ctrl-").filter(|k| k.len() == 1);
        let ok = ctrl.is_some_and(|k| {
            let c = k.as_bytes()[0];
            c.is_ascii_lowercase() || matches!(c, b'@' | b'[' | b'\\' | b']' | b'^' | b'_')
        });
        if !ok {
            return Err(SpecError::plain(format!(
                "invalid detach keys ({keys}): Unknown character: '{key}'"
            )));
        }
    }
    Ok(())
}

/// docker run's TTY check (`CheckTty`), for a run that is not detached.
pub fn check_tty(spec: &Spec, stdin_is_terminal: bool) -> Result<(), SpecError> {
    let attach_stdin = spec.body.attach_stdin == Some(true);
    let tty = spec.body.tty == Some(true);
    if attach_stdin && tty && !stdin_is_terminal {
        return Err(SpecError::plain(
            "cannot attach stdin to a TTY-enabled container because stdin is not a terminal",
        ));
    }
    Ok(())
}

/// docker's `--cidfile` step, before the create call: the file must not exist, and is
/// created empty (the caller writes the ID into it, without a newline, and removes it
/// when the create fails).
pub fn create_cidfile(path: &Path, verb: Verb) -> Result<std::fs::File, SpecError> {
    if path.exists() {
        return Err(SpecError::create_step(
            verb,
            format!(
                "container ID file found, make sure the other container isn't running or delete {}",
                path.display()
            ),
        ));
    }
    std::fs::File::create(path).map_err(|e| {
        SpecError::create_step(
            verb,
            format!(
                "failed to create the container ID file: open {}: {}",
                path.display(),
                go::os_error_text(&e)
            ),
        )
    })
}

#[cfg(test)]
mod tests;
