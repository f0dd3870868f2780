//! The sandbox every Node process of a notebook runs in. Cells are arbitrary code from notebooks the
//! user may only have imported, so a host may read the system and its own notebook, write only its
//! notebook, its run directory and a private temp dir, and never read the instance key, the
//! databases, other notebooks or the file store, nor signal a process outside its sandbox.
//!
//! How, without `unsafe`: the `quire` binary re-executes itself as a small supervisor
//! (`quire sandbox <spec>`). The supervisor makes itself the child subreaper (so descendants that
//! `setsid` or are started `detached` are reparented to it, not to init), restricts one of its
//! threads with Landlock (filesystem rules plus signal and abstract-socket scoping) and spawns Node
//! from that thread, so only Node and its descendants are confined. It then kills a stopped run's
//! processes on request, and every descendant when told to stop or when the server's end of its
//! control FIFO closes (which also happens if the server is killed). Where the kernel has no
//! Landlock the processes still run, and the server says so at start and in `/health`.

#![forbid(unsafe_code)]

mod procs;
mod rules;
mod supervise;

pub use rules::{Paths, probe};
pub use supervise::supervise;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How to start the supervisor: a program and the arguments before the spec (for Quire:
/// `current_exe()` and `["sandbox"]`).
#[derive(Clone, Debug)]
pub struct Launcher {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// What the supervisor runs, and under which rules. Passed as one JSON argument.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// Readable (and executable) hierarchies; everything else is unreadable.
    pub read: Vec<PathBuf>,
    /// Readable and writable hierarchies.
    pub write: Vec<PathBuf>,
    /// A FIFO the supervisor reads commands from; when the server's end closes, everything stops.
    pub control: PathBuf,
    /// Hand the supervisor's stdin to the program (tsserver speaks on it); else /dev/null.
    #[serde(default)]
    pub stdin: bool,
}

/// Commands on the control FIFO (one per line).
pub const KILL_RUN: &str = "kill-run";
pub const TERM: &str = "term";

/// The environment variable that tags every process a run starts, so a stopped run's processes can
/// be found and killed without touching the other runs of the notebook.
pub const RUN_ID_ENV: &str = "QUIRE_RUN_ID";

/// Where a program (`node`, `npm`) is installed: the resolved binary's directory and the prefix above
/// it, so the sandbox can read its libraries (`/usr/bin/node` → `/usr`; nvm's
/// `~/.nvm/versions/node/v20/bin/node` → that version's directory).
pub fn install_dirs(bin: &Path, env: &[(String, String)]) -> Vec<PathBuf> {
    let found = if bin.components().count() > 1 {
        Some(bin.to_path_buf())
    } else {
        let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_str()).unwrap_or("");
        std::env::split_paths(path).map(|d| d.join(bin)).find(|p| p.is_file())
    };
    let Some(real) = found.and_then(|p| p.canonicalize().ok()) else { return Vec::new() };
    let mut out = Vec::new();
    if let Some(dir) = real.parent() {
        out.push(dir.parent().unwrap_or(dir).to_path_buf());
    }
    out
}

/// Whether Landlock confines Node processes on this machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Every rule is enforced, signal scoping included.
    Enforced,
    /// The kernel enforces some of the rules (an older Landlock ABI).
    Partial,
    /// No Landlock: processes run unconfined (still in their own process tree).
    Unavailable,
    /// Quire was started without the supervisor (library use, tests).
    Off,
}
