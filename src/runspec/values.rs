//! Flag values as docker's `Value.Set` reads them: each function is a clap value parser
//! (`src/cli/container.rs`), and its error text is docker's reason, the `%v` of
//! `invalid argument %q for %q flag: %v`. Pure.

use bollard::models::{ResourcesBlkioWeightDevice, ResourcesUlimits, ThrottleDevice};

use super::go::{self, quote};

// ---------------------------------------------------------------------------------------
// numbers, booleans, durations (pflag's own types)

/// pflag `bool`: Go's `strconv.ParseBool`.
pub fn bool_flag(s: &str) -> Result<bool, String> {
    go::parse_bool(s)
}

/// pflag `int`/`int64`: `strconv.ParseInt(s, 0, 64)`.
pub fn int64(s: &str) -> Result<i64, String> {
    go::parse_int(s, 0, 64).map_err(|e| e.to_string())
}

/// pflag `uint16`: `strconv.ParseUint(s, 0, 16)`.
pub fn uint16(s: &str) -> Result<u16, String> {
    go::parse_uint(s, 0, 16)
        .map(|v| v as u16)
        .map_err(|e| e.to_string())
}

/// pflag `uint64`: `strconv.ParseUint(s, 0, 64)`.
pub fn uint64(s: &str) -> Result<u64, String> {
    go::parse_uint(s, 0, 64).map_err(|e| e.to_string())
}

/// pflag `duration`: `time.ParseDuration`, in nanoseconds.
pub fn duration(s: &str) -> Result<i64, String> {
    go::parse_duration(s)
}

/// pflag `ip` (`--ip`, `--ip6`): `net.ParseIP` of the trimmed value; empty is allowed
/// (and means unset). The value is kept as typed.
pub fn ip(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    match go::parse_ip(s.trim()) {
        Some(_) => Ok(s.to_string()),
        None => Err(format!("failed to parse IP: {}", quote(s))),
    }
}

// ---------------------------------------------------------------------------------------
// sizes and CPUs (go-units, opts.MemBytes, opts.NanoCPUs)

/// go-units `RAMInBytes`: `1g`, `512m`, `1.5 GiB`... binary multiples.
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let Some(sep) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(format!("invalid size: '{s}'"));
    };
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..sep + 1], &s[sep + 1..])
    };
    let size = go::parse_float(num).map_err(|e| e.to_string())?;
    if size < 0.0 {
        return Err(format!("invalid size: '{s}'"));
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    let bad = |sfx: &str| Err(format!("invalid suffix: '{sfx}'"));
    if sfx.len() > 3 {
        return bad(sfx);
    }
    let lower = sfx.to_lowercase();
    let b = lower.as_bytes();
    if b[0] == b'b' {
        if b.len() > 1 {
            return bad(&lower);
        }
        return Ok(size as i64);
    }
    let mul: f64 = match b[0] {
        b'k' => 1024.0,
        b'm' => 1024.0 * 1024.0,
        b'g' => 1024.0 * 1024.0 * 1024.0,
        b't' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        b'p' => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return bad(&lower),
    };
    if (b.len() == 2 && b[1] != b'b') || (b.len() == 3 && &lower[1..] != "ib") {
        return bad(&lower);
    }
    Ok((size * mul) as i64)
}

/// `opts.MemBytes` (`-m`, `--memory-reservation`, `--shm-size`, `--kernel-memory`).
pub fn mem_bytes(s: &str) -> Result<i64, String> {
    ram_in_bytes(s)
}

/// `opts.MemSwapBytes` (`--memory-swap`): as bytes, and `-1` for unlimited.
pub fn mem_swap_bytes(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(s)
}

/// `opts.NanoCPUs` (`--cpus`): a rational number (`1.5`, `3/2`, `1e-3`) times 1e9, which
/// must be a whole number.
pub fn nano_cpus(s: &str) -> Result<i64, String> {
    let not_rational = || format!("failed to parse {s} as a rational number");
    let (num, den) = parse_rational(s).ok_or_else(not_rational)?;
    // nano = num * 1e9 / den, exact
    let scaled = num
        .checked_mul(1_000_000_000)
        .ok_or("value is too precise")?;
    if den == 0 {
        return Err(not_rational());
    }
    if scaled % den != 0 {
        return Err("value is too precise".to_string());
    }
    Ok((scaled / den) as i64)
}

/// `big.Rat.SetString` for the forms a user types: `a/b` with integers, or a decimal
/// with an optional exponent. As an exact fraction (numerator, denominator > 0).
fn parse_rational(s: &str) -> Option<(i128, i128)> {
    if let Some((a, b)) = s.split_once('/') {
        let a = parse_rat_int(a, true)?;
        let b = parse_rat_int(b, false)?;
        if b == 0 {
            return None;
        }
        return Some((a, b));
    }
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let exp: i32 = match exp {
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            e.parse().ok()?
        }
        None => 0,
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let mut num: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut den: i128 = 1;
    let shift = exp - frac.len() as i32;
    if shift >= 0 {
        for _ in 0..shift {
            num = num.checked_mul(10)?;
        }
    } else {
        for _ in 0..-shift {
            den = den.checked_mul(10)?;
        }
    }
    if neg {
        num = -num;
    }
    Some((num, den))
}

fn parse_rat_int(s: &str, signed: bool) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' if signed => (true, &s[1..]),
        b'+' if signed => (false, &s[1..]),
        _ => (false, s),
    };
    let v = go::parse_uint(body, 0, 64).ok()? as i128;
    Some(if neg { -v } else { v })
}

/// `units.ParseUlimit` (`--ulimit name=soft[:hard]`).
pub fn ulimit(val: &str) -> Result<ResourcesUlimits, String> {
    let Some((name, limits)) = val.split_once('=') else {
        return Err(format!("invalid ulimit argument: {val}"));
    };
    const NAMES: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    if !NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let parts: Vec<&str> = limits.split(':').collect();
    let num = |s: &str| go::parse_int(s, 10, 64).map_err(|e| e.to_string());
    let (soft, hard) = match parts.as_slice() {
        [soft, hard] => {
            let hard = num(hard)?;
            (num(soft)?, hard)
        }
        [soft] => {
            let soft = num(soft)?;
            (soft, soft)
        }
        _ => {
            return Err(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            ));
        }
    };
    if hard != -1 {
        if soft == -1 {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: {hard}"
            ));
        }
        if soft > hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
    }
    Ok(ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft),
        hard: Some(hard),
    })
}

/// The `/dev/...:value` head shared by the blkio device validators.
fn device_value(val: &str) -> Result<(&str, &str), String> {
    match val.split_once(':') {
        Some((k, v)) if !k.is_empty() => {
            if !k.starts_with("/dev/") {
                return Err(format!("bad format for device path: {val}"));
            }
            Ok((k, v))
        }
        _ => Err(format!("bad format: {val}")),
    }
}

/// `opts.ValidateWeightDevice` (`--blkio-weight-device /dev/sda:300`).
pub fn weight_device(val: &str) -> Result<ResourcesBlkioWeightDevice, String> {
    let (k, v) = device_value(val)?;
    let bad = || format!("invalid weight for device: {val}");
    let w = go::parse_uint(v, 10, 16).map_err(|_| bad())?;
    if w > 0 && !(10..=1000).contains(&w) {
        return Err(bad());
    }
    Ok(ResourcesBlkioWeightDevice {
        path: Some(k.to_string()),
        weight: Some(w as usize),
    })
}

/// `opts.ValidateThrottleBpsDevice` (`--device-read-bps /dev/sda:1mb`).
pub fn throttle_bps_device(val: &str) -> Result<ThrottleDevice, String> {
    let (k, v) = device_value(val)?;
    let bad = || {
        format!(
            "invalid rate for device: {val}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        )
    };
    let rate = ram_in_bytes(v).map_err(|_| bad())?;
    if rate < 0 {
        return Err(bad());
    }
    Ok(ThrottleDevice {
        path: Some(k.to_string()),
        rate: Some(rate),
    })
}

/// `opts.ValidateThrottleIOpsDevice` (`--device-read-iops /dev/sda:100`).
pub fn throttle_iops_device(val: &str) -> Result<ThrottleDevice, String> {
    let (k, v) = device_value(val)?;
    let rate = go::parse_uint(v, 10, 64).map_err(|_| {
        format!(
            "invalid rate for device: {val}. The correct format is <device-path>:<number>. Number must be a positive integer"
        )
    })?;
    Ok(ThrottleDevice {
        path: Some(k.to_string()),
        rate: Some(rate as i64),
    })
}

// ---------------------------------------------------------------------------------------
// list validators (opts.ValidateXxx)

/// `validateAttach`: `stdin`, `stdout` or `stderr`, any case; lower-cased.
pub fn attach(val: &str) -> Result<String, String> {
    let s = val.to_lowercase();
    if matches!(s.as_str(), "stdin" | "stdout" | "stderr") {
        Ok(s)
    } else {
        Err("valid streams are STDIN, STDOUT and STDERR".to_string())
    }
}

/// `opts.ValidateEnv`, without the environment lookup (done when the spec is built,
/// through its `env` function): the name must not be empty.
pub fn env(val: &str) -> Result<String, String> {
    let (k, _) = val.split_once('=').unwrap_or((val, ""));
    if k.is_empty() {
        return Err(format!("invalid environment variable: {val}"));
    }
    Ok(val.to_string())
}

/// `opts.ValidateLabel`.
pub fn label(val: &str) -> Result<String, String> {
    let (key, _) = val.split_once('=').unwrap_or((val, ""));
    let key = key.trim_start_matches([' ', '\t']);
    if key.is_empty() {
        return Err(format!("invalid label '{val}': empty name"));
    }
    if key.contains([' ', '\t']) {
        return Err(format!("label '{key}' contains whitespaces"));
    }
    Ok(val.to_string())
}

/// `opts.ValidateSysctl`.
pub fn sysctl(val: &str) -> Result<String, String> {
    const NAMES: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let not_allowed = || Err(format!("sysctl '{val}' is not allowed"));
    let Some((k, _)) = val.split_once('=') else {
        return not_allowed();
    };
    if k.is_empty() {
        return not_allowed();
    }
    if NAMES.contains(&k) || k.starts_with("net.") || k.starts_with("fs.mqueue.") {
        Ok(val.to_string())
    } else {
        not_allowed()
    }
}

/// `opts.ValidateIPAddress`: the address normalised (`--dns`).
pub fn ip_address(val: &str) -> Result<String, String> {
    match go::parse_ip(val.trim()) {
        Some(ip) => Ok(go::ip_string(ip)),
        None => Err(format!("IP address is not correctly formatted: {val}")),
    }
}

/// `opts.ValidateDNSSearch`: `.` or a domain (its trailing dot removed).
pub fn dns_search(val: &str) -> Result<String, String> {
    let val = val.trim_matches(' ');
    if val == "." {
        return Ok(val.to_string());
    }
    let bad = || Err(format!("{val} is not a valid domain"));
    if !val.bytes().any(|c| c.is_ascii_alphabetic()) {
        return bad();
    }
    match domain_match(val) {
        Some(d) if d.len() < 255 => Ok(d.to_string()),
        _ => bad(),
    }
}

/// docker's domain regexp (with its `(:?` quirk, which lets a `:` precede a label or a
/// dot): `^(:?(:?L)(:?\.(:?L))*)\.?\s*$`, L = `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
/// Returns the first group.
fn domain_match(val: &str) -> Option<&str> {
    let t = val.trim_end_matches(go::is_go_space);
    let body = t.strip_suffix('.').unwrap_or(t);
    let b = body.as_bytes();
    let mut i = 0;
    let skip_colons = |i: &mut usize, max: usize| {
        let mut n = 0;
        while n < max && *i < b.len() && b[*i] == b':' {
            *i += 1;
            n += 1;
        }
    };
    skip_colons(&mut i, 2);
    loop {
        // a label
        if i >= b.len() || !b[i].is_ascii_alphanumeric() {
            return None;
        }
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
            i += 1;
        }
        if b[i - 1] == b'-' {
            return None;
        }
        if i == b.len() {
            return Some(body);
        }
        if b[i] == b':' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'.' {
            return None;
        }
        i += 1;
        skip_colons(&mut i, 2);
    }
}

/// `opts.ValidateExtraHost` (`--add-host`): `host:ip`, `host=ip`, `[v6]` brackets, or
/// `host-gateway`; normalised to `host:ip`.
pub fn extra_host(val: &str) -> Result<String, String> {
    let (k, v) = match val.split_once('=') {
        Some(kv) => Some(kv),
        None => val.split_once(':'),
    }
    .filter(|(k, _)| !k.is_empty() && !k.contains(':'))
    .ok_or_else(|| format!("bad format for add-host: {}", quote(val)))?;
    let mut v = v;
    if v != "host-gateway" {
        if v.len() > 2 && v.starts_with('[') && v.ends_with(']') {
            v = &v[1..v.len() - 1];
        }
        if ip_address(v).is_err() {
            return Err(format!("invalid IP address in add-host: {}", quote(v)));
        }
    }
    Ok(format!("{k}:{v}"))
}

/// `opts.ValidateLink` (`--link name[:alias]`).
pub fn link(val: &str) -> Result<String, String> {
    if val.is_empty() {
        return Err("empty string specified for links".to_string());
    }
    if val.splitn(3, ':').count() > 2 {
        return Err(format!("bad format for links: {val}"));
    }
    Ok(val.to_string())
}

/// `validateDeviceCgroupRule`: `^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`.
pub fn device_cgroup_rule(val: &str) -> Result<String, String> {
    if cgroup_rule_ok(val) {
        Ok(val.to_string())
    } else {
        Err(format!("invalid device cgroup format '{val}'"))
    }
}

fn cgroup_rule_ok(val: &str) -> bool {
    let Some(rest) = val
        .strip_prefix(['a', 'c', 'b'])
        .and_then(|r| r.strip_prefix(' '))
    else {
        return false;
    };
    let Some((nums, mode)) = rest.split_once(' ') else {
        return false;
    };
    let Some((major, minor)) = nums.split_once(':') else {
        return false;
    };
    let num_ok = |n: &str| n == "*" || (!n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
    num_ok(major)
        && num_ok(minor)
        && (1..=3).contains(&mode.len())
        && mode.bytes().all(|c| matches!(c, b'r' | b'w' | b'm'))
}

/// A `map` flag entry without a validator (`--annotation`): kept as typed.
pub fn map_entry(val: &str) -> Result<String, String> {
    Ok(val.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_in_bytes_as_go_units() {
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("512m"), Ok(512 << 20));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert_eq!(ram_in_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1kb"), Ok(1024));
        assert_eq!(ram_in_bytes("64MB"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("100"), Ok(100));
        assert_eq!(ram_in_bytes("100b"), Ok(100));
        assert_eq!(ram_in_bytes("1e3"), Ok(1000));
        assert_eq!(ram_in_bytes("12x").unwrap_err(), "invalid suffix: 'x'");
        assert_eq!(ram_in_bytes("12X").unwrap_err(), "invalid suffix: 'x'");
        assert_eq!(ram_in_bytes("1gbx").unwrap_err(), "invalid suffix: 'gbx'");
        assert_eq!(ram_in_bytes("1mbit").unwrap_err(), "invalid suffix: 'mbit'");
        assert_eq!(ram_in_bytes("1bb").unwrap_err(), "invalid suffix: 'bb'");
        assert_eq!(ram_in_bytes("1mx").unwrap_err(), "invalid suffix: 'mx'");
        assert_eq!(ram_in_bytes("abc").unwrap_err(), "invalid size: 'abc'");
        assert_eq!(ram_in_bytes("").unwrap_err(), "invalid size: ''");
        assert_eq!(ram_in_bytes("-5").unwrap_err(), "invalid size: '-5'");
        assert_eq!(
            ram_in_bytes("a128m").unwrap_err(),
            "strconv.ParseFloat: parsing \"a128\": invalid syntax"
        );
        assert_eq!(
            ram_in_bytes("1.2.3").unwrap_err(),
            "strconv.ParseFloat: parsing \"1.2.3\": invalid syntax"
        );
        assert_eq!(mem_swap_bytes("-1"), Ok(-1));
        assert!(mem_swap_bytes("-2").is_err());
    }

    #[test]
    fn cpus_as_rationals() {
        assert_eq!(nano_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(nano_cpus("3/2"), Ok(1_500_000_000));
        assert_eq!(nano_cpus("1e-3"), Ok(1_000_000));
        assert_eq!(nano_cpus("0.000000001"), Ok(1));
        assert_eq!(nano_cpus("-1"), Ok(-1_000_000_000));
        assert_eq!(nano_cpus("2"), Ok(2_000_000_000));
        assert_eq!(
            nano_cpus("abc").unwrap_err(),
            "failed to parse abc as a rational number"
        );
        assert_eq!(
            nano_cpus("0.0000000001").unwrap_err(),
            "value is too precise"
        );
        assert_eq!(
            nano_cpus("1/0").unwrap_err(),
            "failed to parse 1/0 as a rational number"
        );
    }

    #[test]
    fn ulimits() {
        let u = ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (Some(1024), Some(2048)));
        let u = ulimit("nofile=-1").unwrap();
        assert_eq!((u.soft, u.hard), (Some(-1), Some(-1)));
        assert_eq!(
            ulimit("nofile").unwrap_err(),
            "invalid ulimit argument: nofile"
        );
        assert_eq!(ulimit("as=1").unwrap_err(), "invalid ulimit type: as");
        assert_eq!(
            ulimit("nofile=a").unwrap_err(),
            "strconv.ParseInt: parsing \"a\": invalid syntax"
        );
        assert_eq!(
            ulimit("nofile=1:2:3").unwrap_err(),
            "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"
        );
        assert_eq!(
            ulimit("nofile=2048:1024").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"
        );
        assert_eq!(
            ulimit("nofile=-1:1024").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 1024"
        );
    }

    #[test]
    fn blkio_devices() {
        assert_eq!(weight_device("/dev/sda:300").unwrap().weight, Some(300));
        assert_eq!(weight_device("/dev/sda:0").unwrap().weight, Some(0));
        assert_eq!(weight_device("sda").unwrap_err(), "bad format: sda");
        assert_eq!(weight_device(":3").unwrap_err(), "bad format: :3");
        assert_eq!(
            weight_device("sda:3").unwrap_err(),
            "bad format for device path: sda:3"
        );
        assert_eq!(
            weight_device("/dev/sda:5").unwrap_err(),
            "invalid weight for device: /dev/sda:5"
        );
        assert_eq!(
            throttle_bps_device("/dev/sda:1mb").unwrap().rate,
            Some(1 << 20)
        );
        assert!(
            throttle_bps_device("/dev/sda:x")
                .unwrap_err()
                .starts_with("invalid rate for device: /dev/sda:x. The correct format is <device-path>:<number>[<unit>]")
        );
        assert_eq!(
            throttle_iops_device("/dev/sda:100").unwrap().rate,
            Some(100)
        );
        assert_eq!(
            throttle_iops_device("/dev/sda:1k").unwrap_err(),
            "invalid rate for device: /dev/sda:1k. The correct format is <device-path>:<number>. Number must be a positive integer"
        );
    }

    #[test]
    fn list_validators() {
        assert_eq!(attach("STDIN"), Ok("stdin".to_string()));
        assert_eq!(
            attach("foo").unwrap_err(),
            "valid streams are STDIN, STDOUT and STDERR"
        );
        assert_eq!(env("=x").unwrap_err(), "invalid environment variable: =x");
        assert_eq!(env("A"), Ok("A".to_string()));
        assert_eq!(label("=x").unwrap_err(), "invalid label '=x': empty name");
        assert_eq!(
            label("a b=c").unwrap_err(),
            "label 'a b' contains whitespaces"
        );
        assert_eq!(label("  a=b c"), Ok("  a=b c".to_string()));
        assert_eq!(
            sysctl("kernel.foo=1").unwrap_err(),
            "sysctl 'kernel.foo=1' is not allowed"
        );
        assert_eq!(
            sysctl("net.x").unwrap_err(),
            "sysctl 'net.x' is not allowed"
        );
        assert!(sysctl("net.ipv4.ip_forward=1").is_ok());
        assert!(sysctl("kernel.shmmax=1").is_ok());
        assert!(sysctl("fs.mqueue.msg_max=1").is_ok());
        assert_eq!(ip_address(" 8.8.8.8 "), Ok("8.8.8.8".to_string()));
        assert_eq!(ip_address("0:0:0:0:0:0:0:1"), Ok("::1".to_string()));
        assert_eq!(
            ip_address("x").unwrap_err(),
            "IP address is not correctly formatted: x"
        );
        assert_eq!(ip("x").unwrap_err(), "failed to parse IP: \"x\"");
        assert_eq!(ip(""), Ok(String::new()));
        assert_eq!(link("a:b:c").unwrap_err(), "bad format for links: a:b:c");
        assert_eq!(link("").unwrap_err(), "empty string specified for links");
        assert!(device_cgroup_rule("c 1:3 mr").is_ok());
        assert!(device_cgroup_rule("a *:* rwm").is_ok());
        assert_eq!(
            device_cgroup_rule("x 1:3 r").unwrap_err(),
            "invalid device cgroup format 'x 1:3 r'"
        );
        assert!(device_cgroup_rule("c 1:3 rwmr").is_err());
    }

    #[test]
    fn dns_search_domains() {
        assert_eq!(dns_search("example.com."), Ok("example.com".to_string()));
        assert_eq!(dns_search(" example.com "), Ok("example.com".to_string()));
        assert_eq!(dns_search("."), Ok(".".to_string()));
        assert_eq!(dns_search("a-b.c"), Ok("a-b.c".to_string()));
        assert_eq!(dns_search("-x").unwrap_err(), "-x is not a valid domain");
        assert_eq!(
            dns_search("a..b").unwrap_err(),
            "a..b is not a valid domain"
        );
        assert_eq!(dns_search("123").unwrap_err(), "123 is not a valid domain");
        assert_eq!(
            dns_search("a-.b").unwrap_err(),
            "a-.b is not a valid domain"
        );
        // the regexp's `(:?` quirk
        assert_eq!(dns_search(":a.:b"), Ok(":a.:b".to_string()));
    }

    #[test]
    fn extra_hosts() {
        assert_eq!(extra_host("h:1.2.3.4"), Ok("h:1.2.3.4".to_string()));
        assert_eq!(extra_host("h=1.2.3.4"), Ok("h:1.2.3.4".to_string()));
        assert_eq!(extra_host("h=[::1]"), Ok("h:::1".to_string()));
        assert_eq!(extra_host("h:::1"), Ok("h:::1".to_string()));
        assert_eq!(
            extra_host("h:host-gateway"),
            Ok("h:host-gateway".to_string())
        );
        assert_eq!(
            extra_host("h").unwrap_err(),
            "bad format for add-host: \"h\""
        );
        assert_eq!(
            extra_host(":1.2.3.4").unwrap_err(),
            "bad format for add-host: \":1.2.3.4\""
        );
        assert_eq!(
            extra_host("h:x").unwrap_err(),
            "invalid IP address in add-host: \"x\""
        );
        assert_eq!(
            extra_host("a:b=1.2.3.4").unwrap_err(),
            "bad format for add-host: \"a:b=1.2.3.4\""
        );
    }

    #[test]
    fn numbers_as_pflag() {
        assert_eq!(int64("0x10"), Ok(16));
        assert_eq!(
            int64("abc").unwrap_err(),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            uint16("70000").unwrap_err(),
            "strconv.ParseUint: parsing \"70000\": value out of range"
        );
        assert_eq!(duration("x").unwrap_err(), "time: invalid duration \"x\"");
        assert_eq!(
            bool_flag("maybe").unwrap_err(),
            "strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }
}
