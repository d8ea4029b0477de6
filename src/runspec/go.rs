//! The few pieces of Go's standard library whose exact behaviour (and error text) the
//! docker CLI's flags inherit: `strconv` numbers and quoting, `time.ParseDuration`,
//! `encoding/csv` (one record), `net.ParseIP`/`ParseMAC`, `netip.ParseAddr`, `path.Clean`
//! and the text of an OS error. Pure.

use std::net::IpAddr;

/// `strconv.Quote`: a double-quoted Go string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if c.is_control() || c.is_whitespace() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Which `strconv` function failed, for its error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumFunc {
    ParseInt,
    ParseUint,
    Atoi,
    ParseFloat,
}

/// Why a `strconv` parse failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumReason {
    Syntax,
    Range,
}

/// `*strconv.NumError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumError {
    pub func: NumFunc,
    pub num: String,
    pub reason: NumReason,
}

impl NumError {
    fn new(func: NumFunc, num: &str, reason: NumReason) -> Self {
        NumError {
            func,
            num: num.to_string(),
            reason,
        }
    }

    /// The inner error alone (`invalid syntax`), as `errors.As(err, &numErr); numErr.Err`.
    pub fn reason_text(&self) -> &'static str {
        match self.reason {
            NumReason::Syntax => "invalid syntax",
            NumReason::Range => "value out of range",
        }
    }
}

impl std::fmt::Display for NumError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let func = match self.func {
            NumFunc::ParseInt => "ParseInt",
            NumFunc::ParseUint => "ParseUint",
            NumFunc::Atoi => "Atoi",
            NumFunc::ParseFloat => "ParseFloat",
        };
        write!(
            f,
            "strconv.{func}: parsing {}: {}",
            quote(&self.num),
            self.reason_text()
        )
    }
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        i = 1;
    }
    let mut hex = false;
    if b.len() - i >= 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[i + 1] | 0x20 == b'x';
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `strconv.ParseUint(s, base, bits)` for base 0 (Go syntax prefixes) or 10.
pub fn parse_uint(s: &str, base: u32, bits: u32) -> Result<u64, NumError> {
    parse_uint_as(s, base, bits, NumFunc::ParseUint)
}

fn parse_uint_as(s0: &str, base: u32, bits: u32, func: NumFunc) -> Result<u64, NumError> {
    let syntax = || NumError::new(func, s0, NumReason::Syntax);
    let range = || NumError::new(func, s0, NumReason::Range);
    if s0.is_empty() {
        return Err(syntax());
    }
    let base0 = base == 0;
    let mut s = s0.as_bytes();
    let mut base = base as u64;
    if base0 {
        base = 10;
        if s[0] == b'0' {
            if s.len() >= 3 && s[1] | 0x20 == b'b' {
                base = 2;
                s = &s[2..];
            } else if s.len() >= 3 && s[1] | 0x20 == b'o' {
                base = 8;
                s = &s[2..];
            } else if s.len() >= 3 && s[1] | 0x20 == b'x' {
                base = 16;
                s = &s[2..];
            } else {
                base = 8;
                s = &s[1..];
            }
        }
    }
    let max: u64 = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let cutoff = u64::MAX / base + 1;
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in s {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => (c - b'0') as u64,
            b'a'..=b'z' => (c - b'a' + 10) as u64,
            b'A'..=b'Z' => (c - b'A' + 10) as u64,
            _ => return Err(syntax()),
        };
        if d >= base {
            return Err(syntax());
        }
        if n >= cutoff {
            return Err(range());
        }
        n *= base;
        let n1 = n.wrapping_add(d);
        if n1 < n || n1 > max {
            return Err(range());
        }
        n = n1;
    }
    if underscores && !underscore_ok(s0) {
        return Err(syntax());
    }
    Ok(n)
}

/// `strconv.ParseInt(s, base, bits)`.
pub fn parse_int(s: &str, base: u32, bits: u32) -> Result<i64, NumError> {
    parse_int_as(s, base, bits, NumFunc::ParseInt)
}

fn parse_int_as(s0: &str, base: u32, bits: u32, func: NumFunc) -> Result<i64, NumError> {
    if s0.is_empty() {
        return Err(NumError::new(func, s0, NumReason::Syntax));
    }
    let (neg, rest) = match s0.as_bytes()[0] {
        b'+' => (false, &s0[1..]),
        b'-' => (true, &s0[1..]),
        _ => (false, s0),
    };
    let un = parse_uint_as(rest, base, bits, func).map_err(|mut e| {
        e.num = s0.to_string();
        e
    })?;
    let cutoff = 1u64 << (bits - 1);
    if !neg && un >= cutoff {
        return Err(NumError::new(func, s0, NumReason::Range));
    }
    if neg && un > cutoff {
        return Err(NumError::new(func, s0, NumReason::Range));
    }
    Ok(if neg {
        (un as i64).wrapping_neg()
    } else {
        un as i64
    })
}

/// `strconv.Atoi` (base 10, 64-bit `int`).
pub fn atoi(s: &str) -> Result<i64, NumError> {
    parse_int_as(s, 10, 64, NumFunc::Atoi)
}

/// `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            quote(s)
        )),
    }
}

/// `strconv.ParseFloat(s, 64)`: decimal (with exponent and digit underscores),
/// hexadecimal with a `p` exponent, `inf`/`infinity`/`nan`.
pub fn parse_float(s: &str) -> Result<f64, NumError> {
    let syntax = || NumError::new(NumFunc::ParseFloat, s, NumReason::Syntax);
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let sign = if neg { -1.0 } else { 1.0 };
    match lower.as_str() {
        "inf" | "infinity" => return Ok(sign * f64::INFINITY),
        "nan" if !s.starts_with(['+', '-']) => return Ok(f64::NAN),
        _ => {}
    }
    if body.contains('_') && !underscore_ok(s) {
        return Err(syntax());
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let value = if clean.len() > 2 && clean[..2].eq_ignore_ascii_case("0x") {
        parse_hex_float(&clean[2..]).ok_or_else(syntax)?
    } else {
        let b = clean.as_bytes();
        let mut i = 0;
        let mut digits = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
                digits += 1;
            }
        }
        if digits == 0 {
            return Err(syntax());
        }
        if i < b.len() && (b[i] | 0x20) == b'e' {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(syntax());
            }
        }
        if i != b.len() {
            return Err(syntax());
        }
        clean.parse::<f64>().map_err(|_| syntax())?
    };
    if value.is_infinite() {
        return Err(NumError::new(NumFunc::ParseFloat, s, NumReason::Range));
    }
    Ok(sign * value)
}

/// The mantissa and `p` exponent of a Go hexadecimal float (after `0x`).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// `time.ParseDuration`, in nanoseconds, with Go's error texts.
pub fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(orig));
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // leading int
        let before = s.len();
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + (s[i] - b'0') as u64;
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        s = &s[i..];
        let pre = before != s.len();
        let mut post = false;
        let (mut f, mut scale) = (0u64, 1f64);
        if !s.is_empty() && s[0] == b'.' {
            s = &s[1..];
            let before = s.len();
            let mut overflow = false;
            let mut i = 0;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + (s[i] - b'0') as u64;
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            s = &s[i..];
            post = before != s.len();
        }
        if !pre && !post {
            return Err(invalid());
        }
        let mut i = 0;
        while i < s.len() && !(s[i] == b'.' || s[i].is_ascii_digit()) {
            i += 1;
        }
        if i == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let unit_text = String::from_utf8_lossy(&s[..i]).into_owned();
        s = &s[i..];
        let unit: u64 = match unit_text.as_str() {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(&unit_text),
                    quote(orig)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// `csv.NewReader(strings.NewReader(s)).Read()`: the first record of `s`, with Go's
/// error texts (`EOF` when there is none).
pub fn csv_record(s: &str) -> Result<Vec<String>, String> {
    // lines as Go's readLine gives them: "\r\n" read as "\n"
    let text = s.replace("\r\n", "\n");
    let mut lines: Vec<&str> = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        match rest.find('\n') {
            Some(i) => {
                lines.push(&rest[..=i]);
                rest = &rest[i + 1..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    let mut li = 0;
    // skip empty lines
    while li < lines.len() && lines[li] == "\n" {
        li += 1;
    }
    if li == lines.len() {
        return Err("EOF".to_string());
    }
    let rec_line = li + 1;
    let mut line_no = rec_line;
    let mut line: &str = lines[li];
    li += 1;
    let strip_nl = |f: &str| -> String { f.strip_suffix('\n').unwrap_or(f).to_string() };
    let mut fields = Vec::new();
    let mut col = 1usize;
    let err = |start: usize, line: usize, col: usize, what: &str| {
        if start != line {
            format!("record on line {start}; parse error on line {line}, column {col}: {what}")
        } else {
            format!("parse error on line {line}, column {col}: {what}")
        }
    };
    const BARE: &str = "bare \" in non-quoted-field";
    const QUOTE: &str = "extraneous or missing \" in quoted-field";
    'field: loop {
        if !line.starts_with('"') {
            let (field, more) = match line.find(',') {
                Some(i) => (&line[..i], true),
                None => (line, false),
            };
            let field_text = if more {
                field.to_string()
            } else {
                strip_nl(field)
            };
            if let Some(j) = field_text.find('"') {
                return Err(err(rec_line, line_no, col + j, BARE));
            }
            fields.push(field_text);
            if more {
                let i = field.len();
                line = &line[i + 1..];
                col += i + 1;
                continue 'field;
            }
            break 'field;
        }
        // quoted field
        let mut value = String::new();
        line = &line[1..];
        col += 1;
        loop {
            if let Some(i) = line.find('"') {
                value.push_str(&line[..i]);
                line = &line[i + 1..];
                col += i + 1;
                if line.starts_with('"') {
                    value.push('"');
                    line = &line[1..];
                    col += 1;
                } else if line.starts_with(',') {
                    line = &line[1..];
                    col += 1;
                    fields.push(value);
                    continue 'field;
                } else if line.is_empty() || line == "\n" {
                    fields.push(value);
                    break 'field;
                } else {
                    return Err(err(rec_line, line_no, col - 1, QUOTE));
                }
            } else if !line.is_empty() {
                value.push_str(line);
                col += line.len();
                if li < lines.len() {
                    line = lines[li];
                    li += 1;
                    line_no += 1;
                    col = 1;
                } else {
                    line = "";
                }
            } else {
                return Err(err(rec_line, line_no, col, QUOTE));
            }
        }
    }
    Ok(fields)
}

/// `net.ParseIP(s)` (no zones, no brackets).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok()
}

/// `net.IP.String()`: an IPv4-mapped IPv6 address prints as IPv4.
pub fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// `net.ParseMAC`: 6, 8 or 20 octets as `aa:bb:..`, `aa-bb-..` or `aabb.ccdd...`; the
/// address in Go's `HardwareAddr.String()` form.
pub fn parse_mac(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 14 {
        return None;
    }
    let hex2 = |x: &[u8]| -> Option<u8> {
        let h = (x[0] as char).to_digit(16)?;
        let l = (x[1] as char).to_digit(16)?;
        Some((h * 16 + l) as u8)
    };
    let mut out = Vec::new();
    if b[2] == b':' || b[2] == b'-' {
        if !(b.len() + 1).is_multiple_of(3) {
            return None;
        }
        let n = (b.len() + 1) / 3;
        if !matches!(n, 6 | 8 | 20) {
            return None;
        }
        for i in 0..n {
            let x = i * 3;
            if i + 1 < n && b[x + 2] != b[2] {
                return None;
            }
            out.push(hex2(&b[x..x + 2])?);
        }
    } else if b[4] == b'.' {
        if !(b.len() + 1).is_multiple_of(5) {
            return None;
        }
        let n = 2 * (b.len() + 1) / 5;
        if !matches!(n, 6 | 8 | 20) {
            return None;
        }
        for i in 0..n / 2 {
            let x = i * 5;
            if i + 1 < n / 2 && b[x + 4] != b'.' {
                return None;
            }
            out.push(hex2(&b[x..x + 2])?);
            out.push(hex2(&b[x + 2..x + 4])?);
        }
    } else {
        return None;
    }
    Some(
        out.iter()
            .map(|o| format!("{o:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// `netip.ParseAddr`, with its error text (IPv4 reasons exact; IPv6 ones summarised).
pub fn parse_addr(s: &str) -> Result<IpAddr, String> {
    let fail = |msg: &str, at: Option<&str>| match at {
        Some(at) => format!("ParseAddr({}): {msg} (at {})", quote(s), quote(at)),
        None => format!("ParseAddr({}): {msg}", quote(s)),
    };
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'.' => return parse_ipv4_fields(s).map_err(|(m, at)| fail(m, at)),
            b':' => {
                return s
                    .parse::<std::net::Ipv6Addr>()
                    .map(IpAddr::V6)
                    .map_err(|_| fail("unable to parse IP", None));
            }
            b'%' => {
                let _ = i;
                return Err(fail("missing IPv6 address", None));
            }
            _ => {}
        }
    }
    Err(fail("unable to parse IP", None))
}

fn parse_ipv4_fields(s: &str) -> Result<IpAddr, (&'static str, Option<&str>)> {
    let b = s.as_bytes();
    let mut fields = [0u8; 4];
    let (mut val, mut pos, mut dig) = (0u32, 0usize, 0);
    for i in 0..b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            if dig == 1 && val == 0 {
                return Err(("IPv4 field has octet with leading zero", None));
            }
            val = val * 10 + (c - b'0') as u32;
            dig += 1;
            if val > 255 {
                return Err(("IPv4 field has value >255", None));
            }
        } else if c == b'.' {
            if i == 0 || i == b.len() - 1 || b[i - 1] == b'.' {
                return Err(("IPv4 field must have at least one digit", Some(&s[i..])));
            }
            if pos == 3 {
                return Err(("IPv4 address too long", None));
            }
            fields[pos] = val as u8;
            pos += 1;
            val = 0;
            dig = 0;
        } else {
            return Err(("unexpected character", Some(&s[i..])));
        }
    }
    if pos < 3 {
        return Err(("IPv4 address too short", None));
    }
    fields[3] = val as u8;
    Ok(IpAddr::from(fields))
}

/// `path.Clean`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// `filepath.Abs` against `cwd`.
pub fn abs_path(cwd: &std::path::Path, p: &str) -> String {
    if p.starts_with('/') {
        clean_path(p)
    } else {
        clean_path(&format!("{}/{p}", cwd.display()))
    }
}

/// The text Go gives an OS error (`no such file or directory`).
pub fn os_error_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let text = match text.rfind(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
                None => text,
            }
        }
        None => e.to_string(),
    }
}

/// Go's `\s` (`[\t\n\f\r ]`).
pub fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// Compare two API versions (`1.41` < `1.44`).
pub fn version_less(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (a, b) = (parse(a), parse(b));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x < y;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("x"), "\"x\"");
        assert_eq!(quote("a\"b\\c\n\t"), "\"a\\\"b\\\\c\\n\\t\"");
        assert_eq!(quote("\x01é"), "\"\\x01é\"");
        assert_eq!(quote("\u{a0}"), "\"\\u00a0\"");
    }

    #[test]
    fn integers_with_go_syntax() {
        assert_eq!(parse_int("0x10", 0, 64), Ok(16));
        assert_eq!(parse_int("017", 0, 64), Ok(15));
        assert_eq!(parse_int("0o17", 0, 64), Ok(15));
        assert_eq!(parse_int("0b101", 0, 64), Ok(5));
        assert_eq!(parse_int("1_000", 0, 64), Ok(1000));
        assert_eq!(parse_int("-5", 0, 64), Ok(-5));
        assert_eq!(parse_int("+5", 0, 64), Ok(5));
        assert_eq!(parse_int("0", 0, 64), Ok(0));
        assert_eq!(
            parse_int("x", 0, 64).unwrap_err().to_string(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            parse_int("1__0", 0, 64).unwrap_err().to_string(),
            "strconv.ParseInt: parsing \"1__0\": invalid syntax"
        );
        assert_eq!(
            parse_int("9223372036854775808", 0, 64)
                .unwrap_err()
                .to_string(),
            "strconv.ParseInt: parsing \"9223372036854775808\": value out of range"
        );
        assert_eq!(parse_int("-9223372036854775808", 0, 64), Ok(i64::MIN));
        assert_eq!(
            parse_int("08", 0, 64).unwrap_err().reason,
            NumReason::Syntax
        );
        assert_eq!(
            parse_uint("70000", 0, 16).unwrap_err().to_string(),
            "strconv.ParseUint: parsing \"70000\": value out of range"
        );
        assert_eq!(
            parse_uint("-1", 0, 16).unwrap_err().to_string(),
            "strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
        assert_eq!(
            atoi("3x").unwrap_err().to_string(),
            "strconv.Atoi: parsing \"3x\": invalid syntax"
        );
        assert_eq!(atoi("-3"), Ok(-3));
        assert!(atoi("0x3").is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float("1.5"), Ok(1.5));
        assert_eq!(parse_float("1e3"), Ok(1000.0));
        assert_eq!(parse_float(".5"), Ok(0.5));
        assert_eq!(parse_float("5."), Ok(5.0));
        assert_eq!(parse_float("0x1p4"), Ok(16.0));
        assert_eq!(parse_float("1_000"), Ok(1000.0));
        assert!(parse_float("1.2.3").is_err());
        assert!(parse_float("0x10").is_err());
        assert_eq!(
            parse_float("a128").unwrap_err().to_string(),
            "strconv.ParseFloat: parsing \"a128\": invalid syntax"
        );
        assert_eq!(
            parse_float("1e400").unwrap_err().to_string(),
            "strconv.ParseFloat: parsing \"1e400\": value out of range"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(10_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("500us"), Ok(500_000));
        assert_eq!(parse_duration("2µs"), Ok(2_000));
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
        assert_eq!(
            parse_duration("x").unwrap_err(),
            "time: invalid duration \"x\""
        );
        assert_eq!(
            parse_duration("10").unwrap_err(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse_duration("10x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"10x\""
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_duration(".s").unwrap_err(),
            "time: invalid duration \".s\""
        );
        assert!(parse_duration("3000000h").is_err());
    }

    #[test]
    fn csv() {
        assert_eq!(csv_record("a,b,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(csv_record("a,\"b,c\",d").unwrap(), ["a", "b,c", "d"]);
        assert_eq!(csv_record("\"a\"\"b\"").unwrap(), ["a\"b"]);
        assert_eq!(csv_record("a,").unwrap(), ["a", ""]);
        assert_eq!(csv_record("").unwrap_err(), "EOF");
        assert_eq!(
            csv_record("type=\"").unwrap_err(),
            "parse error on line 1, column 6: bare \" in non-quoted-field"
        );
        assert_eq!(
            csv_record("\"a\"b").unwrap_err(),
            "parse error on line 1, column 3: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            csv_record("\"ab").unwrap_err(),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
        assert_eq!(csv_record("a,b\nc").unwrap(), ["a", "b"]);
    }

    #[test]
    fn macs_and_addresses() {
        assert_eq!(
            parse_mac("02:42:AC:11:00:02").as_deref(),
            Some("02:42:ac:11:00:02")
        );
        assert_eq!(
            parse_mac("02-42-ac-11-00-02").as_deref(),
            Some("02:42:ac:11:00:02")
        );
        assert_eq!(
            parse_mac("0242.ac11.0002").as_deref(),
            Some("02:42:ac:11:00:02")
        );
        assert_eq!(parse_mac("x"), None);
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
        assert_eq!(parse_mac("02:42-ac:11:00:02"), None);
        assert_eq!(
            parse_addr("x").unwrap_err(),
            "ParseAddr(\"x\"): unable to parse IP"
        );
        assert_eq!(
            parse_addr("1.2.3").unwrap_err(),
            "ParseAddr(\"1.2.3\"): IPv4 address too short"
        );
        assert_eq!(
            parse_addr("1.2.3.256").unwrap_err(),
            "ParseAddr(\"1.2.3.256\"): IPv4 field has value >255"
        );
        assert_eq!(
            parse_addr("1..3.4").unwrap_err(),
            "ParseAddr(\"1..3.4\"): IPv4 field must have at least one digit (at \".3.4\")"
        );
        assert_eq!(parse_addr("10.0.0.5").unwrap().to_string(), "10.0.0.5");
        assert_eq!(
            ip_string("::ffff:1.2.3.4".parse().unwrap()),
            "1.2.3.4".to_string()
        );
    }

    #[test]
    fn paths_and_versions() {
        assert_eq!(clean_path("/a/./b/../c/"), "/a/c");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path(""), ".");
        assert_eq!(
            abs_path(std::path::Path::new("/work"), "./rel/../x"),
            "/work/x"
        );
        assert!(version_less("1.41", "1.44"));
        assert!(!version_less("1.44", "1.44"));
        assert!(!version_less("1.51", "1.44"));
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(os_error_text(&e), "no such file or directory");
    }
}
