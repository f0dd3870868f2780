import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launch, shot, startServer, watchErrors } from "./harness.mjs";

let server, browser, context;
const errors = [];

before(async () => {
  server = await startServer();
  browser = await launch();
  context = await browser.newContext();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function page(ctx = context, viewport) {
  const p = await ctx.newPage(viewport ? { viewport } : undefined);
  watchErrors(p, errors);
  return p;
}

/** Create a TypeScript notebook from the home page; returns its URL. */
async function createNotebook(p, title) {
  await p.goto(server.base + "/");
  await p.getByLabel("Title").fill(title);
  await p.getByLabel("TypeScript").check(); // the form starts on Settings' default language
  await p.getByRole("button", { name: "Create notebook" }).click();
  await p.waitForURL(/\/srcbooks\/[^/]+$/);
  await p.locator("#nb-title").waitFor();
  return p.url();
}

async function addCodeCell(p) {
  const before = await p.locator("section.cell.code").count();
  await p.getByRole("button", { name: "+ Code" }).last().click();
  await p.locator("section.cell.code").nth(before).waitFor();
  return p.locator("section.cell.code").nth(before);
}

const saved = (p) => p.getByTestId("save-state").filter({ hasText: "All changes saved" }).waitFor();

describe("browser UI against the real server", () => {
  test("the printed link signs the browser in and strips the token", async () => {
    const p = await page();
    await p.goto(server.link);
    assert.equal(new URL(p.url()).search, "", "token removed from the URL");
    await p.getByRole("heading", { name: "Notebooks", level: 1 }).waitFor();
    const cookies = await context.cookies();
    const c = cookies.find((c) => c.name === "quire_session");
    assert.ok(c && c.httpOnly, "an HttpOnly session cookie");
    await shot(p, "home");
    await p.close();
  });

  test("a typed cell survives a reload", async () => {
    const p = await page();
    await createNotebook(p, "Reload test");
    const cell = await addCodeCell(p);
    await cell.locator(".cm-content").click();
    await p.keyboard.type("const answer: number = 42;\nconsole.log(answer);");
    await saved(p);
    await p.reload();
    await p.locator("section.cell.code .cm-content").first().waitFor();
    assert.match(
      await p.locator("section.cell.code .cm-content").first().innerText(),
      /const answer: number = 42;/,
    );
    await shot(p, "notebook");
    await p.close();
  });

  test("a cell runs with streamed output, exit code and duration; an endless loop is stopped", async () => {
    const p = await page();
    await createNotebook(p, "Run test");
    const cell = await addCodeCell(p);
    await cell.locator(".cm-content").click();
    await p.keyboard.type(
      'const n: number = 6 * 7;\nconsole.log("hello from quire", n);\nconsole.error("to stderr");',
    );
    await p.keyboard.press("Shift+Enter");
    await cell
      .getByTestId("exit")
      .filter({ hasText: /^Exit 0 · \d/ })
      .waitFor();
    assert.match(await cell.locator(".output .stdout").innerText(), /hello from quire 42/);
    assert.match(await cell.locator(".output .stderr").innerText(), /to stderr/);
    await shot(p, "notebook-run");

    const loop = await addCodeCell(p);
    await loop.locator(".cm-content").click();
    await p.keyboard.type("while (true) {}");
    await loop.getByRole("button", { name: "Run" }).click();
    await loop.getByRole("status").filter({ hasText: "Running" }).waitFor();
    await loop.getByRole("button", { name: "Stop" }).click();
    await loop.getByTestId("exit").filter({ hasText: "Stopped (SIGTERM)" }).waitFor();
    await p.close();
  });

  test("two tabs see each other's edits live", async () => {
    const a = await page();
    const url = await createNotebook(a, "Two tabs");
    await addCodeCell(a);
    await saved(a);
    const b = await page();
    await b.goto(url);
    const cellB = b.locator("section.cell.code .cm-content").first();
    await cellB.waitFor();
    await a.locator("section.cell.code .cm-content").first().click();
    await a.keyboard.type("let shared = 'from tab A';");
    await b.waitForFunction(() =>
      document.querySelector("section.cell.code .cm-content")?.textContent?.includes("from tab A"),
    );
    // And back: B's edit reaches A.
    await cellB.click();
    await b.keyboard.press("End");
    await b.keyboard.type(" // B");
    await a.waitForFunction(() =>
      document.querySelector("section.cell.code .cm-content")?.textContent?.includes("// B"),
    );
    // A new cell created in A appears in B.
    await addCodeCell(a);
    await b.locator("section.cell.code").nth(1).waitFor();
    await a.close();
    await b.close();
  });

  test("edits made offline are kept, shown as unsaved, and saved after reconnecting", async () => {
    const ctx = await browser.newContext();
    await ctx.addCookies(await context.cookies());
    const p = await page(ctx);
    await createNotebook(p, "Offline test");
    const cell = await addCodeCell(p);
    await saved(p);
    await ctx.setOffline(true);
    await p.getByTestId("offline-banner").waitFor();
    await cell.locator(".cm-content").click();
    await p.keyboard.type("const typedOffline = true;");
    await p.getByTestId("save-state").filter({ hasText: "Offline" }).waitFor();
    await ctx.setOffline(false);
    await p.getByTestId("offline-banner").waitFor({ state: "detached" });
    await saved(p);
    // Another browser (no local copy) sees the text: it reached the server.
    const other = await page();
    await other.goto(p.url());
    await other.waitForFunction(() =>
      document.querySelector("section.cell.code")?.textContent?.includes("typedOffline"),
    );
    await other.close();
    await ctx.close();
  });

  test("markdown cells render GitHub-flavoured markdown", async () => {
    const p = await page();
    await createNotebook(p, "Markdown test");
    await p.getByRole("button", { name: "+ Markdown" }).last().click();
    const md = p.locator("section.cell.markdown").last();
    const area = md.getByLabel("Markdown source"); // a new markdown cell opens in edit mode
    await area.fill(
      "## Results\n\n- [x] done\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```ts\nconst x: number = 1;\n```\n\n<script>alert(1)</script>",
    );
    await md.getByRole("button", { name: "Done" }).click();
    await md.locator(".md h2", { hasText: "Results" }).waitFor();
    assert.equal(await md.locator(".md table td").count(), 2);
    assert.equal(await md.locator(".md input[type=checkbox]").count(), 1);
    assert.ok((await md.locator(".md pre .tok-keyword").count()) > 0, "code is highlighted");
    assert.equal(await md.locator(".md script").count(), 0, "raw HTML is not injected");
    await saved(p);
    await p.reload();
    await p.locator("section.cell.markdown .md h2", { hasText: "Results" }).waitFor();
    await p.close();
  });

  test("without a session cookie the login page appears, and a pasted token signs in", async () => {
    const fresh = await browser.newContext();
    const p = await page(fresh);
    await p.goto(server.base + "/settings");
    await p.getByRole("heading", { name: "Sign in to Quire" }).waitFor();
    await shot(p, "login");
    await p.getByLabel("Access token").fill(server.token);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.getByRole("heading", { name: "Settings", level: 1 }).waitFor();
    assert.equal(new URL(p.url()).pathname, "/settings");
    await fresh.close();
  });

  test("at 360 px wide nothing overflows", async () => {
    const small = await browser.newContext({ viewport: { width: 360, height: 740 } });
    await small.addCookies(await context.cookies());
    const p = await page(small);
    for (const path of ["/", "/secrets", "/settings", "/storage"]) {
      await p.goto(server.base + path);
      await p.locator("main h1").first().waitFor();
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `${path} is ${width}px wide`);
    }
    await createNotebook(p, "Narrow");
    await addCodeCell(p);
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 360, `notebook is ${width}px wide`);
    await shot(p, "notebook-360");
    await small.close();
  });

  test("secrets and settings pages work", async () => {
    const p = await page();
    await p.goto(server.base + "/secrets");
    await p.getByLabel("Name", { exact: true }).fill("API_TOKEN");
    await p.getByLabel("Value", { exact: true }).fill("s3cret");
    await p.getByRole("button", { name: "Save secret" }).click();
    await p.locator("[data-secret=API_TOKEN]").waitFor();
    assert.ok(!(await p.content()).includes("s3cret"), "the value is never shown");
    await shot(p, "secrets");
    await p.goto(server.base + "/settings");
    await p.getByLabel("Default language for new notebooks").selectOption("javascript");
    await p.getByRole("button", { name: "Save settings" }).click();
    await p.getByText("Settings saved.").waitFor();
    await shot(p, "settings");
    await p.close();
  });

  test("a notebook is deleted after confirmation, and search filters the list", async () => {
    const p = await page();
    await createNotebook(p, "Delete me");
    await createNotebook(p, "Keep me");
    await p.goto(server.base + "/");
    await p.getByLabel("Search notebooks").fill("delete");
    await p.getByRole("link", { name: /Delete me/ }).waitFor();
    assert.equal(await p.getByRole("link", { name: /Keep me/ }).count(), 0);
    p.once("dialog", (d) => d.dismiss());
    await p.getByRole("button", { name: "Delete Delete me" }).click();
    await p.getByRole("link", { name: /Delete me/ }).waitFor();
    p.once("dialog", (d) => d.accept());
    await p.getByRole("button", { name: "Delete Delete me" }).click();
    await p.getByRole("link", { name: /Delete me/ }).waitFor({ state: "detached" });
    await p.reload();
    await p.getByRole("link", { name: /Keep me/ }).waitFor();
    assert.equal(await p.getByRole("link", { name: /Delete me/ }).count(), 0);
    await p.close();
  });

  test("tsconfig edits are saved; a linked secret reaches a cell; the notebook exports as .src.md", async () => {
    const p = await page();
    const socket = p.waitForEvent("websocket");
    const url = await createNotebook(p, "Config test");
    const ws = await socket;
    const id = url.split("/").pop();
    await p.locator("summary", { hasText: "tsconfig.json" }).click();
    const ts = p.getByLabel("tsconfig.json", { exact: true });
    await ts.waitFor();
    await ts.click();
    await p.keyboard.press("Control+End");
    await p.keyboard.press("Control+Home");
    await p.keyboard.type('{"compilerOptions": {"strict": true, "target": "es2023"}, "x": 1}\n//');
    // Invalid JSON is refused in place (and the notebook does not claim to be saved), valid JSON is saved.
    const tsconfigError = p.locator("details.tsconfig").getByText(/^Not saved:/);
    await tsconfigError.waitFor();
    await p
      .getByTestId("save-state")
      .filter({ hasText: "Not saved: tsconfig.json is not valid JSON" })
      .waitFor();
    const updated = ws.waitForEvent("framereceived", {
      predicate: (f) =>
        String(f.payload).includes('"tsconfig.json:updated"') && String(f.payload).includes("es2023"),
    });
    await p.keyboard.press("Control+a");
    await p.keyboard.type('{"compilerOptions": {"strict": true, "target": "es2023"}}');
    await tsconfigError.waitFor({ state: "detached" });
    await updated;
    await saved(p);
    const session = (await (await p.request.get(`${server.base}/api/sessions/${id}`)).json()).result;
    assert.match(session["tsconfig.json"], /es2023/);

    await p.goto(server.base + "/secrets");
    await p.getByLabel("Name", { exact: true }).fill("LINKED_SECRET");
    await p.getByLabel("Value", { exact: true }).fill("v");
    await p.getByRole("button", { name: "Save secret" }).click();
    const box = p.locator("[data-secret=LINKED_SECRET]").getByLabel("Config test");
    await box.check();
    await p.reload();
    await p.locator("[data-secret=LINKED_SECRET]").getByLabel("Config test").waitFor();
    assert.ok(await p.locator("[data-secret=LINKED_SECRET]").getByLabel("Config test").isChecked());

    // A cell of the linked notebook reads the secret from its environment.
    await p.goto(url);
    const cell = await addCodeCell(p);
    await cell.locator(".cm-content").click();
    await p.keyboard.type("console.log('secret is', process.env.LINKED_SECRET);");
    await p.keyboard.press("Shift+Enter");
    await cell
      .getByTestId("exit")
      .filter({ hasText: /^Exit 0/ })
      .waitFor();
    assert.match(await cell.locator(".output").innerText(), /secret is v/);

    const href = await p.getByRole("link", { name: "Export .src.md" }).getAttribute("href");
    const text = await (await p.request.get(server.base + href)).text();
    assert.match(text, /^<!-- srcbook:.*es2023/m);
    assert.match(text, /^# Config test$/m);
    await p.close();
  });

  test("the ? key shows the shortcut overlay", async () => {
    const p = await page();
    await p.goto(server.base + "/");
    await p.locator("main h1").waitFor();
    await p.keyboard.press("?");
    await p.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor();
    await p.keyboard.press("Escape");
    await p.getByRole("dialog").waitFor({ state: "detached" });
    await p.close();
  });

  test("dark theme follows the system", async () => {
    const dark = await browser.newContext({ colorScheme: "dark" });
    await dark.addCookies(await context.cookies());
    const p = await page(dark);
    await createNotebook(p, "Dark");
    const cell = await addCodeCell(p);
    await cell.locator(".cm-content").click();
    await p.keyboard.type("const dark: string = 'yes'; // theme");
    const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(22, 24, 28)");
    await saved(p);
    await shot(p, "notebook-dark");
    await dark.close();
  });

  test("no page error or CSP violation was logged", () => {
    assert.deepEqual(errors, []);
  });
});
