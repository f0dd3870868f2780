//! npm for a notebook: install (streamed like a run), validate (package.json vs imports and
//! `node_modules`), and prettier formatting. Every process joins the notebook host's process group, so
//! it dies with the host, and gets the same scrubbed environment as cells.

use crate::host::{Raw, signal_name};
use crate::imports::imported_packages;
use crate::output::Stream;
use crate::pump::{Control, RunEvent, pump};
use crate::runtime::{RunError, Runtime};
use crate::specs::{check_manifest, check_package_spec};
use rustix::process::{Pid, Signal};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::mpsc;

/// The key under which a notebook's install is tracked (one at a time per notebook).
pub const INSTALL_KEY: &str = "\0deps:install";

struct ProcessRun {
    pid: i32,
}

impl Control for ProcessRun {
    fn stop(&self) {
        self.escalate(Signal::TERM);
    }
    fn escalate(&self, sig: Signal) {
        if let Some(p) = Pid::from_raw(self.pid) {
            let _ = rustix::process::kill_process(p, sig);
        }
    }
    fn mute(&self) {}
}

async fn forward(mut pipe: impl AsyncRead + Unpin, stream: Stream, tx: mpsc::Sender<Raw>) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 || tx.send(Raw::Out(stream, buf[..n].to_vec())).await.is_err() {
            break;
        }
    }
}

impl Runtime {
    fn npm_command(&self, dir: &Path, pgid: i32) -> Command {
        let mut cmd = Command::new(&self.cfg.npm);
        cmd.current_dir(dir)
            .env_clear()
            .envs(self.cfg.base_env.iter().map(|(k, v)| (k, v)))
            .process_group(pgid)
            .kill_on_drop(true);
        cmd
    }

    /// `npm install --include=dev [packages…]` in the notebook directory, streamed.
    pub async fn install(
        self: &Arc<Self>,
        notebook: &str,
        dir: &Path,
        packages: &[String],
    ) -> Result<mpsc::Receiver<RunEvent>, RunError> {
        let any = self.cfg.any_package_source;
        for p in packages {
            check_package_spec(p, any).map_err(RunError::PackageSource)?;
        }
        // Without names npm installs what package.json lists: the same rule applies to those.
        if let Ok(manifest) = std::fs::read_to_string(dir.join("package.json")) {
            check_manifest(&manifest, any).map_err(RunError::PackageSource)?;
        }
        let (guard, stop) = self
            .claim(notebook, INSTALL_KEY)
            .ok_or_else(|| RunError::AlreadyRunning("package.json (an install is running)".into()))?;
        let host = self.host(notebook, dir).await?;
        let mut cmd = self.npm_command(dir, host.pgid());
        cmd.args(["install", "--include=dev", "--no-audit", "--no-fund"])
            .args(packages)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let pid = child.id().unwrap_or(0) as i32;
        let (raw_tx, raw_rx) = mpsc::channel(64);
        let out = tokio::spawn(forward(child.stdout.take().expect("piped"), Stream::Stdout, raw_tx.clone()));
        let err = tokio::spawn(forward(child.stderr.take().expect("piped"), Stream::Stderr, raw_tx.clone()));
        tokio::spawn(async move {
            let status = child.wait().await.ok();
            let _ = tokio::join!(out, err);
            let signal = status.and_then(|s| s.signal()).map(signal_name);
            let _ =
                raw_tx.send(Raw::Exit { code: status.and_then(|s| s.code()), signal, stopped: false }).await;
        });
        let (tx, rx) = mpsc::channel(16);
        let opts = self.pump_options();
        let opts = crate::pump::PumpOptions { timeout: None, ..opts };
        tokio::spawn(async move {
            let _guard = guard;
            let _host = host;
            pump(raw_rx, tx, Arc::new(ProcessRun { pid }), stop, opts).await;
        });
        Ok(rx)
    }

    /// Format `source` (the cell `filename`) with the notebook's own prettier, installing it first if
    /// the notebook does not have it.
    pub async fn format(
        &self,
        notebook: &str,
        dir: &Path,
        filename: &str,
        source: &str,
    ) -> Result<String, String> {
        let host = self.host(notebook, dir).await.map_err(|e| e.to_string())?;
        let bin = match prettier_bin(dir) {
            Some(b) => b,
            None => {
                let mut cmd = self.npm_command(dir, host.pgid());
                cmd.args(["install", "--include=dev", "--save-dev", "--no-audit", "--no-fund", "prettier"]);
                let res = collect(cmd, None, Duration::from_secs(300)).await?;
                if res.0 != Some(0) {
                    return Err(format!("Installing prettier failed:\n{}", res.2));
                }
                prettier_bin(dir).ok_or("prettier was installed but its program was not found")?
            }
        };
        let mut cmd = Command::new(&self.cfg.node);
        cmd.arg(bin)
            .arg("--stdin-filepath")
            .arg(format!("src/{filename}"))
            .current_dir(dir)
            .env_clear()
            .envs(self.cfg.base_env.iter().map(|(k, v)| (k, v)))
            .process_group(host.pgid())
            .kill_on_drop(true);
        let (code, stdout, stderr) = collect(cmd, Some(source), Duration::from_secs(30)).await?;
        if code == Some(0) && stderr.trim().is_empty() { Ok(stdout) } else { Err(stderr) }
    }
}

/// prettier's CLI script, from its own package.json `bin`.
fn prettier_bin(dir: &Path) -> Option<PathBuf> {
    let pkg_dir = dir.join("node_modules").join("prettier");
    let pkg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pkg_dir.join("package.json")).ok()?).ok()?;
    let bin = match &pkg["bin"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => m.get("prettier")?.as_str()?.to_string(),
        _ => return None,
    };
    let path = pkg_dir.join(bin);
    path.exists().then_some(path)
}

const COLLECT_CAP: usize = 16 * 1024 * 1024;

/// Run to completion with a time limit, feeding `stdin`; returns exit code, stdout and stderr.
async fn collect(
    mut cmd: Command,
    stdin: Option<&str>,
    limit: Duration,
) -> Result<(Option<i32>, String, String), String> {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("could not start: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let text = text.to_string();
        tokio::spawn(async move {
            let _ = pipe.write_all(text.as_bytes()).await;
        });
    }
    let read = |p: Option<Box<dyn AsyncRead + Unpin + Send>>| async move {
        let mut buf = Vec::new();
        if let Some(p) = p {
            let _ = p.take(COLLECT_CAP as u64).read_to_end(&mut buf).await;
        }
        String::from_utf8_lossy(&buf).into_owned()
    };
    let out = read(child.stdout.take().map(|p| Box::new(p) as _));
    let err = read(child.stderr.take().map(|p| Box::new(p) as _));
    match tokio::time::timeout(limit, async { tokio::join!(child.wait(), out, err) }).await {
        Ok((status, out, err)) => Ok((status.ok().and_then(|s| s.code()), out, err)),
        Err(_) => Err(format!("timed out after {} s", limit.as_secs())),
    }
}

/// What `deps:validate` reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Validation {
    /// package.json declares packages that are not installed: an install would fix it.
    pub out_of_sync: bool,
    /// Packages cells import that package.json does not declare.
    pub missing: Vec<String>,
}

pub fn validate(dir: &Path, package_json: &str, cells: &[(String, String)]) -> Validation {
    let pkg: serde_json::Value = serde_json::from_str(package_json).unwrap_or_default();
    let declared: Vec<&str> = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]
        .iter()
        .filter_map(|k| pkg[*k].as_object())
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    let runtime_deps: Vec<&str> = ["dependencies", "devDependencies"]
        .iter()
        .filter_map(|k| pkg[*k].as_object())
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    let out_of_sync =
        runtime_deps.iter().any(|name| !dir.join("node_modules").join(name).join("package.json").exists());
    let mut missing: Vec<String> = cells
        .iter()
        .flat_map(|(name, src)| imported_packages(src, name))
        .filter(|p| !declared.contains(&p.as_str()))
        .collect();
    missing.sort();
    missing.dedup();
    Validation { out_of_sync, missing }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = r#"{"dependencies":{"left-pad":"1"}}"#;
        let cells = vec![("a.ts".into(), "import lp from 'left-pad'; import z from 'zod';".into())];
        let v = validate(dir.path(), pkg, &cells);
        assert_eq!(v, Validation { out_of_sync: true, missing: vec!["zod".into()] });
        let lp = dir.path().join("node_modules/left-pad");
        std::fs::create_dir_all(&lp).unwrap();
        std::fs::write(lp.join("package.json"), "{}").unwrap();
        assert!(!validate(dir.path(), pkg, &cells).out_of_sync);
    }
}
