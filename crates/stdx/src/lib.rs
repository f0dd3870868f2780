//! Small batteries every Quire crate shares (rust-analyzer's `stdx` pattern): one copy of each, no
//! dependencies beyond the OS random source. Nothing here knows about notebooks, files or HTTP.

#![forbid(unsafe_code)]

mod data_dir;
pub mod fs;
pub mod hex;
pub mod random;
pub mod text;

pub use data_dir::{DataDir, FilesDir, RESTORE_MARKER};

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Milliseconds since the Unix epoch (0 when the clock is before it). Signed, as SQLite stores it, so
/// `now_ms() - ttl` cannot wrap; never negative, so `now_ms() as u64` is exact where a type wants u64.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Lock `m`, taking the guard back from a panicked holder: every mutex in Quire guards state that stays
/// valid between statements (maps, counters, whole-file writes), so poisoning must not spread panics.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `lock` for readers of an `RwLock`.
pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

/// `lock` for the writer of an `RwLock`.
pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_survive_a_panicked_holder() {
        let (m, l) = (std::sync::Arc::new(Mutex::new(1)), std::sync::Arc::new(RwLock::new(1)));
        let (m2, l2) = (m.clone(), l.clone());
        let _ = std::thread::spawn(move || {
            let _held = (m2.lock().unwrap(), l2.write().unwrap());
            panic!("poison");
        })
        .join();
        assert!(m.is_poisoned() && l.is_poisoned());
        *lock(&m) += 1;
        *write(&l) += 1;
        assert_eq!((*lock(&m), *read(&l)), (2, 2));
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_ms() > 1_577_836_800_000);
    }
}
