//! Running cells: a warm Node host per notebook with pre-started worker threads, TypeScript transpiled
//! in-process by oxc, streamed and capped output, stop and timeouts, npm dependencies.

mod frame;
mod host;
mod host_io;
pub mod imports;
mod npm;
pub mod output;
mod pump;
mod runtime;
pub use quire_sandbox as sandbox;
mod shadow;
mod specs;
pub mod transpile;

pub use host::{HostError, remove_stale_sock_dirs};
pub use npm::{INSTALL_KEY, Validation, validate};
pub use output::{Chunk, Stream};
pub use pump::{Outcome, RunEvent};
pub use runtime::{RunError, RunRequest, Runtime, RuntimeConfig, base_env};
pub use shadow::is_typescript;
pub use specs::{check_manifest, check_package_spec};
