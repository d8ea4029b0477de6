//! Pure output helpers that reproduce the docker CLI's text exactly: the PORTS column
//! (`DisplayablePorts`), "2 minutes ago" (`HumanDuration`), `Ellipsis`, Go's `%q`, the
//! natural sort of `docker port`, and docker's tab-aligned tables. Scripts parse docker's
//! output, so these follow docker/cli (v29 line) and go-units to the byte.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

/// One entry of a container's port list, as the engine's `PortSummary` has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortEntry {
    /// `None` for a port that is only exposed.
    pub ip: Option<IpAddr>,
    pub public: u16,
    pub private: u16,
    pub proto: String,
}

/// netip.Addr.Less: no address first, then IPv4, then IPv6, each numerically.
fn cmp_ip(a: &Option<IpAddr>, b: &Option<IpAddr>) -> Ordering {
    fn key(ip: &Option<IpAddr>) -> (u8, u128) {
        match ip {
            None => (0, 0),
            Some(IpAddr::V4(v4)) => (1, u128::from(u32::from(*v4))),
            Some(IpAddr::V6(v6)) => (2, u128::from(*v6)),
        }
    }
    key(a).cmp(&key(b))
}

/// `ip:port`, IPv6 in brackets (Go's `net.JoinHostPort`).
pub fn join_host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// docker's PORTS column: exposed-only ports and ports published on the same number are
/// grouped into ranges (`8000-8002/tcp`, `0.0.0.0:8000-8002->8000-8002/tcp`); other
/// mappings are listed one by one after the groups.
pub fn displayable_ports(ports: &[PortEntry]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| {
        a.private
            .cmp(&b.private)
            .then_with(|| cmp_ip(&a.ip, &b.ip))
            .then_with(|| a.public.cmp(&b.public))
            .then_with(|| a.proto.cmp(&b.proto))
    });
    // group key -> (first, last); keys in creation order
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut result = Vec::new();
    let mut host_mappings = Vec::new();
    for p in &ports {
        let current = p.private;
        let mut key = p.proto.clone();
        if let Some(ip) = p.ip {
            if p.public != current {
                host_mappings.push(format!(
                    "{}->{}/{}",
                    join_host_port(&ip.to_string(), &p.public.to_string()),
                    p.private,
                    p.proto
                ));
                continue;
            }
            key = format!("{ip}/{}", p.proto);
        }
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            None => groups.push((key, current, current)),
            Some(group) if u32::from(current) == u32::from(group.2) + 1 => group.2 = current,
            Some(group) => {
                result.push(form_group(&group.0, group.1, group.2));
                group.1 = current;
                group.2 = current;
            }
        }
    }
    for (key, first, last) in &groups {
        result.push(form_group(key, *first, *last));
    }
    result.extend(host_mappings);
    result.join(", ")
}

fn form_group(key: &str, start: u16, last: u16) -> String {
    let parts: Vec<&str> = key.split('/').collect();
    let (ip, proto) = if parts.len() > 1 {
        (parts[0], parts[1])
    } else {
        ("", parts[0])
    };
    let mut group = start.to_string();
    if start != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{}->{group}", join_host_port(ip, &group));
    }
    format!("{group}/{proto}")
}

/// go-units `HumanDuration`, for whole seconds.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = ((secs as f64) / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", secs / 3600 / 24 / 365)
}

/// docker's `Ellipsis`: at most `max` characters, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// fvbommel/sortorder's `NaturalLess` as an ordering: digit runs compare as numbers.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ca, cb) = (a[i], b[j]);
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            let ni = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let nj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (da, db) = (&a[ni..i], &b[nj..j]);
            let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
            if ord != Ordering::Equal {
                return ord;
            }
            // equal values: fewer leading zeros first
            let ord = (ni - si).cmp(&(nj - sj));
            if ord != Ordering::Equal {
                return ord;
            }
            continue;
        }
        if ca != cb {
            return ca.cmp(&cb);
        }
        i += 1;
        j += 1;
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// docker's table writer (Go's tabwriter with minwidth 10, padding 3): every column but
/// the last is padded to max(10, widest cell + 3); the last is never padded.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max(cell.chars().count() + 3).max(10);
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// JSON text as Go's `json.Marshal` writes it: `<`, `>`, `&` escaped as `\u003c`...
pub fn go_json(value: &serde_json::Value) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Go's `time.Unix(secs, 0).String()` in UTC: `2024-01-02 03:04:05 +0000 UTC`.
pub fn go_time_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// RFC 3339 time as the engine writes it (`2024-01-02T03:04:05.123456789Z`, or with a
/// `+01:00` offset) -> (seconds since the epoch, nanoseconds).
pub fn parse_rfc3339(text: &str) -> Option<(i64, u32)> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { text.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let f = &frac[..digits.min(9)];
        nanos = format!("{f:0<9}").parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset, nanos))
}

/// (year, month, day) -> days since 1970-01-01, proleptic Gregorian.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go_units() {
        for (secs, want) in [
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (3599, "59 minutes"),
            (3600, "About an hour"),
            (5399, "About an hour"),
            (5400, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (14 * 86400, "2 weeks"),
            (60 * 86400, "2 months"),
            (2 * 365 * 86400, "2 years"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn ellipsis_and_quote() {
        assert_eq!(ellipsis("short", 20), "short");
        assert_eq!(
            ellipsis("/docker-entrypoint.sh nginx", 20),
            "/docker-entrypoint.…"
        );
        assert_eq!(go_quote("sh -c \"x\"\n"), "\"sh -c \\\"x\\\"\\n\"");
        assert_eq!(go_quote(""), "\"\"");
    }

    fn natural_less(a: &str, b: &str) -> bool {
        natural_cmp(a, b) == Ordering::Less
    }

    #[test]
    fn natural_order() {
        assert!(natural_less("80/tcp -> 0.0.0.0:1", "443/tcp -> 0.0.0.0:1"));
        assert!(natural_less("0.0.0.0:8080", "[::]:8080"));
        assert!(natural_less("a2", "a10"));
        assert!(!natural_less("a10", "a2"));
    }

    #[test]
    fn tables_like_docker() {
        let rows = vec![
            vec!["CONTAINER ID".into(), "IMAGE".into(), "NAMES".into()],
            vec!["0123456789ab".into(), "busybox".into(), "web".into()],
        ];
        assert_eq!(
            tabwrite(&rows),
            "CONTAINER ID   IMAGE     NAMES\n0123456789ab   busybox   web\n"
        );
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.5Z"),
            Some((1_700_000_000, 500_000_000))
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.000000001+01:00"),
            Some((1_700_000_000, 1))
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn go_times() {
        assert_eq!(go_time_utc(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time_utc(1_700_000_000), "2023-11-14 22:13:20 +0000 UTC");
    }
}
