//! npm for a notebook: install (streamed like a run), validate (package.json vs imports and
//! `node_modules`), and prettier formatting. npm and prettier run inside the notebook's host (and so
//! inside its sandbox: an install script or a notebook's own `node_modules/prettier` is as untrusted
//! as a cell), with the same scrubbed environment as cells.

use crate::host::{Host, Raw};
use crate::imports::imported_packages;
use crate::output::Stream;
use crate::pump::{Control, RunEvent, pump};
use crate::runtime::{RunError, Runtime};
use crate::specs::{check_manifest, check_package_spec};
use rustix::process::Signal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The key under which a notebook's install is tracked (one at a time per notebook).
pub const INSTALL_KEY: &str = "\0deps:install";

/// A program the host started for us; stopping it also stops whatever it started.
struct ProcessRun {
    host: Arc<Host>,
    id: u32,
}

impl Control for ProcessRun {
    fn stop(&self) {
        self.host.stop(self.id);
    }
    fn escalate(&self, _sig: Signal) {
        // The host sends SIGKILL on a second stop.
        self.host.stop(self.id);
    }
    fn mute(&self) {}
}

impl Runtime {
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
        let mut args: Vec<String> =
            ["install", "--include=dev", "--no-audit", "--no-fund"].iter().map(|a| a.to_string()).collect();
        args.extend(packages.iter().cloned());
        let id = self.next_run_id();
        let (raw_tx, raw_rx) = mpsc::channel(64);
        host.spawn_process(id, &self.cfg.npm, &args, None, raw_tx)?;
        let (tx, rx) = mpsc::channel(16);
        let opts = self.pump_options();
        let opts = crate::pump::PumpOptions { timeout: None, ..opts };
        tokio::spawn(async move {
            let _guard = guard;
            pump(raw_rx, tx, Arc::new(ProcessRun { host, id }), stop, opts).await;
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
                let args = ["install", "--include=dev", "--save-dev", "--no-audit", "--no-fund", "prettier"];
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                let res =
                    collect(&host, self.next_run_id(), &self.cfg.npm, &args, None, Duration::from_secs(300))
                        .await?;
                if res.0 != Some(0) {
                    return Err(format!("Installing prettier failed:\n{}", res.2));
                }
                prettier_bin(dir).ok_or("prettier was installed but its program was not found")?
            }
        };
        let args =
            vec![bin.to_string_lossy().into_owned(), "--stdin-filepath".into(), format!("src/{filename}")];
        let (code, stdout, stderr) =
            collect(&host, self.next_run_id(), &self.cfg.node, &args, Some(source), Duration::from_secs(30))
                .await?;
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

/// Run a program in the host to completion with a time limit, feeding `input`; returns its exit code,
/// stdout and stderr.
async fn collect(
    host: &Arc<Host>,
    id: u32,
    program: &Path,
    args: &[String],
    input: Option<&str>,
    limit: Duration,
) -> Result<(Option<i32>, String, String), String> {
    let (tx, mut rx) = mpsc::channel(64);
    host.spawn_process(id, program, args, input, tx).map_err(|e| format!("could not start: {e}"))?;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let ran = tokio::time::timeout(limit, async {
        while let Some(ev) = rx.recv().await {
            match ev {
                Raw::Out(stream, bytes) => {
                    let buf = if stream == Stream::Stdout { &mut out } else { &mut err };
                    if buf.len() < COLLECT_CAP {
                        buf.extend_from_slice(&bytes);
                    }
                }
                Raw::Exit { code, .. } => return code,
            }
        }
        None
    })
    .await;
    match ran {
        Ok(code) => {
            Ok((code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned()))
        }
        Err(_) => {
            host.stop(id);
            Err(format!("timed out after {} s", limit.as_secs()))
        }
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
