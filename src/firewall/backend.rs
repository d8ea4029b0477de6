//! The only code that runs iptables-save and iptables-restore (and their ip6tables
//! twins). The reconciler talks to a [`Backend`]: [`Iptables`] on a real host, or the
//! [`Faulty`] double in tests, which records every transaction and fails the Nth one
//! after the earlier ones landed.
//!
//! On an nf_tables host the tables are read from the kernel itself where it can be
//! done exactly (`nat::netlink::tables_save`: the text iptables-nft-save would print,
//! checked byte for byte against it), with no process; else by iptables-save.
//!
//! Each write is ONE transaction per family: every rule of it or none. A write that
//! only deletes what the last netlink read found (a container's removal) goes to
//! nf_tables itself by rule handle, bound to that read's generation (`batch`); any
//! other write, and one the kernel refuses because the tables changed since, is an
//! `iptables-restore --noflush --wait`. berth always uses the variant the host uses
//! (nf_tables or legacy), so its rules sit beside Docker's and never in tables nobody
//! looks at.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::firewall::batch::{self, Snapshot};
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
#[derive(Debug)]
pub struct Iptables {
    variant: Variant,
    /// Where the rules of the last netlink read of each family are (IPv4, IPv6).
    reads: Mutex<[Option<Snapshot>; 2]>,
}

impl Clone for Iptables {
    /// The same variant; the clone reads the tables afresh.
    fn clone(&self) -> Self {
        Iptables::new(self.variant)
    }
}

fn slot(family: Family) -> usize {
    match family {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

impl Iptables {
    pub fn new(variant: Variant) -> Iptables {
        Iptables {
            variant,
            reads: Mutex::new([None, None]),
        }
    }

    fn keep(&self, family: Family, read: Option<Snapshot>) {
        if let Ok(mut reads) = self.reads.lock() {
            reads[slot(family)] = read;
        }
    }

    /// `text` written by handle in one nf_tables transaction, when it only deletes
    /// what the last read of `family` found; `None` when iptables-restore is to write
    /// it (nothing was written).
    fn write_by_handle(&self, family: Family, text: &str) -> Option<FwResult<()>> {
        let mut reads = self.reads.lock().ok()?;
        let mut read = reads[slot(family)].take()?;
        match read.write(text)? {
            Ok(()) => {
                reads[slot(family)] = Some(read);
                Some(Ok(()))
            }
            Err(batch::Failed::Refused(_)) => None,
            Err(batch::Failed::Unknown(e)) => Some(Err(FirewallError(format!(
                "removing rules in nf_tables: {e}"
            )))),
        }
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

/// How one family's tables are read: from nf_tables itself (`nat::netlink`), or by an
/// iptables-save child whose header is then remembered for the next read.
enum Read {
    Netlink(String),
    /// (the run folder, the program's identity before it ran), where there is one
    Child(Option<(std::path::PathBuf, String, Family)>),
}

impl Read {
    fn remember(&self, text: &str) {
        let Read::Child(Some((run_dir, id, family))) = self else {
            return;
        };
        if let Some(header) = text.lines().find(|l| l.starts_with("# Generated by ")) {
            crate::nat::netlink::Remembered::new(run_dir, *family).keep(run_dir, id, header);
        }
    }
}

impl Iptables {
    /// The tables of `family` over netlink where the host uses iptables-nft of a
    /// release seen before (its header remembered); else what a child's read needs to
    /// remember. `BERTH_TABLES_SOURCE=iptables-save` always runs the child. Where the
    /// rules of a netlink read are is kept for the writes after it (none for a child's).
    fn read(&self, family: Family) -> Read {
        let read = self.read_from(family);
        if let Read::Child(_) = read {
            self.keep(family, None);
        }
        read
    }

    fn read_from(&self, family: Family) -> Read {
        use crate::nat::netlink;
        if self.variant != Variant::Nft
            || std::env::var(netlink::SOURCE_ENV).is_ok_and(|v| v == "iptables-save")
        {
            return Read::Child(None);
        }
        let run_dir = crate::settings::run_dir_from(std::env::var("BERTH_RUN_DIR").ok());
        let Some(id) =
            crate::nat::variant::find_program(self.variant.command_for(family, Tool::Save))
                .and_then(|p| netlink::identity(&p))
        else {
            return Read::Child(None);
        };
        let read = netlink::Remembered::new(&run_dir, family)
            .header(&id)
            .filter(|h| netlink::knows_release(h))
            .and_then(|header| netlink::tables_read(family, &header));
        match read {
            Some((text, handles)) => {
                self.keep(family, Some(handles));
                Read::Netlink(text)
            }
            None => Read::Child(Some((run_dir, id, family))),
        }
    }
}

impl Backend for Iptables {
    fn variant(&self) -> Variant {
        self.variant
    }

    fn save(&self, family: Family) -> FwResult<String> {
        let read = self.read(family);
        if let Read::Netlink(text) = read {
            return Ok(text);
        }
        let out = self.save_command(family).output();
        self.finish_save(family, out)
            .inspect(|text| read.remember(text))
    }

    fn save_both(&self) -> [FwResult<String>; 2] {
        let [v4, v6] = [self.read(Family::V4), self.read(Family::V6)];
        // two children at once: a reconcile waits for the slower, not for the sum
        let v6_child = match &v6 {
            Read::Netlink(_) => None,
            Read::Child(_) => Some(self.save_command(Family::V6).spawn()),
        };
        let v4 = match v4 {
            Read::Netlink(text) => Ok(text),
            read => {
                let out = self.save_command(Family::V4).output();
                self.finish_save(Family::V4, out)
                    .inspect(|t| read.remember(t))
            }
        };
        let v6 = match (v6, v6_child) {
            (Read::Netlink(text), _) => Ok(text),
            (read, Some(Ok(child))) => self
                .finish_save(Family::V6, child.wait_with_output())
                .inspect(|t| read.remember(t)),
            (_, Some(Err(e))) => self.finish_save(Family::V6, Err(e)),
            (_, None) => unreachable!("a child for every read that is not netlink's"),
        };
        [v4, v6]
    }

    fn restore(&self, family: Family, text: &str) -> FwResult<()> {
        if text.is_empty() {
            return Ok(());
        }
        if let Some(done) = self.write_by_handle(family, text) {
            return done;
        }
        // the child changes the tables: the last read no longer says where rules are
        self.keep(family, None);
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
