//! Property tests for the port-spec parser: it never panics, whatever it is given;
//! every error is one of Docker's messages; and a spec written back by `render` parses
//! to the same mappings.

use berth::portspec::{Binding, Mapping, Port, parse_all, parse_port_spec, render};
use proptest::prelude::*;

/// The beginnings of every message Docker's parsers give for -p and --expose.
const PUBLISH_ERRORS: &[&str] = &[
    "no port specified: ",
    "invalid proto: ",
    "invalid IP address",
    "invalid containerPort: ",
    "invalid hostPort: ",
    "invalid ranges specified for container and host Ports: ",
    "invalid publish opts format (should be name=value but got '",
    "invalid port specification: \"",
];
const EXPOSE_ERRORS: &[&str] = &[
    "invalid range format for --expose: invalid start port '",
    "invalid range format for --expose: invalid end port '",
    "invalid range format for --expose: invalid port range: ",
];

/// Strings made of the characters port specs are made of, so the parser's branches
/// are reached far more often than with arbitrary text.
fn spec_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[0-9:/\\-\\[\\]a-fA-F.tcpudsx=, +%]{0,24}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn publish_never_panics_and_errors_are_dockers(s in prop_oneof![spec_like(), any::<String>()]) {
        if let Err(e) = parse_all(std::slice::from_ref(&s), &[], false) {
            prop_assert!(PUBLISH_ERRORS.iter().any(|p| e.0.starts_with(p)), "{s:?}: {}", e.0);
        }
    }

    #[test]
    fn expose_never_panics_and_errors_are_dockers(s in prop_oneof![spec_like(), any::<String>()]) {
        if let Err(e) = parse_all(&[], std::slice::from_ref(&s), false) {
            prop_assert!(EXPOSE_ERRORS.iter().any(|p| e.0.starts_with(p)), "{s:?}: {}", e.0);
        }
    }

    #[test]
    fn parse_render_round_trip(m in mapping()) {
        let text = render(&m);
        let back = parse_port_spec(&text).map_err(|e| TestCaseError::fail(format!("{text}: {}", e.0)))?;
        prop_assert_eq!(back, vec![m], "{}", text);
    }

    #[test]
    fn rendered_ranges_read_back_port_by_port(
        start in 1u16..60000, len in 1u16..50, shift in 0u16..5000, proto in proto(), ip in host_ip(),
    ) {
        let end = start + len - 1;
        let hstart = start.saturating_add(shift).min(65535 - len);
        let spec = match ip.as_str() {
            "" => format!("{hstart}-{}:{start}-{end}/{proto}", hstart + len - 1),
            ip if ip.contains(':') => format!("[{ip}]:{hstart}-{}:{start}-{end}/{proto}", hstart + len - 1),
            ip => format!("{ip}:{hstart}-{}:{start}-{end}/{proto}", hstart + len - 1),
        };
        let got = parse_port_spec(&spec).map_err(|e| TestCaseError::fail(e.0))?;
        prop_assert_eq!(got.len(), usize::from(len));
        for (i, m) in got.iter().enumerate() {
            let i = i as u16;
            prop_assert_eq!(&m.port, &Port::new(start + i, &proto));
            prop_assert_eq!(&m.binding.host_port, &(hstart + i).to_string());
            // and each one survives render + parse
            prop_assert_eq!(parse_port_spec(&render(m)).map_err(|e| TestCaseError::fail(e.0))?, vec![m.clone()]);
        }
    }
}

fn proto() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tcp".to_string()),
        Just("udp".to_string()),
        Just("sctp".to_string())
    ]
}

fn host_ip() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
        any::<[u16; 8]>().prop_map(|w| std::net::Ipv6Addr::from(w).to_string()),
        Just("::1".to_string()),
    ]
}

fn mapping() -> impl Strategy<Value = Mapping> {
    (
        1u16..=65535,
        proto(),
        host_ip(),
        prop_oneof![
            Just(String::new()),
            (0u16..=65535).prop_map(|p| p.to_string()),
            (1u16..30000, 0u16..1000).prop_map(|(a, n)| if n == 0 {
                a.to_string()
            } else {
                format!("{a}-{}", a + n)
            }),
        ],
    )
        .prop_map(|(number, proto, host_ip, host_port)| {
            Mapping::one(Port::new(number, &proto), Binding { host_ip, host_port })
        })
}
