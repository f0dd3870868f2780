// MCP in the UI (src/mcp/, the tool calls of ai/jobs.ts): the approval queue and the tool-call cards over
// the real ws.ts socket and the fake server, and the Settings form's request bodies.
import "./env";
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "../src/ws";
import { NotebookStore } from "../src/notebook/store";
import { ClientEvent, ServerEvent, type Approval, type McpServerView, type Session } from "../src/wire";
import { modelName, splitTool } from "../src/ai/jobs";
import { clock, secondsLeft } from "../src/mcp/approvals";
import {
  configOf,
  dataDirOf,
  draftOf,
  fieldOf,
  httpSnippet,
  parsePasted,
  stdioSnippet,
  viewOf,
} from "../src/mcp/config";
import { api } from "../src/api";
import { FakeServer, settled, type Sent } from "./fake-server";

let seq = 0;
function notebook(): Session {
  return {
    id: `mcp${++seq}`,
    language: "javascript",
    openedAt: 0,
    cells: [
      { id: "title", type: "title", text: "Test" },
      { id: "pkg", type: "package.json", source: "{}", filename: "package.json", status: "idle" },
      { id: "code1", type: "code", source: "1", language: "javascript", filename: "a.js", status: "idle" },
    ],
  };
}

const open: NotebookStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.dispose();
  localStorage.clear();
});

/** A page on the notebook; `pending` is what `GET /api/mcp/approvals` answers (asked on each subscribe). */
async function page(server: FakeServer, pending: () => Approval[] = () => []) {
  const socket = new Socket(server.transport);
  let fetches = 0;
  const store = new NotebookStore(structuredClone(server.session), {
    socket,
    session: (id) => server.fetchSession(id),
    approvals: async () => (fetches++, structuredClone(pending())),
  });
  open.push(store);
  await settled();
  return { socket, store, fetches: () => fetches };
}

function approval(over: Partial<Approval> = {}): Approval {
  return {
    id: `ap${++seq}`,
    server: "calc",
    tool: "add",
    arguments: { a: 2, b: 3 },
    source: "ai",
    expiresAt: Date.now() + 300_000,
    ...over,
  };
}

/** AI requests, answered by the test (kept per job). */
function aiServer(server: FakeServer) {
  const jobs = new Map<string, (e: string, p: unknown) => void>();
  server.onRequest = (f: Sent, reply) => {
    if (!f.event.startsWith("ai:")) return false;
    if (f.event !== ClientEvent.aiStop) jobs.set(f.payload.jobId, reply);
    return true;
  };
  return (jobId: string, event: string, p: Record<string, unknown> = {}) =>
    jobs.get(jobId)!(event, { jobId, ...p });
}

test("tool-call cards follow ai:tool_call, the job's pending approval and ai:tool_result", async () => {
  const server = new FakeServer(notebook());
  const nb = server.session.id;
  const { store } = await page(server);
  const to = aiServer(server);
  const job = store.ai.start({ kind: "edit", cellId: "code1", prompt: "add 2 and 3" });
  await settled();
  let changes = 0;
  store.ai.watch(job.id, () => changes++);
  to(job.id, ServerEvent.aiStarted, { kind: "edit", cellId: "code1" });
  to(job.id, ServerEvent.aiToolCall, { step: 1, callId: "c1", tool: "calc__add", arguments: { a: 2, b: 3 } });
  to(job.id, ServerEvent.aiToolCall, { step: 1, callId: "c2", tool: "calc__add", arguments: { a: 1, b: 1 } });
  to(job.id, ServerEvent.aiToolCall, { step: 1, callId: "c1", tool: "calc__add", arguments: {} }); // twice
  await settled();
  const tools = () => store.ai.get(job.id)!.tools;
  assert.deepEqual(
    tools().map((t) => [t.callId, t.tool, t.status]),
    [
      ["c1", "calc__add", "running"],
      ["c2", "calc__add", "running"],
    ],
  );
  assert.deepEqual(tools()[0].arguments, { a: 2, b: 3 });

  // The gate holds the first call: its approval names the job.
  const a = approval({ notebookId: nb, jobId: job.id });
  server.broadcast(ServerEvent.mcpApproval, a);
  await settled();
  assert.deepEqual(
    tools().map((t) => t.status),
    ["waiting", "running"],
    "one approval holds one call of that tool",
  );
  // Answered in another tab.
  server.broadcast(ServerEvent.mcpApprovalResolved, { id: a.id, outcome: "allowed" });
  await settled();
  assert.deepEqual(
    tools().map((t) => t.status),
    ["running", "running"],
  );
  const result = { content: [{ type: "text", text: "The sum of 2 and 3 is 5." }], isError: false };
  to(job.id, ServerEvent.aiToolResult, { callId: "c1", status: "done", result, durationMs: 12 });
  to(job.id, ServerEvent.aiToolResult, {
    callId: "c2",
    status: "denied",
    result: { code: "mcp_denied", message: "Denied" },
    durationMs: 3,
  });
  to(job.id, ServerEvent.aiToolResult, { callId: "nope", status: "done", result, durationMs: 1 });
  await settled();
  assert.equal(tools()[0].status, "done");
  assert.deepEqual(tools()[0].result, result);
  assert.equal(tools()[0].durationMs, 12);
  assert.equal(tools()[1].status, "denied");
  assert.deepEqual(tools()[1].result, { code: "mcp_denied", message: "Denied" });
  assert.ok(changes >= 6, `the panel re-rendered on each change (${changes})`);

  // A finished call stays finished whatever approvals come later.
  server.broadcast(ServerEvent.mcpApproval, approval({ jobId: job.id }));
  await settled();
  assert.deepEqual(
    tools().map((t) => t.status),
    ["done", "denied"],
  );
  assert.deepEqual(splitTool("calc__add"), { server: "calc", tool: "add" });
  assert.equal(modelName("my.server", "do it"), "my_server__do_it");
  assert.equal(modelName("s", "é".repeat(80)), "s__" + "_".repeat(61));
  assert.deepEqual(splitTool("my-server__do__it"), { server: "my-server", tool: "do__it" });
});

test("a call offered under a cleaned-up name still waits for the approval of its server and tool", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const to = aiServer(server);
  const job = store.ai.start({ kind: "cells", insertIdx: 2, query: "q" });
  await settled();
  to(job.id, ServerEvent.aiToolCall, { step: 1, callId: "c1", tool: "my_server__do_it", arguments: {} });
  server.broadcast(ServerEvent.mcpApproval, approval({ jobId: job.id, server: "my.server", tool: "do it" }));
  await settled();
  assert.equal(store.ai.get(job.id)!.tools[0].status, "waiting");
  // Another job's approval of the same tool holds nothing of this one.
  store.mcp.answer(store.mcp.pending[0].id, "deny");
  server.broadcast(ServerEvent.mcpApproval, approval({ jobId: "other", server: "my.server", tool: "do it" }));
  await settled();
  assert.equal(store.ai.get(job.id)!.tools[0].status, "running");
});

test("approvals queue; answering sends mcp:approve; a resolved event closes the one it names", async () => {
  const server = new FakeServer(notebook());
  const nb = server.session.id;
  const { store } = await page(server);
  let changes = 0;
  store.mcp.onChange(() => changes++);
  const first = approval({ notebookId: nb });
  const global = approval({ tool: "search", server: "web" }); // no notebook: every page is asked
  const other = approval({ notebookId: "someone-else" });
  server.broadcast(ServerEvent.mcpApproval, first);
  server.broadcast(ServerEvent.mcpApproval, global);
  server.broadcast(ServerEvent.mcpApproval, other);
  server.broadcast(ServerEvent.mcpApproval, first); // delivered twice
  const third = approval({ notebookId: nb, tool: "sub" });
  server.broadcast(ServerEvent.mcpApproval, third);
  await settled();
  assert.deepEqual(
    store.mcp.pending.map((a) => a.id),
    [first.id, global.id, third.id],
  );
  assert.equal(changes, 3);

  store.mcp.answer(first.id, "allow", true);
  store.mcp.answer(global.id, "deny", true); // "always" means nothing for a denial
  await settled();
  const sent = server.sent(ClientEvent.mcpApprove).map((f) => ({ ...f.payload, requestId: undefined }));
  assert.deepEqual(sent, [
    { id: first.id, decision: "allow", always: true, requestId: undefined },
    { id: global.id, decision: "deny", requestId: undefined },
  ]);
  assert.ok(server.sent(ClientEvent.mcpApprove).every((f) => typeof f.payload.requestId === "string"));
  assert.deepEqual(
    store.mcp.pending.map((a) => a.id),
    [third.id],
    "the dialog moves on at once",
  );
  assert.equal(store.mcp.note, "search · web: denied.");
  // The server confirms what this page answered: nothing more to say.
  server.broadcast(ServerEvent.mcpApprovalResolved, { id: first.id, outcome: "allowed", by: "user" });
  await settled();
  assert.equal(store.mcp.note, "search · web: denied.");

  // The last one times out on the server.
  server.broadcast(ServerEvent.mcpApprovalResolved, { id: third.id, outcome: "timeout" });
  await settled();
  assert.equal(store.mcp.pending.length, 0);
  assert.equal(store.mcp.note, "sub · calc: denied: nobody answered in time.");
  // A late copy of a resolved approval does not come back.
  server.broadcast(ServerEvent.mcpApproval, third);
  await settled();
  assert.equal(store.mcp.pending.length, 0);

  // Without a notebook, on a topic this page did not subscribe to: still asked here.
  const loose = approval({ tool: "fetch", server: "web" });
  server.broadcast(ServerEvent.mcpApproval, loose, "mcp");
  await settled();
  assert.deepEqual(
    store.mcp.pending.map((a) => a.id),
    [loose.id],
  );
  server.broadcast(ServerEvent.mcpApprovalResolved, { id: loose.id, outcome: "cancelled" }, "mcp");
  await settled();
  assert.equal(store.mcp.pending.length, 0);
  assert.equal(store.mcp.note, "fetch · web: cancelled.");

  // Answered in another tab.
  const fourth = approval({ notebookId: nb });
  server.broadcast(ServerEvent.mcpApproval, fourth);
  await settled();
  server.broadcast(ServerEvent.mcpApprovalResolved, { id: fourth.id, outcome: "allowed", by: "tab 2" });
  await settled();
  assert.equal(store.mcp.pending.length, 0);
  assert.equal(store.mcp.note, "add · calc: allowed elsewhere, by tab 2.");
});

test("an mcp:approve the server refuses says so", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  server.onRequest = (f, reply) => {
    if (f.event !== ClientEvent.mcpApprove) return false;
    reply(ServerEvent.error, {
      code: "mcp_approval_not_found",
      message: "This approval was already resolved.",
      requestId: f.payload.requestId,
      event: f.event,
    });
    return true;
  };
  const a = approval();
  server.broadcast(ServerEvent.mcpApproval, a);
  await settled();
  store.mcp.answer(a.id, "allow");
  await settled();
  assert.equal(store.mcp.pending.length, 0);
  assert.equal(store.mcp.note, "Not answered: This approval was already resolved.");
});

test("on (re)subscribe the pending approvals are fetched: what was missed shows, what was resolved goes", async () => {
  const server = new FakeServer(notebook());
  const nb = server.session.id;
  const a = approval({ notebookId: nb });
  const b = approval({ notebookId: "elsewhere" });
  let pending = [a, b];
  const { socket, store, fetches } = await page(server, () => pending);
  assert.equal(fetches(), 1);
  assert.deepEqual(
    store.mcp.pending.map((x) => x.id),
    [a.id],
  );

  // Offline (no reconnect timers): `a` times out and `c` arrives unseen.
  server.online = false;
  server.drop();
  await settled();
  const c = approval();
  pending = [c];
  // Back online (the browser's `online` event: ws.ts reconnects and resubscribes).
  server.online = true;
  socket.retryNow();
  await settled();
  assert.equal(fetches(), 2);
  assert.deepEqual(
    store.mcp.pending.map((x) => x.id),
    [c.id],
  );
});

test("the countdown to expiresAt", () => {
  const a = approval({ expiresAt: 1_000_000 });
  assert.equal(secondsLeft(a, 1_000_000 - 298_500), 299);
  assert.equal(secondsLeft(a, 2_000_000), 0);
  assert.equal(clock(299), "4:59");
  assert.equal(clock(5), "0:05");
});

const view: McpServerView = {
  name: "calc",
  transport: "stdio",
  command: "node",
  args: ["server.mjs", "--flag"],
  envKeys: ["API_KEY", "OTHER"],
  headerKeys: [],
  disabled: false,
  state: "ready",
  tools: [],
  resources: 0,
  prompts: [],
};

test("the server form: stored env values not retyped are sent as null, new ones as typed", async () => {
  const d = draftOf(view);
  assert.equal(d.args, "server.mjs\n--flag");
  assert.deepEqual(
    d.env.map((r) => [r.key, r.value, r.stored]),
    [
      ["API_KEY", "", true],
      ["OTHER", "", true],
    ],
  );
  d.env[1].value = "new-secret";
  d.env.push({ key: "ADDED", value: "x", stored: false }, { key: " ", value: "ignored", stored: false });
  d.args += "\n\n";
  d.timeoutMs = "5000";
  const body = configOf(d);
  assert.deepEqual(body, {
    command: "node",
    args: ["server.mjs", "--flag"],
    env: { API_KEY: null, OTHER: "new-secret", ADDED: "x" },
    timeoutMs: 5000,
  });

  // What goes on the wire (PUT /api/mcp/servers/:name), through the page's API client.
  const g = globalThis as { fetch: typeof fetch };
  const real = g.fetch;
  const calls: { url: string; method: string; body: any }[] = [];
  g.fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, method: String(init.method), body: JSON.parse(String(init.body)) });
    return new Response(JSON.stringify({ error: false, result: view }), {
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
  try {
    const h = draftOf({
      ...view,
      name: "web site",
      transport: "http",
      url: "https://x.test/mcp",
      headerKeys: ["Authorization"],
    });
    h.headers.push({ key: "X-New", value: "v", stored: false });
    assert.deepEqual(await api.mcpPut(h.name, configOf(h)), view);
    assert.deepEqual(calls, [
      {
        url: "/api/mcp/servers/web%20site",
        method: "PUT",
        body: { url: "https://x.test/mcp", headers: { Authorization: null, "X-New": "v" } },
      },
    ]);
    // A refusal names its field.
    g.fetch = (async () =>
      new Response(
        JSON.stringify({ error: true, code: "mcp_config_invalid", message: "Not a URL", attribute: "url" }),
        { status: 400, headers: { "content-type": "application/json" } },
      )) as unknown as typeof fetch;
    await assert.rejects(api.mcpPut("x", { url: "nope" }), (e: any) => {
      assert.equal(e.code, "mcp_config_invalid");
      assert.equal(e.attribute, "url");
      assert.equal(fieldOf(e.attribute), "url");
      return true;
    });
  } finally {
    g.fetch = real;
  }
});

test("error attributes map to fields; a pasted config is checked; the assistant snippets", () => {
  assert.equal(fieldOf("env.API_KEY"), "env");
  assert.equal(fieldOf("args[1]"), "args");
  assert.equal(fieldOf("mcpServers.calc.command"), "command");
  assert.equal(fieldOf("headers.name"), "headers");
  assert.equal(fieldOf("something"), undefined);
  assert.equal(fieldOf(undefined), undefined);

  assert.equal(parsePasted("{").ok, false);
  assert.equal(parsePasted('{"servers": {}}').ok, false);
  assert.equal(parsePasted('{"mcpServers": {}}').ok, false);
  const ok = parsePasted('{"mcpServers": {"fs": {"command": "npx", "args": ["-y", "x"]}}}');
  assert.deepEqual(ok, { ok: true, config: { mcpServers: { fs: { command: "npx", args: ["-y", "x"] } } } });

  assert.equal(dataDirOf("/home/u/.quire/notebooks"), "/home/u/.quire");
  assert.equal(dataDirOf("C:\\q\\notebooks"), "C:\\q");
  assert.equal(dataDirOf("/elsewhere"), undefined);
  assert.deepEqual(JSON.parse(stdioSnippet("/d")), {
    mcpServers: { quire: { command: "quire", args: ["mcp"], env: { QUIRE_DATA_DIR: "/d" } } },
  });
  assert.deepEqual(JSON.parse(stdioSnippet()), {
    mcpServers: { quire: { command: "quire", args: ["mcp"] } },
  });
  assert.deepEqual(JSON.parse(httpSnippet("http://127.0.0.1:2150")), {
    mcpServers: {
      quire: { url: "http://127.0.0.1:2150/mcp", headers: { Authorization: "Bearer <your token>" } },
    },
  });
});

test("a server view in the contract's shape, or in the MCP crate's own, reads the same", () => {
  assert.deepEqual(viewOf(view), {
    ...view,
    error: undefined,
    serverInfo: undefined,
    protocolVersion: undefined,
  });
  const crate = viewOf({
    name: "calc",
    transport: "stdio",
    command: "node",
    envNames: ["API_KEY"],
    headerNames: [],
    disabled: false,
    status: { state: "failed", error: "exited with 1: boom" },
    info: { name: "e2e-calc", version: "1.0.0", protocolVersion: "2025-11-25", capabilities: {} },
    tools: [{ name: "add", inputSchema: {} }],
    resources: [{ uri: "a" }, { uri: "b" }],
    prompts: [],
  });
  assert.equal(crate.state, "failed");
  assert.equal(crate.error, "exited with 1: boom");
  assert.deepEqual(crate.serverInfo, { name: "e2e-calc", version: "1.0.0" });
  assert.equal(crate.protocolVersion, "2025-11-25");
  assert.deepEqual(crate.envKeys, ["API_KEY"]);
  assert.deepEqual(crate.args, []);
  assert.equal(crate.resources, 2);
  assert.equal(viewOf({ name: "x", state: "weird" }).state, "idle");
  assert.deepEqual(viewOf({ name: "x" }).tools, []);
});
