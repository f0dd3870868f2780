// MCP end to end: the real server starts a real MCP server (fixtures/mcp-calc.mjs, run by Node over stdio)
// added in Settings → MCP servers, and the AI's fake OpenAI-compatible provider (a Node HTTP server) asks
// for its `add` tool. The page approves the call in the dialog, shows the tool-call card with the result,
// then the answer. Skipped (with the reason) while the server has no MCP routes.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { api, importNotebook, setup, shot, srcmd, teardown, watchErrors } from "./harness.mjs";

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "fixtures/mcp-calc.mjs");
const ANSWER = "console.log('2 + 3 = 5');";
const NAME = "calc";

// ---- the fake provider: a tool call first, then code once the tool's output is in the request --------

const sse = (delta, finish = null) =>
  `data: ${JSON.stringify({
    id: "c1",
    object: "chat.completion.chunk",
    model: "fake-model",
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;

function startProvider() {
  const requests = [];
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      if (req.method === "GET" && req.url === "/v1/models") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ object: "list", data: [{ id: "fake-model", object: "model" }] }));
      }
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
        res.writeHead(404, { "content-type": "text/plain" });
        return res.end("404 page not found");
      }
      const body = JSON.parse(raw || "{}");
      requests.push(body);
      const toolDone = (body.messages ?? []).some((m) => m.role === "tool");
      const tool = (body.tools ?? []).map((t) => t.function?.name).find((n) => /__add$/.test(n ?? ""));
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      if (!toolDone && tool) {
        const call = { index: 0, id: "call_1", type: "function", function: { name: tool, arguments: "" } };
        res.write(sse({ role: "assistant", tool_calls: [call] }));
        res.write(sse({ tool_calls: [{ index: 0, function: { arguments: '{"a": 2, ' } }] }));
        res.write(sse({ tool_calls: [{ index: 0, function: { arguments: '"b": 3}' } }] }));
        res.write(sse({}, "tool_calls"));
      } else {
        res.write(sse({ role: "assistant", content: "```javascript\n" + ANSWER + "\n```\n" }));
        res.write(sse({}, "stop"));
      }
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
/** Why the tests are skipped: the server has no MCP routes yet. */
let missing = "";
const errors = [];
before(async () => {
  provider = await startProvider();
  ({ server, browser, context } = await setup());
  const r = await fetch(`${server.base}/api/mcp/servers`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  if (r.status === 404 || r.status === 501 || !(r.headers.get("content-type") ?? "").includes("json"))
    missing = `this server has no MCP routes yet (GET /api/mcp/servers answered ${r.status})`;
  await api(server, "POST", "/api/settings", {
    aiProvider: "custom",
    aiBaseUrl: `${provider.base}/v1`,
    aiModel: "fake-model",
  });
});
after(async () => {
  await teardown({ server, browser });
  provider?.server.close();
});

async function page(path) {
  const p = await context.newPage();
  watchErrors(p, errors);
  p.on("dialog", (d) => d.accept()); // the confirm() of Remove
  await p.goto(server.base + path);
  return p;
}

const servers = async () => (await api(server, "GET", "/api/mcp/servers")).result;
const state = (p) => p.getByRole("listitem", { name: `MCP server ${NAME}` }).locator(".mcp-state");

/** Until the server's status pill says ready (connecting is polled by the page; idle: connect it). */
async function ready(p) {
  const item = p.getByRole("listitem", { name: `MCP server ${NAME}` });
  await item.waitFor();
  await item.locator('.mcp-state:not([data-state="connecting"])').waitFor();
  if ((await state(p).getAttribute("data-state")) !== "ready")
    await item.getByRole("button", { name: "Reconnect" }).click();
  await item.locator('.mcp-state[data-state="ready"]').waitFor();
  return item;
}

/** The fixture server, configured through the API (so each test can run alone). */
async function ensureServer() {
  if ((await servers()).servers.some((s) => s.name === NAME)) return;
  await api(server, "PUT", `/api/mcp/servers/${NAME}`, { command: process.execPath, args: [FIXTURE] });
}

test("Settings: add a stdio MCP server; it becomes ready and lists its tool; edit keeps its secret", async (t) => {
  if (missing) return t.skip(missing);
  const p = await page("/settings");
  const section = p.getByRole("region", { name: "MCP servers" });
  await section.waitFor();
  await section.getByRole("button", { name: "Add server" }).click();
  const form = p.getByRole("form", { name: "Add a server" });
  await form.getByLabel("Name", { exact: true }).fill(NAME);
  await form.getByLabel("Command", { exact: true }).fill(process.execPath);
  await form.getByLabel("Arguments (one per line)").fill(FIXTURE);
  await form.getByRole("button", { name: "Add variable" }).click();
  await form.getByLabel("Variable 1 name").fill("E2E_SECRET");
  await form.getByLabel("Variable E2E_SECRET value").fill("s3cret-value");
  await form.getByRole("button", { name: "Add server" }).click();
  await section.getByText(`${NAME} saved.`).waitFor();

  const item = await ready(p);
  await item.getByText("e2e-calc 1.0.0").waitFor();
  await item.getByText("1 tool").click();
  await item.getByText("Adds two numbers").waitFor();
  const stored = (await servers()).servers.find((s) => s.name === NAME);
  assert.equal(stored.transport, "stdio");
  assert.deepEqual(stored.args, [FIXTURE]);
  assert.deepEqual(stored.envKeys, ["E2E_SECRET"]);

  // The assistant snippets: this origin, and never the real token.
  await section.getByText(`"url": "${server.base}/mcp"`).waitFor();
  assert.ok(!(await p.content()).includes(server.token), "the page never shows the token");
  await shot(p, "settings-mcp");

  // Edit: the stored value shows as "unchanged" (never its text), and saving keeps it.
  await item.getByRole("button", { name: "Edit" }).click();
  const edit = p.getByRole("form", { name: `Edit ${NAME}` });
  const value = edit.getByLabel("Variable E2E_SECRET value");
  assert.equal(await value.inputValue(), "");
  assert.equal(await value.getAttribute("placeholder"), "unchanged");
  assert.ok(!(await p.content()).includes("s3cret-value"), "a stored secret is never sent back");
  await edit.getByLabel("Timeout per call (ms, optional)").fill("20000");
  await edit.getByRole("button", { name: "Save server" }).click();
  await section.getByText(`${NAME} saved.`).waitFor();
  const after = (await servers()).servers.find((s) => s.name === NAME);
  assert.deepEqual(after.envKeys, ["E2E_SECRET"], "the unchanged secret is kept");
  assert.equal(after.timeoutMs, 20000);

  await p.close();
});

test("the AI calls an MCP tool: approve it in the dialog, see the card with its result, then the answer", async (t) => {
  if (missing) return t.skip(missing);
  await ensureServer();
  const id = await importNotebook(server, srcmd({ title: "MCP", cells: [["sum.js", "console.log(0);"]] }));
  const p = await page(`/srcbooks/${id}`);
  const cell = p.getByRole("region", { name: "Code cell sum.js" });
  await cell.locator(".cm-content").waitFor();
  await cell.getByRole("button", { name: "AI", exact: true }).click();
  await cell.getByLabel("Ask AI to change sum.js").fill("print 2 + 3, use the add tool");
  await cell.getByLabel("Ask AI to change sum.js").press("Enter");

  const dialog = p.getByRole("dialog", { name: `The AI wants to call add on ${NAME}` });
  await dialog.waitFor();
  await dialog.getByText('"a": 2').waitFor();
  await dialog.getByText(/Denied automatically in \d:\d\d/).waitFor();
  assert.equal(await p.evaluate(() => document.activeElement?.textContent), "Deny", "Deny has the focus");
  const panel = p.getByRole("region", { name: "AI answer for sum.js" });
  const card = panel.getByRole("article", { name: `Tool call add · ${NAME}` });
  await card.getByText("Waiting for approval").waitFor();
  await shot(p, "mcp-approval");

  await dialog.getByRole("button", { name: "Allow once" }).click();
  await dialog.waitFor({ state: "hidden" });
  await panel.locator('article.tool-card[data-status="done"]').waitFor();
  await card.getByText("The sum of 2 and 3 is 5.").waitFor();
  await panel.getByRole("button", { name: "Accept", exact: true }).waitFor();
  await card.getByText("Arguments").click();
  await shot(p, "mcp-tool-card");

  // The tool's output went back to the model.
  const fed = provider.requests.find((b) => b.messages?.some((m) => m.role === "tool"));
  assert.ok(fed, "a request carried the tool's output");
  assert.match(JSON.stringify(fed.messages.filter((m) => m.role === "tool")), /The sum of 2 and 3 is 5\./);
  await p.close();
});

test("Deny: the card says denied and the model is told; Always allow adds a rule shown in Settings", async (t) => {
  if (missing) return t.skip(missing);
  await ensureServer();
  const id = await importNotebook(server, srcmd({ title: "MCP deny", cells: [["d.js", "console.log(0);"]] }));
  const p = await page(`/srcbooks/${id}`);
  const cell = p.getByRole("region", { name: "Code cell d.js" });
  await cell.locator(".cm-content").waitFor();
  const ask = async (text) => {
    await cell.getByRole("button", { name: "AI", exact: true }).click();
    await cell.getByLabel("Ask AI to change d.js").fill(text);
    await cell.getByLabel("Ask AI to change d.js").press("Enter");
  };
  const panel = p.getByRole("region", { name: "AI answer for d.js" });
  const dialog = p.getByRole("dialog", { name: `The AI wants to call add on ${NAME}` });

  await ask("add, but I will say no");
  await dialog.waitFor();
  await p.keyboard.press("Enter"); // Deny has the focus: Enter is the safe answer
  await dialog.waitFor({ state: "hidden" });
  await panel.locator('article.tool-card[data-status="denied"]').waitFor();
  await panel.getByRole("button", { name: "Reject", exact: true }).click();

  await ask("add, and always");
  await dialog.waitFor();
  await dialog.getByRole("button", { name: "Always allow add" }).click();
  await panel.getByText("The sum of 2 and 3 is 5.").waitFor();
  assert.deepEqual((await servers()).rules, [{ server: NAME, tool: "add" }]);
  await panel.getByRole("button", { name: "Reject", exact: true }).click();
  await p.close();

  // The rule is listed in Settings, and can be removed there.
  const s = await page("/settings");
  const rules = s.getByRole("region", { name: "Always allowed tools" });
  await rules.getByText(`add · ${NAME}`).waitFor();
  await rules.getByRole("button", { name: `Remove the rule for add on ${NAME}` }).click();
  await rules.getByText("None: every tool call asks first.").waitFor();
  assert.deepEqual((await servers()).rules, []);
  await s.close();
  assert.deepEqual(errors, []);
});
