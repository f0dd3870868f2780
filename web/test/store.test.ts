// The notebook store (src/notebook/store.ts, unsaved.ts) with the real ws.ts socket over a fake server.
import "./env";
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "../src/ws";
import { NotebookStore } from "../src/notebook/store";
import { ClientEvent, ServerEvent, type Cell, type Session } from "../src/wire";
import { FakeServer, settled } from "./fake-server";

let seq = 0;
/** A JavaScript notebook (no language-service frames): title, package.json, a code and a markdown cell. */
function notebook(): Session {
  const id = `nb${++seq}`;
  return {
    id,
    language: "javascript",
    openedAt: 0,
    cells: [
      { id: "title", type: "title", text: "Test" },
      { id: "pkg", type: "package.json", source: "{}", filename: "package.json", status: "idle" },
      { id: "code1", type: "code", source: "1", language: "javascript", filename: "a.js", status: "idle" },
      { id: "md1", type: "markdown", text: "# Hello" },
    ],
  };
}

const open: { store: NotebookStore }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.store.dispose();
  localStorage.clear();
});

/** A page with the notebook open over its own socket, subscribed. */
async function page(server: FakeServer) {
  const socket = new Socket(server.transport);
  const store = new NotebookStore(structuredClone(server.session), {
    socket,
    session: (id) => server.fetchSession(id),
  });
  open.push({ store });
  await settled();
  return { socket, store };
}

const source = (store: NotebookStore, id: string) => {
  const c = store.cell(id);
  return c && "source" in c ? c.source : c && "text" in c ? c.text : undefined;
};
/** The network goes away: the socket closes and the browser says it is offline (no reconnect timers). */
async function goOffline(server: FakeServer) {
  server.online = false;
  server.drop();
  await settled();
}
/** It comes back: the browser's `online` event (ws.ts calls `retryNow`). */
async function goOnline(server: FakeServer, socket: Socket) {
  server.online = true;
  socket.retryNow();
  await settled();
}
/** Frames received after the last `subscribe`. */
function sinceSubscribe(server: FakeServer) {
  const last = server.received.map((f) => f.event).lastIndexOf(ClientEvent.subscribe);
  return server.received.slice(last + 1);
}

test("an edit made while disconnected is queued and sent once the socket is back", async () => {
  const server = new FakeServer(notebook());
  const { socket, store } = await page(server);
  assert.equal(store.saveState, "saved");
  await goOffline(server);
  assert.equal(socket.state, "offline");

  store.edit("code1", { source: "typed offline" });
  store.flush("code1");
  await settled();
  assert.equal(store.saveState, "offline");
  assert.equal(server.sent(ClientEvent.cellUpdate).length, 0);
  assert.ok(
    localStorage.getItem(`quire:pending:${store.session.id}`)?.includes("typed offline"),
    "kept in localStorage",
  );

  await goOnline(server, socket);
  const updates = sinceSubscribe(server).filter((f) => f.event === ClientEvent.cellUpdate);
  assert.ok(updates.length >= 1, "re-sent after the new subscribe");
  assert.deepEqual(updates.at(-1)!.payload.updates, { source: "typed offline" });
  assert.equal(store.saveState, "saved");
  assert.equal(source(store, "code1"), "typed offline");
  assert.equal(localStorage.getItem(`quire:pending:${store.session.id}`), null, "nothing left to keep");
});

test("an edit sent but not confirmed when the connection drops is sent again on reconnect", async () => {
  const server = new FakeServer(notebook());
  const { socket, store } = await page(server);
  server.answerPings = false;
  store.flushText("code1", { source: "in flight" });
  await settled();
  assert.equal(server.sent(ClientEvent.cellUpdate).length, 1);
  assert.equal(store.saveState, "saving");

  await goOffline(server);
  server.answerPings = true;
  await goOnline(server, socket);
  const again = sinceSubscribe(server).filter((f) => f.event === ClientEvent.cellUpdate);
  assert.deepEqual(
    again.map((f) => f.payload.updates),
    [{ source: "in flight" }],
  );
  assert.equal(store.saveState, "saved");
});

test("edits kept in localStorage are sent again by the next page (a reload)", async () => {
  const server = new FakeServer(notebook());
  const first = await page(server);
  await goOffline(server);
  first.store.edit("md1", { text: "# Kept" });
  open.splice(0); // the tab is closed, not disposed: nothing more is sent

  server.online = true;
  const { store } = await page(server);
  assert.equal(source(store, "md1"), "# Kept", "shown before the server confirmed it");
  const last = server.sent(ClientEvent.cellUpdate).at(-1)?.payload;
  assert.equal(last?.cellId, "md1");
  assert.deepEqual(last?.updates, { text: "# Kept" });
  assert.equal(store.saveState, "saved");
});

test("a refused edit stays in the cell with the server's reason until it is saved again", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const before = server.session.cells.find((c) => c.id === "md1")!;
  let refuse = true;
  // Quire's answer to a refused update: `error` (the `errors` capability), then Srcbook's cell:error and
  // the rollback `cell:updated`.
  server.onRequest = (f, reply) => {
    if (f.event !== ClientEvent.cellUpdate || !refuse) return false;
    const message = "Invalid markdown (line 2: '<script>')";
    reply(ServerEvent.error, {
      code: "invalid_markdown",
      message,
      event: f.event,
      requestId: f.payload.requestId,
    });
    reply(ServerEvent.cellError, { cellId: "md1", errors: [{ message }] });
    reply(ServerEvent.cellUpdated, { cell: before });
    return true;
  };
  const replaced: Cell[] = [];
  store.onCellReplaced("md1", (c) => replaced.push(c));

  store.flushText("md1", { text: "# Hi\n<script>" });
  await settled();
  const r = store.refused.get("md1");
  assert.ok(r, "refused");
  assert.equal(r.code, "invalid_markdown");
  assert.equal(r.message, "Invalid markdown (line 2: '<script>')");
  assert.equal(r.line, 2);
  assert.equal(r.gone, false);
  assert.equal(source(store, "md1"), "# Hi\n<script>", "the rollback does not take the text away");
  assert.ok(
    replaced.every((c) => "text" in c && c.text === "# Hi\n<script>"),
    "the editor never got the old text",
  );
  assert.equal(
    store.errors.get("md1"),
    undefined,
    "the reason is shown with the kept text, not as a cell error",
  );
  assert.equal(store.saveState, "unsaved");
  assert.deepEqual(
    server.session.cells.find((c) => c.id === "md1"),
    before,
    "the server kept its copy",
  );

  refuse = false;
  store.flushText("md1", { text: "# Hi" });
  await settled();
  assert.equal(store.refused.has("md1"), false);
  assert.equal(store.saveState, "saved");
  assert.equal(source(store, "md1"), "# Hi");
});

test("the catch-up fetch after a reconnect never overrides an edit sent but not yet confirmed", async () => {
  const server = new FakeServer(notebook());
  const { socket, store } = await page(server);
  const shown: string[] = [];
  store.onCellReplaced("code1", (c) => shown.push("source" in c ? c.source : ""));
  server.answerPings = false;
  store.flushText("code1", { source: "newer" });
  await settled();

  await goOffline(server);
  const stale = structuredClone(server.session);
  stale.cells = stale.cells.map((c) => (c.id === "code1" ? { ...c, source: "older" } : c));
  server.holdFetch();
  await goOnline(server, socket); // the edit is re-sent; its pong is held
  assert.equal(sinceSubscribe(server).filter((f) => f.event === ClientEvent.cellUpdate).length, 1);
  server.releaseFetches(stale); // the fetch answers with the copy from before the edit
  await settled();
  assert.equal(source(store, "code1"), "newer");
  assert.ok(!shown.includes("older"), `the editor was never given the older text (${JSON.stringify(shown)})`);

  server.releasePings();
  await settled();
  assert.equal(store.saveState, "saved");
  assert.equal(source(store, "code1"), "newer");
});

test("cells created, moved and deleted in another tab show up in this one", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  let changes = 0;
  store.onChange(() => changes++);
  const ids = () => store.cells.map((c) => c.id);
  const other: Cell = {
    id: "code2",
    type: "code",
    source: "2",
    language: "javascript",
    filename: "b.js",
    status: "idle",
  };

  server.broadcast(ServerEvent.cellCreated, { index: 2, cell: other });
  await settled();
  assert.deepEqual(ids(), ["title", "pkg", "code2", "code1", "md1"]);
  server.broadcast(ServerEvent.cellCreated, { index: 2, cell: other }); // twice: still one
  server.broadcast(ServerEvent.cellMoved, { cellId: "code2", index: 4 });
  await settled();
  assert.deepEqual(ids(), ["title", "pkg", "code1", "md1", "code2"]);
  server.broadcast(ServerEvent.cellDeleted, { cellId: "code1" });
  await settled();
  assert.deepEqual(ids(), ["title", "pkg", "md1", "code2"]);
  assert.ok(changes >= 4, "each event re-renders");
  assert.equal(store.saveState, "saved");
});

test("a cell deleted in another tab while this page has unsaved text for it is kept, marked gone", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  server.answerPings = false;
  store.flushText("code1", { source: "not saved yet" });
  server.broadcast(ServerEvent.cellDeleted, { cellId: "code1" });
  await settled();
  assert.equal(store.isGone("code1"), true);
  assert.equal(source(store, "code1"), "not saved yet");
  assert.match(store.refused.get("code1")!.message, /no longer exists/);
  assert.equal(store.saveState, "unsaved");

  store.recreate("code1"); // the user's choice: add it again
  await settled();
  const created = server.sent(ClientEvent.cellCreate).at(-1)!.payload;
  assert.equal(created.cell.source, "not saved yet");
  assert.notEqual(created.cell.id, "code1");
  assert.equal(store.cell("code1"), undefined);
});

test("not_implemented disables the event the error names in its `event` field", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  server.onRequest = (f, reply) => {
    if (f.event !== ClientEvent.cellExec) return false;
    reply(ServerEvent.error, {
      code: "not_implemented",
      message: "Running cells is not available here",
      event: f.event,
      requestId: f.payload.requestId,
    });
    return true;
  };
  assert.equal(store.run("code1"), true);
  const running = store.cell("code1");
  assert.equal(running?.type === "code" && running.status, "running");
  await settled();
  assert.ok(store.unsupported.has(ClientEvent.cellExec));
  const cell = store.cell("code1");
  assert.equal(cell?.type === "code" && cell.status, "idle", "the run never started");
  assert.deepEqual(store.errors.get("code1"), ["Running cells is not available here"]);
});

test("from an older server without `event`, not_implemented is read from the quoted name in the message", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  server.onRequest = (f, reply) => {
    if (f.event !== ClientEvent.cellFormat) return false;
    reply(ServerEvent.error, {
      code: "not_implemented",
      message: "'cell:format' is not implemented",
      requestId: f.payload.requestId,
    });
    return true;
  };
  store.format("code1");
  await settled();
  assert.deepEqual([...store.unsupported], [ClientEvent.cellFormat]);
});

test("error events: a refused tsconfig, a refused new cell, a missing language service", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  server.onRequest = (f, reply) => {
    const refuse = (code: string, message: string) =>
      reply(ServerEvent.error, { code, message, event: f.event, requestId: f.payload.requestId });
    if (f.event === ClientEvent.tsconfigUpdate) refuse("invalid_tsconfig", "not a JSON object");
    else if (f.event === ClientEvent.cellCreate) refuse("invalid_cell", "too many cells");
    else return false;
    return true;
  };

  store.updateTsconfig("[]");
  await settled();
  assert.equal(store.problems.get("tsconfig.json"), "tsconfig.json: not a JSON object");
  assert.equal(store.saveState, "unsaved");
  server.broadcast(ServerEvent.tsconfigUpdated, { source: "[]" }); // what this page sent went through after all
  await settled();
  assert.equal(store.problems.has("tsconfig.json"), false);

  const id = store.createCell(3, "markdown");
  await settled();
  assert.equal(store.isGone(id), true, "kept, to be re-created or dropped");
  assert.equal(store.refused.get(id)!.message, "This cell could not be added: too many cells");
  assert.equal(source(store, id), "Write **markdown** here.");

  server.broadcast(ServerEvent.error, { code: "tsserver_unavailable", message: "node is missing" });
  await settled();
  assert.ok(store.unsupported.has(ClientEvent.tsserverStart));
});

test("a cell added while the catch-up fetch is out is not dropped when the fetch answers without it", async () => {
  const server = new FakeServer(notebook());
  server.holdFetch(); // the page opens; its catch-up fetch is slow
  const { store } = await page(server);
  const before = structuredClone(server.session);
  const id = store.createCell(4, "code");
  store.edit(id, { source: "typed at once" });
  server.releaseFetches(before); // the copy from before the cell:create
  await settled();
  assert.ok(store.cell(id), "the new cell is still there");
  assert.equal(store.isGone(id), false, "and not taken for one the server lost");
  store.flush(id);
  await settled();
  assert.equal(source(store, id), "typed at once");
  assert.equal(store.saveState, "saved");
  const saved = server.session.cells.find((c) => c.id === id);
  assert.equal(saved && "source" in saved && saved.source, "typed at once");
});

test("Run all goes on past a cell whose run ended while the catch-up fetch was out (it answers with the older copy)", async () => {
  const session = notebook();
  session.cells.push({
    id: "code2",
    type: "code",
    source: "setInterval(() => {}, 1000)",
    language: "javascript",
    filename: "b.js",
    status: "idle",
  });
  const server = new FakeServer(session);
  server.holdFetch(); // the page opens; its catch-up fetch is slow
  const { store } = await page(server);
  const stale = structuredClone(server.session); // every cell idle, no run yet
  // The server runs what it is asked to: running, output, then exit 0 for code1; code2 never ends.
  server.onRequest = (f) => {
    if (f.event !== ClientEvent.cellExec) return;
    const cell = server.session.cells.find((c) => c.id === f.payload.cellId)!;
    server.broadcast(ServerEvent.cellUpdated, { cell: { ...cell, status: "running" } });
    if (cell.id === "code1") server.broadcast(ServerEvent.cellUpdated, { cell, exitCode: 0, durationMs: 1 });
    return true;
  };
  void store.runAll.start();
  await settled();
  assert.equal(store.runAll.current, "code2", "code1 ended with exit 0: code2 runs");

  server.releaseFetches(stale); // answered with the copy from before Run all
  await settled();
  assert.equal(store.runAll.active, true, "Run all still waits for code2");
  assert.equal(store.runAll.current, "code2");
  const c2 = store.cell("code2");
  assert.equal(c2?.type === "code" && c2.status, "running", "code2 is still shown running");
});
