//! Fuzz the port-spec parser: any text, as -p and as --expose, must parse or fail
//! with one of Docker's messages, never panic; what parses must render and parse back.
#![no_main]

use berth::portspec::{parse_all, parse_port_spec, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(specs) = parse_all(&[text.to_string()], &[], true) {
        for m in &specs.bindings {
            let again = parse_port_spec(&render(m)).expect("a rendered spec parses");
            assert_eq!(again, m.ports().collect::<Vec<_>>());
        }
    }
    let _ = parse_all(&[], &[text.to_string()], false);
});
