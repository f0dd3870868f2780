//! Black-box tests: a real server on a real socket, driven over HTTP and WebSocket.

mod ai;
mod common;
mod dashboard;
mod faults;
mod files;
mod files_limits;
mod mcp_client;
mod mcp_server;
mod notebooks;
mod otlp;
mod restart;
mod run;
mod security;
mod transport;
mod tsserver;
mod tus_client;
mod ui;
mod wire_snapshot;
mod ws;
