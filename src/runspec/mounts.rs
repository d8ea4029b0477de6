//! Storage flags: `--mount` (docker/cli `opts.MountOpt`, v29), `-v/--volume` (the
//! compose short syntax of `internal/volumespec`), `--tmpfs`, and `--device`
//! (`validateLinuxPath`/`parseLinuxDevice`, CDI names). Pure.

use std::collections::HashMap;

use super::go::{self, quote};
use super::values::ram_in_bytes;

/// One `--mount`, as docker's client builds it. Strings are kept as typed (lower-cased
/// where docker lower-cases) because the engine's typed model cannot hold every value
/// docker sends (`type=foo`); see `Deferred`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountSpec {
    pub typ: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub consistency: String,
    pub bind: Option<BindOpts>,
    pub volume: Option<VolumeOpts>,
    pub image: Option<ImageOpts>,
    pub tmpfs: Option<TmpfsOpts>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindOpts {
    pub propagation: String,
    pub non_recursive: bool,
    pub create_mountpoint: bool,
    pub read_only_non_recursive: bool,
    pub read_only_force_recursive: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeOpts {
    pub no_copy: bool,
    pub labels: Option<HashMap<String, String>>,
    pub subpath: String,
    pub driver: Option<DriverOpts>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverOpts {
    pub name: String,
    pub options: Option<HashMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageOpts {
    pub subpath: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TmpfsOpts {
    pub size_bytes: i64,
    pub mode: i64,
}

fn parse_bool_value(key: &str, val: &str, has_value: bool) -> Result<bool, String> {
    if !has_value {
        return Ok(true);
    }
    match val {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(format!(
            "invalid value for '{key}': invalid boolean value ({}): must be one of \"true\", \"1\", \"false\", or \"0\" (default \"true\")",
            quote(val)
        )),
    }
}

fn set_on_map(target: &mut Option<HashMap<String, String>>, kv: &str) {
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    if k.is_empty() {
        return;
    }
    target
        .get_or_insert_with(HashMap::new)
        .insert(k.to_string(), v.to_string());
}

/// `opts.MountOpt.Set` (v29): `type=bind,source=/a,target=/b,readonly,...`.
pub fn mount(value: &str) -> Result<MountSpec, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("value is empty".to_string());
    }
    let fields = go::csv_record(value)?;
    let mut m = MountSpec {
        typ: "volume".to_string(),
        ..MountSpec::default()
    };
    for field in &fields {
        let (key, val, has_value) = match field.split_once('=') {
            Some((k, v)) => (k, v, true),
            None => (field.as_str(), "", false),
        };
        let trimmed = key.trim();
        if trimmed != key {
            return Err(format!(
                "invalid option '{trimmed}' in '{field}': option should not have whitespace"
            ));
        }
        if has_value {
            let v = val.trim();
            if v.is_empty() {
                return Err(format!("invalid value for '{key}': value is empty"));
            }
            if v != val {
                return Err(format!(
                    "invalid value for '{key}' in '{field}': value should not have whitespace"
                ));
            }
        }
        let key = key.to_lowercase();
        if !has_value
            && !matches!(
                key.as_str(),
                "readonly" | "ro" | "volume-nocopy" | "bind-nonrecursive" | "bind-create-src"
            )
        {
            return Err(format!("invalid field '{field}' must be a key=value pair"));
        }
        match key.as_str() {
            "type" => m.typ = val.to_lowercase(),
            "source" | "src" => m.source = val.to_string(),
            "target" | "dst" | "destination" => m.target = val.to_string(),
            "readonly" | "ro" => m.read_only = parse_bool_value(&key, val, has_value)?,
            "consistency" => m.consistency = val.to_lowercase(),
            "bind-propagation" => {
                m.bind.get_or_insert_with(BindOpts::default).propagation = val.to_lowercase()
            }
            "bind-nonrecursive" => {
                return Err(
                    "bind-nonrecursive is deprecated, use bind-recursive=disabled instead".into(),
                );
            }
            "bind-recursive" => match val {
                "enabled" => {}
                "disabled" => m.bind.get_or_insert_with(BindOpts::default).non_recursive = true,
                "writable" => {
                    m.bind
                        .get_or_insert_with(BindOpts::default)
                        .read_only_non_recursive = true
                }
                "readonly" => {
                    m.bind
                        .get_or_insert_with(BindOpts::default)
                        .read_only_force_recursive = true
                }
                _ => {
                    return Err(format!(
                        "invalid value for {key}: {val} (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")"
                    ));
                }
            },
            "bind-create-src" => {
                let b = parse_bool_value(&key, val, has_value)?;
                m.bind
                    .get_or_insert_with(BindOpts::default)
                    .create_mountpoint = b;
            }
            "volume-subpath" => {
                m.volume.get_or_insert_with(VolumeOpts::default).subpath = val.to_string()
            }
            "volume-nocopy" => {
                let b = parse_bool_value(&key, val, has_value)?;
                m.volume.get_or_insert_with(VolumeOpts::default).no_copy = b;
            }
            "volume-label" => {
                let v = m.volume.get_or_insert_with(VolumeOpts::default);
                set_on_map(&mut v.labels, val);
            }
            "volume-driver" => {
                let v = m.volume.get_or_insert_with(VolumeOpts::default);
                v.driver.get_or_insert_with(DriverOpts::default).name = val.to_string();
            }
            "volume-opt" => {
                let v = m.volume.get_or_insert_with(VolumeOpts::default);
                let d = v.driver.get_or_insert_with(DriverOpts::default);
                set_on_map(&mut d.options, val);
            }
            "image-subpath" => {
                m.image.get_or_insert_with(ImageOpts::default).subpath = val.to_string()
            }
            "tmpfs-size" => {
                let size =
                    ram_in_bytes(val).map_err(|_| format!("invalid value for {key}: {val}"))?;
                m.tmpfs.get_or_insert_with(TmpfsOpts::default).size_bytes = size;
            }
            "tmpfs-mode" => {
                let mode = go::parse_uint(val, 8, 32)
                    .map_err(|_| format!("invalid value for {key}: {val}"))?;
                m.tmpfs.get_or_insert_with(TmpfsOpts::default).mode = mode as i64;
            }
            _ => return Err(format!("unknown option '{key}' in '{field}'")),
        }
    }
    validate_mount(&m)?;
    Ok(m)
}

/// `validateMountOptions`: options of one type only, and the bind-recursive pairings.
fn validate_mount(m: &MountSpec) -> Result<(), String> {
    let t = m.typ.as_str();
    if t.is_empty() {
        return Err("type is required".to_string());
    }
    let mix = |what: &str| {
        Err(format!(
            "cannot mix '{what}-*' options with mount type '{t}'"
        ))
    };
    if t != "bind" && m.bind.is_some() {
        return mix("bind");
    }
    if t != "volume" && m.volume.is_some() {
        return mix("volume");
    }
    if t != "image" && m.image.is_some() {
        return mix("image");
    }
    if t != "tmpfs" && m.tmpfs.is_some() {
        return mix("tmpfs");
    }
    if let Some(b) = &m.bind {
        if b.read_only_non_recursive && !m.read_only {
            return Err("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction".into());
        }
        if b.read_only_force_recursive {
            if !m.read_only {
                return Err("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction".into());
            }
            if b.propagation != "rprivate" {
                return Err("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction".into());
            }
        }
    }
    Ok(())
}

/// What `volumespec.Parse` makes of a `-v` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeSpec {
    pub source: String,
    pub target: String,
    /// `bind` or `volume`
    pub typ: &'static str,
}

/// `volumespec.Parse` (compose short syntax): `[SOURCE:]TARGET[:OPTIONS]`, Windows drive
/// letters kept whole. Options are left to the engine.
pub fn volume(spec: &str) -> Result<VolumeSpec, String> {
    let mut v = VolumeSpec {
        typ: "volume",
        ..VolumeSpec::default()
    };
    match spec.len() {
        0 => return Err("invalid empty volume spec".to_string()),
        1 | 2 => {
            v.target = spec.to_string();
            return Ok(v);
        }
        _ => {}
    }
    let mut buffer: Vec<char> = Vec::new();
    let mut options = false;
    let chars: Vec<char> = spec.chars().chain(std::iter::once('\0')).collect();
    for &c in &chars {
        let drive = c == ':' && buffer.len() == 1 && buffer[0].is_alphabetic();
        if drive {
            buffer.push(c);
        } else if c == ':' || c == '\0' {
            let text: String = buffer.iter().collect();
            let fail = |why: &str| Err(format!("invalid spec: {spec}: {why}"));
            if buffer.is_empty() {
                return fail("empty section between colons");
            } else if v.source.is_empty() && c == '\0' {
                v.target = text;
            } else if v.source.is_empty() {
                v.source = text;
            } else if v.target.is_empty() {
                v.target = text;
            } else if c == ':' {
                return fail("too many colons");
            } else {
                options = true;
            }
            buffer.clear();
        } else {
            buffer.push(c);
        }
    }
    let _ = options;
    if !v.source.is_empty() && is_file_path(&v.source) {
        v.typ = "bind";
    }
    Ok(v)
}

fn is_file_path(source: &str) -> bool {
    if matches!(source.as_bytes()[0], b'.' | b'/' | b'~') {
        return true;
    }
    let mut chars = source.chars();
    let first = chars.next();
    let second = chars.next();
    if second.is_none() {
        return false;
    }
    if source.starts_with("\\\\") {
        return true;
    }
    matches!((first, second), (Some(f), Some(':')) if f.is_alphabetic())
}

/// `--tmpfs PATH[:OPTIONS]`.
pub fn tmpfs(t: &str) -> (String, String) {
    let (k, v) = t.split_once(':').unwrap_or((t, ""));
    (k.to_string(), v.to_string())
}

/// A `--device` for a Linux engine: a mapping, or a CDI device name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    Mapping {
        host: String,
        container: String,
        permissions: String,
    },
    Cdi(String),
}

/// `--device` as docker reads it for a Linux engine (`validateDevice`, then
/// `parseLinuxDevice`; CDI names `vendor/class=name` pass as they are).
pub fn device(val: &str) -> Result<Device, String> {
    if is_cdi_name(val) {
        return Ok(Device::Cdi(val.to_string()));
    }
    let validated = validate_linux_path(val)?;
    let arr: Vec<&str> = validated.splitn(4, ':').collect();
    let mut permissions = "rwm".to_string();
    let mut dst = String::new();
    let src = arr[0].to_string();
    match arr.len() {
        3 => {
            permissions = arr[2].to_string();
            if valid_device_mode(arr[1]) {
                permissions = arr[1].to_string();
            } else {
                dst = arr[1].to_string();
            }
        }
        2 => {
            if valid_device_mode(arr[1]) {
                permissions = arr[1].to_string();
            } else {
                dst = arr[1].to_string();
            }
        }
        1 => {}
        _ => return Err(format!("invalid device specification: {validated}")),
    }
    if dst.is_empty() {
        dst = src.clone();
    }
    Ok(Device::Mapping {
        host: src,
        container: dst,
        permissions,
    })
}

fn valid_device_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return false;
    }
    let mut seen = [false; 3];
    for c in mode.chars() {
        let i = match c {
            'r' => 0,
            'w' => 1,
            'm' => 2,
            _ => return false,
        };
        if seen[i] {
            return false;
        }
        seen[i] = true;
    }
    true
}

fn validate_linux_path(val: &str) -> Result<String, String> {
    if val.matches(':').count() > 2 {
        return Err(format!("bad format for path: {val}"));
    }
    let split: Vec<&str> = val.splitn(3, ':').collect();
    if split[0].is_empty() {
        return Err(format!("bad format for path: {val}"));
    }
    let (container_path, out) = match split.len() {
        1 => (split[0], go::clean_path(split[0])),
        2 => {
            if valid_device_mode(split[1]) {
                (
                    split[0],
                    format!("{}:{}", go::clean_path(split[0]), split[1]),
                )
            } else {
                (
                    split[1],
                    format!("{}:{}", split[0], go::clean_path(split[1])),
                )
            }
        }
        _ => {
            if !valid_device_mode(split[2]) {
                return Err(format!("bad mode specified: {}", split[2]));
            }
            (split[1], val.to_string())
        }
    };
    if !container_path.starts_with('/') {
        return Err(format!("{container_path} is not an absolute path"));
    }
    Ok(out)
}

/// CDI's `IsQualifiedName`: `vendor/class=name`.
fn is_cdi_name(device: &str) -> bool {
    if device.is_empty() || device.starts_with('/') {
        return false;
    }
    let Some((kind, name)) = device.split_once('=') else {
        return false;
    };
    if kind.is_empty() || name.is_empty() {
        return false;
    }
    let Some((vendor, class)) = kind.split_once('/') else {
        return false;
    };
    if vendor.is_empty() || class.is_empty() {
        return false;
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let vendor_or_class = |n: &str| {
        let b: Vec<char> = n.chars().collect();
        b[0].is_ascii_alphabetic()
            && b[1..b.len().saturating_sub(1).max(1)]
                .iter()
                .all(|&c| alnum(c) || matches!(c, '_' | '-' | '.'))
            && alnum(b[b.len() - 1])
    };
    let device_name = |n: &str| {
        let b: Vec<char> = n.chars().collect();
        if !alnum(b[0]) {
            return false;
        }
        if b.len() == 1 {
            return true;
        }
        b[1..b.len() - 1]
            .iter()
            .all(|&c| alnum(c) || matches!(c, '_' | '-' | '.' | ':'))
            && alnum(b[b.len() - 1])
    };
    vendor_or_class(vendor) && vendor_or_class(class) && device_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_as_docker_v29() {
        let m = mount("type=bind,source=/a,target=/b,readonly").unwrap();
        assert_eq!(
            (
                m.typ.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only
            ),
            ("bind", "/a", "/b", true)
        );
        let m = mount("target=/data").unwrap();
        assert_eq!(m.typ, "volume");
        let m = mount("type=bind,target=/x").unwrap();
        assert_eq!(m.source, "");
        let m = mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap();
        assert_eq!(
            m.tmpfs,
            Some(TmpfsOpts {
                size_bytes: 1 << 20,
                mode: 1023
            })
        );
        let m = mount("type=volume,src=v,dst=/d,volume-label=a=b,volume-opt=o=1,volume-driver=local,volume-nocopy").unwrap();
        let v = m.volume.unwrap();
        assert!(v.no_copy);
        assert_eq!(v.labels.unwrap()["a"], "b");
        assert_eq!(v.driver.as_ref().unwrap().name, "local");
        let m = mount("Type=BIND,src=/a,dst=/b,bind-propagation=RSHARED").unwrap();
        assert_eq!(m.typ, "bind");
        assert_eq!(m.bind.unwrap().propagation, "rshared");
        assert_eq!(mount("  ").unwrap_err(), "value is empty");
        assert_eq!(
            mount("type=bind,src=/a,foo=bar").unwrap_err(),
            "unknown option 'foo' in 'foo=bar'"
        );
        assert_eq!(
            mount("type=bind,foo").unwrap_err(),
            "invalid field 'foo' must be a key=value pair"
        );
        assert_eq!(
            mount("type=bind, src=/tmp").unwrap_err(),
            "invalid option 'src' in ' src=/tmp': option should not have whitespace"
        );
        assert_eq!(
            mount("type=bind,src= /tmp").unwrap_err(),
            "invalid value for 'src' in 'src= /tmp': value should not have whitespace"
        );
        assert_eq!(
            mount("type=,src=/a").unwrap_err(),
            "invalid value for 'type': value is empty"
        );
        assert_eq!(
            mount("type=bind,src=/a,dst=/b,readonly=maybe").unwrap_err(),
            "invalid value for 'readonly': invalid boolean value (\"maybe\"): must be one of \"true\", \"1\", \"false\", or \"0\" (default \"true\")"
        );
        assert_eq!(
            mount("type=bind,src=/a,dst=/b,bind-nonrecursive").unwrap_err(),
            "bind-nonrecursive is deprecated, use bind-recursive=disabled instead"
        );
        assert_eq!(
            mount("type=volume,dst=/b,bind-propagation=shared").unwrap_err(),
            "cannot mix 'bind-*' options with mount type 'volume'"
        );
        assert_eq!(
            mount("type=bind,src=/a,dst=/b,tmpfs-size=1m").unwrap_err(),
            "cannot mix 'tmpfs-*' options with mount type 'bind'"
        );
        assert_eq!(
            mount("type=bind,src=/a,dst=/b,bind-recursive=writable").unwrap_err(),
            "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"
        );
        assert_eq!(
            mount("type=bind,src=/a,dst=/b,ro,bind-recursive=readonly").unwrap_err(),
            "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction"
        );
        assert_eq!(
            mount("type=bind,src=/a,dst=/b,bind-recursive=x").unwrap_err(),
            "invalid value for bind-recursive: x (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")"
        );
        assert_eq!(
            mount("type=tmpfs,dst=/t,tmpfs-mode=9").unwrap_err(),
            "invalid value for tmpfs-mode: 9"
        );
        assert_eq!(
            mount("type=tmpfs,dst=/t,tmpfs-size=x").unwrap_err(),
            "invalid value for tmpfs-size: x"
        );
        assert_eq!(
            mount("src=\"a").unwrap_err(),
            "parse error on line 1, column 5: bare \" in non-quoted-field"
        );
    }

    #[test]
    fn volume_short_syntax() {
        assert_eq!(
            volume("/a:/b:ro").unwrap(),
            VolumeSpec {
                source: "/a".into(),
                target: "/b".into(),
                typ: "bind"
            }
        );
        assert_eq!(volume("/anon").unwrap().target, "/anon");
        assert_eq!(volume("/anon").unwrap().source, "");
        assert_eq!(volume("ab").unwrap().target, "ab");
        assert_eq!(volume("named:/data").unwrap().typ, "volume");
        assert_eq!(volume("./rel:/rel").unwrap().typ, "bind");
        // a drive letter keeps its colon: `a:/b` is one section, a target
        let v = volume("a:/b").unwrap();
        assert_eq!((v.source.as_str(), v.target.as_str()), ("", "a:/b"));
        assert_eq!(volume("").unwrap_err(), "invalid empty volume spec");
        assert_eq!(
            volume(":/x").unwrap_err(),
            "invalid spec: :/x: empty section between colons"
        );
        assert_eq!(
            volume("/a:/b:ro:x").unwrap_err(),
            "invalid spec: /a:/b:ro:x: too many colons"
        );
    }

    #[test]
    fn devices() {
        let map = |h: &str, c: &str, p: &str| Device::Mapping {
            host: h.into(),
            container: c.into(),
            permissions: p.into(),
        };
        assert_eq!(device("/dev/sda"), Ok(map("/dev/sda", "/dev/sda", "rwm")));
        assert_eq!(device("/dev/sda/"), Ok(map("/dev/sda", "/dev/sda", "rwm")));
        assert_eq!(device("/dev/sda:r"), Ok(map("/dev/sda", "/dev/sda", "r")));
        assert_eq!(
            device("/dev/sda:/dev/xvda"),
            Ok(map("/dev/sda", "/dev/xvda", "rwm"))
        );
        assert_eq!(
            device("/dev/sda:/dev/xvda:rw"),
            Ok(map("/dev/sda", "/dev/xvda", "rw"))
        );
        assert_eq!(
            device("vendor.com/class=name"),
            Ok(Device::Cdi("vendor.com/class=name".into()))
        );
        assert_eq!(device("").unwrap_err(), "bad format for path: ");
        assert_eq!(device("./").unwrap_err(), "./ is not an absolute path");
        assert_eq!(
            device("/:path").unwrap_err(),
            "path is not an absolute path"
        );
        assert_eq!(device("/tmp:").unwrap_err(), " is not an absolute path");
        assert_eq!(device(":test").unwrap_err(), "bad format for path: :test");
        assert_eq!(device("path:ro").unwrap_err(), "ro is not an absolute path");
        assert_eq!(device("a:/b:ro").unwrap_err(), "bad mode specified: ro");
        assert_eq!(
            device("/tmp:::").unwrap_err(),
            "bad format for path: /tmp:::"
        );
        assert_eq!(device("rr").unwrap_err(), "rr is not an absolute path");
        assert_eq!(
            device("/a:/b:/c:/d").unwrap_err(),
            "bad format for path: /a:/b:/c:/d"
        );
    }

    #[test]
    fn tmpfs_paths() {
        assert_eq!(
            tmpfs("/run:rw,size=64m"),
            ("/run".to_string(), "rw,size=64m".to_string())
        );
        assert_eq!(tmpfs("/x"), ("/x".to_string(), String::new()));
    }
}
