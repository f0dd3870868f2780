// The editor's language-service features, with the tsserver replies simulated in the test (Playwright's
// routeWebSocket answers `tsserver:*` with the documented payload shapes), so replies can be held back
// and timed exactly. Everything else goes to the real server. fresh-completions.test.mjs uses the real
// tsserver.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launch, startServer } from "./harness.mjs";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("squiggles, gutter markers, hover, completions and go-to-definition", async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const seen = [];
  await page.routeWebSocket(/\/websocket$/, (ws) => {
    const upstream = ws.connectToServer();
    const reply = (topic, event, payload) => ws.send(JSON.stringify([topic, event, payload]));
    ws.onMessage((msg) => {
      const [topic, event, p] = JSON.parse(String(msg));
      seen.push(event);
      if (!event.startsWith("tsserver:")) {
        upstream.send(msg);
        if (event === "cell:update" && /oops/.test(p.updates?.source ?? "")) {
          reply(topic, "tsserver:cell:diagnostics", {
            cellId: p.cellId,
            diagnostics: [
              {
                code: 2322,
                category: "error",
                text: "Type 'string' is not assignable to type 'number'.",
                start: { line: 1, offset: 7 },
                end: { line: 1, offset: 11 },
              },
            ],
          });
        }
        return;
      }
      const rid = p.requestId;
      if (event === "tsserver:cell:quickinfo:request")
        reply(topic, "tsserver:cell:quickinfo:response", {
          requestId: rid,
          response: {
            kind: "const",
            kindModifiers: "",
            displayString: "const oops: number",
            documentation: "The answer.",
            tags: [],
          },
        });
      else if (event === "tsserver:cell:completions:request")
        reply(topic, "tsserver:cell:completions:response", {
          requestId: rid,
          response: {
            entries: [
              {
                name: "toFixed",
                kind: "method",
                kindModifiers: "",
                details: {
                  signature: "(method) Number.toFixed(fractionDigits?: number): string",
                  documentation: "Formats a number.",
                },
              },
            ],
          },
        });
      else if (event === "tsserver:cell:signature_help:request")
        reply(topic, "tsserver:cell:signature_help:response", {
          requestId: rid,
          response: {
            selectedItemIndex: 0,
            argumentIndex: 0,
            items: [
              {
                prefixDisplayParts: [{ text: "add(" }],
                suffixDisplayParts: [{ text: "): number" }],
                separatorDisplayParts: [{ text: ", " }],
                parameters: [
                  { displayParts: [{ text: "a: number" }] },
                  { displayParts: [{ text: "b: number" }] },
                ],
              },
            ],
          },
        });
      else if (event === "tsserver:cell:definition_location:request")
        reply(topic, "tsserver:cell:definition_location:response", {
          requestId: rid,
          response: {
            file: "/data/notebooks/x/src/lib.ts",
            start: { line: 1, offset: 14 },
            end: { line: 1, offset: 17 },
          },
        });
    });
  });

  await page.goto(server.link);
  await page.getByLabel("Title").fill("Language service");
  await page.getByRole("button", { name: "Create notebook" }).click();
  await page.locator("#nb-title").waitFor();
  const add = async () => {
    const n = await page.locator("section.cell.code").count();
    await page.getByRole("button", { name: "+ Code" }).last().click();
    const cell = page.locator("section.cell.code").nth(n);
    await cell.locator(".cm-content").waitFor();
    return cell;
  };
  const lib = await add();
  await lib.getByRole("button", { name: /^Rename/ }).click();
  await lib.getByLabel("File name").fill("lib.ts");
  await lib.getByLabel("File name").press("Enter");
  await lib.locator(".cm-content").click();
  await page.keyboard.type("export const two = 2;");
  const main = await add();
  await main.locator(".cm-content").click();
  await page.keyboard.type('const oops: number = "x";');

  // Diagnostics: a squiggle over the range and a marker in the gutter.
  await main.locator(".cm-lintRange-error").waitFor();
  assert.equal(await main.locator(".cm-lintRange-error").innerText(), "oops");
  await main.locator(".cm-lint-marker-error").waitFor();

  // Hover shows the type and documentation.
  await main.locator(".cm-lintRange-error").hover();
  const tip = page.locator(".cm-quickinfo");
  await tip.waitFor();
  assert.match(await tip.innerText(), /const oops: number[\s\S]*The answer\./);
  await page.mouse.move(0, 0);

  // Completions with details.
  await main.locator(".cm-content").click();
  await page.keyboard.press("End");
  await page.keyboard.type("\noops.");
  await page.keyboard.press("Control+Space");
  const option = page.locator(".cm-tooltip-autocomplete li", { hasText: "toFixed" });
  await option.waitFor();
  assert.match(await option.innerText(), /Number\.toFixed/);
  await page.keyboard.press("Escape");

  // Signature help after "(": the active parameter is marked.
  await page.keyboard.press("End");
  await page.keyboard.type("\nadd(");
  const sig = page.locator(".cm-signature");
  await sig.waitFor();
  assert.equal(await sig.innerText(), "add(‹a: number›, b: number): number");
  await page.keyboard.press("Escape");
  await sig.waitFor({ state: "detached" });
  await page.keyboard.press("ArrowUp");

  // Go to definition jumps to the other cell (by the file's basename) and focuses it.
  await page.keyboard.press("F12");
  await page.waitForFunction(() => document.activeElement?.closest("section.cell.code")?.id === "lib.ts");
  assert.ok(seen.includes("tsserver:start"), "the notebook asks for the language service");
  await ctx.close();
});

test("the cell's edit goes out before each request, and a reply for older text is not shown", async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const sent = []; // what the page sent, in order
  let held = null; // a signature-help reply the test releases later
  let marker = null;
  let requested;
  const firstRequest = new Promise((r) => (requested = r));
  await page.routeWebSocket(/\/websocket$/, (ws) => {
    const upstream = ws.connectToServer();
    const reply = (topic, event, payload) => ws.send(JSON.stringify([topic, event, payload]));
    ws.onMessage((msg) => {
      const [topic, event, p] = JSON.parse(String(msg));
      sent.push([event, p]);
      if (!event.startsWith("tsserver:")) return upstream.send(msg);
      marker = (cellId) =>
        reply(topic, "tsserver:cell:diagnostics", {
          cellId,
          diagnostics: [
            {
              code: 1,
              category: "error",
              text: "marker",
              start: { line: 1, offset: 1 },
              end: { line: 1, offset: 4 },
            },
          ],
        });
      const sig = (name) => ({
        requestId: p.requestId,
        response: {
          selectedItemIndex: 0,
          argumentIndex: 0,
          items: [
            {
              prefixDisplayParts: [{ text: `${name}(` }],
              suffixDisplayParts: [{ text: ")" }],
              separatorDisplayParts: [{ text: ", " }],
              parameters: [{ displayParts: [{ text: "a: number" }] }],
            },
          ],
        },
      });
      if (event === "tsserver:cell:signature_help:request") {
        if (!held)
          ((held = () => reply(topic, "tsserver:cell:signature_help:response", sig("stale"))), requested());
        else reply(topic, "tsserver:cell:signature_help:response", sig("fresh"));
      }
    });
  });
  await page.goto(server.link);
  await page.getByLabel("Title").fill("Fresh replies");
  await page.getByRole("button", { name: "Create notebook" }).click();
  await page.locator("#nb-title").waitFor();
  await page.getByRole("button", { name: "+ Code" }).last().click();
  const cell = page.locator("section.cell.code").first();
  await cell.locator(".cm-content").click();
  await page.keyboard.type("f(");
  await firstRequest;
  // Every request came after an update carrying the text it asks about.
  const req = sent.findIndex(([e]) => e === "tsserver:cell:signature_help:request");
  const upd = sent.findLastIndex(([e, p], i) => i < req && e === "cell:update");
  assert.ok(
    upd >= 0 && sent[upd][1].updates.source === "f()",
    `update before request: ${JSON.stringify(sent.slice(0, req + 1).map(([e]) => e))}`,
  );

  // The text changes before the held reply arrives: it is dropped (the marker proves it was received).
  await page.keyboard.type("1");
  const cellId = sent[req][1].cellId;
  held();
  marker(cellId);
  await cell.locator(".cm-lintRange-error").waitFor();
  // (Typing inside the call asks again: a tooltip for the new text may show, never the old one.)
  assert.equal(
    await page.locator(".cm-signature", { hasText: "stale(" }).count(),
    0,
    "no tooltip for the old text",
  );

  // A reply for the current text is shown.
  await page.keyboard.type(",");
  await page.locator(".cm-signature", { hasText: "fresh(" }).waitFor();
  await ctx.close();
});

test("run output: streaming stdout/stderr, ANSI colours, exit code, duration, stop, missing-import notice", async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const seen = [];
  await page.routeWebSocket(/\/websocket$/, (ws) => {
    const upstream = ws.connectToServer();
    const reply = (topic, event, payload) => ws.send(JSON.stringify([topic, event, payload]));
    let cells = new Map();
    upstream.onMessage((msg) => {
      const [, event, p] = JSON.parse(String(msg));
      if (event === "cell:created") cells.set(p.cell.id, p.cell);
      ws.send(msg);
    });
    ws.onMessage((msg) => {
      const [topic, event, p] = JSON.parse(String(msg));
      seen.push([event, p]);
      if (event === "cell:create") cells.set(p.cell.id, p.cell);
      if (event === "cell:update") cells.set(p.cellId, { ...cells.get(p.cellId), ...p.updates });
      if (event === "deps:validate") return reply(topic, "deps:validate:response", { packages: ["zod"] });
      if (event === "deps:install") return;
      if (event === "cell:exec") {
        const cell = { ...cells.get(p.cellId), status: "running" };
        reply(topic, "cell:updated", { cell });
        reply(topic, "cell:output", {
          cellId: p.cellId,
          output: { type: "stdout", data: "plain \x1b[32mgreen\x1b[0m\n" },
        });
        reply(topic, "cell:output", { cellId: p.cellId, output: { type: "stderr", data: "a warning\n" } });
        if (!/loop/.test(cell.source ?? ""))
          reply(topic, "cell:updated", {
            cell: { ...cell, status: "idle", exitCode: 0, signal: null, durationMs: 12 },
          });
        return;
      }
      if (event === "cell:stop")
        return reply(topic, "cell:updated", {
          cell: {
            ...cells.get(p.cellId),
            status: "idle",
            exitCode: null,
            signal: "SIGTERM",
            durationMs: 1500,
          },
        });
      upstream.send(msg);
    });
  });

  await page.goto(server.link);
  await page.getByLabel("Title").fill("Run output");
  await page.getByRole("button", { name: "Create notebook" }).click();
  await page.locator("#nb-title").waitFor();
  await page.getByRole("button", { name: "+ Code" }).last().click();
  const cell = page.locator("section.cell.code").first();
  await cell.locator(".cm-content").click();
  await page.keyboard.type("console.log('hi')");
  await page.keyboard.press("Control+Enter");
  await cell.getByTestId("exit").filter({ hasText: "Exit 0 · 12 ms" }).waitFor();
  assert.equal(await cell.locator(".output .stdout .ansi-32").innerText(), "green");
  assert.equal(await cell.locator(".output .stderr").innerText(), "a warning\n");
  const update = seen.findIndex(([e, p]) => e === "cell:update" && p.updates.source === "console.log('hi')");
  const exec = seen.findIndex(([e]) => e === "cell:exec");
  assert.ok(update >= 0 && update < exec, "the latest text is saved before the run starts");

  // A cell that keeps running can be stopped.
  await cell.locator(".cm-content").click();
  await page.keyboard.type(" // loop");
  await cell.getByRole("button", { name: "Run" }).click();
  await cell.getByRole("status").filter({ hasText: "Running" }).waitFor();
  await cell.getByRole("button", { name: "Stop" }).click();
  await cell.getByTestId("exit").filter({ hasText: "Stopped (SIGTERM)" }).waitFor();

  // Imports missing from package.json: a notice offers to install them.
  const install = page.getByRole("button", { name: "Install zod" });
  await install.waitFor();
  await install.click();
  assert.ok(seen.some(([e, p]) => e === "deps:install" && p.packages?.[0] === "zod"));
  await ctx.close();
});
