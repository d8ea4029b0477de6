//! Rewrite completions/ and man/ from the command line definitions (scripts/gen-docs
//! runs this). Tests only compare; they never write these files.

use std::fs;
use std::path::Path;

use clap_complete::Shell;

const SHELLS: [(Shell, &str); 5] = [
    (Shell::Bash, "berth.bash"),
    (Shell::Zsh, "_berth"),
    (Shell::Fish, "berth.fish"),
    (Shell::Elvish, "berth.elv"),
    (Shell::PowerShell, "_berth.ps1"),
];

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let completions = root.join("completions");
    fs::create_dir_all(&completions)?;
    for (shell, file) in SHELLS {
        let mut buf = Vec::new();
        berth::commands::write_completions(shell, &mut buf)?;
        fs::write(completions.join(file), buf)?;
    }
    let man = root.join("man");
    if man.exists() {
        fs::remove_dir_all(&man)?;
    }
    fs::create_dir_all(&man)?;
    berth::commands::write_man_pages(&man)?;
    println!("wrote {} and {}", completions.display(), man.display());
    Ok(())
}
