#!/bin/sh
# Runs yjs-client.test.mjs against y-websocket's reference server, by hand (not part of cargo test):
#   crates/server/tests/js/yjs-client-proof.sh [install dir]
# Installs the pinned client set (the same specs as the Rust tests' YJS_CLIENT_PACKAGES) and the
# pinned reference server into the install dir (a fresh temp dir by default), then runs node --test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$(mktemp -d)}
npm_i() { prefix=$1; shift; [ -f "$prefix/.done" ] || { npm install --no-audit --no-fund --silent --prefix "$prefix" "$@" && touch "$prefix/.done"; }; }
npm_i "$dir/client" yjs@13.6.33 y-protocols@1.0.7 y-websocket@3.1.0 ws@8.23.1 lib0@0.2.120
# The 0.1.1 server is the last on yjs 13 (0.1.5 moved to the yjs 14 prereleases).
npm_i "$dir/server" @y/websocket-server@0.1.1 yjs@13.6.33
YJS_CLIENT_NODE_PATH="$dir/client/node_modules" \
YJS_SERVER_BIN="$dir/server/node_modules/@y/websocket-server/src/server.js" \
  exec node --test --test-reporter=spec "$here/yjs-client.test.mjs"
