//! `--env-file` and `--label-file` (docker/cli `pkg/kvfile`): `KEY=value` lines,
//! comments and blank lines skipped, bare `KEY` looked up (env files) or dropped (label
//! files). Reads the file; otherwise pure.

use super::go;

/// How a line without `=` gets its value (env files: berth's environment).
pub type Lookup<'a> = Option<&'a dyn Fn(&str) -> Option<String>>;

/// Parse the text of one file (`kvfile.parseKeyValueFile`).
pub fn parse_text(bytes: &[u8], lookup: Lookup) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > 64 * 1024 {
            return Err("bufio.Scanner: token too long".to_string());
        }
        let Ok(text) = std::str::from_utf8(line) else {
            let list: Vec<String> = line.iter().map(u8::to_string).collect();
            return Err(format!(
                "invalid utf8 bytes at line {number}: [{}]",
                list.join(" ")
            ));
        };
        let text = if number == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        let line = text.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, has_value) = match line.split_once('=') {
            Some((k, _)) => (k, true),
            None => (line, false),
        };
        if key.is_empty() {
            return Err(format!("no variable name on line '{line}'"));
        }
        if key.contains([' ', '\t']) {
            return Err(format!("variable '{key}' contains whitespaces"));
        }
        if has_value {
            out.push(line.to_string());
        } else if let Some(lookup) = lookup
            && let Some(value) = lookup(line)
        {
            out.push(format!("{key}={value}"));
        }
    }
    Ok(out)
}

/// `kvfile.Parse`: read and parse `path`, errors in docker's words.
pub fn parse_file(path: &str, lookup: Lookup) -> Result<Vec<String>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            return Err(format!(
                "invalid env file ({path}): read {path}: {}",
                go::os_error_text(&e)
            ));
        }
        Err(e) => return Err(format!("open {path}: {}", go::os_error_text(&e))),
    };
    parse_text(&bytes, lookup).map_err(|e| format!("invalid env file ({path}): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_lines() {
        let lookup = |k: &str| (k == "HOME").then(|| "/root".to_string());
        let text = b"\xef\xbb\xbfA=1\n# comment\n\n  B= 2 \nHOME\nMISSING\r\nC=x # y\n";
        assert_eq!(
            parse_text(text, Some(&lookup)).unwrap(),
            ["A=1", "B= 2 ", "HOME=/root", "C=x # y"]
        );
        assert_eq!(parse_text(b"HOME\n", None).unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_text(b"=x\n", None).unwrap_err(),
            "no variable name on line '=x'"
        );
        assert_eq!(
            parse_text(b"Y =1\n", None).unwrap_err(),
            "variable 'Y ' contains whitespaces"
        );
        assert_eq!(
            parse_text(b"A=\xff\n", None).unwrap_err(),
            "invalid utf8 bytes at line 1: [65 61 255]"
        );
        assert_eq!(
            parse_file("/nonexistent/env", None).unwrap_err(),
            "open /nonexistent/env: no such file or directory"
        );
    }
}
