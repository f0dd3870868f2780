//! Notebooks on disk in the Srcbook directory layout, cell edits, and the settings/secrets database.
//!
//! Invariant: every byte written here goes through `fsx::write_atomic` (temp, fsync, rename, fsync dir).

mod audit;
pub mod cell_ids;
pub mod db;
mod db_seal;
mod edit;
mod error;
pub mod fsx;
mod ids;
pub mod layout;
pub mod seal;
mod stamp;
mod store;

pub use audit::AuditEntry;
pub use db::{Database, MemoryDatabase, SENSITIVE_SETTINGS, Secret, SqliteDatabase};
pub use edit::CellUpdate;
pub use error::{NotebookError, Result, is_storage_full};
pub use ids::{check_notebook_id, check_secret_name, contain};
pub use seal::SealKey;
pub use store::{Handle, LoadFailure, NotebookStore, OpenNotebook, lock};
