// A scriptable Yjs client for the co-editing tests: y-websocket's own provider (what off-the-shelf
// editors use) on a Y.Doc with Quire's layout, driven by one JSON command per stdin line and
// answering one JSON line per command on stdout. Commands run one after the other, in order.
//
// Usage: NODE_PATH=<prefix>/node_modules node yjs-client.mjs <serverUrl> <room> [token]
//   (the prefix from quire_testkit::npm_install_set with YJS_CLIENT_PACKAGES; see the test file).
// The protocol is described in /work/notes/yjs-client-contract.md and at the end of this file.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

// ESM ignores NODE_PATH, CommonJS honours it. Loading every package through require() also gives
// one copy of yjs: y-protocols and y-websocket's CJS builds require the same yjs.cjs, whereas a mix
// of ESM and CJS would load yjs twice and break its instanceof checks.
const require = createRequire(import.meta.url);
const Y = require("yjs");
const { WebsocketProvider } = require("y-websocket");
const syncProtocol = require("y-protocols/sync");
const encoding = require("lib0/encoding");
const decoding = require("lib0/decoding");
const WebSocket = require("ws");

const [serverUrl, room, token] = process.argv.slice(2);
if (!serverUrl || !room) {
  process.stderr.write("usage: node yjs-client.mjs <serverUrl> <room> [token]\n");
  process.exit(2);
}

const MESSAGE_SYNC = 0; // y-websocket's message type for the sync protocol
const LOCAL = Symbol("local edit"); // the origin of this client's own transactions (undo tracks only it)

const doc = new Y.Doc();
const cells = doc.getArray("cells");
// Created lazily by the first `connect`, so a test can edit a doc that never saw a server.
let provider = null;

// captureTimeout 0: every command is its own undo step, so "undo" is deterministic in tests.
const undo = new Y.UndoManager([], { doc, trackedOrigins: new Set([LOCAL]), captureTimeout: 0 });
// Cells arrive remotely (sync) or locally; every cell's source joins the undo scope as it appears.
const syncScope = () => undo.addToScope(cells.toArray().map((c) => c.get("source")).filter((s) => s instanceof Y.Text));
cells.observe(syncScope);

const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");

function source(id) {
  const cell = cells.toArray().find((c) => c.get("id") === id);
  const text = cell?.get("source");
  if (!(text instanceof Y.Text)) throw new Error(`no cell with id ${JSON.stringify(id)} (or its source is not a Y.Text)`);
  return text;
}

const local = (fn) => doc.transact(fn, LOCAL);

function withTimeout(promise, ms, what) {
  if (!ms) return promise;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Waits for the provider's next synced state, or fails if the server closed the connection for good
// (a 4400–4499 close code; y-websocket then stops reconnecting).
function synced() {
  if (provider.synced) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onSync = (s) => s && done(resolve);
    const onClosed = (e) => done(() => reject(new Error(`closed by the server: ${e.code} ${e.reason}`)));
    const done = (then) => {
      provider.off("sync", onSync);
      provider.off("closed", onClosed);
      then();
    };
    provider.on("sync", onSync);
    provider.on("closed", onClosed);
  });
}

// True while a `connect` command waits for its sync; any other sync is the provider's own reconnect.
let connectWaiting = false;
async function connect() {
  if (!provider) {
    const params = token ? { token } : {};
    provider = new WebsocketProvider(serverUrl, room, doc, {
      params,
      WebSocketPolyfill: WebSocket, // Node 20 has no global WebSocket
      disableBc: true, // two clients in one test must only meet through the server
      maxBackoffTime: 500, // reconnect quickly after a server restart
    });
    // An automatic reconnect (not one a `connect` asked for) is reported unsolicited, marked `auto`.
    provider.on("sync", (s) => {
      if (s && !connectWaiting) send({ ev: "synced", auto: true });
    });
  } else {
    provider.connect();
  }
  connectWaiting = true;
  try {
    await synced();
  } finally {
    connectWaiting = false;
  }
}

function disconnect() {
  if (provider) provider.disconnect(); // closes the socket at once; edits from now on stay local
}

// The socket's send buffer has drained. `ws` has no drain event for clients, so this polls.
async function drained() {
  while (provider.ws && provider.ws.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 2));
}

// Everything this client sent has reached the server: the buffer has drained, then a fresh
// SyncStep1 is answered by a SyncStep2. The server handles one socket's messages in order, so its
// answer comes after everything sent before the step 1; applying it (the provider does) also brings
// this client up to the server's state.
async function flush() {
  if (!provider || !provider.shouldConnect) throw new Error("flush while disconnected");
  await synced(); // after a server restart the provider reconnects by itself; wait for it
  await drained();
  const ws = provider.ws;
  const answered = new Promise((resolve, reject) => {
    const onMessage = (event) => {
      const dec = decoding.createDecoder(new Uint8Array(event.data));
      if (decoding.readVarUint(dec) === MESSAGE_SYNC && decoding.readVarUint(dec) === syncProtocol.messageYjsSyncStep2) {
        done(resolve);
      }
    };
    const onClose = () => done(() => reject(new Error("the connection closed during flush")));
    const done = (then) => {
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("close", onClose);
      then();
    };
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", onClose);
  });
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_SYNC);
  syncProtocol.writeSyncStep1(enc, doc);
  ws.send(encoding.toUint8Array(enc));
  await answered;
  await drained();
}

// mulberry32: a small seeded PRNG, so a seed always picks the same sequence of choices.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 \n";

async function random({ cell, ops, seed = 1, maxDelayMs = 0 }) {
  const text = source(cell);
  const rnd = prng(seed);
  const int = (n) => Math.floor(rnd() * n); // 0..n-1
  for (let i = 0; i < ops; i++) {
    const len = text.length;
    const count = 1 + int(3);
    // Mostly inserts, so the text grows and deletes have something to remove.
    if (len === 0 || rnd() < 0.6) {
      let s = "";
      for (let k = 0; k < count; k++) s += ALPHABET[int(ALPHABET.length)];
      const at = int(len + 1);
      local(() => text.insert(at, s));
    } else {
      const at = int(len);
      local(() => text.delete(at, Math.min(count, len - at)));
    }
    // Always yield, even with no delay, so remote updates interleave with local ones.
    const delay = int(maxDelayMs + 1);
    await new Promise((r) => (delay ? setTimeout(r, delay) : setImmediate(r)));
  }
  return { ev: "done", ops };
}

function peerStates() {
  if (!provider) return [];
  const me = doc.clientID;
  return [...provider.awareness.getStates()].filter(([id, s]) => id !== me && s && Object.keys(s).length).map(([, s]) => s);
}

// Answers `peers` once at least `atLeast` other clients are present, so a test need not poll.
async function peers({ atLeast = 0 }) {
  while (peerStates().length < atLeast) {
    if (!provider) throw new Error("peers: atLeast needs a connection");
    await new Promise((r) => provider.awareness.once("change", r));
  }
  return { ev: "peers", states: peerStates() };
}

function addCell({ cell: id, type = "code", source: text = "", filename, language, index }) {
  if (typeof id !== "string") throw new Error("addCell needs a string cell id");
  local(() => {
    const m = new Y.Map();
    m.set("id", id);
    m.set("type", type);
    m.set("source", new Y.Text(text));
    if (filename !== undefined) m.set("filename", filename);
    if (language !== undefined) m.set("language", language);
    cells.insert(index ?? cells.length, [m]);
  });
}

function listCells() {
  return cells.toArray().map((c) => {
    const out = { id: c.get("id"), type: c.get("type"), source: String(c.get("source") ?? "") };
    for (const k of ["filename", "language"]) if (c.get(k) !== undefined) out[k] = c.get(k);
    return out;
  });
}

let quitting = false;
function quit() {
  quitting = true;
  provider?.destroy();
  undo.destroy();
  // Exit only once the answers written so far have left (stdout may be a pipe).
  process.stdout.write("", () => process.exit(0));
}

const commands = {
  connect: async () => (await connect(), { ev: "synced" }),
  disconnect: () => (disconnect(), { ev: "disconnected" }),
  flush: async () => (await flush(), { ev: "flushed" }),
  random,
  insert: ({ cell, index, text }) => {
    const t = source(cell);
    local(() => t.insert(index, text));
    return { ev: "ok" };
  },
  delete: ({ cell, index, length }) => {
    const t = source(cell);
    local(() => t.delete(index, length));
    return { ev: "ok" };
  },
  text: ({ cell }) => ({ ev: "text", text: source(cell).toString() }),
  cells: () => ({ ev: "cells", cells: listCells() }),
  addCell: (c) => (addCell(c), { ev: "ok" }),
  awareness: ({ state }) => {
    if (!provider) throw new Error("awareness needs a connection first");
    provider.awareness.setLocalState(state);
    return { ev: "ok" };
  },
  peers,
  undo: () => ({ ev: "ok", changed: undo.undo() !== null }),
  redo: () => ({ ev: "ok", changed: undo.redo() !== null }),
  quit: () => (quit(), null),
};

async function run(line) {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
    const handler = commands[cmd.cmd];
    if (!handler) throw new Error(`unknown command ${JSON.stringify(cmd.cmd)}`);
    // timeoutMs turns a wait that never ends (a refused connection, a missing peer) into an error.
    const answer = await withTimeout(Promise.resolve(handler(cmd)), cmd.timeoutMs, cmd.cmd);
    if (answer) send(cmd.tag !== undefined ? { ...answer, tag: cmd.tag } : answer);
  } catch (e) {
    send({ ev: "error", message: String(e?.message ?? e), ...(cmd?.tag !== undefined ? { tag: cmd.tag } : {}) });
  }
}

// One command at a time, in the order they arrived; closing stdin quits after the last one.
let queue = Promise.resolve();
createInterface({ input: process.stdin })
  .on("line", (line) => {
    queue = queue.then(() => (quitting ? undefined : run(line)));
  })
  .on("close", () => {
    queue = queue.then(() => quitting || quit());
  });

process.on("uncaughtException", (e) => {
  process.stderr.write(`yjs-client: uncaught error: ${e?.stack ?? e}\n`);
  process.exit(1);
});
process.on("unhandledRejection", (e) => {
  process.stderr.write(`yjs-client: unhandled rejection: ${e?.stack ?? e}\n`);
  process.exit(1);
});

// Protocol summary (answers echo the command's optional "tag"; any command takes "timeoutMs"):
//   connect → synced | disconnect → disconnected | flush → flushed
//   random {cell, ops, seed, maxDelayMs} → done {ops} | insert {cell,index,text} / delete {cell,index,length} → ok
//   text {cell} → text {text} | cells → cells {cells} | addCell {cell,type,source,filename,language,index} → ok
//   awareness {state} → ok | peers [atLeast] → peers {states} | undo / redo → ok {changed} | quit
//   unsolicited: {"ev":"synced","auto":true} when the provider re-syncs by itself (server restart)
