//! berth's NAT and filter rules: reading the kernel's tables (`save`, `variant`),
//! showing them (`render`).

pub mod render;
pub mod save;
pub mod variant;
