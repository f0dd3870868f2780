// AI with your own provider, end to end: the real server talks to a fake OpenAI-compatible provider (a
// Node HTTP server on 127.0.0.1:0, Chat Completions streamed as SSE, `GET /v1/models`), and the page is
// driven like a user: Settings (custom provider, base URL resolved to /v1, Test), a cell's AI edit
// (streamed, diffed, accepted → saved), Reject, Stop, Fix of a failing run, "+ AI" cells, and Generate
// with AI on the home page.
//
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { api, importNotebook, saveState, setup, shot, srcmd, teardown, watchErrors } from "./harness.mjs";

// ---- the fake provider ----------------------------------------------------------------------------------

const EDITED = "console.log('edited by AI');";
const FIXED = "console.log('fixed by AI');";
const NOTEBOOK = srcmd({
  title: "Made by AI",
  cells: ["## Hello from the model", ["made.js", "console.log('made');"]],
});

/** What the model answers, chosen by a marker the test puts in the prompt (or in the cell for a fix). */
function answerFor(body) {
  if (body.includes("[[slow]]")) return { slow: true };
  if (body.includes("[[edit]]")) return { text: "Here it is:\n\n```javascript\n" + EDITED + "\n```\n" };
  if (body.includes("[[fix]]")) return { text: "```javascript\n" + FIXED + "\n```\n" };
  if (body.includes("[[cells]]"))
    return {
      text: "## Added by AI\n\nSome notes.\n\n###### added.js\n\n```javascript\nconsole.log('added');\n```\n",
    };
  if (body.includes("[[notebook]]")) return { text: NOTEBOOK };
  return { text: "ok" };
}

/** Cut a text into small pieces, so the page really streams. */
const pieces = (text) => text.match(/[\s\S]{1,12}/g) ?? [""];
const chunk = (content, finish = null) =>
  `data: ${JSON.stringify({
    id: "c1",
    object: "chat.completion.chunk",
    model: "fake-model",
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  })}\n\n`;

function startProvider() {
  const requests = [];
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", async () => {
      requests.push({ method: req.method, url: req.url, body: raw });
      // Like Ollama: the OpenAI API lives under /v1 only (the server finds it by probing).
      if (req.method === "GET" && req.url === "/v1/models") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(
          JSON.stringify({ object: "list", data: [{ id: "fake-model", object: "model", owned_by: "e2e" }] }),
        );
      }
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
        res.writeHead(404, { "content-type": "text/plain" });
        return res.end("404 page not found");
      }
      const body = JSON.parse(raw || "{}");
      const a = answerFor(raw);
      if (!body.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(
          JSON.stringify({
            id: "c1",
            object: "chat.completion",
            model: "fake-model",
            choices: [
              { index: 0, message: { role: "assistant", content: a.text ?? "" }, finish_reason: "stop" },
            ],
            usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
          }),
        );
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      if (a.slow) {
        // Tokens now and then until the client goes away (Stop).
        let open = true;
        res.on("close", () => (open = false));
        for (let i = 0; open && i < 300; i++) {
          res.write(chunk(`thinking ${i} `));
          await new Promise((r) => setTimeout(r, 100));
        }
        return res.end();
      }
      for (const p of pieces(a.text)) res.write(chunk(p));
      res.write(chunk(null, "stop"));
      res.write(
        `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`,
      );
      res.end("data: [DONE]\n\n");
    });
  });
  return new Promise((ok) =>
    server.listen(0, "127.0.0.1", () =>
      ok({ server, requests, base: `http://127.0.0.1:${server.address().port}` }),
    ),
  );
}

// ---- the tests ------------------------------------------------------------------------------------------

let server, browser, context, provider;
const errors = [];
before(async () => {
  provider = await startProvider();
  ({ server, browser, context } = await setup());
  // Every test can run alone: the provider is set up here already (the Settings test does it again by hand).
  await api(server, "POST", "/api/settings", {
    aiProvider: "custom",
    aiBaseUrl: `${provider.base}/v1`,
    aiModel: "fake-model",
  });
});
after(async () => {
  await teardown({ server, browser });
  provider.server.close();
});

async function page(path) {
  const p = await context.newPage();
  watchErrors(p, errors);
  if (path) await p.goto(server.base + path);
  return p;
}

const cellSource = async (id, filename) =>
  (await api(server, "GET", `/api/sessions/${id}`)).result.cells.find((c) => c.filename === filename)?.source;

test("Settings: a custom provider's base URL is resolved, its models listed, and Test says it works", async () => {
  const p = await page("/settings");
  await p.getByLabel("Provider").selectOption("custom");
  await p.getByLabel(/^Base URL/).fill(provider.base); // without /v1: the server finds it
  await p.getByRole("button", { name: "Save settings" }).click();
  await p.getByText("Settings saved.").waitFor();
  await p.getByRole("button", { name: "Test" }).click();
  await p.getByRole("status").filter({ hasText: /works/ }).waitFor();
  await p.getByText(`Resolved to ${provider.base}/v1`).waitFor();
  // The model list comes from the provider.
  await p.getByLabel("Model", { exact: true }).selectOption("fake-model");
  await p.getByRole("button", { name: "Save settings" }).click();
  await p.getByText("Settings saved.").waitFor();
  const s = (await api(server, "GET", "/api/settings")).result;
  assert.equal(s.aiProvider, "custom");
  assert.equal(s.aiModel, "fake-model");
  await shot(p, "ai-settings");
  await p.close();
});

test("AI on a cell: the answer streams, the diff is shown, Accept saves it; Reject and Stop change nothing", async () => {
  const id = await importNotebook(server, srcmd({ title: "AI edit", cells: [["a.js", "console.log(1);"]] }));
  const p = await page(`/srcbooks/${id}`);
  const cell = p.getByRole("region", { name: "Code cell a.js" });
  await cell.locator(".cm-content").waitFor();
  const panel = p.getByRole("region", { name: "AI answer for a.js" });
  const ask = async (prompt) => {
    await cell.getByRole("button", { name: "AI", exact: true }).click();
    await cell.getByLabel("Ask AI to change a.js").fill(prompt);
    await cell.getByLabel("Ask AI to change a.js").press("Enter");
  };

  await ask("[[edit]] print something else");
  await panel.getByRole("button", { name: "Accept", exact: true }).waitFor();
  await panel.locator(".cm-editor").waitFor(); // the lazily loaded diff
  await panel.getByText("What was sent").click();
  await panel
    .getByText(/\[\[edit\]\] print something else/)
    .first()
    .waitFor();
  assert.equal(await cellSource(id, "a.js"), "console.log(1);", "nothing written before Accept");
  await shot(p, "ai-edit-diff");
  await panel.getByRole("button", { name: "Accept", exact: true }).click();
  await saveState(p, "All changes saved").waitFor();
  assert.equal((await cellSource(id, "a.js")).trim(), EDITED);
  await cell.locator(".cm-content", { hasText: "edited by AI" }).waitFor();

  await ask("[[edit]] once more");
  await panel.getByRole("button", { name: "Reject", exact: true }).click();
  await panel.waitFor({ state: "detached" });
  assert.equal((await cellSource(id, "a.js")).trim(), EDITED);

  await ask("[[slow]] take your time");
  await panel.getByText(/thinking 1/).waitFor();
  await panel.getByRole("button", { name: "Stop", exact: true }).click();
  await panel.getByText("Stopped: nothing was changed").waitFor();
  assert.equal((await cellSource(id, "a.js")).trim(), EDITED);
  await p.close();
});

test("Fix: a cell whose run fails gets the attempts step by step, then a diff to accept", async () => {
  const id = await importNotebook(
    server,
    srcmd({ title: "AI fix", cells: [["b.js", "// [[fix]]\nprocess.exit(2);"]] }),
  );
  const p = await page(`/srcbooks/${id}`);
  const cell = p.getByRole("region", { name: "Code cell b.js" });
  await cell.locator(".cm-content").waitFor();
  await cell.getByRole("button", { name: "Run", exact: true }).click();
  await cell.getByTestId("exit").filter({ hasText: "Exit 2" }).waitFor();
  await cell.getByRole("button", { name: "Fix", exact: true }).click();
  const panel = p.getByRole("region", { name: "AI answer for b.js" });
  await panel.getByText(/Step 1 of \d+: passed/).waitFor();
  await panel.getByRole("button", { name: "Accept", exact: true }).click();
  await saveState(p, "All changes saved").waitFor();
  assert.equal((await cellSource(id, "b.js")).trim(), FIXED);
  await p.close();
});

test("+ AI between cells: the proposed cells are previewed, and Accept adds them there in order", async () => {
  const id = await importNotebook(server, srcmd({ title: "AI cells", cells: [["c.js", "console.log(3);"]] }));
  const p = await page(`/srcbooks/${id}`);
  await p.getByRole("region", { name: "Code cell c.js" }).locator(".cm-content").waitFor();
  await p.getByRole("button", { name: "+ AI" }).last().click();
  await p.getByLabel("Describe the cells to add").fill("[[cells]] notes and a cell");
  await p.getByRole("button", { name: "Generate", exact: true }).click();
  const panel = p.getByRole("region", { name: "AI answer for new cells" });
  await panel.getByText("Added by AI").waitFor();
  await panel.getByRole("button", { name: "Accept", exact: true }).click();
  await p.getByRole("region", { name: "Code cell added.js" }).waitFor();
  await saveState(p, "All changes saved").waitFor();
  // A cell:create is not part of the save indicator: wait (bounded) for the server to have both.
  const want = ["title", "package.json", "c.js", "markdown", "added.js"];
  let got = [];
  for (let i = 0; i < 100 && got.join() !== want.join(); i++) {
    if (i) await new Promise((r) => setTimeout(r, 50));
    got = (await api(server, "GET", `/api/sessions/${id}`)).result.cells.map((c) => c.filename ?? c.type);
  }
  assert.deepEqual(got, want);
  await p.close();
});

test("Generate with AI on the home page streams the notebook, then opens it", async () => {
  const p = await page("/");
  await p.getByLabel("Describe the notebook").fill("[[notebook]] a tiny one");
  await p.getByRole("button", { name: "Generate", exact: true }).click();
  await p.waitForURL(/\/srcbooks\/[^/]+$/);
  await p.getByRole("region", { name: "Code cell made.js" }).waitFor();
  await p.close();
  assert.deepEqual(errors, []);
});

test("the dashboard and /metrics count the AI calls the tests above made", async () => {
  await api(server, "POST", "/api/generate", { query: "[[notebook]] one more" });
  const p = await page("/admin");
  const row = p.locator('[data-ai-model="fake-model"]');
  await row.waitFor();
  const cells = await row.locator("td").allInnerTexts();
  assert.ok(Number(cells[0].replace(/,/g, "")) >= 1, `calls: ${cells[0]}`);
  assert.match(cells[2], /^\d[\d,]* \/ \d[\d,]*$/, "tokens in / out");
  await p.locator('[data-breaker="closed"]').first().waitFor();
  await shot(p, "ai-dashboard");
  await p.close();

  const r = await fetch(`${server.base}/metrics`, { headers: { authorization: `Bearer ${server.token}` } });
  const text = await r.text();
  assert.match(text, /^ai_requests_total\{[^}]*model="fake-model"[^}]*\} [1-9]/m);
  assert.match(text, /^ai_first_token_seconds_count\{[^}]*\} [1-9]/m);
  assert.match(text, /^ai_tokens_total\{/m);
});
