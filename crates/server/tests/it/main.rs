//! Black-box tests: a real server on a real socket, driven over HTTP and WebSocket.

mod common;
mod notebooks;
mod run;
mod security;
mod ui;
mod ws;
