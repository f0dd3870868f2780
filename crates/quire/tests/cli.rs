//! The real binary: --version, --help, the listening line, token generation, refusals, clean exit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn quire() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_quire"));
    c.env_remove("QUIRE_HOST")
        .env_remove("QUIRE_PORT")
        .env_remove("QUIRE_TOKEN")
        .env_remove("QUIRE_DATA_DIR");
    c
}

#[test]
fn version_and_help() {
    let out = quire().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("quire {}", env!("CARGO_PKG_VERSION")));
    let out = quire().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--host",
        "--port",
        "--data-dir",
        "--token",
        "--no-browser",
        "--allow-host",
        "--allow-origin",
        "--log-format",
    ] {
        assert!(help.contains(flag), "{flag} missing from help");
    }
}

/// Start `quire serve`, return the child and the URL from its one stdout line.
fn start(args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = quire();
    cmd.arg("serve").arg("--no-browser");
    if !args.contains(&"--data-dir") {
        cmd.arg("--data-dir").arg(tempfile::tempdir().unwrap().keep());
    }
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line.trim().to_string())
}

fn terminate(mut child: Child) {
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
}

fn get(url: &str) -> (u16, String) {
    // A tiny blocking HTTP/1.1 GET, so the test needs no client crate.
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (hostport, path) =
        rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split(' ').nth(1).unwrap().parse().unwrap();
    (status, buf)
}

#[test]
fn serve_prints_the_real_port_and_a_random_token_then_exits_cleanly() {
    let (child, line) = start(&["--port", "0"], &[]);
    let url = line.strip_prefix("Quire listening on ").unwrap_or_else(|| panic!("{line}"));
    let (base, token) = url.split_once("/?token=").unwrap();
    assert!(!base.ends_with(":0"), "{base}");
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    let mut ready = false;
    for _ in 0..200 {
        if get(&format!("{base}/ready")).0 == 200 {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(ready);
    assert_eq!(get(&format!("{base}/api/sessions")).0, 401);
    assert_eq!(get(&format!("{base}/api/sessions?token={token}")).0, 200);
    terminate(child);
}

#[test]
fn env_fallbacks_are_read() {
    let (child, line) = start(&[], &[("QUIRE_PORT", "0"), ("QUIRE_TOKEN", "env-token-0123456789")]);
    assert!(line.ends_with("/?token=env-token-0123456789"), "{line}");
    assert!(line.starts_with("Quire listening on http://127.0.0.1:"), "{line}");
    terminate(child);
    // A token file keeps the token off the command line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "file-token-0123456789\n").unwrap();
    let (child, line) = start(&["--port", "0", "--token-file", file.to_str().unwrap()], &[]);
    assert!(line.ends_with("/?token=file-token-0123456789"), "{line}");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("file-token-0123456789"));
    terminate(child);
}

#[test]
fn non_loopback_without_token_refuses_to_start() {
    let data = tempfile::tempdir().unwrap();
    let out = quire()
        .args(["serve", "--no-browser", "--port", "0", "--host", "0.0.0.0", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without --token"));
}

#[test]
fn rotate_key_refuses_while_serving_and_works_after() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let (child, _) = start(&["--port", "0", "--data-dir", dir], &[]);
    let out = quire().args(["admin", "rotate-key", "--data-dir", dir]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it first"), "{out:?}");
    let key_before = std::fs::read_to_string(data.path().join("secret.key")).unwrap();
    terminate(child);
    let out = quire().args(["admin", "rotate-key", "--data-dir", dir]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_ne!(std::fs::read_to_string(data.path().join("secret.key")).unwrap(), key_before);
    // The server starts on the rotated key.
    let (child, _) = start(&["--port", "0", "--data-dir", dir], &[]);
    terminate(child);
}

#[test]
fn doctor_checks_the_install_and_the_log_file_gets_lines() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let log = data.path().join("quire.log");
    let (child, line) = start(&["--port", "0", "--data-dir", dir, "--log-file", log.to_str().unwrap()], &[]);
    let url = line.rsplit(' ').next().unwrap();
    let (status, _) = get(&url.replace("/?token=", "/health?x="));
    assert_eq!(status, 200);
    terminate(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("starting") && !text.contains("\u{1b}["), "{text}");
    let out = quire().args(["doctor", "--data-dir", dir]).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("ok    database: integrity check passed") && report.contains("ok    instance key"),
        "{report}"
    );
    let out = quire().args(["doctor", "--data-dir", dir, "--node", "/nonexistent/node"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL  node"));
}

#[test]
fn logout_all_signs_browsers_out_while_serving() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let (child, line) = start(&["--port", "0", "--data-dir", dir], &[]);
    let url = line.rsplit(' ').next().unwrap().to_string();
    let (status, resp) = get(&url);
    assert_eq!(status, 302);
    let cookie = resp
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let base = url.split("/?").next().unwrap().to_string();
    let with_cookie = |path: &str| {
        use std::io::{Read, Write};
        let hostport = base.strip_prefix("http://").unwrap();
        let mut s = std::net::TcpStream::connect(hostport).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        buf.split(' ').nth(1).unwrap().parse::<u16>().unwrap()
    };
    assert_eq!(with_cookie("/api/sessions"), 200);
    let out = quire().args(["admin", "logout-all", "--data-dir", dir]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signed out 1"));
    assert_eq!(with_cookie("/api/sessions"), 401);
    terminate(child);
}
