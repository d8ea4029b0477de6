//! Which iptables the host uses, nf_tables or legacy, and that variant's binaries.
//!
//! The two variants keep separate tables in the kernel: reading one while Docker writes
//! the other shows the wrong rules, and writing both breaks the host (DESIGN.md: never
//! mix them). So berth uses what `iptables` on the host is, found from the binary it
//! links to (no process needed), else from `iptables --version`. `BERTH_IPTABLES=nft`
//! or `=legacy` overrides both.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::model::Family;

/// The environment variable that picks the variant by hand.
pub const ENV: &str = "BERTH_IPTABLES";

/// An iptables variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// iptables-nft: the rules live in nf_tables.
    Nft,
    /// iptables-legacy: the x_tables kernel interface.
    Legacy,
}

/// One of the three programs of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Iptables = 0,
    Save = 1,
    Restore = 2,
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Nft => "nf_tables",
            Variant::Legacy => "legacy",
        })
    }
}

impl Variant {
    /// `BERTH_IPTABLES`'s value -> a variant.
    pub fn from_override(value: &str) -> std::result::Result<Variant, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "nft" | "nf_tables" | "nftables" => Ok(Variant::Nft),
            "legacy" => Ok(Variant::Legacy),
            other => Err(format!(
                "{ENV}={other:?} is not an iptables variant: use nft or legacy"
            )),
        }
    }

    /// `iptables --version` output -> a variant: `(nf_tables)` or `(legacy)` since
    /// 1.8; older releases had only legacy and say neither.
    pub fn from_version_output(text: &str) -> Option<Variant> {
        if text.contains("(nf_tables)") {
            Some(Variant::Nft)
        } else if text.contains("(legacy)") || text.trim_start().starts_with("iptables v") {
            Some(Variant::Legacy)
        } else {
            None
        }
    }

    /// The variant a binary's file name tells (`xtables-nft-multi`, `iptables-legacy`).
    pub fn from_binary_name(path: &Path) -> Option<Variant> {
        let name = path.file_name()?.to_str()?;
        if name.contains("nft") {
            Some(Variant::Nft)
        } else if name.contains("legacy") {
            Some(Variant::Legacy)
        } else {
            None
        }
    }

    /// Names to look for, most specific first: (iptables, save, restore).
    fn names(self) -> [[&'static str; 2]; 3] {
        self.names_for(Family::V4)
    }

    /// Names to look for in one family (ip6tables for IPv6), most specific first.
    fn names_for(self, family: Family) -> [[&'static str; 2]; 3] {
        match (self, family) {
            (Variant::Nft, Family::V4) => [
                ["iptables-nft", "iptables"],
                ["iptables-nft-save", "iptables-save"],
                ["iptables-nft-restore", "iptables-restore"],
            ],
            (Variant::Legacy, Family::V4) => [
                ["iptables-legacy", "iptables"],
                ["iptables-legacy-save", "iptables-save"],
                ["iptables-legacy-restore", "iptables-restore"],
            ],
            (Variant::Nft, Family::V6) => [
                ["ip6tables-nft", "ip6tables"],
                ["ip6tables-nft-save", "ip6tables-save"],
                ["ip6tables-nft-restore", "ip6tables-restore"],
            ],
            (Variant::Legacy, Family::V6) => [
                ["ip6tables-legacy", "ip6tables"],
                ["ip6tables-legacy-save", "ip6tables-save"],
                ["ip6tables-legacy-restore", "ip6tables-restore"],
            ],
        }
    }

    /// The name to run for one tool of this variant in one family.
    pub fn command_for(self, family: Family, tool: Tool) -> &'static str {
        let names = self.names_for(family)[tool as usize];
        names
            .into_iter()
            .find(|n| find_program(n).is_some())
            .unwrap_or(names[0])
    }

    /// The host's variant (see [`detect`]).
    pub fn detect() -> Result<Variant> {
        detect()
    }

    /// The name to run for `iptables` of this variant (`iptables-nft`, or plain
    /// `iptables` where the host has only that).
    pub fn iptables_cmd(self) -> &'static str {
        self.command(Tool::Iptables)
    }

    /// The name to run for `iptables-save` of this variant.
    pub fn save_cmd(self) -> &'static str {
        self.command(Tool::Save)
    }

    /// The name to run for `iptables-restore` of this variant.
    pub fn restore_cmd(self) -> &'static str {
        self.command(Tool::Restore)
    }

    fn command(self, tool: Tool) -> &'static str {
        self.command_for(Family::V4, tool)
    }

    /// One of this variant's binaries: `iptables-nft-save`, or plain `iptables-save`
    /// where the host has only that.
    pub fn program(self, tool: Tool) -> Result<PathBuf> {
        let names = self.names()[tool as usize];
        names
            .iter()
            .find_map(|n| find_program(n))
            .ok_or_else(|| not_found(names[0], self))
    }
}

fn not_found(name: &str, variant: Variant) -> Error {
    Error::failed(format!(
        "{name} not found: berth needs iptables ({variant}) to read and write NAT rules \
         (Debian and Ubuntu: apt-get install iptables)"
    ))
}

/// nf_tables for legacy and the other way round.
pub fn other(v: Variant) -> Variant {
    match v {
        Variant::Nft => Variant::Legacy,
        Variant::Legacy => Variant::Nft,
    }
}

/// The variant the host uses: what `iptables` is (the config's `iptables` key, from
/// the file or `BERTH_IPTABLES`, overrides this; see `config`).
pub fn detect() -> Result<Variant> {
    let Some(iptables) = find_program("iptables") else {
        // no plain `iptables`: whichever variant is installed
        return [Variant::Nft, Variant::Legacy]
            .into_iter()
            .find(|v| find_program(v.names()[1][0]).is_some())
            .ok_or_else(|| not_found("iptables", Variant::Nft));
    };
    // Debian's alternatives: iptables -> /etc/alternatives/iptables -> iptables-nft
    // -> xtables-nft-multi; any link on the way may tell
    let mut path = iptables.clone();
    for _ in 0..8 {
        if let Some(v) = Variant::from_binary_name(&path) {
            return Ok(v);
        }
        match std::fs::read_link(&path) {
            Ok(next) => {
                path = match path.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                }
            }
            Err(_) => break,
        }
    }
    let output = Command::new(&iptables)
        .arg("--version")
        .output()
        .map_err(|e| Error::failed(format!("{}: {e}", iptables.display())))?;
    let text = String::from_utf8_lossy(&output.stdout);
    Variant::from_version_output(&text).ok_or_else(|| {
        Error::failed(format!(
            "cannot tell which iptables this host uses from `{} --version` ({}): \
             set {ENV}=nft or {ENV}=legacy",
            iptables.display(),
            text.trim()
        ))
    })
}

/// A program on `PATH`, or in the sbin folders that a user's `PATH` often lacks.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_output() {
        assert_eq!(
            Variant::from_version_output("iptables v1.8.9 (nf_tables)\n"),
            Some(Variant::Nft)
        );
        assert_eq!(
            Variant::from_version_output("iptables v1.8.7 (legacy)\n"),
            Some(Variant::Legacy)
        );
        assert_eq!(
            Variant::from_version_output("iptables v1.6.1\n"),
            Some(Variant::Legacy)
        );
        assert_eq!(Variant::from_version_output("bash: no"), None);
    }

    #[test]
    fn binary_names() {
        assert_eq!(
            Variant::from_binary_name(Path::new("/usr/sbin/xtables-nft-multi")),
            Some(Variant::Nft)
        );
        assert_eq!(
            Variant::from_binary_name(Path::new("/usr/sbin/iptables-legacy")),
            Some(Variant::Legacy)
        );
        assert_eq!(
            Variant::from_binary_name(Path::new("/usr/sbin/iptables")),
            None
        );
    }

    #[test]
    fn overrides() {
        assert_eq!(Variant::from_override("nft"), Ok(Variant::Nft));
        assert_eq!(Variant::from_override("Legacy"), Ok(Variant::Legacy));
        assert!(Variant::from_override("ebtables").is_err());
    }
}
