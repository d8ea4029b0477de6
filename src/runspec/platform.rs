//! `--platform` (containerd `platforms.Parse`, as the docker CLI vendors it): the
//! specifier checked, and normalised to what the CLI sends (`os/arch[/variant]`). Pure.

use super::go::quote;

const INVALID: &str = "invalid argument";
const SPECIFIER_RE: &str = "^[A-Za-z0-9_.-]+$";
const OS_RE: &str = "^([A-Za-z0-9_-]+)(?:\\(([A-Za-z0-9_.%-]*)((?:\\+[A-Za-z0-9_.%-]+)*)\\))?$";

fn known_os(os: &str) -> bool {
    matches!(
        os,
        "aix"
            | "android"
            | "darwin"
            | "dragonfly"
            | "freebsd"
            | "hurd"
            | "illumos"
            | "ios"
            | "js"
            | "linux"
            | "nacl"
            | "netbsd"
            | "openbsd"
            | "plan9"
            | "solaris"
            | "windows"
            | "zos"
    )
}

fn known_arch(arch: &str) -> bool {
    matches!(
        arch,
        "386"
            | "amd64"
            | "amd64p32"
            | "arm"
            | "armbe"
            | "arm64"
            | "arm64be"
            | "ppc64"
            | "ppc64le"
            | "loong64"
            | "mips"
            | "mipsle"
            | "mips64"
            | "mips64le"
            | "mips64p32"
            | "mips64p32le"
            | "ppc"
            | "riscv"
            | "riscv64"
            | "s390"
            | "s390x"
            | "sparc"
            | "sparc64"
            | "wasm"
    )
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

fn normalize_os(os: &str) -> String {
    match os.to_lowercase().as_str() {
        "macos" => "darwin".to_string(),
        other => other.to_string(),
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let (arch, mut variant) = (arch.to_lowercase(), variant.to_lowercase());
    let arch = match arch.as_str() {
        "i386" => {
            variant.clear();
            "386".to_string()
        }
        "x86_64" | "x86-64" | "amd64" => {
            if variant == "v1" {
                variant.clear();
            }
            "amd64".to_string()
        }
        "aarch64" | "arm64" => {
            match variant.as_str() {
                "8" | "v8" | "v8.0" => variant.clear(),
                "9" | "9.0" | "v9.0" => variant = "v9".to_string(),
                _ => {}
            }
            "arm64".to_string()
        }
        "armhf" => {
            variant = "v7".to_string();
            "arm".to_string()
        }
        "armel" => {
            variant = "v6".to_string();
            "arm".to_string()
        }
        "arm" => {
            match variant.as_str() {
                "" | "7" => variant = "v7".to_string(),
                "5" | "6" | "8" => variant = format!("v{variant}"),
                _ => {}
            }
            "arm".to_string()
        }
        _ => arch,
    };
    (arch, variant)
}

fn component_ok(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The OS part: `name` or `name(version+feature...)`.
fn os_part(part: &str) -> Option<&str> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
    };
    match part.split_once('(') {
        None => name_ok(part).then_some(part),
        Some((name, rest)) => {
            let inner = rest.strip_suffix(')')?;
            let ok = inner.bytes().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'%' | b'-' | b'+')
            }) && !inner.contains("++")
                && !inner.ends_with('+');
            (name_ok(name) && ok).then_some(name)
        }
    }
}

/// `platforms.Parse` then `path.Join(os, arch, variant)`.
pub fn parse(spec: &str) -> Result<String, String> {
    if spec.contains('*') {
        return Err(format!(
            "{}: wildcards not yet supported: {INVALID}",
            quote(spec)
        ));
    }
    let parts: Vec<&str> = spec.splitn(4, '/').collect();
    let Some(os_name) = os_part(parts[0]) else {
        return Err(format!(
            "{} is an invalid OS component of {}: OSAndVersion specifier component must match {}: {INVALID}",
            quote(parts[0]),
            quote(spec),
            quote(OS_RE)
        ));
    };
    for part in &parts[1..] {
        if !component_ok(part) {
            return Err(format!(
                "{} is an invalid component of {}: platform specifier component must match {}: {INVALID}",
                quote(part),
                quote(spec),
                quote(SPECIFIER_RE)
            ));
        }
    }
    let os = normalize_os(os_name);
    let (os, arch, variant) = match parts.len() {
        1 => {
            if known_os(&os) {
                (os, host_arch().to_string(), String::new())
            } else {
                let (arch, mut variant) = normalize_arch(parts[0], "");
                if arch == "arm" && variant == "v7" {
                    variant.clear();
                }
                if !known_arch(&arch) {
                    return Err(format!(
                        "{}: unknown operating system or architecture: {INVALID}",
                        quote(spec)
                    ));
                }
                ("linux".to_string(), arch, variant)
            }
        }
        2 => {
            let (arch, mut variant) = normalize_arch(parts[1], "");
            if arch == "arm" && variant == "v7" {
                variant.clear();
            }
            (os, arch, variant)
        }
        3 => {
            let (arch, mut variant) = normalize_arch(parts[1], parts[2]);
            if arch == "arm64" && variant.is_empty() {
                variant = "v8".to_string();
            }
            (os, arch, variant)
        }
        _ => {
            return Err(format!(
                "{}: cannot parse platform specifier: {INVALID}",
                quote(spec)
            ));
        }
    };
    Ok([os, arch, variant]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        assert_eq!(parse("linux/amd64").unwrap(), "linux/amd64");
        assert_eq!(parse("linux/x86_64").unwrap(), "linux/amd64");
        assert_eq!(parse("linux/arm/v7").unwrap(), "linux/arm/v7");
        assert_eq!(parse("linux/arm").unwrap(), "linux/arm");
        assert_eq!(parse("linux/arm64/v8").unwrap(), "linux/arm64/v8");
        assert_eq!(parse("linux/aarch64").unwrap(), "linux/arm64");
        assert_eq!(parse("amd64").unwrap(), "linux/amd64");
        assert!(parse("linux").unwrap().starts_with("linux/"));
        assert_eq!(
            parse("a/b/c/d").unwrap_err(),
            "\"a/b/c/d\": cannot parse platform specifier: invalid argument"
        );
        assert_eq!(
            parse("a/x y").unwrap_err(),
            "\"x y\" is an invalid component of \"a/x y\": platform specifier component must match \"^[A-Za-z0-9_.-]+$\": invalid argument"
        );
        assert_eq!(
            parse("foo").unwrap_err(),
            "\"foo\": unknown operating system or architecture: invalid argument"
        );
        assert_eq!(
            parse("linux/*").unwrap_err(),
            "\"linux/*\": wildcards not yet supported: invalid argument"
        );
        assert!(
            parse("x y/amd64")
                .unwrap_err()
                .contains("is an invalid OS component")
        );
    }
}
