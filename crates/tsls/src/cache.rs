//! Where tsserver comes from: the notebook's own `typescript` when it ships a tsserver, else a pinned
//! TypeScript that Quire installs once with npm (with Node's types) into `DATA_DIR/cache/`, so
//! diagnostics work before the user installs dependencies. Installs are serialised in-process and land by an atomic
//! rename, so two servers sharing a data dir never see a half-installed copy.

use crate::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// TypeScript 7 ships no tsserver (it speaks LSP); the 5.9 line keeps the tsserver protocol.
pub const TS_VERSION: &str = "5.9.3";
/// Node's own types, for the Node these hosts run (20), installed beside TypeScript so a new notebook
/// knows `Buffer`, `process.stdout` and `node:fs` before it installs anything.
pub const NODE_TYPES_VERSION: &str = "20.19.43";
const NODE_TYPES: &str = "node_modules/@types/node";
const TSSERVER: &str = "node_modules/typescript/lib/tsserver.js";
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Environment passed to npm and node: enough to find programs, the npm cache and the registry (with
/// its proxy and CA settings), nothing else of the server's (no secrets).
pub fn child_env() -> impl Iterator<Item = (String, String)> {
    const KEEP: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LANG",
        "TMPDIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "SSL_CERT_FILE",
        "NODE_EXTRA_CA_CERTS",
    ];
    std::env::vars().filter(|(k, _)| {
        KEEP.contains(&k.as_str()) || k.starts_with("npm_config_") || k.starts_with("NPM_CONFIG_")
    })
}

pub struct Installer {
    cache_dir: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl Installer {
    pub fn new(cache_dir: PathBuf) -> Self {
        Installer { cache_dir, lock: tokio::sync::Mutex::new(()) }
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The pinned install's directory (it holds `node_modules/typescript` and `@types/node`).
    pub fn dir(&self) -> PathBuf {
        self.cache_dir.join(format!("typescript-{TS_VERSION}+node-{NODE_TYPES_VERSION}"))
    }

    /// Give a notebook that has no `@types/node` of its own the pinned one: a symlink in its
    /// `node_modules/@types` (npm replaces or prunes it at the next install, and the language
    /// service links it again after that).
    pub fn link_node_types(&self, notebook_dir: &Path) {
        let at = notebook_dir.join(NODE_TYPES);
        if at.join("package.json").is_file() {
            return; // the notebook's own (or an earlier, still valid link)
        }
        let target = self.dir().join(NODE_TYPES);
        if !target.join("package.json").is_file() {
            return;
        }
        let _ = std::fs::remove_file(&at); // a dangling link to an older cache
        let made = std::fs::create_dir_all(notebook_dir.join("node_modules/@types"))
            .and_then(|()| std::os::unix::fs::symlink(&target, &at));
        if let Err(e) = made {
            tracing::debug!(dir = %notebook_dir.display(), error = %e, "could not link @types/node");
        }
    }

    /// The tsserver to run for a notebook.
    pub async fn tsserver_for(&self, notebook_dir: &Path) -> Result<PathBuf, Error> {
        let own = notebook_dir.join(TSSERVER);
        if tokio::fs::metadata(&own).await.is_ok_and(|m| m.is_file()) {
            // Its own TypeScript; Node's types still come from the cache when it has none.
            if self.ensure().await.is_ok() {
                self.link_node_types(notebook_dir);
            }
            return Ok(own);
        }
        let pinned = self.ensure().await?;
        self.link_node_types(notebook_dir);
        Ok(pinned)
    }

    /// Install the pinned TypeScript unless it is already there; returns its tsserver.js.
    pub async fn ensure(&self) -> Result<PathBuf, Error> {
        let target = self.dir().join(TSSERVER);
        if target.is_file() {
            return Ok(target);
        }
        let _guard = self.lock.lock().await;
        if target.is_file() {
            return Ok(target);
        }
        tokio::fs::create_dir_all(&self.cache_dir).await.map_err(|e| unavailable("create cache dir", e))?;
        remove_abandoned(&self.cache_dir).await;
        let suffix =
            quire_stdx::random::try_bytes::<8>().map_err(|e| Error::Unavailable(format!("random: {e}")))?;
        let hex = quire_stdx::hex::encode(&suffix);
        let tmp = self.cache_dir.join(format!(".typescript-{TS_VERSION}.tmp-{hex}"));
        let result = self.install_into(&tmp).await;
        if result.is_err() {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            return result.map(|_| target);
        }
        match tokio::fs::rename(&tmp, self.dir()).await {
            Ok(()) => {}
            // Another process finished first: use its copy.
            Err(_) if target.is_file() => {
                let _ = tokio::fs::remove_dir_all(&tmp).await;
            }
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&tmp).await;
                return Err(unavailable("move the TypeScript install into place", e));
            }
        }
        let dir = self.cache_dir.clone();
        let _ = tokio::task::spawn_blocking(move || quire_stdx::fs::sync_dir(&dir)).await;
        tracing::info!(version = TS_VERSION, dir = %self.dir().display(), "installed TypeScript for the language service");
        Ok(target)
    }

    async fn install_into(&self, tmp: &Path) -> Result<(), Error> {
        tokio::fs::create_dir_all(tmp).await.map_err(|e| unavailable("create install dir", e))?;
        // A package.json here stops npm from walking up to some parent project.
        tokio::fs::write(tmp.join("package.json"), "{\"private\":true}\n")
            .await
            .map_err(|e| unavailable("write package.json", e))?;
        let mut cmd = tokio::process::Command::new("npm");
        cmd.args(["install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"])
            .arg(format!("typescript@{TS_VERSION}"))
            .arg(format!("@types/node@{NODE_TYPES_VERSION}"))
            .current_dir(tmp)
            .env_clear()
            .envs(child_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| unavailable("run npm", e))?;
        let out = tokio::time::timeout(INSTALL_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| Error::Unavailable("npm install typescript timed out".into()))?
            .map_err(|e| unavailable("run npm", e))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: String = err.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
            return Err(Error::Unavailable(format!("npm install typescript@{TS_VERSION} failed: {tail}")));
        }
        let pkg = tokio::fs::read_to_string(tmp.join("node_modules/typescript/package.json"))
            .await
            .map_err(|e| unavailable("read the installed package.json", e))?;
        let version = serde_json::from_str::<serde_json::Value>(&pkg)
            .ok()
            .and_then(|v| v["version"].as_str().map(String::from));
        if version.as_deref() != Some(TS_VERSION)
            || !tmp.join(TSSERVER).is_file()
            || !tmp.join(NODE_TYPES).join("index.d.ts").is_file()
        {
            return Err(Error::Unavailable(format!(
                "npm installed typescript {version:?}, not {TS_VERSION}"
            )));
        }
        Ok(())
    }
}

/// Temp dirs of installs that died with their process (an hour is far beyond any real install).
async fn remove_abandoned(cache_dir: &Path) {
    let Ok(mut rd) = tokio::fs::read_dir(cache_dir).await else { return };
    while let Ok(Some(e)) = rd.next_entry().await {
        let name = e.file_name();
        let old = e
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if name.to_string_lossy().starts_with(".typescript-") && old {
            let _ = tokio::fs::remove_dir_all(e.path()).await;
        }
    }
}

fn unavailable(what: &str, e: std::io::Error) -> Error {
    Error::Unavailable(format!("could not {what}: {e}"))
}
