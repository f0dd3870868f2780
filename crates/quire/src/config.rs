//! The config file: `--config FILE`, else `DATA_DIR/quire.toml` when present. Every `serve` flag has a
//! key, its long name without `--` (`port = 2150`, `allow-host = ["a.example"]`, `no-browser = true`).
//! Precedence: defaults < file < environment < flags.
//!
//! The file's values go to clap as if typed before the command line's own, and only for flags whose
//! value came from neither the environment nor the command line (`ArgMatches::value_source`): so clap
//! checks and converts every level the same way, and a new flag gets its key without any code here.

use anyhow::{Context, anyhow, bail};
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Flags of `serve` that are not keys of the file.
const NOT_KEYS: [&str; 2] = ["config", "help"];

/// Keys whose values `quire config show` never prints.
pub const SECRET_KEYS: [&str; 3] = ["token", "secret-key", "metrics-token"];

/// The file that applies to these arguments: `--config` (it must exist), else `DATA_DIR/quire.toml`
/// when present (`default_data_dir` when no data dir is given).
pub fn file_for(
    sub: &ArgMatches,
    default_data_dir: impl FnOnce() -> anyhow::Result<PathBuf>,
) -> anyhow::Result<Option<PathBuf>> {
    if let Some(path) = sub.get_one::<PathBuf>("config") {
        return Ok(Some(path.clone()));
    }
    let root = match sub.get_one::<PathBuf>("data_dir") {
        Some(dir) => dir.clone(),
        None => default_data_dir()?,
    };
    let path = quire_stdx::DataDir::new(root).config_file();
    Ok(path.is_file().then_some(path))
}

/// The command line with the file's values inserted at `at` (right after the subcommand's name).
/// `cmd` is that subcommand, `sub` its matches without the file.
pub fn merge(
    argv: Vec<OsString>,
    at: usize,
    cmd: &Command,
    sub: &ArgMatches,
    file: &Path,
) -> anyhow::Result<Vec<OsString>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the config file {}", file.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid TOML", file.display()))?;
    let tokens = tokens(cmd, sub, table).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let mut out = argv;
    let at = at.min(out.len());
    out.splice(at..at, tokens.into_iter().map(OsString::from));
    Ok(out)
}

/// A higher level (environment or command line) gave this argument.
fn given_above(sub: &ArgMatches, arg: &Arg) -> bool {
    matches!(
        sub.value_source(arg.get_id().as_str()),
        Some(ValueSource::EnvVariable | ValueSource::CommandLine)
    )
}

/// `a` and `b` cannot be given together (clap records a conflict on one side only).
fn excludes(cmd: &Command, a: &Arg, b: &Arg) -> bool {
    let names = |x: &Arg, y: &Arg| cmd.get_arg_conflicts_with(x).iter().any(|c| c.get_id() == y.get_id());
    names(a, b) || names(b, a)
}

fn tokens(cmd: &Command, sub: &ArgMatches, table: toml::Table) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for (key, value) in table {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && !NOT_KEYS.contains(&key.as_str()))
            .ok_or_else(|| anyhow!("unknown key `{key}` (keys are the flags of `quire serve` without --)"))?;
        // A level above wins, also over a flag it excludes (`token-file` in the file, `--token` given).
        if given_above(sub, arg) || cmd.get_arguments().any(|c| excludes(cmd, arg, c) && given_above(sub, c))
        {
            continue;
        }
        let takes_value = arg.get_action().takes_values();
        match value {
            toml::Value::Boolean(on) if !takes_value => {
                if on {
                    out.push(format!("--{key}"));
                }
            }
            _ if !takes_value => bail!("`{key}` is a switch: true or false"),
            toml::Value::Array(items) => {
                for item in items {
                    out.push(format!("--{key}={}", scalar(&key, item)?));
                }
            }
            v => out.push(format!("--{key}={}", scalar(&key, v)?)),
        }
    }
    Ok(out)
}

fn scalar(key: &str, v: toml::Value) -> anyhow::Result<String> {
    Ok(match v {
        toml::Value::String(s) => s,
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => bail!("`{key}` must be a string, a number or a list of them"),
    })
}

/// `config show`: the effective settings as TOML (itself a valid config file), secrets redacted.
pub fn show(args: &impl serde::Serialize, file: Option<&Path>) -> anyhow::Result<String> {
    let mut table = toml::Table::try_from(args)?;
    for key in SECRET_KEYS {
        if let Some(v) = table.get_mut(key) {
            *v = toml::Value::String("[redacted]".into());
        }
    }
    let origin = match file {
        Some(f) => format!("# config file: {}\n", f.display()),
        None => "# no config file\n".to_string(),
    };
    Ok(format!("{origin}{}", toml::to_string(&table)?))
}
