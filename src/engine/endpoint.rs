//! Which engine berth talks to, chosen as the docker CLI chooses it: `--context` (with
//! `-H` an error), `-H`, `BERTH_HOST` (berth's own), `DOCKER_HOST`, `DOCKER_CONTEXT`,
//! the `host` of berth's config file, `currentContext` in docker's config.json, the
//! default socket. Contexts are read from docker's store (`<config dir>/contexts/meta/
//! <sha256 of the name>/meta.json`, TLS files beside), TLS from `--tls*` and
//! `DOCKER_TLS*` / `DOCKER_CERT_PATH` as docker reads them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, Source};
use crate::error::Error;

/// TLS material for an engine reached over tcp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Verify the engine's certificate (docker's `--tlsverify`).
    pub verify: bool,
}

/// The engine chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///path`, `tcp://host:port` or `ssh://[user@]host[:port][/path]`.
    pub host: String,
    pub tls: Option<Tls>,
    pub source: Source,
}

/// The global flags that choose the engine.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub host: Option<String>,
    pub context: Option<String>,
    /// docker's `--config DIR`.
    pub config_dir: Option<PathBuf>,
    pub tls: Option<bool>,
    pub tlsverify: Option<bool>,
    pub tlscacert: Option<PathBuf>,
    pub tlscert: Option<PathBuf>,
    pub tlskey: Option<PathBuf>,
}

/// The socket a local engine listens on.
pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// docker's config dir: `--config`, `DOCKER_CONFIG`, `~/.docker`.
pub fn config_dir(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(d) = flag {
        return d.to_path_buf();
    }
    if let Some(d) = env("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    home(env).join(".docker")
}

fn home(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Endpoints", alias = "endpoints", default)]
    endpoints: std::collections::HashMap<String, EndpointMeta>,
}

#[derive(Deserialize)]
struct EndpointMeta {
    #[serde(rename = "Host", alias = "host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", alias = "skipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// docker's `ParseHost`: an empty value is the default socket (`tcp://localhost:2376`
/// with TLS), a bare `host[:port]` is tcp, `tcp://h` gets port 2375.
pub fn parse_host(text: &str, tls: bool) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(if tls {
            "tcp://localhost:2376".to_string()
        } else {
            DEFAULT_SOCKET.to_string()
        });
    }
    let (proto, addr) = match t.split_once("://") {
        Some((p, a)) => (p, a),
        None => ("tcp", t),
    };
    match proto {
        "unix" => Ok(format!(
            "unix://{}",
            if addr.is_empty() {
                "/var/run/docker.sock"
            } else {
                addr
            }
        )),
        "ssh" | "fd" => Ok(t.to_string()),
        "tcp" | "http" | "https" => {
            // docker keeps a path after the address (`/run/x.sock` is
            // `tcp://localhost:2375/run/x.sock`, which nothing listens on)
            let (addr, path) = match addr.find('/') {
                Some(i) => (&addr[..i], addr[i..].trim_end_matches('/')),
                None => (addr, ""),
            };
            let (host, port) = match addr.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() || !p.is_empty() => {
                    (if h.is_empty() { "localhost" } else { h }, p)
                }
                _ => (if addr.is_empty() { "localhost" } else { addr }, ""),
            };
            let port = if port.is_empty() { "2375" } else { port };
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "parse \"tcp://{addr}\": invalid port \":{port}\" after host"
                ));
            }
            Ok(format!("tcp://{host}:{port}{path}"))
        }
        _ => Err(format!("invalid bind address format: {t}")),
    }
}

/// The TLS flags and variables as docker reads them; `None` when TLS is off.
fn tls_from_flags(
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Tls>, String> {
    let env_set = |n: &str| env(n).is_some_and(|v| !v.is_empty());
    let verify = flags
        .tlsverify
        .unwrap_or_else(|| env_set("DOCKER_TLS_VERIFY"));
    let on = flags.tls.unwrap_or(false)
        || flags.tlsverify.is_some()
        || env_set("DOCKER_TLS")
        || env_set("DOCKER_TLS_VERIFY");
    if !on {
        return Ok(None);
    }
    // the default folder does not follow --config (as docker's does not)
    let dir = env("DOCKER_CERT_PATH")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir(None, env));
    let ca = flags
        .tlscacert
        .clone()
        .unwrap_or_else(|| dir.join("ca.pem"));
    if !ca.exists() {
        return Err(format!("open {}: no such file or directory", ca.display()));
    }
    let file = |given: &Option<PathBuf>, name: &str| -> Result<Option<PathBuf>, String> {
        match given {
            Some(p) if p.exists() => Ok(Some(p.clone())),
            Some(p) => Err(format!("open {}: no such file or directory", p.display())),
            None => {
                let p = dir.join(name);
                Ok(p.exists().then_some(p))
            }
        }
    };
    Ok(Some(Tls {
        ca,
        cert: file(&flags.tlscert, "cert.pem")?,
        key: file(&flags.tlskey, "key.pem")?,
        verify,
    }))
}

/// The engine of a stored context.
fn from_context(dir: &Path, name: &str) -> Result<(String, Option<Tls>), String> {
    let hash = hex(&Sha256::digest(name.as_bytes()));
    let meta = dir.join("contexts/meta").join(&hash).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|e| {
        format!(
            "context {}: context not found: open {}: {}",
            crate::display::go_quote(name),
            meta.display(),
            io_text(&e)
        )
    })?;
    let m: Meta =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", meta.display()))?;
    let ep = m
        .endpoints
        .get("docker")
        .ok_or_else(|| "cannot find docker endpoint in context".to_string())?;
    let host = parse_host(ep.host.as_deref().unwrap_or(""), false)?;
    let tls_dir = dir.join("contexts/tls").join(&hash).join("docker");
    let ca = tls_dir.join("ca.pem");
    let socket =
        host.starts_with("unix://") || host.starts_with("ssh://") || host.starts_with("fd://");
    let tls = if socket || (!ca.exists() && !ep.skip_tls_verify) {
        None
    } else {
        Some(Tls {
            ca,
            cert: Some(tls_dir.join("cert.pem")).filter(|p| p.exists()),
            key: Some(tls_dir.join("key.pem")).filter(|p| p.exists()),
            verify: !ep.skip_tls_verify,
        })
    };
    Ok((host, tls))
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Choose the engine. `config` is berth's own config, whose `host` says what berth's
/// flag, variables and file gave (its source tells which).
pub fn resolve(
    flags: &Flags,
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint, Error> {
    let fail = |m: String| Error::Message {
        message: format!("Failed to initialize: unable to resolve docker endpoint: {m}"),
        code: 1,
    };
    if flags.context.is_some() && flags.host.is_some() {
        return Err(Error::Message {
            message: "conflicting options: cannot specify both --host and --context".into(),
            code: 1,
        });
    }
    let dir = config_dir(flags.config_dir.as_deref(), env);
    let context = |name: &str, source: Source| -> Result<Endpoint, Error> {
        if name == "default" {
            let tls = tls_from_flags(flags, env).map_err(fail)?;
            let host = parse_host("", tls.is_some()).map_err(fail)?;
            return Ok(Endpoint { host, tls, source });
        }
        let (host, tls) = from_context(&dir, name).map_err(fail)?;
        Ok(Endpoint {
            host,
            tls,
            source: Source::Context(name.to_string()),
        })
    };
    if let Some(name) = &flags.context {
        return context(name, Source::Flag("--context"));
    }
    let given = |host: &str, source: Source| -> Result<Endpoint, Error> {
        let tls = tls_from_flags(flags, env).map_err(fail)?;
        let host = parse_host(host, tls.is_some()).map_err(fail)?;
        let tls = tls.filter(|_| host.starts_with("tcp://"));
        Ok(Endpoint { host, tls, source })
    };
    if let Some(h) = &flags.host {
        return given(h, Source::Flag("-H"));
    }
    for var in ["BERTH_HOST", "DOCKER_HOST"] {
        if let Some(h) = env(var).filter(|h| !h.is_empty()) {
            return given(&h, Source::Env(var.to_string()));
        }
    }
    if let Some(name) = env("DOCKER_CONTEXT").filter(|c| !c.is_empty()) {
        return context(&name, Source::Env("DOCKER_CONTEXT".into()));
    }
    if let Source::File(path) = &config.host.source {
        return given(&config.host.value, Source::File(path.clone()));
    }
    let current = std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<ConfigFile>(&t).ok())
        .and_then(|c| c.current_context)
        .filter(|c| !c.is_empty());
    if let Some(name) = current {
        return context(&name, Source::File(dir.join("config.json")));
    }
    given("", Source::Default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn hosts_as_docker_parses_them() {
        assert_eq!(parse_host("", false).unwrap(), DEFAULT_SOCKET);
        assert_eq!(parse_host("", true).unwrap(), "tcp://localhost:2376");
        assert_eq!(parse_host("1.2.3.4", false).unwrap(), "tcp://1.2.3.4:2375");
        assert_eq!(parse_host("tcp://h", true).unwrap(), "tcp://h:2375");
        assert_eq!(parse_host(":2000", false).unwrap(), "tcp://localhost:2000");
        assert_eq!(parse_host("unix://", false).unwrap(), DEFAULT_SOCKET);
        assert_eq!(parse_host("ssh://me@h:22", false).unwrap(), "ssh://me@h:22");
        assert_eq!(
            parse_host("/run/x.sock", false).unwrap(),
            "tcp://localhost:2375/run/x.sock"
        );
        assert_eq!(
            parse_host("foo://bar", false).unwrap_err(),
            "invalid bind address format: foo://bar"
        );
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_precedence_is_dockers() {
        let dir = std::env::temp_dir().join(format!("berth-ctx-test-{}", std::process::id()));
        let name = "remote-x";
        let hash = hex(&Sha256::digest(name.as_bytes()));
        let meta = dir.join("contexts/meta").join(&hash);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"remote-x","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://198.18.9.2:2375","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        std::fs::write(dir.join("config.json"), r#"{"currentContext":"remote-x"}"#).unwrap();
        let d = dir.to_string_lossy().to_string();
        let cfg = Config::default();
        let flags = Flags::default();
        // the current context of docker's config
        let e = resolve(&flags, &cfg, &env_of(&[("DOCKER_CONFIG", &d)])).unwrap();
        assert_eq!(e.host, "tcp://198.18.9.2:2375");
        assert_eq!(e.source, Source::Context(name.into()));
        // DOCKER_HOST beats it, DOCKER_CONTEXT=default too
        let e = resolve(
            &flags,
            &cfg,
            &env_of(&[("DOCKER_CONFIG", &d), ("DOCKER_HOST", "unix:///x.sock")]),
        )
        .unwrap();
        assert_eq!(e.host, "unix:///x.sock");
        let e = resolve(
            &flags,
            &cfg,
            &env_of(&[("DOCKER_CONFIG", &d), ("DOCKER_CONTEXT", "default")]),
        )
        .unwrap();
        assert_eq!(e.host, DEFAULT_SOCKET);
        // --context beats DOCKER_HOST; with -H it is an error
        let f = Flags {
            context: Some(name.into()),
            ..Flags::default()
        };
        let e = resolve(
            &f,
            &cfg,
            &env_of(&[("DOCKER_CONFIG", &d), ("DOCKER_HOST", "unix:///x.sock")]),
        )
        .unwrap();
        assert_eq!(e.host, "tcp://198.18.9.2:2375");
        let f = Flags {
            context: Some(name.into()),
            host: Some("unix:///y".into()),
            ..Flags::default()
        };
        assert_eq!(
            resolve(&f, &cfg, &env_of(&[])).unwrap_err().to_string(),
            "conflicting options: cannot specify both --host and --context"
        );
        // a missing context: docker's words
        let f = Flags {
            context: Some("nope".into()),
            config_dir: Some(dir.clone()),
            ..Flags::default()
        };
        let err = resolve(&f, &cfg, &env_of(&[])).unwrap_err().to_string();
        assert!(err.starts_with("Failed to initialize: unable to resolve docker endpoint: context \"nope\": context not found: open "), "{err}");
        assert!(
            err.ends_with("/meta.json: no such file or directory"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
