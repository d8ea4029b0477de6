//! Reading the kernel's tables (`save`, `variant`) and showing them (`render`). Writing
//! them is the reconciler's (`crate::firewall`, `crate::reconcile`).

pub mod netlink;
pub mod render;
pub mod save;
pub mod variant;
