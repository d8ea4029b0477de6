//! Network namespaces for the `nat ls` tests: each test's tables live in a namespace
//! of its own (`berth-nl-<pid>-<n>`), never in the host's, and are deleted when the
//! guard drops, on failure too. Namespaces left by a killed earlier run (their pid is
//! gone) are deleted the first time a guard is made.
//!
//! iptables-legacy serialises on a lock file (/run/xtables.lock), which is the same
//! for every namespace; 1.8.11 gives up at once when another holds it (1.8.9 waits).
//! Each namespace's programs get a lock file of their own (`XTABLES_LOCKFILE`), so that
//! neither the host's users of iptables nor tests running side by side get in the way.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

const PREFIX: &str = "berth-nl-";

static NEXT: AtomicUsize = AtomicUsize::new(0);
static TIDY: Once = Once::new();

/// A named network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
    /// `XTABLES_LOCKFILE` for what runs in it.
    lock: std::path::PathBuf,
}

impl Netns {
    pub fn new() -> Netns {
        TIDY.call_once(tidy_leftovers);
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add (is iproute2 installed?)");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lock = std::env::temp_dir().join(format!("{name}.xtables.lock"));
        Netns { name, lock }
    }

    /// `program` to run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd.env("XTABLES_LOCKFILE", &self.lock);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Run a shell script inside the namespace.
    pub fn sh(&self, script: &str) -> Output {
        self.command("sh")
            .args(["-c", script])
            .output()
            .expect("run sh in the namespace")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(&self.lock);
    }
}

/// Delete `berth-nl-<pid>-*` namespaces whose process is gone.
pub fn tidy_leftovers() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "delete", name]).status();
            let _ = std::fs::remove_file(std::env::temp_dir().join(format!("{name}.xtables.lock")));
        }
    }
}

/// Whether the iptables binaries of a variant (`nft` or `legacy`) are installed.
pub fn has_variant(variant: &str) -> bool {
    has_program(None, &format!("iptables-{variant}-restore"))
}

const SYSTEM_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"];

/// Whether `name` is in `dir`, or (no dir) in the system's folders.
pub fn has_program(dir: Option<&Path>, name: &str) -> bool {
    match dir {
        Some(d) => d.join(name).exists(),
        None => SYSTEM_DIRS.iter().any(|d| Path::new(d).join(name).exists()),
    }
}

/// scripts/test sets BERTH_E2E=1: there every test runs, none is skipped.
pub fn e2e() -> bool {
    std::env::var_os("BERTH_E2E").is_some_and(|v| v == "1")
}

/// What a test needs is missing: under scripts/test (BERTH_E2E=1) a failure, else a
/// skip that says why.
#[track_caller]
pub fn missing(why: &str) {
    if e2e() {
        panic!("{why}: BERTH_E2E=1 (scripts/test) runs every test, none may be skipped");
    }
    eprintln!("skipping: {why}");
}

/// The environment variable naming a folder of another iptables release's wrappers
/// (iptables, ip6tables, their -save/-restore and -nft/-legacy forms): scripts/test
/// sets it to what `iptables_1811_path` (scripts/lib/versions.sh) prints.
pub const ALT_ENV: &str = "BERTH_ALT_IPTABLES";

/// The other release's folder, or `None` (then `missing` has been told why).
#[track_caller]
pub fn alt_dir() -> Option<std::path::PathBuf> {
    match std::env::var_os(ALT_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            assert!(dir.is_dir(), "{ALT_ENV}={} is not a folder", dir.display());
            Some(dir)
        }
        None => {
            missing(&format!(
                "{ALT_ENV} is not set (a folder of iptables 1.8.11 wrappers: \
                 `source scripts/lib/versions.sh; iptables_1811_path`)"
            ));
            None
        }
    }
}

/// One iptables to run: a family (iptables or ip6tables), a variant (nft or legacy),
/// and the system's release or the one whose wrappers are in `dir` (first on PATH).
#[derive(Debug, Clone)]
pub struct Iptables {
    /// `iptables` or `ip6tables`
    pub base: &'static str,
    /// `nft` or `legacy`
    pub variant: &'static str,
    pub dir: Option<std::path::PathBuf>,
}

impl Iptables {
    pub fn new(ipv6: bool, variant: &'static str, dir: Option<std::path::PathBuf>) -> Iptables {
        Iptables {
            base: if ipv6 { "ip6tables" } else { "iptables" },
            variant,
            dir,
        }
    }

    pub fn ipv6(&self) -> bool {
        self.base == "ip6tables"
    }

    /// `ip6tables-nft`, `iptables-legacy-save`, ...: `suffix` is "", "-save" or "-restore".
    pub fn tool(&self, suffix: &str) -> String {
        format!("{}-{}{suffix}", self.base, self.variant)
    }

    /// Whether its programs are there.
    pub fn available(&self) -> bool {
        ["", "-save", "-restore"]
            .iter()
            .all(|s| has_program(self.dir.as_deref(), &self.tool(s)))
    }

    /// `ip6tables-nft (1.8.11 from DIR)`, for messages and file names.
    pub fn label(&self) -> String {
        match &self.dir {
            None => self.tool(""),
            Some(d) => format!("{} from {}", self.tool(""), d.display()),
        }
    }

    /// A short tag for file names: `ip6tables-nft` or `ip6tables-nft-alt`.
    pub fn tag(&self) -> String {
        match &self.dir {
            None => self.tool(""),
            Some(_) => format!("{}-alt", self.tool("")),
        }
    }

    /// The PATH to run it with: its folder first.
    pub fn path(&self) -> String {
        let path = std::env::var("PATH").unwrap_or_default();
        match &self.dir {
            None => path,
            Some(d) => format!("{}:{path}", d.display()),
        }
    }

    /// `v1.8.9` from `TOOL -V` (run with `path()`).
    pub fn version(&self) -> String {
        let out = Command::new("sh")
            .args(["-c", &format!("{} -V", self.tool(""))])
            .env("PATH", self.path())
            .output()
            .expect("run sh");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace()
            .find(|w| w.starts_with('v'))
            .unwrap_or_else(|| panic!("{} -V says {text:?}", self.label()))
            .to_string()
    }

    /// The program to run for `suffix` with `Command` (the folder's, or by name).
    pub fn program(&self, suffix: &str) -> std::path::PathBuf {
        match &self.dir {
            Some(d) => d.join(self.tool(suffix)),
            None => self.tool(suffix).into(),
        }
    }
}

/// A file under the temp folder, removed on drop.
pub struct TempFile {
    pub path: std::path::PathBuf,
}

impl TempFile {
    pub fn new(tag: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "{PREFIX}{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile { path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
