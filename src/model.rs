//! berth's vocabulary, shared by every layer and pure: container IDs, address families,
//! the bindings berth publishes, the labels that record them on a container, and where
//! a container's traffic goes (its endpoint).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// The label holding a container's resolved bindings (JSON, see [`Published`]).
pub const PORTS_LABEL: &str = "io.berth.ports";

/// The label that proves berth itself wrote `io.berth.ports` (see `trust`).
pub const SEAL_LABEL: &str = "io.berth.seal";

/// The label recording which berth process created a container (its pid), so that
/// `run --rm` containers a killed berth never started can be reaped.
pub const RUN_LABEL: &str = "io.berth.run";

/// The prefix of every label berth owns; users may not set these.
pub const LABEL_PREFIX: &str = "io.berth.";

/// A container's ID, shortened to the 12 hex digits docker shows and berth writes into
/// the comment of each rule (`berth:<id12>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id12(String);

impl Id12 {
    /// The first 12 characters of a full or short ID, if they are lowercase hex.
    pub fn new(id: &str) -> Option<Id12> {
        let short = id.get(..12)?;
        short
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            .then(|| Id12(short.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comment that ties a rule to this container.
    pub fn tag(&self) -> String {
        format!("{TAG_PREFIX}{}", self.0)
    }

    /// The container a rule comment names (`berth:<12 hex>`), if it is berth's tag.
    pub fn from_tag(comment: &str) -> Option<Id12> {
        let id = comment.strip_prefix(TAG_PREFIX)?;
        if id.len() != 12 {
            return None;
        }
        Id12::new(id)
    }
}

impl fmt::Display for Id12 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a rule comment starts with.
const TAG_PREFIX: &str = "berth:";

/// An address family: rules for IPv4 go through iptables, for IPv6 through ip6tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The prefix length of one address: `/32` or `/128`.
    pub fn host_prefix(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// `IPv4` or `IPv6`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    /// Every address of this family (`0.0.0.0` or `::`).
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// A published run of ports: host `host_ip:host_port..+count` -> container
/// `container_port..+count`, one protocol. `count` is 1 for a single port; a range
/// costs one entry (and one rule) whatever its length.
///
/// `dual` marks a binding that named no host address: like docker 27+, it is published
/// on `0.0.0.0` and, when the container has an IPv6 address, on `[::]` with the same
/// host port (so allocation holds the port in both families).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Published {
    pub proto: String,
    pub container_port: u16,
    pub host_ip: IpAddr,
    pub host_port: u16,
    #[serde(default = "one")]
    pub count: u16,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dual: bool,
}

fn one() -> u16 {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Published {
    /// The last host port of the run.
    pub fn host_end(&self) -> u16 {
        self.host_port.saturating_add(self.count.saturating_sub(1))
    }

    /// The last container port of the run.
    pub fn container_end(&self) -> u16 {
        self.container_port
            .saturating_add(self.count.saturating_sub(1))
    }

    /// Every (host port, container port) pair of the run.
    pub fn pairs(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        (0..self.count).map(|i| (self.host_port + i, self.container_port + i))
    }

    /// The host addresses this binding is published on, for a container whose
    /// addresses are of the families in `has` (IPv4, IPv6).
    pub fn host_ips(&self, has_v4: bool, has_v6: bool) -> Vec<IpAddr> {
        let mut out = Vec::new();
        match self.host_ip {
            IpAddr::V4(_) if has_v4 => out.push(self.host_ip),
            IpAddr::V6(_) if has_v6 => out.push(self.host_ip),
            _ => {}
        }
        if self.dual && has_v6 && self.host_ip.is_ipv4() {
            out.push(Family::V6.unspecified());
        }
        out
    }

    /// Whether the run is sane: a count of at least 1 and no port past 65535.
    pub fn is_valid(&self) -> bool {
        self.count >= 1
            && u32::from(self.host_port) + u32::from(self.count) - 1 <= 65535
            && u32::from(self.container_port) + u32::from(self.count) - 1 <= 65535
            && matches!(self.proto.as_str(), "tcp" | "udp" | "sctp")
    }
}

/// The label text for a container's bindings.
pub fn to_label(published: &[Published]) -> String {
    serde_json::to_string(published).expect("bindings serialise")
}

/// A container's bindings from its label; `None` when unreadable or not sane.
pub fn from_label(text: &str) -> Option<Vec<Published>> {
    let published: Vec<Published> = serde_json::from_str(text).ok()?;
    published
        .iter()
        .all(Published::is_valid)
        .then_some(published)
}

/// Whether a container has an IPv4 and an IPv6 address on some network.
pub fn families_of(c: &bollard::models::ContainerInspectResponse) -> (bool, bool) {
    let nets = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref());
    families_in(nets.into_iter().flat_map(|n| n.values()))
}

/// The same for a listed container.
pub fn families_of_listed(c: &bollard::models::ContainerSummary) -> (bool, bool) {
    let nets = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref());
    families_in(nets.into_iter().flat_map(|n| n.values()))
}

fn families_in<'a>(
    endpoints: impl Iterator<Item = &'a bollard::models::EndpointSettings>,
) -> (bool, bool) {
    let (mut v4, mut v6) = (false, false);
    for e in endpoints {
        v4 |= e.ip_address.as_deref().is_some_and(|a| !a.is_empty());
        v6 |= e
            .global_ipv6_address
            .as_deref()
            .is_some_and(|a| !a.is_empty());
    }
    (v4, v6)
}

/// One address of a container and the bridge it is reached through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub ip: IpAddr,
    /// The bridge interface (`docker0`, `br-<network id>`).
    pub bridge: String,
}

/// Where a running container's published traffic goes: at most one address per family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: Id12,
    pub v4: Option<Address>,
    pub v6: Option<Address>,
}

impl Endpoint {
    pub fn address(&self, family: Family) -> Option<&Address> {
        match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tags() {
        let id = Id12::new("0123456789abcdef0123").unwrap();
        assert_eq!(id.as_str(), "0123456789ab");
        assert_eq!(id.tag(), "berth:0123456789ab");
        assert_eq!(Id12::from_tag("berth:0123456789ab"), Some(id));
        assert_eq!(Id12::from_tag("berth:0123456789abc"), None);
        assert_eq!(Id12::from_tag("berth:0123456789AB"), None);
        assert_eq!(Id12::from_tag("other:0123456789ab"), None);
        assert_eq!(Id12::new("short"), None);
    }

    fn p(ip: &str, dual: bool) -> Published {
        Published {
            proto: "tcp".into(),
            container_port: 80,
            host_ip: ip.parse().unwrap(),
            host_port: 8080,
            count: 1,
            dual,
        }
    }

    #[test]
    fn dual_bindings_follow_the_containers_families() {
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let any6: IpAddr = "::".parse().unwrap();
        assert_eq!(p("0.0.0.0", true).host_ips(true, false), vec![any]);
        assert_eq!(p("0.0.0.0", true).host_ips(true, true), vec![any, any6]);
        assert_eq!(p("0.0.0.0", false).host_ips(true, true), vec![any]);
        assert_eq!(p("::1", false).host_ips(true, false), Vec::<IpAddr>::new());
        assert_eq!(p("fd00::1", false).host_ips(true, true).len(), 1);
    }

    #[test]
    fn labels_round_trip_and_old_labels_read() {
        let v = vec![p("127.0.0.1", false), p("0.0.0.0", true)];
        assert_eq!(from_label(&to_label(&v)).unwrap(), v);
        // berth 0.1 wrote no `dual` and no `count` for single ports
        let old = r#"[{"proto":"tcp","container_port":80,"host_ip":"0.0.0.0","host_port":8080}]"#;
        assert_eq!(from_label(old).unwrap(), vec![p("0.0.0.0", false)]);
        // a run past 65535 or an unknown protocol is not a label berth wrote
        let bad = r#"[{"proto":"tcp","container_port":80,"host_ip":"0.0.0.0","host_port":65535,"count":2}]"#;
        assert_eq!(from_label(bad), None);
        let bad = r#"[{"proto":"icmp","container_port":80,"host_ip":"0.0.0.0","host_port":1}]"#;
        assert_eq!(from_label(bad), None);
    }
}
