//! `--gpus` (docker/cli `opts.GpuOpts`): one CSV record of `all`, `N`, `count=`,
//! `device=`, `driver=`, `capabilities=`, `options=`. Pure.

use std::collections::{HashMap, HashSet};

use bollard::models::DeviceRequest;

use super::go;

fn parse_count(s: &str) -> Result<i64, String> {
    if s == "all" {
        return Ok(-1);
    }
    go::atoi(s).map_err(|e| {
        format!(
            "invalid count ({s}): value must be either \"all\" or an integer: {}",
            e.reason_text()
        )
    })
}

/// `GpuOpts.Set`: one device request.
pub fn gpus(value: &str) -> Result<DeviceRequest, String> {
    let fields = go::csv_record(value)?;
    let mut req = DeviceRequest::default();
    let mut count: Option<i64> = None;
    let mut seen: HashSet<String> = HashSet::new();
    for field in &fields {
        let (key, val, with_value) = match field.split_once('=') {
            Some((k, v)) => (k, v, true),
            None => (field.as_str(), "", false),
        };
        if !seen.insert(key.to_string()) {
            return Err(format!(
                "gpu request key '{key}' can be specified only once"
            ));
        }
        if !with_value {
            seen.insert("count".to_string());
            count = Some(parse_count(key)?);
            continue;
        }
        match key {
            "driver" => req.driver = Some(val.to_string()),
            "count" => count = Some(parse_count(val)?),
            "device" => req.device_ids = Some(val.split(',').map(str::to_string).collect()),
            "capabilities" => {
                let mut caps: Vec<String> = val.split(',').map(str::to_string).collect();
                caps.push("gpu".to_string());
                req.capabilities = Some(vec![caps]);
            }
            "options" => {
                let opts =
                    go::csv_record(val).map_err(|e| format!("failed to read gpu options: {e}"))?;
                req.options = Some(
                    opts.iter()
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                            (k.to_string(), v.to_string())
                        })
                        .collect(),
                );
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if !seen.contains("count") && req.device_ids.is_none() {
        count = Some(1);
    }
    req.count = Some(count.unwrap_or(0));
    req.driver.get_or_insert_with(String::new);
    req.options.get_or_insert_with(HashMap::new);
    req.capabilities
        .get_or_insert_with(|| vec![vec!["gpu".to_string()]]);
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_requests() {
        let r = gpus("all").unwrap();
        assert_eq!(r.count, Some(-1));
        assert_eq!(r.capabilities, Some(vec![vec!["gpu".to_string()]]));
        let r = gpus("count=2,capabilities=compute").unwrap();
        assert_eq!(r.count, Some(2));
        assert_eq!(
            r.capabilities,
            Some(vec![vec!["compute".to_string(), "gpu".to_string()]])
        );
        assert_eq!(r.options, Some(HashMap::new()));
        let r = gpus("\"device=0,1\"").unwrap();
        assert_eq!(r.device_ids, Some(vec!["0".to_string(), "1".to_string()]));
        assert_eq!(r.count, Some(0));
        assert_eq!(gpus("driver=nvidia").unwrap().count, Some(1));
        assert_eq!(
            gpus("foo").unwrap_err(),
            "invalid count (foo): value must be either \"all\" or an integer: invalid syntax"
        );
        assert_eq!(
            gpus("all,count=2").unwrap_err(),
            "gpu request key 'count' can be specified only once"
        );
        assert_eq!(
            gpus("bar=1").unwrap_err(),
            "unexpected key 'bar' in 'bar=1'"
        );
        assert_eq!(gpus("").unwrap_err(), "EOF");
    }
}
