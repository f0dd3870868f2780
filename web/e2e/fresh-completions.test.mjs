// Completions and signature help from the real tsserver answer for the text just typed: the editor sends
// its pending edit before every language-service request (frames are handled in order), so `rows.` lists
// array methods rather than globals and `label(` shows label's parameters.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { importNotebook, setup, shot, srcmd, teardown } from "./harness.mjs";

let server, browser, context;
before(async () => ({ server, browser, context } = await setup()));
after(() => teardown({ server, browser }));

const MAIN =
  "const rows = [1, 2, 3];\nfunction label(text: string, width: number): string {\n  return text.padEnd(width);\n}\n";

test("rows. completes array methods and label( shows its signature, right after typing", async () => {
  const id = await importNotebook(
    server,
    srcmd({ title: "Fresh text", language: "typescript", cells: [["main.ts", MAIN]] }),
  );
  const p = await context.newPage();
  // The first diagnostics mean tsserver has the notebook open (it is installed and started on demand).
  const ready = new Promise((r) =>
    p.on("websocket", (ws) =>
      ws.on("framereceived", (f) => String(f.payload).includes('"tsserver:cell:diagnostics"') && r()),
    ),
  );
  await p.goto(`${server.base}/srcbooks/${id}`);
  await ready;
  const cell = p.locator("section.cell.code").first();
  await cell.locator(".cm-content").click();
  await p.keyboard.press("Control+End");

  await p.keyboard.type("rows.");
  const list = p.locator(".cm-tooltip-autocomplete");
  await list.locator(".cm-completionLabel", { hasText: /^map$/ }).waitFor();
  const labels = await list.locator(".cm-completionLabel").allInnerTexts();
  assert.ok(labels.includes("filter") && labels.includes("reduce"), `array methods: ${labels.slice(0, 20)}`);
  assert.ok(
    !labels.includes("console") && !labels.includes("Array"),
    `no globals after "rows.": ${labels.slice(0, 20)}`,
  );
  await shot(p, "completions-rows");
  await p.keyboard.press("Escape");
  await list.waitFor({ state: "detached" });

  // Remove "rows." (a call on the next line would read as rows.label(…)).
  for (let i = 0; i < 5; i++) await p.keyboard.press("Backspace");
  await p.keyboard.type("label(");
  const sig = p.locator(".cm-signature");
  await sig.waitFor();
  assert.equal(await sig.innerText(), "label(‹text: string›, width: number): string");
  await p.keyboard.type('"id", ');
  await sig.filter({ hasText: "‹width: number›" }).waitFor();
  await p.close();
});
