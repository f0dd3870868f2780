// Notebook actions against the real server: focus after adding cells, Alt+Enter, the package.json panel
// after an install, a stoppable Run all, and the dependency notices (no nag for a new notebook; a missing
// package reported as soon as its import is typed).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { importNotebook, saveState, settled, setup, shot, srcmd, teardown, watchErrors } from "./harness.mjs";

let server, browser, context;
const errors = [];
before(async () => ({ server, browser, context } = await setup()));
after(() => teardown({ server, browser }));

async function page(path) {
  const p = await context.newPage();
  watchErrors(p, errors);
  if (path) await p.goto(server.base + path);
  return p;
}

async function createNotebook(p, title, language = "TypeScript") {
  await p.goto(server.base + "/");
  await p.getByLabel("Title").fill(title);
  await p.getByLabel(language).check();
  await p.getByRole("button", { name: "Create notebook" }).click();
  await p.waitForURL(/\/srcbooks\/[^/]+$/);
  await p.locator("#nb-title").waitFor();
}

/** The code or markdown cell that holds the focus (its index among cells of that kind), or -1. */
const focusedCell = (p, kind) =>
  p.evaluate(
    (k) =>
      [...document.querySelectorAll(`section.cell.${k}`)].findIndex((s) =>
        s.contains(document.activeElement),
      ),
    kind,
  );

test("+ Code and + Markdown focus the new cell (markdown in edit mode); Alt+Enter moves on to a new cell", async () => {
  const p = await page();
  await createNotebook(p, "Focus");
  await p.getByRole("button", { name: "+ Code" }).last().click();
  await p.locator("section.cell.code .cm-content").first().waitFor();
  await p.waitForFunction(() => document.activeElement?.closest("section.cell.code"));
  await p.keyboard.type("console.log('first');");
  assert.match(
    await p.locator("section.cell.code").first().locator(".cm-content").innerText(),
    /console\.log\('first'\);/,
  );

  // Alt+Enter runs this cell and moves the cursor into a new cell below it.
  await p.keyboard.press("Alt+Enter");
  await p.locator("section.cell.code").nth(1).locator(".cm-content").waitFor();
  await p.waitForFunction(() =>
    document.querySelectorAll("section.cell.code")[1]?.contains(document.activeElement),
  );
  await p.keyboard.type("const second = 2;");
  assert.equal(
    await p.locator("section.cell.code").nth(1).locator(".cm-content").innerText(),
    "const second = 2;",
  );
  await p
    .locator("section.cell.code")
    .first()
    .getByTestId("exit")
    .filter({ hasText: /^Exit 0/ })
    .waitFor();

  // + Markdown: in edit mode with the focus; typing replaces the placeholder.
  await p.getByRole("button", { name: "+ Markdown" }).last().click();
  const md = p.locator("section.cell.markdown").last();
  await md.getByLabel("Markdown source").waitFor();
  await p.waitForFunction(() =>
    [...document.querySelectorAll("section.cell.markdown")].at(-1)?.contains(document.activeElement),
  );
  assert.equal(await focusedCell(p, "markdown"), (await p.locator("section.cell.markdown").count()) - 1);
  await p.keyboard.type("## Notes");
  await p.keyboard.press("Escape");
  await md.locator(".md h2", { hasText: "Notes" }).waitFor();
  await saveState(p, "All changes saved").waitFor();
  await p.close();
});

test("the package.json panel stays open after an install and says it succeeded", async () => {
  const id = await importNotebook(server, srcmd({ title: "Install" }));
  const p = await page(`/srcbooks/${id}`);
  const pkg = p.locator("details.pkg");
  await pkg.locator("summary").click();
  await pkg.getByRole("button", { name: "Install dependencies" }).click();
  await pkg.locator("summary .status", { hasText: "installed" }).waitFor({ timeout: 60_000 });
  assert.equal(await pkg.getAttribute("open"), "", "still open");
  await pkg.getByText("Dependencies installed.").waitFor();
  await shot(p, "package-json-installed");
  await p.close();
});

test("Run all can be stopped on a long-running cell; the cells after it do not run", async () => {
  const id = await importNotebook(
    server,
    srcmd({
      title: "Run all",
      cells: [
        ["first.js", "console.log('first ran');"],
        ["forever.js", "setInterval(() => {}, 1000);\nconsole.log('forever started');"],
        ["last.js", "console.log('last ran');"],
      ],
    }),
  );
  const p = await page(`/srcbooks/${id}`);
  const cell = (name) => p.locator(`section.cell.code[aria-label="Code cell ${name}"]`);
  await cell("last.js").locator(".cm-content").waitFor();
  await p.getByRole("button", { name: "Run all" }).click();
  await cell("first.js")
    .getByTestId("exit")
    .filter({ hasText: /^Exit 0/ })
    .waitFor();
  await cell("forever.js").locator(".output", { hasText: "forever started" }).waitFor();
  await p.getByRole("status").filter({ hasText: "Running all: forever.js" }).waitFor();
  await shot(p, "run-all-running");

  await p.getByRole("button", { name: "Stop run all" }).click();
  await cell("forever.js").getByTestId("exit").filter({ hasText: "Stopped" }).waitFor();
  await p.getByRole("button", { name: "Run all" }).waitFor();
  await settled(p);
  assert.equal(await cell("last.js").locator(".output").count(), 0, "last.js did not run");
  assert.equal(await cell("last.js").locator(".status").innerText(), "Idle");

  // Run all again with the long cell fixed: every cell runs, in order.
  await cell("forever.js").locator(".cm-content").click();
  await p.keyboard.press("Control+a");
  await p.keyboard.type("console.log('quick now');");
  await p.getByRole("button", { name: "Run all" }).click();
  await cell("last.js")
    .getByTestId("exit")
    .filter({ hasText: /^Exit 0/ })
    .waitFor();
  assert.match(await cell("last.js").locator(".output").innerText(), /last ran/);
  await p.getByRole("button", { name: "Run all" }).waitFor();
  await p.close();
});

test("a new notebook does not say dependencies are missing; a declared package that is not installed does", async () => {
  const p = await page();
  // The page asks on opening; the server answers `{}` (tsx, typescript, @types/node and prettier are
  // declared but not installed), which is no reason to nag: none of them is needed to run cells.
  const answer = (ws) =>
    ws.on("framereceived", (f) => String(f.payload).includes('"deps:validate:response"') && answered());
  let answered;
  const validated = new Promise((r) => ((answered = r), p.on("websocket", answer)));
  await createNotebook(p, "No nag");
  await validated;
  await settled(p);
  assert.doesNotMatch(await p.locator("main").innerText(), /not installed/i);

  const id = await importNotebook(
    server,
    srcmd({
      title: "Declared",
      packageJson: '{\n  "type": "module",\n  "dependencies": {\n    "left-pad": "^1.3.0"\n  }\n}',
    }),
  );
  await p.goto(`${server.base}/srcbooks/${id}`);
  await p.getByTestId("deps-notice").filter({ hasText: "Not installed yet: left-pad." }).waitFor();
  await p.close();
});

test("an import missing from package.json is reported as soon as it is typed", async () => {
  const p = await page();
  await createNotebook(p, "Typed import", "JavaScript");
  await p.getByRole("button", { name: "+ Code" }).last().click();
  const cell = p.locator("section.cell.code").first();
  await cell.locator(".cm-content").click();
  await p.keyboard.type("import pad from 'left-pad';\nconsole.log(pad('x', 3));");
  const notice = p
    .getByTestId("deps-notice")
    .filter({ hasText: "Imported but not in package.json: left-pad." });
  await notice.waitFor({ timeout: 10_000 });
  await shot(p, "typed-import-notice");
  // Removing the import clears it (the server's silence after the next question means "nothing missing").
  await p.keyboard.press("Control+a");
  await p.keyboard.type("console.log('no imports');");
  await notice.waitFor({ state: "detached", timeout: 10_000 });
  await p.close();
});

test("no page error was logged", () => {
  assert.deepEqual(errors, []);
});
