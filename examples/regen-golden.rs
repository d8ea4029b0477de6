//! Rewrite tests/golden/*.rules from berth's rule builder: run this (and read the diff)
//! when the rules berth writes change on purpose. Tests never write these files.

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in berth::firewall::desired::golden_cases() {
        let path = dir.join(format!("{name}.rules"));
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
