// Typing stays smooth in a big notebook: 200 characters typed into the last of 200 code cells, with the
// input-to-paint time of each keystroke taken from the Event Timing API.
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

function bigNotebook(cells) {
  let doc = '<!-- srcbook:{"language":"typescript"} -->\n\n# Big notebook\n\n###### package.json\n\n```json\n{\n  "type": "module"\n}\n```\n';
  for (let i = 0; i < cells; i++) doc += `\n###### c${i}.ts\n\n\`\`\`typescript\nexport const v${i}: number = ${i};\nconsole.log(v${i} * 2);\n\`\`\`\n`;
  return doc;
}

test("median input-to-paint while typing in a 200-cell notebook is at most 16 ms", async () => {
  const r = await fetch(server.base + "/api/import", {
    method: "POST",
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    body: JSON.stringify({ text: bigNotebook(Number(process.env.CELLS ?? 200)) }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  const { result } = await r.json();
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.log("pageerror", e.message));
  await page.goto(`${server.base}/srcbooks/${result.id}?token=${server.token}`);
  await page.locator("section.cell.code").nth(Number(process.env.CELLS ?? 200) - 1).locator(".cm-content").waitFor();
  assert.equal(await page.locator("section.cell.code").count(), Number(process.env.CELLS ?? 200));
  const last = page.locator("section.cell.code").nth(Number(process.env.CELLS ?? 200) - 1).locator(".cm-content");
  // Measure typing, not start-up: wait until the page has had idle time (every editor created).
  await page.evaluate(() => new Promise((r) => requestIdleCallback(() => requestIdleCallback(r, { timeout: 5000 }), { timeout: 5000 })));
  await last.click();
  await page.keyboard.press("End");
  // Warm up (JIT, caches, first layouts), then measure steady-state typing.
  for (const ch of " // warm-up ".repeat(4)) await page.keyboard.type(ch);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.evaluate(() => {
    window.__slow = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) if (e.name === "keydown") window.__slow.push(e.duration);
    }).observe({ type: "event", durationThreshold: 16, buffered: false });
  });
  const text = "abcdefghij".repeat(20);
  for (const ch of text) await page.keyboard.type(ch);
  await page.waitForFunction((n) => document.querySelectorAll("section.cell.code")[document.querySelectorAll("section.cell.code").length - 1].textContent.includes(n), text);
  // Entries are only recorded for keystrokes slower than 16 ms: the median is within budget when fewer
  // than half of the 200 keystrokes produced one.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
  const slow = await page.evaluate(() => window.__slow.filter((d) => d > 16).length);
  const all = await page.evaluate(() => window.__slow.slice().sort((a, b) => a - b));
  console.log(`keystrokes slower than 16 ms: ${slow} of ${text.length}; their durations: ${all.join(",")}`);
  assert.ok(slow < text.length / 2, `${slow} of ${text.length} keystrokes took more than 16 ms to paint`);
  await ctx.close();
});
