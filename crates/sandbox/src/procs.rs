//! The process tree below the supervisor, read from `/proc`, and killing parts of it.

use rustix::process::{Pid, Signal};
use std::collections::{HashMap, HashSet};

/// `(pid, parent pid)` of every live (non-zombie) process.
fn table() -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid = fields.next().and_then(|p| p.parse::<i32>().ok()).unwrap_or(0);
        if state != "Z" && state != "X" {
            out.push((pid, ppid));
        }
    }
    out
}

/// Every live descendant of `root`.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (pid, ppid) in table() {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    let mut seen = HashSet::new();
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(c) {
                out.push(c);
                stack.push(c);
            }
        }
    }
    out
}

fn kill(pid: i32) {
    if let Some(p) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, Signal::KILL);
    }
}

/// Whether the process's initial environment has `key=value`.
fn has_env(pid: i32, key: &str, value: &str) -> bool {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
    let want = format!("{key}={value}");
    env.split(|b| *b == 0).any(|kv| kv == want.as_bytes())
}

/// Kill every descendant of `root` for which `pick` holds (and, with it, its own descendants), until
/// none is left: a killed process's children are reparented to the supervisor (the subreaper) and
/// found on the next pass. Bounded, so a fork bomb cannot keep it here forever.
pub fn kill_where(root: i32, pick: impl Fn(i32) -> bool) {
    for _ in 0..200 {
        let targets: Vec<i32> = descendants(root).into_iter().filter(|p| pick(*p)).collect();
        if targets.is_empty() {
            return;
        }
        for &t in &targets {
            for d in descendants(t) {
                kill(d);
            }
            kill(t);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Every descendant.
pub fn kill_all(root: i32) {
    kill_where(root, |_| true);
}

/// The processes a run started (tagged by its environment), never the host itself.
pub fn kill_run(root: i32, host: i32, run: &str) {
    kill_where(root, |p| p != host && has_env(p, super::RUN_ID_ENV, run));
}
