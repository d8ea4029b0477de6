//! `run`/`create` flags -> the engine's create body, with docker's parsing, defaults
//! and error texts (docker/cli `cli/command/container/opts.go` and `cli/opts`). Pure.

use bollard::models::{RestartPolicy, RestartPolicyNameEnum};

/// docker's `opts.ParseRestartPolicy`: `no`, `always`, `unless-stopped`,
/// `on-failure[:N]`. The name itself is the engine's to judge (its error text is
/// docker's too); what is checked here is the shape.
pub fn parse_restart(policy: &str) -> Result<RestartPolicy, String> {
    if policy.is_empty() {
        return Ok(RestartPolicy::default());
    }
    let (name, count) = match policy.split_once(':') {
        Some(("", _)) => {
            return Err("invalid restart policy format: no policy provided before colon".into());
        }
        Some((name, count)) => (name, Some(count)),
        None => (policy, None),
    };
    let retries = match count {
        None | Some("") => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?),
    };
    let name = match name {
        "no" => Some(RestartPolicyNameEnum::NO),
        "always" => Some(RestartPolicyNameEnum::ALWAYS),
        "unless-stopped" => Some(RestartPolicyNameEnum::UNLESS_STOPPED),
        "on-failure" => Some(RestartPolicyNameEnum::ON_FAILURE),
        // any other name goes to the engine, which refuses it in its own words
        _ => None,
    };
    Ok(RestartPolicy {
        name: name.or(Some(RestartPolicyNameEnum::EMPTY)),
        maximum_retry_count: retries,
    })
}

/// The raw name of a policy the enum does not know: sent as written, so the engine's
/// own error text reaches the user.
pub fn unknown_restart_name(policy: &str) -> Option<&str> {
    let name = policy.split(':').next().unwrap_or("");
    (!matches!(name, "" | "no" | "always" | "unless-stopped" | "on-failure")).then_some(name)
}

/// docker's check of `--rm` against a restart policy.
pub fn check_rm_restart(rm: bool, policy: &str) -> Result<(), String> {
    let name = policy.split(':').next().unwrap_or("");
    if rm && !matches!(name, "" | "no") {
        return Err("conflicting options: cannot specify both --restart and --rm".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        let p = parse_restart("on-failure:3").unwrap();
        assert_eq!(p.name, Some(RestartPolicyNameEnum::ON_FAILURE));
        assert_eq!(p.maximum_retry_count, Some(3));
        assert_eq!(
            parse_restart("always").unwrap().name,
            Some(RestartPolicyNameEnum::ALWAYS)
        );
        assert_eq!(
            parse_restart(":3").unwrap_err(),
            "invalid restart policy format: no policy provided before colon"
        );
        assert_eq!(
            parse_restart("on-failure:x").unwrap_err(),
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert_eq!(unknown_restart_name("sometimes"), Some("sometimes"));
        assert_eq!(unknown_restart_name("always"), None);
        assert!(check_rm_restart(true, "always").is_err());
        assert!(check_rm_restart(true, "no").is_ok());
        assert!(check_rm_restart(false, "always").is_ok());
    }
}
