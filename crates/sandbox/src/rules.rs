//! Which paths a sandboxed Node process may use, and applying them with Landlock.

use super::Status;
use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, RestrictionStatus, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use std::path::{Path, PathBuf};

/// The newest ABI these rules are written for; older kernels enforce what they can (best effort).
const ABI_WANTED: ABI = ABI::V6;

/// System locations every Node process needs to read: programs, libraries, certificates, name
/// resolution, time zones, `/proc` and `/sys`. Not `/etc` as a whole (`/etc/shadow`, ssh host keys),
/// not `/home`, `/root`, `/tmp` or `/var`.
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/bin",
    "/sbin",
    "/opt",
    "/proc",
    "/sys",
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/crypto-policies",
    "/etc/gai.conf",
    "/etc/group",
    "/etc/host.conf",
    "/etc/hosts",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/npmrc",
    "/etc/nsswitch.conf",
    "/etc/os-release",
    "/etc/passwd",
    "/etc/pki",
    "/etc/protocols",
    "/etc/resolv.conf",
    "/etc/services",
    "/etc/ssl",
    "/etc/timezone",
    "/run/systemd/resolve",
    "/dev/random",
    "/dev/urandom",
];

/// Devices a process writes to in normal operation (never block devices).
const DEVICES_WRITE: &[&str] =
    &["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/shm", "/dev/pts", "/dev/ptmx"];

/// The paths of one notebook's sandbox.
#[derive(Clone, Debug, Default)]
pub struct Paths {
    pub read: Vec<PathBuf>,
    pub write: Vec<PathBuf>,
}

impl Paths {
    /// The rules for a notebook's processes. `extra_read` holds the Node and npm installations and
    /// Quire's host scripts; `own` the notebook, its run directory and its private temp dir.
    pub fn for_notebook(extra_read: &[PathBuf], own: &[PathBuf], home: Option<&Path>) -> Paths {
        let mut read: Vec<PathBuf> = SYSTEM_READ.iter().map(PathBuf::from).collect();
        read.extend(extra_read.iter().cloned());
        let mut write: Vec<PathBuf> = DEVICES_WRITE.iter().map(PathBuf::from).collect();
        write.extend(own.iter().cloned());
        // npm's configuration and cache, node-gyp's headers: never the rest of the home directory
        // (where the data dir usually is).
        if let Some(home) = home {
            read.push(home.join(".npmrc"));
            for d in [".npm", ".node-gyp", ".cache/node-gyp"] {
                write.push(home.join(d));
            }
        }
        Paths { read, write }
    }
}

fn existing(paths: &[PathBuf]) -> Vec<&PathBuf> {
    // A rule needs an open file; missing optional paths (no /lib32 here, no ~/.npmrc) are skipped.
    paths.iter().filter(|p| p.exists()).collect()
}

/// Give up every capability in the calling thread, for good: a cell started by a root server must not
/// keep root's powers (reading any process's memory and environment, overriding file permissions,
/// signalling anyone). Emptying the bounding set too means an exec cannot bring them back.
fn drop_capabilities() {
    use rustix::thread::{CapabilitySet, CapabilitySets};
    for bit in 0..64 {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        // EINVAL for capabilities this kernel lacks, EPERM when not privileged: nothing to drop then.
        let _ = rustix::thread::remove_capability_from_bounding_set(cap);
    }
    let none = CapabilitySet::empty();
    let _ = rustix::thread::set_capabilities(
        None,
        CapabilitySets { effective: none, permitted: none, inheritable: none },
    );
}

/// Confine the calling thread (and every process it starts afterwards).
pub fn restrict_current_thread(read: &[PathBuf], write: &[PathBuf]) -> Result<Status, String> {
    drop_capabilities();
    let abi = ABI_WANTED;
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(existing(read), AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(existing(write), AccessFs::from_all(abi))))
        .and_then(|r| r.restrict_self())
        .map_err(|e| e.to_string())?;
    Ok(status_of(&status))
}

fn status_of(s: &RestrictionStatus) -> Status {
    match s.ruleset {
        RulesetStatus::FullyEnforced => Status::Enforced,
        RulesetStatus::PartiallyEnforced => Status::Partial,
        RulesetStatus::NotEnforced => Status::Unavailable,
    }
}

/// What Landlock would enforce here, found by confining a throwaway thread.
pub fn probe() -> Status {
    std::thread::spawn(|| restrict_current_thread(&[], &[]).unwrap_or(Status::Unavailable))
        .join()
        .unwrap_or(Status::Unavailable)
}
