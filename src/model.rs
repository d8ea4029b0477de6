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
        // an IPv4 address needs the container to have one; a dual binding still gets [::]
        assert_eq!(
            p("0.0.0.0", false).host_ips(false, true),
            Vec::<IpAddr>::new()
        );
        assert_eq!(p("0.0.0.0", true).host_ips(false, true), vec![any6]);
        assert_eq!(
            p("fd00::1", false).host_ips(true, false),
            Vec::<IpAddr>::new()
        );
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

    #[test]
    fn ids_are_twelve_lowercase_hex_digits_and_show_as_such() {
        assert_eq!(
            Id12::new("0123456789af").unwrap().to_string(),
            "0123456789af"
        );
        assert_eq!(Id12::new("0123456789ag"), None);
        assert_eq!(Id12::new("0123456789A0"), None);
        assert_eq!(Id12::new("0123456789a"), None);
        assert_eq!(Id12::new("berth:012345"), None);
    }

    #[test]
    fn families_name_their_addresses() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(Family::of(&v4), Family::V4);
        assert_eq!(Family::of(&v6), Family::V6);
        assert_eq!(
            (Family::V4.host_prefix(), Family::V6.host_prefix()),
            (32, 128)
        );
        assert_eq!((Family::V4.name(), Family::V6.name()), ("IPv4", "IPv6"));
        assert_eq!(Family::V4.unspecified().to_string(), "0.0.0.0");
        assert_eq!(Family::V6.unspecified().to_string(), "::");
    }

    #[test]
    fn a_run_ends_where_its_count_says_and_pairs_its_ports() {
        let mut r = p("0.0.0.0", false);
        assert_eq!((r.host_end(), r.container_end()), (8080, 80));
        assert_eq!(r.pairs().collect::<Vec<_>>(), vec![(8080, 80)]);
        r.count = 3;
        assert_eq!((r.host_end(), r.container_end()), (8082, 82));
        assert_eq!(
            r.pairs().collect::<Vec<_>>(),
            vec![(8080, 80), (8081, 81), (8082, 82)]
        );
        // a count of 0 (never valid) still ends at its start
        r.count = 0;
        assert_eq!((r.host_end(), r.container_end()), (8080, 80));
        assert_eq!(r.pairs().count(), 0);
    }

    #[test]
    fn only_sane_runs_are_valid() {
        let good = p("0.0.0.0", false);
        assert!(good.is_valid());
        for proto in ["udp", "sctp"] {
            assert!(
                Published {
                    proto: proto.into(),
                    ..good.clone()
                }
                .is_valid()
            );
        }
        assert!(
            !Published {
                count: 0,
                ..good.clone()
            }
            .is_valid()
        );
        // the last port of a run may be 65535, never past it, on either side
        let edge = Published {
            host_port: 65534,
            container_port: 65534,
            count: 2,
            ..good.clone()
        };
        assert!(edge.is_valid());
        assert!(
            !Published {
                container_port: 65535,
                ..edge.clone()
            }
            .is_valid()
        );
        assert!(
            !Published {
                host_port: 65535,
                ..edge.clone()
            }
            .is_valid()
        );
        // a single port needs no count in the label, and dual only when set
        let label = to_label(&[good.clone(), p("0.0.0.0", true)]);
        assert_eq!(label.matches("dual").count(), 1, "{label}");
    }

    #[test]
    fn a_containers_families_are_the_addresses_it_has() {
        use bollard::models::{ContainerInspectResponse, ContainerSummary, EndpointSettings};
        use std::collections::HashMap;
        let ep = |v4: &str, v6: &str| EndpointSettings {
            ip_address: Some(v4.into()),
            global_ipv6_address: Some(v6.into()),
            ..Default::default()
        };
        let inspect = |eps: Vec<EndpointSettings>| ContainerInspectResponse {
            network_settings: Some(bollard::models::NetworkSettings {
                networks: Some(
                    eps.into_iter()
                        .enumerate()
                        .map(|(i, e)| (format!("n{i}"), e))
                        .collect::<HashMap<_, _>>(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            families_of(&inspect(vec![ep("172.17.0.2", "")])),
            (true, false)
        );
        assert_eq!(
            families_of(&inspect(vec![ep("", "fd00::2")])),
            (false, true)
        );
        assert_eq!(
            families_of(&inspect(vec![ep("", ""), ep("172.18.0.2", "fd00::2")])),
            (true, true)
        );
        assert_eq!(families_of(&inspect(vec![ep("", "")])), (false, false));
        assert_eq!(
            families_of(&ContainerInspectResponse::default()),
            (false, false)
        );
        let listed = ContainerSummary {
            network_settings: Some(bollard::models::ContainerSummaryNetworkSettings {
                networks: Some(HashMap::from([("n".to_string(), ep("", "fd00::3"))])),
            }),
            ..Default::default()
        };
        assert_eq!(families_of_listed(&listed), (false, true));
        assert_eq!(
            families_of_listed(&ContainerSummary::default()),
            (false, false)
        );
    }

    #[test]
    fn an_endpoint_gives_the_address_of_each_family() {
        let a = |ip: &str| Address {
            ip: ip.parse().unwrap(),
            bridge: "docker0".into(),
        };
        let e = Endpoint {
            id: Id12::new("0123456789ab").unwrap(),
            v4: Some(a("172.17.0.2")),
            v6: None,
        };
        assert_eq!(e.address(Family::V4), Some(&a("172.17.0.2")));
        assert_eq!(e.address(Family::V6), None);
        let e = Endpoint {
            v4: None,
            v6: Some(a("fd00::2")),
            ..e
        };
        assert_eq!(e.address(Family::V6), Some(&a("fd00::2")));
        assert_eq!(e.address(Family::V4), None);
    }
}
