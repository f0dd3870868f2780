// AI jobs (src/ai/): the job client over the real ws.ts socket and a fake server, accepting answers through
// the notebook store, the settings helpers and the streamed `POST /api/generate`.
import "./env";
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "../src/ws";
import { NotebookStore } from "../src/notebook/store";
import { ClientEvent, ServerEvent, type Cell, type Session } from "../src/wire";
import { acceptCells, acceptEdit, canFix, fixRequest, likeOriginal } from "../src/ai/apply";
import { CONNECTION_LOST, describeError, OFFLINE, waitLeft } from "../src/ai/jobs";
import { aiConfigured, aiPatch } from "../src/ai/settings";
import { generateNotebook, readNdjson } from "../src/ai/generate";
import { ApiError } from "../src/api";
import { FakeServer, settled, type Sent } from "./fake-server";

let seq = 0;
function notebook(): Session {
  return {
    id: `ai${++seq}`,
    language: "javascript",
    openedAt: 0,
    cells: [
      { id: "title", type: "title", text: "Test" },
      { id: "pkg", type: "package.json", source: "{}", filename: "package.json", status: "idle" },
      { id: "code1", type: "code", source: "1", language: "javascript", filename: "a.js", status: "idle" },
      { id: "md1", type: "markdown", text: "Hello" },
    ],
  };
}

const open: NotebookStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.dispose();
  localStorage.clear();
});

async function page(server: FakeServer) {
  const socket = new Socket(server.transport);
  const store = new NotebookStore(structuredClone(server.session), {
    socket,
    session: (id) => server.fetchSession(id),
  });
  open.push(store);
  await settled();
  return { socket, store };
}

/** AI requests the fake server got, answered by the test through `reply` (kept per job). */
function aiServer(server: FakeServer) {
  const jobs = new Map<string, { f: Sent; reply: (e: string, p: unknown) => void }>();
  server.onRequest = (f, reply) => {
    if (!f.event.startsWith("ai:")) return false;
    if (f.event !== ClientEvent.aiStop) jobs.set(f.payload.jobId, { f, reply });
    return true;
  };
  const to = (jobId: string, event: string, p: Record<string, unknown> = {}) =>
    jobs.get(jobId)!.reply(event, { jobId, ...p });
  return { jobs, to };
}

const source = (store: NotebookStore, id: string) => {
  const c = store.cell(id);
  return c && "source" in c ? c.source : undefined;
};
const prompt = { system: "You edit code.", user: "Make it 2" };

test("the job client routes ai:* events to their job by jobId", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const ai = aiServer(server);
  const edit = store.ai.start({ kind: "edit", cellId: "code1", prompt: "Make it 2" });
  const cells = store.ai.start({ kind: "cells", insertIdx: 3, query: "a chart" });
  assert.notEqual(edit.id, cells.id);
  await settled();

  const [sentEdit] = server.sent(ClientEvent.aiGenerate);
  assert.deepEqual(
    { ...sentEdit.payload, requestId: undefined },
    { jobId: edit.id, cellId: "code1", prompt: "Make it 2", requestId: undefined },
  );
  const [sentCells] = server.sent(ClientEvent.aiGenerateCells);
  assert.equal(sentCells.payload.jobId, cells.id);
  assert.equal(sentCells.payload.insertIdx, 3);
  assert.equal(sentCells.payload.query, "a chart");

  let editChanges = 0;
  store.ai.watch(edit.id, () => editChanges++);
  ai.to(edit.id, ServerEvent.aiStarted, {
    kind: "edit",
    cellId: "code1",
    prompt,
    provider: "openai",
    model: "m",
  });
  ai.to(cells.id, ServerEvent.aiStarted, { kind: "cells", prompt, provider: "openai", model: "m" });
  ai.to(edit.id, ServerEvent.aiDelta, { step: 1, text: "con" });
  ai.to(cells.id, ServerEvent.aiDelta, { step: 1, text: "## Chart" });
  ai.to(edit.id, ServerEvent.aiDelta, { step: 1, text: "st x = 2;" });
  server.broadcast(ServerEvent.aiDelta, { jobId: "someone-else", step: 1, text: "not ours" });
  await settled();
  assert.equal(store.ai.get(edit.id)!.status, "streaming");
  assert.deepEqual(store.ai.get(edit.id)!.texts, ["const x = 2;"]);
  assert.deepEqual(store.ai.get(edit.id)!.prompt, prompt);
  assert.equal(store.ai.get(edit.id)!.model, "m");
  assert.deepEqual(store.ai.get(cells.id)!.texts, ["## Chart"]);

  ai.to(edit.id, ServerEvent.aiDone, { cellId: "code1", output: "const x = 2;", steps: 1, ok: true });
  ai.to(cells.id, ServerEvent.aiFailed, {
    code: "ai_rate_limited",
    message: "Slow down",
    retryAfterMs: 2500,
  });
  await settled();
  assert.equal(store.ai.get(edit.id)!.status, "done");
  assert.equal(store.ai.get(edit.id)!.result?.output, "const x = 2;");
  assert.equal(editChanges, 4, "started, two deltas, done");
  const failed = store.ai.get(cells.id)!;
  assert.equal(failed.status, "failed");
  assert.equal(failed.error?.code, "ai_rate_limited");
  assert.equal(describeError(failed.error!), "Slow down. Try again in 3 s.");
  const at = failed.error!.at!;
  assert.equal(waitLeft(failed.error, at + 1000), 1500, "Try again waits for the server's retryAfterMs");
  assert.equal(waitLeft(failed.error, at + 3000), 0);
  assert.equal(source(store, "code1"), "1", "nothing written before Accept");
  assert.equal(server.sent(ClientEvent.cellUpdate).length, 0);
});

test("Stop sends ai:stop with the job's id; the server's ai_stopped ends the job", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const ai = aiServer(server);
  const job = store.ai.start({ kind: "edit", cellId: "code1", prompt: "x" });
  await settled();
  ai.to(job.id, ServerEvent.aiStarted, { kind: "edit", prompt });
  await settled();
  store.ai.stop(job.id);
  assert.equal(store.ai.get(job.id)!.status, "stopping");
  store.ai.stop(job.id); // twice: one frame
  await settled();
  assert.deepEqual(
    server.sent(ClientEvent.aiStop).map((f) => f.payload.jobId),
    [job.id],
  );
  ai.to(job.id, ServerEvent.aiFailed, { code: "ai_stopped", message: "Stopped" });
  await settled();
  assert.equal(store.ai.get(job.id)!.status, "failed");
  assert.equal(describeError(store.ai.get(job.id)!.error!), "Stopped.");
});

test("a job running when the connection drops fails (connection lost); started later anyway, it is stopped", async () => {
  const server = new FakeServer(notebook());
  const { socket, store } = await page(server);
  const ai = aiServer(server);
  const job = store.ai.start({ kind: "fix", cellId: "code1", diagnostics: "a.js:1:1 error: x" });
  await settled();
  ai.to(job.id, ServerEvent.aiStarted, { kind: "fix", prompt });
  ai.to(job.id, ServerEvent.aiDelta, { step: 1, text: "partial" });
  await settled();

  server.online = false;
  server.drop();
  await settled();
  const j = store.ai.get(job.id)!;
  assert.equal(j.status, "failed");
  assert.equal(j.error?.code, CONNECTION_LOST);
  assert.match(j.error!.message, /Connection lost/);
  assert.deepEqual(j.texts, ["partial"], "what came before stays visible");

  // Offline: a new job fails at once, and nothing is queued to be sent later.
  const offline = store.ai.start({ kind: "edit", cellId: "code1", prompt: "y" });
  assert.equal(offline.status, "failed");
  assert.equal(offline.error?.code, OFFLINE);

  server.online = true;
  socket.retryNow();
  await settled();
  assert.equal(server.sent(ClientEvent.aiGenerate).length, 0, "the offline job was never sent");
  // The server hears of the dropped job after all (its frame was queued): nobody waits for it.
  server.broadcast(ServerEvent.aiStarted, { jobId: job.id, kind: "fix", prompt });
  await settled();
  assert.deepEqual(
    server.sent(ClientEvent.aiStop).map((f) => f.payload.jobId),
    [job.id],
  );
  assert.equal(store.ai.get(job.id)!.error?.code, CONNECTION_LOST, "still failed");
});

test("closing the notebook stops its running jobs", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const ai = aiServer(server);
  const running = store.ai.start({ kind: "edit", cellId: "code1", prompt: "x" });
  const finished = store.ai.start({ kind: "edit", cellId: "code1", prompt: "y" });
  await settled();
  ai.to(finished.id, ServerEvent.aiDone, { cellId: "code1", output: "y", steps: 1, ok: true });
  await settled();
  open.splice(open.indexOf(store), 1);
  store.dispose();
  await settled();
  assert.deepEqual(
    server.sent(ClientEvent.aiStop).map((f) => f.payload.jobId),
    [running.id],
  );
});

test("an error event refusing an AI request fails its job", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  server.onRequest = (f, reply) => {
    if (f.event !== ClientEvent.aiGenerate) return false;
    reply(ServerEvent.error, {
      code: "not_implemented",
      message: "'ai:generate' is not implemented",
      event: f.event,
      requestId: f.payload.requestId,
    });
    return true;
  };
  const job = store.ai.start({ kind: "edit", cellId: "code1", prompt: "x" });
  await settled();
  assert.equal(store.ai.get(job.id)!.status, "failed");
  assert.equal(store.ai.get(job.id)!.error?.code, "not_implemented");
  assert.ok(store.unsupported.has(ClientEvent.aiGenerate));
});

test("accepting a proposal goes through the store's edit path: a cell:update with it, then saved", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const ai = aiServer(server);
  const shown: string[] = [];
  store.onCellReplaced("code1", (c) => shown.push("source" in c ? c.source : ""));
  const job = store.ai.start({ kind: "edit", cellId: "code1", prompt: "x" });
  await settled();
  ai.to(job.id, ServerEvent.aiDone, { cellId: "code1", output: "const x = 2;\n", steps: 1, ok: true });
  await settled();

  const output = store.ai.get(job.id)!.result!.output!;
  assert.equal(acceptEdit(store, "code1", output), true);
  store.ai.drop(job.id);
  assert.equal(source(store, "code1"), output, "shown at once");
  assert.deepEqual(shown, [output], "the cell's editor is given the text");
  await settled();
  const upd = server.sent(ClientEvent.cellUpdate);
  assert.equal(upd.length, 1);
  assert.deepEqual(upd[0].payload.updates, { source: output });
  assert.equal(upd[0].payload.cellId, "code1");
  assert.equal(store.saveState, "saved");
  const saved = server.session.cells.find((c) => c.id === "code1");
  assert.equal(saved && "source" in saved && saved.source, output);
  assert.equal(server.sent(ClientEvent.aiStop).length, 0, "a finished job is not stopped");
});

test("a proposal ends as the cell's text ends (the server always adds a newline)", () => {
  assert.equal(likeOriginal("const x = 2;\n", "const x = 1;"), "const x = 2;");
  assert.equal(likeOriginal("const x = 2;\n\n", "const x = 1;\n"), "const x = 2;\n");
  assert.equal(likeOriginal("const x = 2;", "const x = 1;\n"), "const x = 2;\n");
});

test("Reject sends nothing: the cell keeps its text", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const ai = aiServer(server);
  const job = store.ai.start({ kind: "edit", cellId: "code1", prompt: "x" });
  await settled();
  ai.to(job.id, ServerEvent.aiDone, { cellId: "code1", output: "changed", steps: 1, ok: true });
  await settled();
  const before = server.received.length;
  store.ai.drop(job.id); // what Reject does
  await settled();
  assert.deepEqual(
    server.received.slice(before).map((f) => f.event),
    [],
  );
  assert.equal(source(store, "code1"), "1");
  assert.equal(store.ai.get(job.id), undefined);
});

test("generate-cells Accept sends one cell:create per cell, in order, from the insert index", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const ai = aiServer(server);
  const job = store.ai.start({ kind: "cells", insertIdx: 3, query: "two cells" });
  await settled();
  const proposed: Cell[] = [
    { id: "p1", type: "markdown", text: "## Step one" },
    {
      id: "p2",
      type: "code",
      source: "export const a = 1;",
      language: "javascript",
      filename: "a.js",
      status: "idle",
    },
    {
      id: "p3",
      type: "code",
      source: "console.log(2)",
      language: "javascript",
      filename: "b.js",
      status: "idle",
    },
  ];
  ai.to(job.id, ServerEvent.aiDone, { cells: proposed, steps: 1, ok: true });
  await settled();

  const ids = acceptCells(store, 3, store.ai.get(job.id)!.result!.cells);
  await settled();
  const creates = server.sent(ClientEvent.cellCreate).map((f) => f.payload);
  assert.equal(creates.length, 3);
  assert.deepEqual(
    creates.map((c) => c.index),
    [3, 4, 5],
  );
  assert.deepEqual(
    creates.map((c) => c.cell.id),
    ids,
  );
  assert.equal(creates[0].cell.text, "## Step one");
  assert.equal(creates[1].cell.source, "export const a = 1;");
  assert.equal(creates[1].cell.filename, "a-2.js", "a.js is taken: a fresh name");
  assert.equal(creates[2].cell.filename, "b.js");
  assert.ok(
    creates.every((c) => !proposed.some((p) => p.id === c.cell.id)),
    "fresh cell ids",
  );
  assert.deepEqual(
    store.cells.map((c) => c.id),
    ["title", "pkg", "code1", ...ids, "md1"],
  );
  assert.deepEqual(
    server.session.cells.map((c) => c.id),
    ["title", "pkg", "code1", ...ids, "md1"],
  );
  assert.equal(store.saveState, "saved");
});

test("Fix sends the diagnostics and the output the page shows; each ai:step is kept in order", async () => {
  const server = new FakeServer(notebook());
  const { store } = await page(server);
  const ai = aiServer(server);
  assert.equal(canFix(store, "code1"), false, "nothing to fix");
  server.broadcast(ServerEvent.diagnostics, {
    cellId: "code1",
    diagnostics: [
      {
        code: 2304,
        category: "error",
        text: "Cannot find name 'y'.",
        start: { line: 2, offset: 5 },
        end: { line: 2, offset: 6 },
      },
    ],
  });
  server.broadcast(ServerEvent.cellOutput, {
    cellId: "code1",
    output: { type: "stderr", data: "ReferenceError: y\n" },
  });
  await settled();
  assert.equal(canFix(store, "code1"), true);

  const job = store.ai.start(fixRequest(store, "code1"));
  await settled();
  const [sent] = server.sent(ClientEvent.aiFix);
  assert.equal(sent.payload.jobId, job.id);
  assert.equal(sent.payload.cellId, "code1");
  assert.equal(sent.payload.diagnostics, "a.js:2:5 error TS2304: Cannot find name 'y'.");
  assert.equal(sent.payload.output, "ReferenceError: y\n");

  const step = (n: number, ok: boolean) => ({
    step: n,
    maxSteps: 2,
    code: `try ${n}`,
    diagnostics: ok ? [] : ["Cannot find name 'y'."],
    output: "",
    exitCode: ok ? 0 : 1,
    ok,
  });
  ai.to(job.id, ServerEvent.aiDelta, { step: 1, text: "try 1" });
  ai.to(job.id, ServerEvent.aiStep, step(1, false));
  ai.to(job.id, ServerEvent.aiDelta, { step: 2, text: "try 2" });
  ai.to(job.id, ServerEvent.aiStep, step(2, false));
  ai.to(job.id, ServerEvent.aiDone, { cellId: "code1", output: "try 2", steps: 2, ok: false });
  await settled();
  const j = store.ai.get(job.id)!;
  assert.deepEqual(j.texts, ["try 1", "try 2"]);
  assert.deepEqual(
    j.steps.map((s) => [s.step, s.ok]),
    [
      [1, false],
      [2, false],
    ],
  );
  assert.equal(j.result?.ok, false);
  assert.equal(source(store, "code1"), "1", "the cell is untouched");

  // A run that failed is enough too.
  server.broadcast(ServerEvent.diagnostics, { cellId: "code1", diagnostics: [] });
  await settled();
  assert.equal(canFix(store, "code1"), false);
  const c = store.cell("code1") as Extract<Cell, { type: "code" }>;
  server.broadcast(ServerEvent.cellUpdated, {
    cell: { ...c, status: "idle" },
    exitCode: 1,
    signal: null,
    durationMs: 3,
  });
  await settled();
  assert.equal(canFix(store, "code1"), true);
});

test("AI settings: set up when the provider has its key (custom: a base URL); only typed keys are posted", () => {
  assert.equal(aiConfigured({ aiProvider: "openai", openaiKey: null }), false);
  assert.equal(aiConfigured({ aiProvider: "openai", openaiKey: "********" }), true);
  assert.equal(aiConfigured({ aiProvider: "anthropic", openaiKey: "********", anthropicKey: null }), false);
  assert.equal(aiConfigured({ aiProvider: "Xai", xaiKey: "********" }), true);
  assert.equal(aiConfigured({ aiProvider: "custom", customApiKey: "********", aiBaseUrl: null }), false);
  assert.equal(aiConfigured({ aiProvider: "custom", aiBaseUrl: "http://localhost:11434" }), true);
  assert.equal(aiConfigured({ aiProvider: "nonsense" }), false);

  assert.deepEqual(
    aiPatch(
      { aiProvider: "openai", aiModel: " gpt-4o ", aiBaseUrl: "" },
      { openaiKey: "sk-new", xaiKey: "  ", bogus: "x" },
    ),
    { aiProvider: "openai", aiModel: "gpt-4o", aiBaseUrl: null, openaiKey: "sk-new" },
  );
  assert.equal(
    aiPatch({ aiProvider: "custom", aiModel: "", aiBaseUrl: "http://h", aiWireFormat: "responses" }, {})
      .aiWireFormat,
    "responses",
    "the API format goes with the rest when the server has it",
  );
});

/** A byte stream delivering these chunks. */
const stream = (chunks: (string | Uint8Array)[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const x of chunks) c.enqueue(typeof x === "string" ? new TextEncoder().encode(x) : x);
      c.close();
    },
  });

test("ndjson lines are read across chunk boundaries, multi-byte characters included", async () => {
  const euro = new TextEncoder().encode('{"delta":"5 €"}\n');
  const lines: unknown[] = [];
  await readNdjson(
    stream([
      '{"delta":"a"}\n{"del',
      'ta":"b"}\n',
      euro.slice(0, 13),
      euro.slice(13),
      "\n",
      '{"id":"x","dir":"d"}',
    ]),
    (v) => lines.push(v),
  );
  assert.deepEqual(lines, [{ delta: "a" }, { delta: "b" }, { delta: "5 €" }, { id: "x", dir: "d" }]);
});

test("Generate with AI: deltas live, then the new notebook; an error line is the server's code and message", async () => {
  const real = globalThis.fetch;
  const calls: RequestInit[] = [];
  const answer = (lines: string[]) =>
    new Response(stream(lines), { status: 200, headers: { "content-type": "application/x-ndjson" } });
  try {
    let body = ['{"delta":"# Chart"}\n', '{"delta":"\\n"}\n{"dir":"/nb/x","id":"x1"}\n'];
    globalThis.fetch = (async (_url: string, init: RequestInit) => (
      calls.push(init),
      answer(body)
    )) as typeof fetch;
    const deltas: string[] = [];
    const r = await generateNotebook("a chart", (d) => deltas.push(d));
    assert.deepEqual(r, { dir: "/nb/x", id: "x1" });
    assert.deepEqual(deltas, ["# Chart", "\n"]);
    assert.equal((calls[0].headers as Record<string, string>).accept, "application/x-ndjson");
    assert.equal(calls[0].body, JSON.stringify({ query: "a chart" }));

    body = ['{"delta":"x"}\n{"error":{"code":"ai_timeout","message":"The model took too long"}}\n'];
    await assert.rejects(
      generateNotebook("again", () => {}),
      (e) => e instanceof ApiError && e.code === "ai_timeout" && e.message === "The model took too long",
    );

    globalThis.fetch = (async () =>
      new Response(JSON.stringify({ error: true, code: "ai_not_configured", message: "No key" }), {
        status: 400,
        headers: { "content-type": "application/json" },
      })) as typeof fetch;
    await assert.rejects(
      generateNotebook("x", () => {}),
      (e) => e instanceof ApiError && e.code === "ai_not_configured" && e.status === 400,
    );
  } finally {
    globalThis.fetch = real;
  }
});
