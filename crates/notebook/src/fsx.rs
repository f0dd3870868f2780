//! Durable file-system primitives (the shared copy in `quire_stdx::fs`): every write is temp file,
//! fsync, rename, fsync dir.

pub use quire_stdx::fs::{is_symlink, remove_file_durable, sync_dir, write_atomic};
