//! `berth nat ls` (to be written).

use crate::cli::NatLsArgs;
use crate::error::{Error, Result};

pub fn run(_args: &NatLsArgs) -> Result<()> {
    Err(Error::NotImplemented("berth nat ls"))
}
