//! berth's NAT and filter rules: reading the kernel's tables (`save`, `variant`),
//! showing them (`render`).

pub mod apply;
pub mod plan;
pub mod render;
pub mod save;
pub mod variant;
