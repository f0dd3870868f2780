// Proof of yjs-client.mjs against y-websocket's reference server (@y/websocket-server), before Quire's
// own /yjs endpoint relies on it. Run by yjs-client-proof.sh, which installs the pinned packages:
//   YJS_CLIENT_NODE_PATH=<client prefix>/node_modules YJS_SERVER_BIN=<server.js> node --test yjs-client.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const CLIENT = fileURLToPath(new URL("./yjs-client.mjs", import.meta.url));
const { YJS_CLIENT_NODE_PATH, YJS_SERVER_BIN } = process.env;
const OPS = Number(process.env.YJS_PROOF_OPS ?? 1000);

// A free port from the OS; the reference server takes its port from $PORT only.
const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });

let server;
let port;
let url;
// Starts the reference server on `port`; it prints "running at '127.0.0.1' on port N" once listening.
async function startServer() {
  server = spawn(process.execPath, [YJS_SERVER_BIN], { env: { ...process.env, HOST: "127.0.0.1", PORT: String(port) } });
  await new Promise((resolve, reject) => {
    server.stdout.on("data", (d) => String(d).includes("running at") && resolve());
    server.on("exit", (code) => reject(new Error(`reference server exited ${code}`)));
  });
}
before(async () => {
  assert.ok(YJS_CLIENT_NODE_PATH && YJS_SERVER_BIN, "set YJS_CLIENT_NODE_PATH and YJS_SERVER_BIN (see yjs-client-proof.sh)");
  port = await freePort();
  url = `ws://127.0.0.1:${port}`;
  await startServer();
});
// A failed test leaves its clients running; they must not keep the test process alive.
const clients = new Set();
after(() => {
  for (const c of clients) c.proc.kill();
  server?.kill();
});

// One yjs-client.mjs process; `call` sends a command and resolves with its answer (unsolicited
// `auto` lines are kept aside), rejecting on an error answer.
class Client {
  constructor(room) {
    this.proc = spawn(process.execPath, [CLIENT, url, room], {
      env: { ...process.env, NODE_PATH: YJS_CLIENT_NODE_PATH },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.waiting = [];
    this.auto = [];
    clients.add(this);
    this.exited = new Promise((resolve) =>
      this.proc.on("exit", (code) => {
        clients.delete(this);
        for (const w of this.waiting.splice(0)) w.reject(new Error(`yjs-client exited ${code}`));
        resolve(code);
      }),
    );
    createInterface({ input: this.proc.stdout }).on("line", (line) => {
      const msg = JSON.parse(line);
      if (msg.auto) return this.auto.push(msg);
      const w = this.waiting.shift();
      assert.ok(w, `unexpected line ${line}`);
      msg.ev === "error" ? w.reject(new Error(msg.message)) : w.resolve(msg);
    });
  }
  call(cmd) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.proc.stdin.write(JSON.stringify(cmd) + "\n");
    });
  }
  async text(cell) {
    return (await this.call({ cmd: "text", cell })).text;
  }
  async quit() {
    this.proc.stdin.end(JSON.stringify({ cmd: "quit" }) + "\n");
    assert.equal(await this.exited, 0);
  }
}

async function pair(room) {
  const a = new Client(room);
  assert.equal((await a.call({ cmd: "connect" })).ev, "synced");
  await a.call({ cmd: "addCell", cell: "c1", type: "code", source: "start\n", filename: "a.ts", language: "typescript" });
  await a.call({ cmd: "flush" });
  const b = new Client(room);
  await b.call({ cmd: "connect" });
  assert.deepEqual((await b.call({ cmd: "cells" })).cells, [
    { id: "c1", type: "code", source: "start\n", filename: "a.ts", language: "typescript" },
  ]);
  return [a, b];
}

test(`two clients, ${OPS} random ops each in one cell, converge`, async () => {
  const [a, b] = await pair("converge");
  const t0 = Date.now();
  const [da, db] = await Promise.all([
    a.call({ cmd: "random", cell: "c1", ops: OPS, seed: 1, maxDelayMs: 3 }),
    b.call({ cmd: "random", cell: "c1", ops: OPS, seed: 2, maxDelayMs: 3 }),
  ]);
  assert.deepEqual([da, db], [{ ev: "done", ops: OPS }, { ev: "done", ops: OPS }]);
  await Promise.all([a.call({ cmd: "flush" }), b.call({ cmd: "flush" })]);
  // a's flush may finish before b's last edits reached a; one more round trip each settles it.
  await Promise.all([a.call({ cmd: "flush" }), b.call({ cmd: "flush" })]);
  const [ta, tb] = [await a.text("c1"), await b.text("c1")];
  console.log(`converged after ${Date.now() - t0} ms: ${ta.length} chars`);
  assert.equal(ta, tb);
  assert.ok(ta.length > 0);
  await a.quit();
  await b.quit();
});

test("flush waits until the server has a large edit", async () => {
  const [a, b] = await pair("flush");
  const big = "x".repeat(8 << 20);
  await a.call({ cmd: "insert", cell: "c1", index: 0, text: big });
  await a.call({ cmd: "flush" });
  await b.call({ cmd: "flush" });
  assert.equal((await b.text("c1")).length, big.length + 6);
  await a.quit();
  await b.quit();
});

// The reference server keeps documents in memory only, so a restart starts it empty: the clients'
// automatic reconnect (announced as an `auto` synced line) hands it their state again.
test("three clients converge across a server restart in the middle", async () => {
  const [a, b] = await pair("restart");
  const c = new Client("restart");
  await c.call({ cmd: "connect" });
  const typing = [a, b, c].map((x, i) => x.call({ cmd: "random", cell: "c1", ops: 300, seed: 10 + i, maxDelayMs: 4 }));
  await new Promise((r) => setTimeout(r, 300)); // mid-typing; the ops themselves do not wait for it
  const old = server;
  await new Promise((r) => (old.once("exit", r), old.kill()));
  await startServer();
  await Promise.all(typing);
  for (let round = 0; round < 2; round++) await Promise.all([a, b, c].map((x) => x.call({ cmd: "flush", timeoutMs: 20000 })));
  const texts = await Promise.all([a, b, c].map((x) => x.text("c1")));
  assert.equal(texts[1], texts[0]);
  assert.equal(texts[2], texts[0]);
  for (const x of [a, b, c]) assert.ok(x.auto.some((m) => m.ev === "synced"), "each client re-synced by itself");
  await Promise.all([a, b, c].map((x) => x.quit()));
});

test("offline edits merge on reconnect", async () => {
  const [a, b] = await pair("offline");
  assert.equal((await b.call({ cmd: "disconnect" })).ev, "disconnected");
  await b.call({ cmd: "insert", cell: "c1", index: 0, text: "OFFLINE " });
  await a.call({ cmd: "insert", cell: "c1", index: 6, text: "online " });
  await a.call({ cmd: "flush" });
  assert.equal(await a.text("c1"), "start\nonline ", "b's offline edit must not have left b");
  await assert.rejects(b.call({ cmd: "flush" }), /disconnected/);
  await b.call({ cmd: "random", cell: "c1", ops: 200, seed: 7 });
  await b.call({ cmd: "connect" });
  await b.call({ cmd: "flush" });
  await a.call({ cmd: "flush" });
  const [ta, tb] = [await a.text("c1"), await b.text("c1")];
  assert.equal(ta, tb);
  assert.ok(ta.includes("online "), ta);
  assert.notEqual(ta, "start\nonline ", "b's offline edits must have reached a");
  await a.quit();
  await b.quit();
});

test("undo undoes only this client's typing; redo restores it", async () => {
  const [a, b] = await pair("undo");
  await a.call({ cmd: "insert", cell: "c1", index: 6, text: "AAA" });
  await a.call({ cmd: "flush" });
  await b.call({ cmd: "flush" });
  await b.call({ cmd: "insert", cell: "c1", index: 9, text: "BBB" });
  await b.call({ cmd: "flush" });
  await a.call({ cmd: "flush" });
  assert.equal(await a.text("c1"), "start\nAAABBB");
  assert.deepEqual(await a.call({ cmd: "undo" }), { ev: "ok", changed: true });
  assert.equal(await a.text("c1"), "start\nBBB");
  // a's own cell creation is outside the undo scope (only sources are), so nothing is left to undo.
  assert.deepEqual(await a.call({ cmd: "undo" }), { ev: "ok", changed: false });
  await a.call({ cmd: "flush" });
  await b.call({ cmd: "flush" });
  assert.equal(await b.text("c1"), "start\nBBB");
  assert.deepEqual(await b.call({ cmd: "undo" }), { ev: "ok", changed: true });
  assert.equal(await b.text("c1"), "start\n");
  await b.call({ cmd: "redo" });
  await b.call({ cmd: "flush" });
  await a.call({ cmd: "flush" });
  assert.equal(await a.text("c1"), "start\nBBB");
  await a.call({ cmd: "redo" });
  await a.call({ cmd: "flush" });
  await b.call({ cmd: "flush" });
  const [ta, tb] = [await a.text("c1"), await b.text("c1")];
  assert.equal(ta, tb);
  assert.match(ta, /^start\n(AAABBB|BBBAAA)$/);
  await a.quit();
  await b.quit();
});

test("awareness states reach the other client; errors are answers, not crashes", async () => {
  const [a, b] = await pair("awareness");
  await a.call({ cmd: "awareness", state: { user: { name: "ann", color: "#f00" } } });
  const { states } = await b.call({ cmd: "peers", atLeast: 1, timeoutMs: 5000 });
  assert.deepEqual(states, [{ user: { name: "ann", color: "#f00" } }]);
  await assert.rejects(a.call({ cmd: "text", cell: "nope" }), /no cell with id "nope"/);
  await assert.rejects(a.call({ cmd: "bogus" }), /unknown command/);
  await assert.rejects(a.call({ cmd: "peers", atLeast: 5, timeoutMs: 200 }), /no answer within 200 ms/);
  assert.deepEqual(await a.call({ cmd: "text", cell: "c1", tag: 7 }), { ev: "text", text: "start\n", tag: 7 });
  await a.quit();
  // Closing stdin quits too.
  b.proc.stdin.end();
  assert.equal(await b.exited, 0);
});
