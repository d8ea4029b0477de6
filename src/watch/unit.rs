//! `berth watch` under systemd: the unit berth prints (`--unit`) and installs
//! (`--install`), ordered after docker.service, so that after a reboot its first
//! reconcile restores the rules of every running berth container.

use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// The unit's name.
pub const NAME: &str = "berth-watch.service";

/// Where `--install` writes it.
pub const PATH: &str = "/etc/systemd/system/berth-watch.service";

/// The unit, running `berth` at `exe`.
pub fn text(exe: &Path) -> String {
    format!(
        "[Unit]\n\
         Description=berth watch: published ports follow their containers\n\
         Documentation=man:berth-watch(1)\n\
         After=docker.service network-online.target\n\
         Wants=docker.service\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={} watch\n\
         Restart=always\n\
         RestartSec=1\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        exe.display()
    )
}

/// Whether systemd is PID 1 here.
pub fn systemd_runs() -> bool {
    std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd")
}

/// Whether the unit is installed where systemd runs (then systemd starts the watcher).
pub fn managed() -> bool {
    systemd_runs() && Path::new(PATH).exists()
}

/// `berth watch --install`: write the unit, enable and start it, say what was done.
pub fn install() -> Result<()> {
    if !systemd_runs() {
        let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
        return Err(Error::failed(format!(
            "systemd does not run this host (PID 1 is {}): run `berth watch` under your service manager (`berth watch --unit` prints a systemd unit), or let berth start it when it publishes",
            pid1.trim()
        )));
    }
    let exe = std::env::current_exe()?;
    std::fs::write(PATH, text(&exe))
        .map_err(|e| Error::failed(format!("cannot write {PATH}: {e}")))?;
    println!("wrote {PATH}");
    for args in [vec!["daemon-reload"], vec!["enable", "--now", NAME]] {
        let status = Command::new("systemctl")
            .args(&args)
            .status()
            .map_err(|e| Error::failed(format!("cannot run systemctl: {e}")))?;
        if !status.success() {
            return Err(Error::failed(format!(
                "systemctl {} failed ({status})",
                args.join(" ")
            )));
        }
        println!("ran systemctl {}", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_follows_docker() {
        let t = text(Path::new("/usr/local/bin/berth"));
        assert!(t.contains("After=docker.service"));
        assert!(t.contains("Wants=docker.service"));
        assert!(t.contains("ExecStart=/usr/local/bin/berth watch\n"));
        assert!(t.contains("Restart=always"));
        assert!(t.contains("WantedBy=multi-user.target"));
    }
}
