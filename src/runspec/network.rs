//! `--network` (docker/cli `opts.NetworkOpt`, short and long syntax) and the endpoints
//! docker builds from it and the legacy flags (`parseNetworkOpts`,
//! `applyContainerOptions`, `parseNetworkAttachmentOpt`). Pure.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{EndpointIpamConfig, EndpointSettings};

use super::go;

/// One `--network` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkAttachment {
    pub target: String,
    pub aliases: Vec<String>,
    pub driver_opts: Option<HashMap<String, String>>,
    pub links: Vec<String>,
    pub ipv4: Option<IpAddr>,
    pub ipv6: Option<IpAddr>,
    pub link_local_ips: Vec<IpAddr>,
    pub mac_address: String,
    pub gw_priority: i64,
}

/// Whether `\w+=\w+` occurs anywhere in `value` (docker's long-syntax test).
fn long_syntax(value: &str) -> bool {
    let b = value.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'=' && word(b[i - 1]) && word(b[i + 1]))
}

/// `opts.NetworkOpt.Set`: `NAME`, or `name=NAME,alias=A,ip=...,driver-opt=k=v,...`
/// (every field lower-cased, as docker does).
pub fn network(value: &str) -> Result<NetworkAttachment, String> {
    let mut n = NetworkAttachment::default();
    if !long_syntax(value) {
        n.target = value.to_string();
        return Ok(n);
    }
    for field in go::csv_record(value)? {
        let lower = field.to_lowercase();
        let Some((key, val)) = lower.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let (key, val) = (key.trim(), val.trim());
        match key {
            "name" => n.target = val.to_string(),
            "alias" => n.aliases.push(val.to_string()),
            "ip" => n.ipv4 = Some(go::parse_addr(val)?),
            "ip6" => n.ipv6 = Some(go::parse_addr(val)?),
            "mac-address" => n.mac_address = val.to_string(),
            "link-local-ip" => n.link_local_ips.push(go::parse_addr(val)?),
            "driver-opt" => {
                let Some((k, v)) = val.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                    return Err("invalid key value pair format in driver options".to_string());
                };
                n.driver_opts
                    .get_or_insert_with(HashMap::new)
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
            "gw-priority" => {
                n.gw_priority = go::atoi(val)
                    .map_err(|e| format!("invalid gw-priority ({val}): {}", e.reason_text()))?;
            }
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if n.target.is_empty() {
        return Err("network name/id is not specified".to_string());
    }
    Ok(n)
}

/// `NetworkMode.IsUserDefined` (Linux): not default, bridge, host, none or container:.
pub fn is_user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// The legacy endpoint flags, which apply to the first network.
#[derive(Debug, Default)]
pub struct Legacy<'a> {
    pub aliases: &'a [String],
    pub links: &'a [String],
    pub ipv4: Option<IpAddr>,
    pub ipv6: Option<IpAddr>,
    pub mac_address: &'a str,
    pub link_local_ips: &'a [String],
}

/// `parseNetworkOpts`: the endpoints to send, keyed by network. With no `--network`,
/// one `default` endpoint; a single network without options sends none.
pub fn endpoints(
    nets: &[NetworkAttachment],
    legacy: &Legacy,
) -> Result<HashMap<String, EndpointSettings>, String> {
    let mut out = HashMap::new();
    if nets.is_empty() {
        let mut n = NetworkAttachment {
            target: "default".to_string(),
            ..NetworkAttachment::default()
        };
        apply_legacy(&mut n, legacy)?;
        out.insert("default".to_string(), endpoint(&n)?);
        return Ok(out);
    }
    let (mut user, mut builtin) = (false, false);
    for (i, n) in nets.iter().enumerate() {
        if is_user_defined(&n.target) {
            user = true;
        } else {
            builtin = true;
        }
        let mut n = n.clone();
        if i == 0 {
            apply_legacy(&mut n, legacy)?;
        }
        let ep = endpoint(&n)?;
        if out.contains_key(&n.target) {
            return Err(format!(
                "network {} is specified multiple times",
                go::quote(&n.target)
            ));
        }
        if i == 0 && nets.len() == 1 && ep == EndpointSettings::default() {
            continue;
        }
        out.insert(n.target.clone(), ep);
    }
    if user && builtin {
        return Err("conflicting options: cannot attach both user-defined and non-user-defined network-modes".to_string());
    }
    Ok(out)
}

fn apply_legacy(n: &mut NetworkAttachment, l: &Legacy) -> Result<(), String> {
    let conflict = |what: &str| Err(format!("conflicting options: cannot specify both {what}"));
    if !n.aliases.is_empty() && !l.aliases.is_empty() {
        return conflict("--network-alias and per-network alias");
    }
    if !n.links.is_empty() && !l.links.is_empty() {
        return conflict("--link and per-network links");
    }
    if n.ipv4.is_some() && l.ipv4.is_some() {
        return conflict("--ip and per-network IPv4 address");
    }
    if n.ipv6.is_some() && l.ipv6.is_some() {
        return conflict("--ip6 and per-network IPv6 address");
    }
    if !n.mac_address.is_empty() && !l.mac_address.is_empty() {
        return conflict("--mac-address and per-network MAC address");
    }
    if !n.link_local_ips.is_empty() && !l.link_local_ips.is_empty() {
        return conflict("--link-local-ip and per-network link-local IP addresses");
    }
    if !l.aliases.is_empty() {
        n.aliases = l.aliases.to_vec();
    }
    if is_user_defined(&n.target) && !l.links.is_empty() {
        n.links = l.links.to_vec();
    }
    if let Some(ip) = l.ipv4 {
        // net.IP.To4: an IPv6 address is dropped, an IPv4-mapped one kept as IPv4
        let v4 = match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        };
        if let Some(v4) = v4 {
            n.ipv4 = Some(IpAddr::V4(v4));
        }
    }
    if let Some(ip) = l.ipv6 {
        n.ipv6 = Some(match ip {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            v6 => v6,
        });
    }
    if !l.mac_address.is_empty() {
        n.mac_address = l.mac_address.to_string();
    }
    if !l.link_local_ips.is_empty() {
        // toNetipAddrSlice: what does not parse is dropped
        n.link_local_ips = l
            .link_local_ips
            .iter()
            .filter_map(|s| s.parse::<IpAddr>().ok())
            .collect();
    }
    Ok(())
}

/// `parseNetworkAttachmentOpt`.
fn endpoint(n: &NetworkAttachment) -> Result<EndpointSettings, String> {
    if n.target.trim().is_empty() {
        return Err("no name set for network".to_string());
    }
    if !is_user_defined(&n.target) {
        if !n.aliases.is_empty() {
            return Err(
                "network-scoped aliases are only supported for user-defined networks".to_string(),
            );
        }
        if !n.links.is_empty() {
            return Err("links are only supported for user-defined networks".to_string());
        }
    }
    let mut ep = EndpointSettings {
        gw_priority: (n.gw_priority != 0).then_some(n.gw_priority),
        aliases: (!n.aliases.is_empty()).then(|| n.aliases.clone()),
        driver_opts: n.driver_opts.clone().filter(|m| !m.is_empty()),
        links: (!n.links.is_empty()).then(|| n.links.clone()),
        ..EndpointSettings::default()
    };
    if n.ipv4.is_some() || n.ipv6.is_some() || !n.link_local_ips.is_empty() {
        ep.ipam_config = Some(EndpointIpamConfig {
            ipv4_address: n.ipv4.map(|ip| ip.to_string()),
            ipv6_address: n.ipv6.map(|ip| ip.to_string()),
            link_local_ips: (!n.link_local_ips.is_empty())
                .then(|| n.link_local_ips.iter().map(ToString::to_string).collect()),
        });
    }
    if !n.mac_address.is_empty() {
        match go::parse_mac(n.mac_address.trim()) {
            Some(mac) => ep.mac_address = Some(mac),
            None => return Err(format!("{} is not a valid mac address", n.mac_address)),
        }
    }
    Ok(ep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_syntax() {
        assert_eq!(network("mynet").unwrap().target, "mynet");
        assert_eq!(network("name=").unwrap().target, "name=");
        let n =
            network("name=MyNet,alias=Web,alias=b,ip=10.0.0.5,driver-opt=com.x=Y,gw-priority=5")
                .unwrap();
        assert_eq!(n.target, "mynet");
        assert_eq!(n.aliases, ["web", "b"]);
        assert_eq!(n.ipv4, Some("10.0.0.5".parse().unwrap()));
        assert_eq!(n.driver_opts.unwrap()["com.x"], "y");
        assert_eq!(n.gw_priority, 5);
        // "my=net" is long syntax: `my` is not a key
        assert_eq!(network("my=net").unwrap_err(), "invalid field key my");
        assert_eq!(
            network("alias=x").unwrap_err(),
            "network name/id is not specified"
        );
        assert_eq!(
            network("name=a,ip=x").unwrap_err(),
            "ParseAddr(\"x\"): unable to parse IP"
        );
        assert_eq!(
            network("name=a,gw-priority=x").unwrap_err(),
            "invalid gw-priority (x): invalid syntax"
        );
        assert_eq!(
            network("name=a,driver-opt=x").unwrap_err(),
            "invalid key value pair format in driver options"
        );
        assert_eq!(network("name=a,=b").unwrap_err(), "invalid field =b");
        assert_eq!(network("name=a,b").unwrap_err(), "invalid field b");
    }

    #[test]
    fn endpoints_as_docker() {
        let none = Legacy::default();
        let eps = endpoints(&[], &none).unwrap();
        assert_eq!(eps.len(), 1);
        assert_eq!(eps["default"], EndpointSettings::default());
        let host = network("host").unwrap();
        assert!(
            endpoints(std::slice::from_ref(&host), &none)
                .unwrap()
                .is_empty()
        );
        let aliases = ["web".to_string()];
        let with_alias = Legacy {
            aliases: &aliases,
            ..Legacy::default()
        };
        assert_eq!(
            endpoints(&[], &with_alias).unwrap_err(),
            "network-scoped aliases are only supported for user-defined networks"
        );
        let mynet = network("mynet").unwrap();
        let eps = endpoints(std::slice::from_ref(&mynet), &with_alias).unwrap();
        assert_eq!(eps["mynet"].aliases.as_deref(), Some(&aliases[..]));
        assert_eq!(
            endpoints(&[mynet.clone(), mynet.clone()], &none).unwrap_err(),
            "network \"mynet\" is specified multiple times"
        );
        assert_eq!(
            endpoints(&[mynet.clone(), host.clone()], &none).unwrap_err(),
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
        );
        let empty = network("").unwrap();
        assert_eq!(
            endpoints(&[empty], &none).unwrap_err(),
            "no name set for network"
        );
        let bad_mac = Legacy {
            mac_address: "x",
            ..Legacy::default()
        };
        assert_eq!(
            endpoints(&[], &bad_mac).unwrap_err(),
            "x is not a valid mac address"
        );
        let v6 = Legacy {
            ipv4: Some("fd00::1".parse().unwrap()),
            ..Legacy::default()
        };
        // an IPv6 --ip is dropped
        assert_eq!(
            endpoints(&[], &v6).unwrap()["default"],
            EndpointSettings::default()
        );
        let per_net = network("name=mynet,alias=a").unwrap();
        assert_eq!(
            endpoints(&[per_net], &with_alias).unwrap_err(),
            "conflicting options: cannot specify both --network-alias and per-network alias"
        );
    }
}
