//! The TypeScript cache and tsserver's lifetime, with a real npm install and a real node.

use quire_tsls::{Installer, Manager, OutEvent, Snapshot, SourceCell};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

#[tokio::test]
async fn concurrent_installs_into_one_cache_leave_one_complete_copy() {
    let tmp = tempfile::tempdir().unwrap();
    // Two installers stand for two server processes sharing a data dir.
    let (a, b) = (Installer::new(tmp.path().into()), Installer::new(tmp.path().into()));
    let (ra, rb) = tokio::join!(a.ensure(), b.ensure());
    let (pa, pb) = (ra.expect("first install"), rb.expect("second install"));
    assert_eq!(pa, pb);
    assert!(pa.is_file(), "{}", pa.display());
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let want = a.dir().file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(names, [want], "no temp dirs left");
    assert!(a.dir().join("node_modules/@types/node/index.d.ts").is_file(), "Node's types come along");
    // Installed: the next call does not run npm again.
    let t = std::time::Instant::now();
    a.ensure().await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(100));
}

async fn shared_tsserver() -> std::path::PathBuf {
    let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quire-typescript-cache");
    Installer::new(shared).ensure().await.expect("npm install typescript")
}

/// The parent-death guard: when the server dies, the kernel closes tsserver's stdin and tsserver exits
/// on its own (status 0, not killed).
#[tokio::test]
async fn tsserver_exits_by_itself_when_its_stdin_closes() {
    let tsserver = shared_tsserver().await;
    let mut child = tokio::process::Command::new("node")
        .arg(&tsserver)
        .arg("--disableAutomaticTypingAcquisition")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("exits").unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_service_reports_merged_diagnostics_and_stops_when_removed() {
    let cache = tempfile::tempdir().unwrap();
    shared_tsserver().await;
    let ts_dir = Installer::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("quire-typescript-cache")).dir();
    std::os::unix::fs::symlink(&ts_dir, cache.path().join(ts_dir.file_name().unwrap())).unwrap();
    let nb = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(nb.path().join("src")).unwrap();
    let m = Manager::new(cache.path().into(), Duration::from_secs(60), "node".into());
    let mut out = m.take_outputs().unwrap();
    let svc = m.service("nb", nb.path().into());
    let cell = |src: &str| SourceCell { id: "a".into(), filename: "a.ts".into(), source: src.into() };
    let snap =
        |src: &str| Snapshot { typescript: true, cells: vec![cell(src)], tsconfig: None, check_js: None };
    svc.sync(snap("let x: number = 'a'\nlet = 2;\n"));
    svc.start().await.unwrap();
    let pid = svc.pid().expect("running");
    let diags = loop {
        let o = tokio::time::timeout(Duration::from_secs(60), out.recv()).await.unwrap().unwrap();
        if let OutEvent::Diagnostics { cell_id, diagnostics } = o.event {
            assert_eq!(cell_id, "a");
            break diagnostics;
        }
    };
    let codes: Vec<i64> = diags.as_array().unwrap().iter().map(|d| d["code"].as_i64().unwrap()).collect();
    assert!(codes.contains(&2322) && codes.iter().any(|c| (1000..2000).contains(c)), "{codes:?}");
    m.remove("nb").await;
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "reaped");
}
