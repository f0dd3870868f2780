//! Black-box tests: a real server on a real socket, driven over HTTP and WebSocket.

mod common;
mod dashboard;
mod files;
mod notebooks;
mod run;
mod security;
mod tsserver;
mod tus_client;
mod ui;
mod ws;
