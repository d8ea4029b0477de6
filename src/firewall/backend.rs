//! The only code that runs iptables-save and iptables-restore (and their ip6tables
//! twins). The reconciler talks to a [`Backend`]: [`Iptables`] on a real host, or the
//! [`Faulty`] double in tests, which records every transaction and fails the Nth one
//! after the earlier ones landed.
//!
//! Each write is ONE `iptables-restore --noflush --wait` transaction per family: every
//! rule of it or none. berth always uses the variant the host uses (nf_tables or
//! legacy), so its rules sit beside Docker's and never in tables nobody looks at.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::process::{Command, Stdio};

use crate::model::Family;
use crate::nat::variant::{Tool, Variant};

/// A firewall operation that failed, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FirewallError(pub String);

pub type FwResult<T> = std::result::Result<T, FirewallError>;

/// Reads and writes one host's tables.
pub trait Backend {
    fn variant(&self) -> Variant;

    /// Every table of `family`, as iptables-save prints it (no counters).
    fn save(&self, family: Family) -> FwResult<String>;

    /// Both families, read at once where the backend can.
    fn save_both(&self) -> [FwResult<String>; 2] {
        [self.save(Family::V4), self.save(Family::V6)]
    }

    /// Feed `text` to iptables-restore `--noflush --wait` for `family`: one transaction.
    fn restore(&self, family: Family, text: &str) -> FwResult<()>;

    /// A counter that changes whenever the tables change (nf_tables' generation), where
    /// there is one: equal values mean unchanged tables.
    fn generation(&self) -> Option<u32> {
        None
    }
}

/// The host's iptables, in one variant.
#[derive(Debug, Clone)]
pub struct Iptables {
    variant: Variant,
}

impl Iptables {
    pub fn new(variant: Variant) -> Iptables {
        Iptables { variant }
    }

    fn save_command(&self, family: Family) -> Command {
        let mut cmd = Command::new(self.variant.command_for(family, Tool::Save));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn finish_save(
        &self,
        family: Family,
        out: std::io::Result<std::process::Output>,
    ) -> FwResult<String> {
        let name = self.variant.command_for(family, Tool::Save);
        let out = out.map_err(|e| FirewallError(format!("cannot run {name}: {e}")))?;
        if !out.status.success() {
            return Err(FirewallError(format!(
                "{name} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        String::from_utf8(out.stdout)
            .map_err(|_| FirewallError(format!("{name} printed text that is not UTF-8")))
    }
}

impl Backend for Iptables {
    fn variant(&self) -> Variant {
        self.variant
    }

    fn save(&self, family: Family) -> FwResult<String> {
        let out = self.save_command(family).output();
        self.finish_save(family, out)
    }

    fn save_both(&self) -> [FwResult<String>; 2] {
        // two children at once: a reconcile waits for the slower, not for the sum
        let v6 = self.save_command(Family::V6).spawn();
        let v4 = self.save(Family::V4);
        let v6 = match v6 {
            Ok(child) => self.finish_save(Family::V6, child.wait_with_output()),
            Err(e) => self.finish_save(Family::V6, Err(e)),
        };
        [v4, v6]
    }

    fn restore(&self, family: Family, text: &str) -> FwResult<()> {
        if text.is_empty() {
            return Ok(());
        }
        let name = self.variant.command_for(family, Tool::Restore);
        let mut child = Command::new(name)
            .args(["--noflush", "--wait"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| FirewallError(format!("cannot run {name}: {e}")))?;
        let written = child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(text.as_bytes());
        let out = child
            .wait_with_output()
            .map_err(|e| FirewallError(format!("{name}: {e}")))?;
        if !out.status.success() {
            return Err(FirewallError(format!(
                "{name} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        written.map_err(|e| FirewallError(format!("{name}: {e}")))
    }

    fn generation(&self) -> Option<u32> {
        match self.variant {
            Variant::Nft => crate::firewall::nftables::generation(),
            Variant::Legacy => None,
        }
    }
}

/// Which restores a [`Faulty`] backend fails: (1-based number, family, text) -> fail.
pub type FailWhen = Box<dyn Fn(usize, Family, &str) -> bool>;

/// A test double: passes everything to `inner` (a real backend, in tests that run in
/// a namespace or on a test host) and fails the restores `fail` picks without passing
/// them on, after the earlier ones landed. Every restore asked for is recorded.
pub struct Faulty<B> {
    pub inner: B,
    fail: FailWhen,
    count: Cell<usize>,
    pub calls: RefCell<Vec<(Family, String)>>,
}

impl<B: Backend> Faulty<B> {
    pub fn new(inner: B, fail: FailWhen) -> Self {
        Faulty {
            inner,
            fail,
            count: Cell::new(0),
            calls: RefCell::new(Vec::new()),
        }
    }

    /// Fail only the `n`-th restore.
    pub fn nth(inner: B, n: usize) -> Self {
        Faulty::new(inner, Box::new(move |i, _, _| i == n))
    }

    /// How many restores were asked for.
    pub fn restores(&self) -> usize {
        self.count.get()
    }
}

impl<B: Backend> Backend for Faulty<B> {
    fn variant(&self) -> Variant {
        self.inner.variant()
    }

    fn save(&self, family: Family) -> FwResult<String> {
        self.inner.save(family)
    }

    fn generation(&self) -> Option<u32> {
        self.inner.generation()
    }

    fn restore(&self, family: Family, text: &str) -> FwResult<()> {
        if text.is_empty() {
            return Ok(());
        }
        let n = self.count.get() + 1;
        self.count.set(n);
        self.calls.borrow_mut().push((family, text.to_string()));
        if (self.fail)(n, family, text) {
            return Err(FirewallError(format!(
                "injected failure of transaction {n}"
            )));
        }
        self.inner.restore(family, text)
    }
}
