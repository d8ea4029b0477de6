//! Fuzz the iptables-save reader behind `berth nat ls`: any text (lines of it are
//! what iptables-save gives) must list, render as a table and as JSON without a panic.
#![no_main]

use std::collections::HashMap;

use berth::nat::render::{self, ChainFilter, ListFlags, Lister};
use berth::nat::save::Table;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let flags = ListFlags { verbose: data.first().is_some_and(|b| b & 1 == 1), exact: false, line_numbers: true };
    let mut lister = Lister::new(flags, ChainFilter::default());
    for line in data.split(|b| *b == b'\n') {
        lister.feed_bytes(line);
    }
    if let Ok(listing) = lister.finish() {
        let _ = listing.write_to(&mut std::io::sink());
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let table = Table::parse(text);
    let names = HashMap::new();
    let _ = render::table_view(&table, &ChainFilter::default(), flags, &names);
    let _ = serde_json::to_string(&render::json(&table, &ChainFilter::default(), &names));
});
