//! Running cells: a warm Node host per notebook with pre-started worker threads, TypeScript transpiled
//! in-process by oxc, streamed and capped output, stop and timeouts, npm dependencies.

mod frame;
pub mod output;
pub mod transpile;
