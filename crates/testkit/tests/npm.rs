//! The npm install helpers against the real registry (npm must be installed, like the tests using them).

use quire_testkit::{YJS_CLIENT_PACKAGES, npm_install, npm_install_set};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn has(prefix: &Path, name: &str) -> bool {
    prefix.join("node_modules").join(name).join("package.json").exists()
}

#[test]
fn a_set_installs_once_and_reinstalls_when_its_list_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = npm_install_set(tmp.path(), "two", &["ms@2.1.3", "is-number@7.0.0"]);
    assert!(has(&prefix, "ms") && has(&prefix, "is-number"));
    // Installed already: the same prefix, untouched (a marker left inside survives).
    std::fs::write(prefix.join("marker"), "").unwrap();
    assert_eq!(npm_install_set(tmp.path(), "two", &["ms@2.1.3", "is-number@7.0.0"]), prefix);
    assert!(prefix.join("marker").exists());
    // Another list under the same name replaces the prefix.
    assert_eq!(npm_install_set(tmp.path(), "two", &["ms@2.1.3"]), prefix);
    assert!(has(&prefix, "ms") && !has(&prefix, "is-number") && !prefix.join("marker").exists());
    // The single-spec install is its own directory and still works.
    let single = npm_install(tmp.path(), "ms@2.1.3");
    assert_ne!(single, prefix);
    assert!(has(&single, "ms"));
    // No temp directory is left behind.
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("npm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The pinned Yjs set loads in the client script with a single copy of yjs (Yjs warns on stderr
/// when it is imported twice), and the script answers on stdout and exits 0 when stdin closes.
#[test]
fn the_yjs_client_set_runs_the_client_script() {
    let prefix = npm_install_set(Path::new(env!("CARGO_TARGET_TMPDIR")), "yjs-client", YJS_CLIENT_PACKAGES);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/js/yjs-client.mjs");
    let mut child = Command::new("node")
        .arg(&script)
        .args(["ws://127.0.0.1:9/yjs", "room"])
        .env("NODE_PATH", prefix.join("node_modules"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed");
    let mut stdin = child.stdin.take().unwrap();
    let commands = [
        r#"{"cmd":"addCell","cell":"c1","source":"hi"}"#,
        r#"{"cmd":"insert","cell":"c1","index":2,"text":"!"}"#,
        r#"{"cmd":"undo"}"#,
        r#"{"cmd":"cells"}"#,
        r#"{"cmd":"text","cell":"nope","tag":3}"#,
    ];
    writeln!(stdin, "{}", commands.join("\n")).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "node: {stderr}");
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"ev":"ok"}"#,
            r#"{"ev":"ok"}"#,
            r#"{"ev":"ok","changed":true}"#,
            r#"{"ev":"cells","cells":[{"id":"c1","type":"code","source":"hi"}]}"#,
            r#"{"ev":"error","message":"no cell with id \"nope\" (or its source is not a Y.Text)","tag":3}"#,
        ]
    );
}
