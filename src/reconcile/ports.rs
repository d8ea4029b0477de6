//! What allocation needs from the host: the ports DNAT rules, berth labels and sockets
//! hold (read under the allocation lock, never the firewall lock), and the pool free
//! ports come from.

use crate::alloc::{self, Pool, Taken};
use crate::engine::Engine;
use crate::error::Result;
use crate::firewall::host;
use crate::model::{PORTS_LABEL, from_label};
use crate::reconcile::Reconciler;
use crate::settings::Settings;

/// Every port held on this host: DNAT rules of both families, labels of all
/// containers, bound sockets. The tables are read through the reconciler, which keeps
/// them for its write while their nf_tables generation does not move.
pub async fn taken(engine: &Engine, rec: &Reconciler<'_>) -> Result<Taken> {
    let mut taken = Taken::default();
    for save in rec.save_both().into_iter().flatten() {
        taken.add_dnat_rules(&save);
    }
    for c in engine
        .list_filtered(true, &[("label", PORTS_LABEL)])
        .await?
    {
        if let Some(p) = c
            .labels
            .as_ref()
            .and_then(|l| l.get(PORTS_LABEL))
            .and_then(|t| from_label(t))
        {
            taken.add_published(&p);
        }
    }
    taken.add_sockets(&host::sockets());
    Ok(taken)
}

/// Where free ports come from on this host.
pub fn pool(settings: &Settings) -> Pool {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    Pool {
        default_ip: settings.default_host_ip,
        range: alloc::ephemeral_range(
            settings.port_range,
            read("/proc/sys/net/ipv4/ip_local_port_range").as_deref(),
        ),
        reserved: read("/proc/sys/net/ipv4/ip_local_reserved_ports")
            .map(|t| alloc::reserved_ports(&t))
            .unwrap_or_default(),
    }
}
