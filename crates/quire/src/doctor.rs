//! `quire doctor`: check what Quire needs on this machine and say how to fix what is missing.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

struct Report {
    failures: usize,
}

impl Report {
    fn ok(&self, what: &str, detail: &str) {
        println!("ok    {what}: {detail}");
    }
    fn warn(&self, what: &str, detail: &str) {
        println!("warn  {what}: {detail}");
    }
    fn fail(&mut self, what: &str, detail: &str) {
        self.failures += 1;
        println!("FAIL  {what}: {detail}");
    }
}

/// `program --version`, with a time limit.
fn version(program: &Path) -> Result<String, String> {
    let mut child = Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut out = String::new();
            if let Some(mut so) = child.stdout.take() {
                use std::io::Read;
                let _ = so.read_to_string(&mut out);
            }
            return if status.success() {
                Ok(out.trim().to_string())
            } else {
                Err(format!("exited with {status}"))
            };
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return Err("timed out".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `secret_key`: `--secret-key` when given (else the key file is checked).
pub fn run(data: &quire_stdx::DataDir, node: &Path, secret_key: Option<&str>) -> anyhow::Result<bool> {
    let data_dir = data.root();
    let mut r = Report { failures: 0 };
    match version(node) {
        Ok(v) => {
            let major: u32 =
                v.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
            if major >= 20 {
                r.ok("node", &v);
            } else {
                r.fail("node", &format!("{v} is too old; install Node.js 20 or newer"));
            }
        }
        Err(e) => r.fail(
            "node",
            &format!("{} not runnable ({e}); install Node.js 20+ or pass --node", node.display()),
        ),
    }
    match version(Path::new("npm")) {
        Ok(v) => r.ok("npm", &v),
        Err(e) => r.fail("npm", &format!("not runnable ({e}); dependency installs and formatting need npm")),
    }
    if let Err(e) = std::fs::create_dir_all(data_dir) {
        r.fail("data dir", &format!("cannot create {}: {e}", data_dir.display()));
        return Ok(false);
    }
    let probe = data.doctor_probe();
    match std::fs::write(&probe, b"ok").and_then(|_| std::fs::remove_file(&probe)) {
        Ok(()) => r.ok("data dir", &format!("{} is writable", data_dir.display())),
        Err(e) => r.fail("data dir", &format!("{} is not writable: {e}", data_dir.display())),
    }
    match rustix::fs::statvfs(data_dir) {
        Ok(st) => {
            let free = st.f_bavail * st.f_frsize;
            let gib = free as f64 / (1u64 << 30) as f64;
            if free < 1 << 30 {
                r.warn("disk", &format!("{gib:.2} GiB free; npm installs and uploads need room"));
            } else {
                r.ok("disk", &format!("{gib:.1} GiB free"));
            }
        }
        Err(e) => r.warn("disk", &format!("cannot read free space: {e}")),
    }
    let db = data.db();
    if db.exists() {
        match rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0)))
        {
            Ok(s) if s == "ok" => r.ok("database", "integrity check passed"),
            Ok(s) => r.fail("database", &format!("integrity check: {s}; restore from a backup")),
            Err(e) => r.fail("database", &format!("cannot read {}: {e}", db.display())),
        }
        match quire_notebook::seal::instance_key(data, secret_key)
            .and_then(|k| quire_notebook::SqliteDatabase::key_opens(&db, &k))
        {
            Ok(true) => r.ok("instance key", "opens the database"),
            Ok(false) => {
                r.fail("instance key", "does not open the database: restore secret.key or pass --secret-key")
            }
            Err(e) => r.fail("instance key", &e.to_string()),
        }
    } else {
        r.ok("database", "not created yet (made on first start)");
    }
    if r.failures == 0 {
        println!("All checks passed.");
    }
    Ok(r.failures == 0)
}
