//! `berth::config::load` against real files in temporary directories and a made-up
//! environment: where the file is found, which layer wins for every key (flag >
//! environment > file > default), `NO_COLOR`, and the exact error texts of a bad file
//! or variable.

use std::collections::HashMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use berth::config::{self, Color, Config, IptablesChoice, Setting, Source};
use berth::error::EXIT_BERTH;

/// A directory of its own under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("berth-config-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// A config directory holding `config.yaml` with `text`; returns the file's path.
    fn config(&self, text: &str) -> PathBuf {
        let file = self.0.join("config.yaml");
        fs::write(&file, text).unwrap();
        file
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A made-up environment.
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn load(host_flag: Option<&str>, dir: &Path, vars: &[(&str, &str)]) -> Config {
    config::load(host_flag, Some(dir), &env(vars)).unwrap()
}

/// The error text of a load that must fail.
fn load_err(host_flag: Option<&str>, dir: &Path, vars: &[(&str, &str)]) -> String {
    let err = config::load(host_flag, Some(dir), &env(vars)).unwrap_err();
    assert_eq!(err.code(), EXIT_BERTH, "{err}");
    err.to_string()
}

fn file(path: &Path) -> Source {
    Source::File(path.to_path_buf())
}

fn var(name: &str) -> Source {
    Source::Env(name.to_string())
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

const EVERY_KEY: &str = "\
host: tcp://10.1.1.1:2375
default_host_ip: 127.0.0.1
port_range: 40000-40999
chain_prefix: FILE
iptables: legacy
localhost_access: off
color: always
";

/// A variable for every key, each different from the file's value.
const EVERY_VAR: [(&str, &str); 7] = [
    ("DOCKER_HOST", "tcp://10.2.2.2:2375"),
    ("BERTH_DEFAULT_HOST_IP", "::1"),
    ("BERTH_PORT_RANGE", "50000-50099"),
    ("BERTH_CHAIN_PREFIX", "ENV"),
    ("BERTH_IPTABLES", "nft"),
    ("BERTH_LOCALHOST_ACCESS", "yes"),
    ("BERTH_COLOR", "never"),
];

#[test]
fn no_file_means_every_default() {
    let dir = TempDir::new();
    let config = load(None, dir.path(), &[]);
    assert_eq!(config, Config::default());
    assert_eq!(config.file, None);
    assert_eq!(
        config.host,
        Setting {
            value: "unix:///var/run/docker.sock".to_string(),
            source: Source::Default
        }
    );
    assert_eq!(config.default_host_ip.value, ip("0.0.0.0"));
    assert_eq!(config.port_range.value, None);
    assert_eq!(config.chain_prefix.value, "BERTH");
    assert_eq!(config.iptables.value, IptablesChoice::Auto);
    assert!(config.localhost_access.value);
    assert_eq!(config.color.value, Color::Auto);
}

#[test]
fn the_file_beats_every_default() {
    let dir = TempDir::new();
    let path = dir.config(EVERY_KEY);
    let config = load(None, dir.path(), &[]);
    assert_eq!(config.file.as_deref(), Some(path.as_path()));
    assert_eq!(config.host.value, "tcp://10.1.1.1:2375");
    assert_eq!(config.default_host_ip.value, ip("127.0.0.1"));
    assert_eq!(config.port_range.value, Some((40000, 40999)));
    assert_eq!(config.chain_prefix.value, "FILE");
    assert_eq!(config.iptables.value, IptablesChoice::Legacy);
    assert!(!config.localhost_access.value);
    assert_eq!(config.color.value, Color::Always);
    for source in [
        &config.host.source,
        &config.default_host_ip.source,
        &config.port_range.source,
        &config.chain_prefix.source,
        &config.iptables.source,
        &config.localhost_access.source,
        &config.color.source,
    ] {
        assert_eq!(source, &file(&path));
    }
}

#[test]
fn the_environment_beats_the_file_for_every_key() {
    let dir = TempDir::new();
    dir.config(EVERY_KEY);
    let config = load(None, dir.path(), &EVERY_VAR);
    assert_eq!(
        config.host,
        Setting {
            value: "tcp://10.2.2.2:2375".to_string(),
            source: var("DOCKER_HOST")
        }
    );
    assert_eq!(
        config.default_host_ip,
        Setting {
            value: ip("::1"),
            source: var("BERTH_DEFAULT_HOST_IP")
        }
    );
    assert_eq!(
        config.port_range,
        Setting {
            value: Some((50000, 50099)),
            source: var("BERTH_PORT_RANGE")
        }
    );
    assert_eq!(
        config.chain_prefix,
        Setting {
            value: "ENV".to_string(),
            source: var("BERTH_CHAIN_PREFIX")
        }
    );
    assert_eq!(
        config.iptables,
        Setting {
            value: IptablesChoice::Nft,
            source: var("BERTH_IPTABLES")
        }
    );
    assert_eq!(
        config.localhost_access,
        Setting {
            value: true,
            source: var("BERTH_LOCALHOST_ACCESS")
        }
    );
    assert_eq!(
        config.color,
        Setting {
            value: Color::Never,
            source: var("BERTH_COLOR")
        }
    );
}

#[test]
fn the_environment_beats_every_default_without_a_file() {
    let dir = TempDir::new();
    let config = load(None, dir.path(), &EVERY_VAR);
    assert_eq!(config.file, None);
    assert_eq!(config.host.source, var("DOCKER_HOST"));
    assert_eq!(config.default_host_ip.value, ip("::1"));
    assert_eq!(config.port_range.value, Some((50000, 50099)));
    assert_eq!(config.chain_prefix.value, "ENV");
    assert_eq!(config.iptables.value, IptablesChoice::Nft);
    assert_eq!(
        config.localhost_access.source,
        var("BERTH_LOCALHOST_ACCESS")
    );
    assert_eq!(config.color.value, Color::Never);
}

#[test]
fn the_host_flag_beats_environment_and_file() {
    let dir = TempDir::new();
    dir.config(EVERY_KEY);
    let config = load(Some("unix:///tmp/flag.sock"), dir.path(), &EVERY_VAR);
    assert_eq!(
        config.host,
        Setting {
            value: "unix:///tmp/flag.sock".to_string(),
            source: Source::Flag("-H")
        }
    );
    // only the host has a flag: the rest still come from the environment
    assert_eq!(config.port_range.source, var("BERTH_PORT_RANGE"));
}

#[test]
fn berth_host_beats_docker_host() {
    let dir = TempDir::new();
    let config = load(
        None,
        dir.path(),
        &[
            ("DOCKER_HOST", "tcp://docker:2375"),
            ("BERTH_HOST", "tcp://berth:2375"),
        ],
    );
    assert_eq!(config.host.value, "tcp://berth:2375");
    assert_eq!(config.host.source, var("BERTH_HOST"));
}

#[test]
fn empty_flag_and_variables_count_as_not_given() {
    let dir = TempDir::new();
    let path = dir.config("host: /file.sock\nport_range: 1000-2000\n");
    let config = load(
        Some(""),
        dir.path(),
        &[
            ("BERTH_HOST", ""),
            ("DOCKER_HOST", ""),
            ("BERTH_PORT_RANGE", ""),
        ],
    );
    assert_eq!(config.host.value, "/file.sock");
    assert_eq!(config.host.source, file(&path));
    assert_eq!(config.port_range.source, file(&path));
}

#[test]
fn a_variable_can_put_back_the_kernels_range() {
    let dir = TempDir::new();
    dir.config("port_range: 40000-40999\n");
    let config = load(None, dir.path(), &[("BERTH_PORT_RANGE", "kernel")]);
    assert_eq!(
        config.port_range,
        Setting {
            value: None,
            source: var("BERTH_PORT_RANGE")
        }
    );
}

#[test]
fn no_color_forces_never_over_berth_color_and_the_file() {
    let dir = TempDir::new();
    dir.config("color: always\n");
    let config = load(
        None,
        dir.path(),
        &[("NO_COLOR", "1"), ("BERTH_COLOR", "always")],
    );
    assert_eq!(
        config.color,
        Setting {
            value: Color::Never,
            source: var("NO_COLOR")
        }
    );
    // an empty NO_COLOR is no request (no-color.org)
    let config = load(None, dir.path(), &[("NO_COLOR", "")]);
    assert_eq!(config.color.value, Color::Always);
}

#[test]
fn xdg_config_home_locates_the_file_and_config_dir_beats_it() {
    let xdg = TempDir::new();
    fs::create_dir_all(xdg.path().join("berth")).unwrap();
    let xdg_file = xdg.path().join("berth/config.yaml");
    fs::write(&xdg_file, "chain_prefix: XDG\n").unwrap();
    let vars = env(&[("XDG_CONFIG_HOME", xdg.path().to_str().unwrap())]);
    let config = config::load(None, None, &vars).unwrap();
    assert_eq!(config.chain_prefix.value, "XDG");
    assert_eq!(config.file.as_deref(), Some(xdg_file.as_path()));
    assert_eq!(
        config::file_path(None, &vars).as_deref(),
        Some(xdg_file.as_path())
    );

    let explicit = TempDir::new();
    let explicit_file = explicit.config("chain_prefix: DIR\n");
    let config = config::load(None, Some(explicit.path()), &vars).unwrap();
    assert_eq!(config.chain_prefix.value, "DIR");
    assert_eq!(config.chain_prefix.source, file(&explicit_file));
}

#[test]
fn a_relative_xdg_config_home_is_ignored() {
    let vars = env(&[("XDG_CONFIG_HOME", "relative/dir")]);
    let path = config::file_path(None, &vars);
    assert!(path.as_ref().is_none_or(|p| p.is_absolute()), "{path:?}");
}

#[test]
fn a_config_dir_without_a_file_is_defaults() {
    let dir = TempDir::new();
    let missing = dir.path().join("no-such-dir");
    let config = load(None, &missing, &[]);
    assert_eq!(config, Config::default());
}

#[test]
fn empty_and_comment_only_files_are_defaults_but_are_read() {
    for text in ["", "# berth settings\n# host: tcp://x:1\n", "host:\n"] {
        let dir = TempDir::new();
        let path = dir.config(text);
        let config = load(None, dir.path(), &[]);
        assert_eq!(config.host.source, Source::Default, "{text:?}");
        assert_eq!(config.file.as_deref(), Some(path.as_path()), "{text:?}");
    }
}

#[test]
fn a_bad_value_names_file_line_and_key() {
    let dir = TempDir::new();
    let path = dir.config("host: unix:///var/run/docker.sock\ncolor: auto\nport_range: abc\n");
    assert_eq!(
        load_err(None, dir.path(), &[]),
        format!(
            "berth: {}:3: port_range: want LOW-HIGH (e.g. 40000-40999), got \"abc\"",
            path.display()
        )
    );
}

#[test]
fn every_key_rejects_a_bad_value_with_its_line() {
    let cases = [
        ("host", "foo://box"),
        ("default_host_ip", "localhost"),
        ("port_range", "2000-1000"),
        ("chain_prefix", "docker"),
        ("iptables", "xtables"),
        ("localhost_access", "maybe"),
        ("color", "blue"),
    ];
    for (key, value) in cases {
        let dir = TempDir::new();
        let path = dir.config(&format!("# settings\n\n{key}: {value}\n"));
        let text = load_err(None, dir.path(), &[]);
        let head = format!("berth: {}:3: {key}: want ", path.display());
        assert!(text.starts_with(&head), "{text}");
        assert!(text.ends_with(&format!(", got \"{value}\"")), "{text}");
    }
}

#[test]
fn an_unknown_key_names_file_line_and_the_known_keys() {
    let dir = TempDir::new();
    let path = dir.config("host: /s\ncolour: never\n");
    assert_eq!(
        load_err(None, dir.path(), &[]),
        format!(
            "berth: {}:2: unknown key 'colour' (known: host, default_host_ip, port_range, \
             chain_prefix, iptables, localhost_access, color, watch, watch_interval, engine_local, \
             docker_cli, engine_notice)",
            path.display()
        )
    );
}

#[test]
fn a_duplicate_key_names_its_second_line() {
    let dir = TempDir::new();
    let path = dir.config("iptables: nft\nhost: /s\niptables: legacy\n");
    assert_eq!(
        load_err(None, dir.path(), &[]),
        format!("berth: {}:3: duplicate key 'iptables'", path.display())
    );
}

#[test]
fn yaml_that_is_not_a_mapping_or_not_yaml_names_a_line() {
    let dir = TempDir::new();
    let path = dir.config("- host\n");
    let text = load_err(None, dir.path(), &[]);
    let head = format!("berth: {}:1: ", path.display());
    assert!(text.starts_with(&head), "{text}");
    assert!(text.contains("a mapping of settings"), "{text}");

    let path = dir.config("host: /s\ncolor: \"never\n");
    let text = load_err(None, dir.path(), &[]);
    let head = format!("berth: {}:", path.display());
    let line: usize = text[head.len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((2..=3).contains(&line), "{text}");
}

#[test]
fn a_bad_file_stops_even_when_the_environment_overrides_that_key() {
    let dir = TempDir::new();
    let path = dir.config("port_range: 0-10\n");
    assert_eq!(
        load_err(None, dir.path(), &[("BERTH_PORT_RANGE", "40000-40999")]),
        format!(
            "berth: {}:1: port_range: want LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got \"0-10\"",
            path.display()
        )
    );
}

#[test]
fn an_unreadable_file_is_an_error_naming_it() {
    let dir = TempDir::new();
    // a directory where the file should be
    fs::create_dir(dir.path().join("config.yaml")).unwrap();
    let text = load_err(None, dir.path(), &[]);
    let head = format!(
        "berth: {}: cannot read: ",
        dir.path().join("config.yaml").display()
    );
    assert!(text.starts_with(&head), "{text}");
}

#[test]
fn a_bad_variable_is_an_error_naming_it() {
    let dir = TempDir::new();
    assert_eq!(
        load_err(None, dir.path(), &[("BERTH_PORT_RANGE", "x")]),
        "berth: BERTH_PORT_RANGE=\"x\": want LOW-HIGH (e.g. 40000-40999)"
    );
    assert_eq!(
        load_err(None, dir.path(), &[("DOCKER_HOST", "npipe:////./pipe/x")]),
        "berth: DOCKER_HOST=\"npipe:////./pipe/x\": want unix:///PATH, tcp://HOST:PORT, \
         http://HOST:PORT, ssh://[USER@]HOST[:PORT] or an absolute socket path"
    );
    let cases = [
        ("BERTH_DEFAULT_HOST_IP", "10.0.0"),
        ("BERTH_CHAIN_PREFIX", "lower"),
        ("BERTH_IPTABLES", "both"),
        ("BERTH_LOCALHOST_ACCESS", "2"),
        ("BERTH_COLOR", "rainbow"),
    ];
    for (name, value) in cases {
        let text = load_err(None, dir.path(), &[(name, value)]);
        assert!(
            text.starts_with(&format!("berth: {name}={value:?}: want ")),
            "{text}"
        );
    }
}

#[test]
fn a_bad_host_flag_is_an_error_naming_it() {
    let dir = TempDir::new();
    assert_eq!(
        load_err(Some("docker.sock"), dir.path(), &[]),
        "berth: -H \"docker.sock\": want unix:///PATH, tcp://HOST:PORT, http://HOST:PORT, \
         ssh://[USER@]HOST[:PORT] or an absolute socket path"
    );
}

#[test]
fn an_overridden_variable_is_not_checked() {
    // DOCKER_HOST may be set for the docker CLI with an address berth cannot use
    let dir = TempDir::new();
    let config = load(
        Some("unix:///tmp/berth.sock"),
        dir.path(),
        &[("DOCKER_HOST", "npipe:////./pipe/x")],
    );
    assert_eq!(config.host.source, Source::Flag("-H"));
    let config = load(
        None,
        dir.path(),
        &[
            ("BERTH_HOST", "/b.sock"),
            ("DOCKER_HOST", "npipe:////./pipe/x"),
        ],
    );
    assert_eq!(config.host.value, "/b.sock");
    let config = load(
        None,
        dir.path(),
        &[("NO_COLOR", "1"), ("BERTH_COLOR", "rainbow")],
    );
    assert_eq!(config.color.value, Color::Never);
}

#[test]
fn show_prints_every_key_with_its_source() {
    let dir = TempDir::new();
    let path = dir.config("port_range: 40000-40999\nlocalhost_access: no\n");
    let config = load(
        Some("tcp://127.0.0.1:2375"),
        dir.path(),
        &[("BERTH_CHAIN_PREFIX", "MINE")],
    );
    let p = path.display();
    assert_eq!(
        config.show(),
        format!(
            "host:             tcp://127.0.0.1:2375  (from flag -H)\n\
             default_host_ip:  0.0.0.0               (default)\n\
             port_range:       40000-40999           (from file {p})\n\
             chain_prefix:     MINE                  (from env BERTH_CHAIN_PREFIX)\n\
             iptables:         auto                  (default)\n\
             localhost_access: off                   (from file {p})\n\
             color:            auto                  (default)\n\
             watch:            on                    (default)\n\
             watch_interval:   5s                    (default)\n\
             engine_local:     auto                  (default)\n\
             docker_cli:       docker                (default)\n\
             engine_notice:    on                    (default)\n"
        )
    );
    let doc = config.show_json();
    assert_eq!(doc["file"], serde_json::json!(p.to_string()));
    assert_eq!(
        doc["chain_prefix"],
        serde_json::json!({"value": "MINE", "source": "env", "from": "BERTH_CHAIN_PREFIX"})
    );
    assert_eq!(
        doc["localhost_access"],
        serde_json::json!({"value": false, "source": "file", "from": p.to_string()})
    );
    assert_eq!(
        doc["color"],
        serde_json::json!({"value": "auto", "source": "default"})
    );
}

#[test]
fn a_shown_config_read_back_as_a_file_gives_the_same_values() {
    let dir = TempDir::new();
    dir.config(EVERY_KEY);
    let first = load(None, dir.path(), &EVERY_VAR);
    // `key: value  (from ...)` minus the source column is a config file
    let text: String = first
        .show()
        .lines()
        .map(|l| format!("{}\n", l.rsplit_once("  (").unwrap().0.trim_end()))
        .collect();
    let again = TempDir::new();
    let path = again.config(&text);
    let second = load(None, again.path(), &[]);
    assert_eq!(second.host.value, first.host.value);
    assert_eq!(second.default_host_ip.value, first.default_host_ip.value);
    assert_eq!(second.port_range.value, first.port_range.value);
    assert_eq!(second.chain_prefix.value, first.chain_prefix.value);
    assert_eq!(second.iptables.value, first.iptables.value);
    assert_eq!(second.localhost_access.value, first.localhost_access.value);
    assert_eq!(second.color.value, first.color.value);
    assert_eq!(second.color.source, file(&path));
}
