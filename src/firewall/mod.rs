//! Rules as data, and the one place that reads and writes them.
//!
//! `desired` (bindings + endpoint + layout -> rules), `actual` (iptables-save text ->
//! berth's chains, jumps and rules by container) and `diff` (-> one restore text per
//! family) are pure; `backend` is the only code that runs iptables (and, for removals
//! on nf_tables, writes `batch`'s transaction instead); `host` holds the kernel
//! switches and sockets around the rules. The reconciler (`crate::reconcile`)
//! puts them together.

pub mod actual;
pub mod backend;
pub mod batch;
pub mod desired;
pub mod diff;
pub mod host;
pub mod nftables;

use crate::config::IptablesChoice;
use crate::error::Result;
use crate::nat::variant::Variant;

/// The host's iptables in the configured variant, or the one the host uses.
pub fn iptables(choice: IptablesChoice) -> Result<backend::Iptables> {
    Ok(backend::Iptables::new(variant(choice)?))
}

/// The backend for a command that may need no rules at all (an engine elsewhere, a
/// container without ports): without iptables on this host it fails only when used;
/// a command that will write rules checks [`variant`] first.
pub fn iptables_if_any(choice: IptablesChoice) -> backend::Iptables {
    backend::Iptables::new(variant(choice).unwrap_or(Variant::Nft))
}

/// The configured variant, or the one the host uses.
pub fn variant(choice: IptablesChoice) -> Result<Variant> {
    Ok(match choice {
        IptablesChoice::Auto => Variant::detect()?,
        IptablesChoice::Nft => Variant::Nft,
        IptablesChoice::Legacy => Variant::Legacy,
    })
}
