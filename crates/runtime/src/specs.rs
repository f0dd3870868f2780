//! Which npm package specs an install may use. By default only the registry: `name`,
//! `name@range` and `name@tag` (and the same as package.json values). `file:`, `link:`, `git+…`,
//! `github:user/repo`, `user/repo`, URLs and aliases are refused: they read the machine's own files
//! or fetch code from anywhere, past what the notebook's author could see in its dependencies list.

/// Package names: npm's rules (lowercase URL-safe characters, an optional `@scope/`, ≤ 214).
fn valid_name(name: &str) -> bool {
    let (scope, bare) = match name.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((scope, bare)) => (Some(scope), bare),
            None => return false,
        },
        None => (None, name),
    };
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.starts_with('_')
            && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
    };
    name.len() <= 214 && scope.is_none_or(part) && part(bare)
}

/// A version, range or dist-tag as the registry understands it: `^1.2`, `>=1 <2`, `1.x || 2`,
/// `latest`. Nothing with a scheme (`:`), a path (`/`, `\`) or that names a local directory.
fn registry_version(v: &str) -> bool {
    let v = v.trim();
    !v.is_empty()
        && v.len() <= 128
        && !v.starts_with('.')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || " ^~<>=|.-+*x".contains(c))
}

/// `name` or `name@version-range-or-tag`, as given to `deps:install`.
pub fn check_package_spec(spec: &str, any_source: bool) -> Result<(), String> {
    let shell_safe = !spec.is_empty()
        && spec.len() <= 256
        && !spec.starts_with('-')
        && spec.chars().all(|c| c.is_ascii_graphic() && !"\\\"'`$;|&<>(){}".contains(c));
    if !shell_safe {
        return Err(format!("'{spec}' is not a valid npm package spec"));
    }
    if any_source {
        return Ok(());
    }
    // The version starts at the first `@` after the name (a scoped name begins with one).
    let at = spec.char_indices().skip(1).find(|(_, c)| *c == '@').map(|(i, _)| i);
    let (name, version) = match at {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    if valid_name(name) && version.is_none_or(registry_version) {
        Ok(())
    } else {
        Err(format!(
            "'{spec}' is not a registry package (name, name@range or name@tag); file:, git, URL and path \
             specs are refused unless the server allows any package source"
        ))
    }
}

/// Every dependency in a notebook's package.json must be a registry package too (`npm install` with
/// no names installs them).
pub fn check_manifest(package_json: &str, any_source: bool) -> Result<(), String> {
    if any_source {
        return Ok(());
    }
    let v: serde_json::Value =
        serde_json::from_str(package_json).map_err(|e| format!("package.json is not valid JSON: {e}"))?;
    for section in ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"] {
        let Some(deps) = v.get(section).and_then(|d| d.as_object()) else { continue };
        for (name, version) in deps {
            let ok = valid_name(name) && version.as_str().is_some_and(registry_version);
            if !ok {
                return Err(format!(
                    "package.json {section}: \"{name}\": {version} is not a registry package (a version range \
                     or tag); file:, git, URL and path dependencies are refused unless the server allows any \
                     package source"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_specs_only() {
        for ok in ["lodash", "@types/node@^20", "zod@3.23.8", "react@latest", "x@~1.2.3", "y@1.x"] {
            assert!(check_package_spec(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "file:/etc",
            "file:../..",
            "git+file:///tmp/r",
            "http://127.0.0.1/x.tgz",
            "https://e.com/x.tgz",
            "user/repo",
            "github:user/repo",
            "x@file:../y",
            "x@npm:evil@1",
            "../x",
            "./x",
            "/abs",
            "--global",
            "a;rm -rf",
            "Upper",
        ] {
            assert!(check_package_spec(bad, false).is_err(), "{bad}");
        }
        assert!(check_package_spec("file:../x", true).is_ok(), "allowed by the setting");
        assert!(check_package_spec("--global", true).is_err(), "never an option");
    }

    #[test]
    fn manifest_dependencies() {
        assert!(check_manifest(r#"{"dependencies":{"zod":"^3","@types/node":"latest"}}"#, false).is_ok());
        assert!(check_manifest(r#"{"devDependencies":{"x":"file:/etc"}}"#, false).is_err());
        assert!(check_manifest(r#"{"dependencies":{"x":"user/repo"}}"#, false).is_err());
        assert!(check_manifest(r#"{"dependencies":{"x":"file:/etc"}}"#, true).is_ok());
    }
}
