// Edits the server refuses are never thrown away: the text stays in the editor (and in localStorage
// across reloads), the cell says why, and the save indicator says "Not saved" — never "All changes saved".
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  api,
  importNotebook,
  saveState,
  setup,
  shot,
  signedIn,
  srcmd,
  teardown,
  watchErrors,
} from "./harness.mjs";

let server, browser, context;
const errors = [];
before(async () => ({ server, browser, context } = await setup()));
after(() => teardown({ server, browser }));

async function open(id, ctx = context, { watch = true } = {}) {
  const p = await ctx.newPage();
  if (watch) watchErrors(p, errors);
  await p.goto(`${server.base}/srcbooks/${id}`);
  await p.locator("#nb-title").waitFor();
  return p;
}

const session = async (id) => (await api(server, "GET", `/api/sessions/${id}`)).result;
const codeText = (cell) => cell.locator(".cm-content").innerText();

/** Polls the API (the other page's delete travels over its own WebSocket). */
async function until(what, f) {
  for (let i = 0; i < 500; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("an offline edit of a cell deleted meanwhile is kept, marked not saved, and can be re-created", async () => {
  const id = await importNotebook(
    server,
    srcmd({ title: "Kept edits", cells: [["keep.js", "const kept = 1;"]] }),
  );
  const ctx = await signedIn(browser, server);
  const p = await open(id, ctx);
  const cell = p.locator("section.cell.code").first();
  await cell.locator(".cm-content").waitFor();
  await saveState(p, "All changes saved").waitFor();

  // Offline, the user types; meanwhile another tab deletes the cell.
  await ctx.setOffline(true);
  await p.getByTestId("offline-banner").waitFor();
  await cell.locator(".cm-content").click();
  await p.keyboard.press("Control+End");
  await p.keyboard.type(" // typed offline");
  await saveState(p, "Offline").waitFor();
  const other = await open(id);
  other.once("dialog", (d) => d.accept());
  await other.getByRole("button", { name: "Delete keep.js" }).click();
  await until("the delete", async () => !(await session(id)).cells.some((c) => c.type === "code"));
  await other.close();

  // Back online: the server refuses the re-sent edit (cell_not_found); the text stays, with the reason.
  await ctx.setOffline(false);
  await p.getByTestId("offline-banner").waitFor({ state: "detached" });
  await saveState(p, /^Not saved: .*no longer exists/).waitFor();
  assert.match(await codeText(cell), /const kept = 1; \/\/ typed offline/);
  const refused = cell.getByTestId("refused");
  assert.match(await refused.innerText(), /Not saved\. This cell no longer exists on the server/);
  await shot(p, "refused-gone-cell");

  // A reload keeps it too (localStorage), still not saved.
  await p.reload();
  await p.locator("section.cell.code .cm-content").first().waitFor();
  await saveState(p, /^Not saved/).waitFor();
  assert.match(await codeText(p.locator("section.cell.code").first()), /typed offline/);

  // Re-created as a new cell, it is saved and reaches the server.
  await p.getByRole("button", { name: "Re-create as a new cell" }).click();
  await saveState(p, "All changes saved").waitFor();
  await until("the re-created cell", async () =>
    (await session(id)).cells.some((c) => c.type === "code" && c.source.includes("typed offline")),
  );
  assert.equal(await p.getByTestId("refused").count(), 0);
  await ctx.close();
});

test("an edit typed while the server was down is saved to the same cell after it restarts", async () => {
  const id = await importNotebook(server, srcmd({ title: "Restart", cells: [["survive.js", "let n = 1;"]] }));
  const ctx = await signedIn(browser, server);
  // Not watched: Chromium logs every refused reconnect attempt while the server is down.
  const p = await open(id, ctx, { watch: false });
  const cell = p.locator("section.cell.code").first();
  await cell.locator(".cm-content").waitFor();
  await saveState(p, "All changes saved").waitFor();

  await server.halt();
  await p.getByTestId("offline-banner").waitFor();
  await cell.locator(".cm-content").click();
  await p.keyboard.press("Control+End");
  await p.keyboard.type(" // while the server was down");
  await saveState(p, "Offline").waitFor();
  await server.resume();

  // Whatever the server answers, the text is never dropped …
  await p.getByTestId("offline-banner").waitFor({ state: "detached", timeout: 30_000 });
  await saveState(p, /^(All changes saved|Not saved)/).waitFor();
  assert.match(await codeText(cell), /let n = 1; \/\/ while the server was down/);
  await shot(p, "after-restart");
  // … and with cell ids that survive a restart it lands in the same cell.
  await saveState(p, "All changes saved").waitFor({ timeout: 5000 });
  const cells = (await session(id)).cells.filter((c) => c.type === "code");
  assert.deepEqual(
    cells.map((c) => c.source),
    ["let n = 1; // while the server was down"],
  );
  await ctx.close();
});

test("a refused markdown edit stays in the editor, is marked at its line, and is not reported as saved", async () => {
  const id = await importNotebook(server, srcmd({ title: "Markdown refusal", cells: ["Some *intro*."] }));
  const p = await open(id);
  const md = p.locator("section.cell.markdown").first();
  await md.getByRole("button", { name: "Edit" }).click();
  const source = md.getByLabel("Markdown source");
  await source.fill("Some *intro*.\n\nMore text.\n# A top heading\n\nAfter it.");

  // The server refuses an h1 (invalid_markdown, naming line 4): the text stays, the line is marked.
  await saveState(p, /^Not saved: .*h1.*line 4/).waitFor();
  assert.match(await md.getByTestId("refused").innerText(), /Not saved\. .*line 4/);
  await md.locator(".cm-lintRange-error", { hasText: "# A top heading" }).waitFor();
  await md.locator(".cm-lint-marker-error").waitFor();
  assert.match(await source.innerText(), /# A top heading\s+After it\./);
  await shot(p, "refused-markdown");

  // Done keeps it (rendered, still not saved); so does a reload.
  await md.getByRole("button", { name: "Done" }).click();
  await md.locator(".md h1", { hasText: "A top heading" }).waitFor();
  assert.match(await saveState(p, /Not saved/).innerText(), /Not saved/);
  await p.reload();
  await saveState(p, /^Not saved/).waitFor();
  assert.match(await p.locator("section.cell.markdown").first().innerText(), /A top heading/);

  // Fixed (## instead of #), it is saved and the marks go away.
  const again = p.locator("section.cell.markdown").first();
  await again
    .getByLabel("Markdown source")
    .fill("Some *intro*.\n\nMore text.\n## A top heading\n\nAfter it.");
  await saveState(p, "All changes saved").waitFor();
  assert.equal(await again.getByTestId("refused").count(), 0);
  await again.locator(".cm-lintRange-error").waitFor({ state: "detached" });
  const stored = (await session(id)).cells.find((c) => c.type === "markdown");
  assert.match(stored.text, /^## A top heading$/m);
  await p.close();
});

test("an empty title and a tsconfig the server refuses are reported as not saved", async () => {
  const id = await importNotebook(server, srcmd({ title: "Titled", language: "typescript" }));
  const p = await open(id);
  await saveState(p, "All changes saved").waitFor();
  await p.locator("#nb-title").fill("");
  await saveState(p, "Not saved: a notebook needs a title").waitFor();
  await p.locator("#nb-title").fill("Titled again");
  await saveState(p, "All changes saved").waitFor();

  // Valid JSON but not an object: the server refuses it; the text stays in the editor.
  await p.locator("summary", { hasText: "tsconfig.json" }).click();
  const ts = p.getByLabel("tsconfig.json", { exact: true });
  await ts.click();
  await p.keyboard.press("Control+a");
  await p.keyboard.type("[1, 2]");
  await saveState(p, /^Not saved: tsconfig\.json: /).waitFor();
  await p
    .locator("details.tsconfig")
    .getByText(/^Not saved: tsconfig\.json: /)
    .waitFor();
  assert.equal(await ts.innerText(), "[1, 2]");
  await p.keyboard.press("Control+a");
  await p.keyboard.type('{"compilerOptions": {"strict": true}}');
  await saveState(p, "All changes saved").waitFor();
  assert.match((await session(id))["tsconfig.json"], /"strict": true/);
  await p.close();
});

test("a new cell the server refuses, and an edit refused the Srcbook way (cell:error + rollback), are kept", async () => {
  const id = await importNotebook(
    server,
    srcmd({ title: "Simulated refusals", cells: [["a.js", "let a = 1;"]] }),
  );
  const p = await context.newPage();
  watchErrors(p, errors);
  let refusedCreate = false;
  await p.routeWebSocket(/\/websocket$/, (ws) => {
    const upstream = ws.connectToServer();
    const reply = (topic, event, payload) => ws.send(JSON.stringify([topic, event, payload]));
    ws.onMessage((msg) => {
      const [topic, event, q] = JSON.parse(String(msg));
      if (event === "cell:create" && !refusedCreate) {
        refusedCreate = true;
        return reply(topic, "error", {
          code: "invalid_cell",
          message: "that file name is taken",
          requestId: q.requestId,
        });
      }
      // A server without `error` events (Srcbook): only cell:error, then its copy of the cell. Every
      // change to a.js is refused, however the typing is batched into edits (under load the ~300 ms
      // debounce can split " // refuse me" into several, and an accepted first part made the
      // server's copy, and so Discard, depend on timing).
      if (event === "cell:update" && /^let a = 1;./s.test(q.updates.source ?? "")) {
        reply(topic, "cell:error", { cellId: q.cellId, errors: [{ message: "This edit is refused" }] });
        return reply(topic, "cell:updated", {
          cell: {
            id: q.cellId,
            type: "code",
            source: "let a = 1;",
            language: "javascript",
            filename: "a.js",
            status: "idle",
          },
        });
      }
      upstream.send(msg);
    });
  });
  await p.goto(`${server.base}/srcbooks/${id}`);
  const a = p.locator("section.cell.code").first();
  await a.locator(".cm-content").click();
  await p.keyboard.press("Control+End");
  await p.keyboard.type(" // refuse me");
  await saveState(p, "Not saved: This edit is refused").waitFor();
  assert.match(await codeText(a), /let a = 1; \/\/ refuse me/);
  // Discarding (confirmed) brings the server's copy back.
  p.once("dialog", (d) => d.accept());
  await a.getByRole("button", { name: "Discard my changes" }).click();
  await saveState(p, "All changes saved").waitFor();
  assert.equal(await codeText(a), "let a = 1;");

  await p.getByRole("button", { name: "+ Code" }).last().click();
  const added = p.locator("section.cell.code").nth(1);
  await added
    .getByTestId("refused")
    .filter({ hasText: "This cell could not be added: that file name is taken" })
    .waitFor();
  await added.locator(".cm-content").click();
  await p.keyboard.type("const later = 2;");
  await added.getByRole("button", { name: "Re-create as a new cell" }).click();
  await p.locator("section.cell.code").nth(1).getByTestId("refused").waitFor({ state: "detached" });
  await until("the re-created cell", async () =>
    (await session(id)).cells.some((c) => c.type === "code" && c.source === "const later = 2;"),
  );
  await p.close();
});

test("no page error was logged", () => {
  assert.deepEqual(errors, []);
});

test("after a reconnect, the catch-up fetch answered before the re-sent edit lands does not put back the old text", async () => {
  const id = await importNotebook(server, srcmd({ title: "Catch-up", cells: [["race.js", "let v = 1;"]] }));
  const ctx = await signedIn(browser, server);
  const p = await ctx.newPage();
  // Once armed, a re-sent edit is held until the page's catch-up fetch of the session has its answer:
  // the order a slow server (or a busy machine) can produce by chance.
  // Frames stay in order: the held edit and everything after it go out together.
  let armed = false;
  let fetched = null; // the page's catch-up fetch after the reconnect, waited for from before it starts
  await p.routeWebSocket(/\/websocket$/, (ws) => {
    const upstream = ws.connectToServer();
    let held = null;
    ws.onMessage((msg) => {
      if (held) return held.push(msg);
      const [, event] = JSON.parse(String(msg));
      if (!(armed && event === "cell:update")) return upstream.send(msg);
      armed = false;
      held = [msg];
      const release = () => {
        for (const m of held) upstream.send(m);
        held = null;
      };
      fetched.then(release, release);
    });
  });
  await p.goto(`${server.base}/srcbooks/${id}`);
  const cell = p.locator("section.cell.code").first();
  await cell.locator(".cm-content").waitFor();
  await saveState(p, "All changes saved").waitFor();
  await server.halt();
  await p.getByTestId("offline-banner").waitFor();
  await cell.locator(".cm-content").click();
  await p.keyboard.press("Control+End");
  await p.keyboard.type(" // typed while away");
  await saveState(p, "Offline").waitFor();
  fetched = p.waitForResponse((r) => r.url().includes(`/api/sessions/${id}`), { timeout: 30_000 });
  armed = true;
  await server.resume();
  await p.getByTestId("offline-banner").waitFor({ state: "detached", timeout: 30_000 });
  await saveState(p, "All changes saved").waitFor({ timeout: 10_000 });
  assert.match(await codeText(cell), /let v = 1; \/\/ typed while away/);
  const cells = (await session(id)).cells.filter((c) => c.type === "code");
  assert.deepEqual(
    cells.map((c) => c.source),
    ["let v = 1; // typed while away"],
  );
  await ctx.close();
});
