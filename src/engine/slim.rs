//! A container's inspect JSON without its per-port maps.
//!
//! The engine lists every exposed port of a container twice in its inspect answer
//! (`Config.ExposedPorts` and `NetworkSettings.Ports`): 64,512 entries each for
//! `-p 1024-65535:1024-65535`. berth reads published ports from its own label, which
//! holds ranges, so the commands that only need a container's state, labels and
//! addresses drop those two maps before parsing the answer: the cost of an inspect then
//! does not grow with the number of ports. The JSON is walked as JSON (strings, nesting),
//! so a label or a path that happens to contain the same words is left alone.

/// `body` with `Config.ExposedPorts` and `NetworkSettings.Ports` removed; anything it
/// cannot read as a JSON object comes back unchanged (the parser then judges it).
pub fn without_port_maps(body: Vec<u8>) -> Vec<u8> {
    let mut cut: Vec<(usize, usize)> = Vec::new();
    let end = members(&body, 0, &mut |key, value, _member| {
        let inner: &[u8] = match key {
            b"Config" => b"ExposedPorts",
            b"NetworkSettings" => b"Ports",
            _ => return true,
        };
        if body.get(value) != Some(&b'{') {
            return true;
        }
        members(&body, value, &mut |k, _, member| {
            if k == inner {
                cut.push(member);
            }
            true
        })
        .is_some()
    });
    if end.is_none_or(|e| ws(&body, e) != body.len()) || cut.is_empty() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for (a, b) in cut {
        if a < at {
            // the same key twice in one object: leave the text to the parser
            return body;
        }
        out.extend_from_slice(&body[at..a]);
        at = b;
    }
    out.extend_from_slice(&body[at..]);
    out
}

/// What [`members`] calls for each member: key, start of the value, span to cut.
type Member<'a> = dyn FnMut(&[u8], usize, (usize, usize)) -> bool + 'a;

/// Call `each(key, value start, member span)` for every member of the object at
/// `start`; the span covers the member and one comma beside it, so cutting it leaves
/// valid JSON. `each` returning false stops the walk as a failure. The end of the
/// object, or `None` when the text is not a well-formed object.
fn members(s: &[u8], start: usize, each: &mut Member<'_>) -> Option<usize> {
    let mut i = ws(s, start);
    if s.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(s, i + 1);
    if s.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    let mut prev_comma: Option<usize> = None;
    loop {
        let key_start = i;
        let key_end = string(s, i)?;
        i = ws(s, key_end);
        if s.get(i) != Some(&b':') {
            return None;
        }
        let value = ws(s, i + 1);
        let value_end = value_end(s, value)?;
        i = ws(s, value_end);
        let (span, next) = match s.get(i)? {
            b',' => ((key_start, ws(s, i + 1)), Some(ws(s, i + 1))),
            b'}' => ((prev_comma.unwrap_or(key_start), value_end), None),
            _ => return None,
        };
        if !each(&s[key_start + 1..key_end - 1], value, span) {
            return None;
        }
        match next {
            Some(n) => {
                prev_comma = Some(i);
                i = n;
            }
            None => return Some(i + 1),
        }
    }
}

fn ws(s: &[u8], mut i: usize) -> usize {
    while matches!(s.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end (one past the closing quote) of the string at `i`.
fn string(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match s.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The end of the value at `i`: a string, an object or array (nesting counted, strings
/// skipped), or a number / `true` / `false` / `null`.
fn value_end(s: &[u8], i: usize) -> Option<usize> {
    match s.get(i)? {
        b'"' => string(s, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match s.get(j)? {
                    b'"' => {
                        j = string(s, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while s
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn slim(v: &Value) -> Value {
        let body = serde_json::to_vec(v).unwrap();
        serde_json::from_slice(&without_port_maps(body)).unwrap()
    }

    #[test]
    fn the_two_port_maps_go_and_everything_else_stays() {
        let v = json!({
            "Id": "abc",
            "Config": {"Image": "busybox", "ExposedPorts": {"80/tcp": {}, "81/tcp": {}},
                       "Labels": {"x": "\"ExposedPorts\":{}"}},
            "NetworkSettings": {"Ports": {"80/tcp": null}, "Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
            "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}
        });
        let want = json!({
            "Id": "abc",
            "Config": {"Image": "busybox", "Labels": {"x": "\"ExposedPorts\":{}"}},
            "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
            "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}
        });
        assert_eq!(slim(&v), want);
    }

    #[test]
    fn a_map_first_last_or_alone_leaves_valid_json() {
        for (v, want) in [
            (
                json!({"Config": {"ExposedPorts": {"1/tcp": {}}, "Image": "i"}}),
                json!({"Config": {"Image": "i"}}),
            ),
            (
                json!({"Config": {"Image": "i", "ExposedPorts": {"1/tcp": {}}}}),
                json!({"Config": {"Image": "i"}}),
            ),
            (
                json!({"Config": {"ExposedPorts": {"1/tcp": {}}}}),
                json!({"Config": {}}),
            ),
            (
                json!({"NetworkSettings": {"Ports": {}}, "Config": {"ExposedPorts": null}}),
                json!({"NetworkSettings": {}, "Config": {}}),
            ),
        ] {
            assert_eq!(slim(&v), want, "{v}");
        }
    }

    #[test]
    fn the_same_names_elsewhere_are_kept() {
        let v = json!({
            "Ports": {"1/tcp": {}},
            "Labels": {"ExposedPorts": "x"},
            "HostConfig": {"ExposedPorts": {"1/tcp": {}}, "Ports": [1, 2]},
            "Config": {"Labels": {"ExposedPorts": "{", "Ports": "}"}}
        });
        assert_eq!(slim(&v), v);
    }

    #[test]
    fn text_that_is_not_an_object_comes_back_unchanged() {
        for body in [
            &b""[..],
            b"[1,2]",
            b"{\"Config\":{\"ExposedPorts\":{\"1/tcp\":{}}",
            b"{\"Config\" {}}",
            b"{\"Config\":{\"ExposedPorts\":{\"1/tcp\":{}}}, ",
        ] {
            assert_eq!(without_port_maps(body.to_vec()), body, "{body:?}");
        }
    }

    #[test]
    fn whitespace_between_tokens_is_read() {
        let body =
            b"{ \"Config\" : { \"ExposedPorts\" : { \"1/tcp\" : { } } , \"Image\" : \"i\" } }\n";
        let v: Value = serde_json::from_slice(&without_port_maps(body.to_vec())).unwrap();
        assert_eq!(v, json!({"Config": {"Image": "i"}}));
    }
}
