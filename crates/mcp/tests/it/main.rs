//! Integration tests: real MCP servers from npm run by Node, tiny fault servers, the gate, config.

mod common;
mod config;
mod everything;
mod faults;
mod gate;
