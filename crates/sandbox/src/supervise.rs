//! The supervisor process (`quire sandbox <spec>`): subreaper, confinement, clean-up.

use super::{KILL_RUN, Spec, Status, TERM, procs, rules};
use rustix::process::{Pid, Signal, WaitOptions};
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn say(msg: &str) {
    eprintln!("quire sandbox: {msg}");
}

/// Run the spec's program confined, supervise its process tree, and return the exit code to use
/// (after raising the program's own terminating signal, if it had one).
pub fn supervise(spec_json: &str) -> i32 {
    let spec: Spec = match serde_json::from_str(spec_json) {
        Ok(s) => s,
        Err(e) => {
            say(&format!("bad spec: {e}"));
            return 2;
        }
    };
    let me = rustix::process::getpid();
    // Orphans (setsid, detached) come to us instead of init, so nothing escapes the tree.
    if let Err(e) = rustix::process::set_child_subreaper(Some(me)) {
        say(&format!("cannot become the child subreaper: {e}"));
        return 2;
    }
    // The server opened the FIFO read-write before starting us, so this open does not block.
    let control = match std::fs::File::open(&spec.control) {
        Ok(f) => f,
        Err(e) => {
            say(&format!("cannot open the control FIFO: {e}"));
            return 2;
        }
    };
    // Confine one thread and start the program from it: the program and its descendants inherit the
    // domain; this process stays outside it, so it can still signal them and they cannot signal it.
    let spawned = std::thread::spawn(move || {
        let confined = rules::restrict_current_thread(&spec.read, &spec.write);
        if let Err(e) = &confined {
            return Err(format!("Landlock failed: {e}"));
        }
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .current_dir(&spec.cwd)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(if spec.stdin { Stdio::inherit() } else { Stdio::null() })
            .process_group(0);
        cmd.spawn()
            .map(|c| (c.id() as i32, confined))
            .map_err(|e| format!("cannot start {}: {e}", spec.program.display()))
    })
    .join();
    let child = match spawned {
        Ok(Ok((pid, Ok(status)))) => {
            if status != Status::Enforced {
                say(&format!(
                    "Landlock is {status:?} on this kernel: the notebook's processes are not fully confined"
                ));
            }
            pid
        }
        Ok(Ok((_, Err(e)))) | Ok(Err(e)) => {
            say(&e);
            return 2;
        }
        Err(_) => {
            say("the confining thread panicked");
            return 2;
        }
    };
    let root = me.as_raw_nonzero().get();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(control).lines() {
            let Ok(line) = line else { break };
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some(KILL_RUN), Some(run)) => procs::kill_run(root, child, run),
                (Some(TERM), _) => {
                    if let Some(p) = Pid::from_raw(child) {
                        let _ = rustix::process::kill_process_group(p, Signal::TERM);
                    }
                }
                _ => say(&format!("unknown command {line:?}")),
            }
        }
        // The server closed its end (or died): nothing of the notebook may outlive that.
        procs::kill_all(root);
    });
    let mut status = None;
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, st))) => {
                if pid.as_raw_nonzero().get() == child {
                    status = Some(st);
                    // The host is gone: so is everything it left behind.
                    procs::kill_all(root);
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break, // ECHILD: no child left
        }
    }
    match status {
        Some(st) => match (st.exit_status(), st.terminating_signal()) {
            (Some(code), _) => code,
            (None, Some(sig)) => {
                // Die of the same signal, so the server sees what happened to the program.
                if let Some(s) = Signal::from_named_raw(sig) {
                    let _ = rustix::process::kill_process(me, s);
                }
                128 + sig
            }
            _ => 1,
        },
        None => 1,
    }
}
