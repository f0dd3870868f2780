//! The config file against the real binary: each level of defaults < file < environment < flags wins
//! over the one below, an unknown key is refused by name, `config show` redacts secrets, and
//! `DATA_DIR/quire.toml` is read when present.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// `quire ARGS` with none of the developer's own QUIRE_* variables.
fn quire(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quire"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("QUIRE_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args);
    cmd
}

/// `config show` with `extra` over the data dir `data`: its output, which must be a success.
fn show(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = quire(&["config", "show", "--data-dir"]);
    cmd.arg(data).args(extra).envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The value of `key` in the printed TOML, as written.
fn value(toml: &str, key: &str) -> Option<String> {
    toml.lines().find_map(|l| l.strip_prefix(&format!("{key} = ")).map(str::to_string))
}

#[test]
fn each_level_wins_over_the_one_below() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("quire.toml");
    std::fs::write(&file, "port = 1111\nmax-body = 5000\nno-browser = true\nallow-host = [\"a.example\"]\n")
        .unwrap();
    let config = file.to_str().unwrap();

    let defaults = show(&data, &[], &[]);
    assert_eq!(value(&defaults, "port").as_deref(), Some("2150"), "{defaults}");
    assert_eq!(value(&defaults, "no-browser").as_deref(), Some("false"));
    assert!(defaults.starts_with("# no config file"), "{defaults}");

    let from_file = show(&data, &["--config", config], &[]);
    assert_eq!(value(&from_file, "port").as_deref(), Some("1111"), "{from_file}");
    assert_eq!(value(&from_file, "max-body").as_deref(), Some("5000"));
    assert_eq!(value(&from_file, "no-browser").as_deref(), Some("true"));
    assert_eq!(value(&from_file, "allow-host").as_deref(), Some("[\"a.example\"]"));

    let from_env = show(&data, &["--config", config], &[("QUIRE_PORT", "2222")]);
    assert_eq!(value(&from_env, "port").as_deref(), Some("2222"), "{from_env}");
    assert_eq!(value(&from_env, "max-body").as_deref(), Some("5000"), "the rest of the file still applies");

    let from_flag = show(&data, &["--config", config, "--port", "3333"], &[("QUIRE_PORT", "2222")]);
    assert_eq!(value(&from_flag, "port").as_deref(), Some("3333"), "{from_flag}");

    // A flag also wins over a file key it excludes (token-file in the file, --token given).
    std::fs::write(&file, "token-file = \"/nonexistent\"\n").unwrap();
    let excluded = show(&data, &["--config", config, "--token", "a-token-from-the-flag"], &[]);
    assert_eq!(value(&excluded, "token-file"), None, "{excluded}");
}

#[test]
fn an_unknown_key_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quire.toml");
    std::fs::write(&file, "port = 1111\nprot = 2150\n").unwrap();
    for sub in [&["config", "show"][..], &["serve", "--no-browser", "--port", "0"][..]] {
        let mut cmd = quire(sub);
        cmd.arg("--data-dir").arg(dir.path().join("data")).arg("--config").arg(&file);
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sub:?} must fail");
        assert!(err.contains("unknown key `prot`"), "{sub:?}: {err}");
    }
    // A value of the wrong type is refused as clap refuses the flag.
    std::fs::write(&file, "port = \"many\"\n").unwrap();
    let out = quire(&["config", "show", "--config"]).arg(&file).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--port"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn config_show_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quire.toml");
    std::fs::write(&file, "metrics-token = \"metrics-secret-from-the-file\"\n").unwrap();
    let key = "ab".repeat(32);
    let out = show(
        &dir.path().join("data"),
        &["--config", file.to_str().unwrap(), "--token", "token-secret-from-the-flag"],
        &[("QUIRE_SECRET_KEY", &key)],
    );
    for secret in ["metrics-secret-from-the-file", "token-secret-from-the-flag", key.as_str()] {
        assert!(!out.contains(secret), "{secret} shown: {out}");
    }
    for k in ["token", "secret-key", "metrics-token"] {
        assert_eq!(value(&out, k).as_deref(), Some("\"[redacted]\""), "{k}: {out}");
    }
}

#[test]
fn the_data_dirs_quire_toml_is_read_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let token = "token-from-the-data-dir-file";
    std::fs::write(data.join("quire.toml"), format!("port = 0\nno-browser = true\ntoken = \"{token}\"\n"))
        .unwrap();

    let out = show(&data, &[], &[]);
    assert!(out.starts_with("# config file: "), "{out}");
    assert_eq!(value(&out, "port").as_deref(), Some("0"));

    // `serve` uses it: a free port (not 2150) and the file's token in the printed URL.
    let mut cmd = quire(&["serve", "--data-dir"]);
    cmd.arg(&data).env("CI", "1").stdout(Stdio::piped()).stderr(Stdio::null());
    let mut server = common::Server(cmd.spawn().unwrap());
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains(&format!("?token={token}")), "{line}");
    assert!(!line.contains(":2150/"), "{line}");
    server.stop();
}
