// Starts the real `quire serve` binary on port 0 in a temp data dir and drives Debian's Chromium with
// playwright-core. No fixed sleeps: every wait is for an event, a line of output or a selector.
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const artifacts = join(root, "target/e2e");
mkdirSync(artifacts, { recursive: true });

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Start `quire serve` on `port` (0: any free one) and wait until it is ready. */
async function spawnServer(dataDir, token, port) {
  const bin = process.env.QUIRE_BIN ?? join(root, "target/release/quire");
  const child = spawn(
    bin,
    ["serve", "--port", String(port), "--no-browser", "--data-dir", dataDir, "--token", token],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CI: "1" },
    },
  );
  // Never leave the server behind, even when a test process dies.
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
  // The server's log goes to target/e2e/server.log (kept as an artifact for failures).
  child.stderr.pipe(createWriteStream(join(artifacts, "server.log"), { flags: "a" }));
  const link = await new Promise((ok, fail) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (l) => {
      const m = /(http:\/\/\S+\?token=\S+)/.exec(l);
      if (m) ok(m[1]);
    });
    child.once("exit", (code) => fail(new Error(`quire exited early with ${code}`)));
  });
  const base = new URL(link).origin;
  // The link is printed once the socket is bound; notebooks load just after (GET /ready turns 200).
  for (let i = 0; ; i++) {
    const r = await fetch(base + "/ready").catch(() => null);
    if (r?.status === 200) break;
    if (i > 500) throw new Error("quire did not become ready");
    await new Promise((ok) => setTimeout(ok, 20));
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  return { link, base, stop };
}

export async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), "quire-e2e-"));
  const token = "e2e-token-" + Math.random().toString(36).slice(2) + "0123456789";
  let proc = await spawnServer(dataDir, token, 0);
  const server = {
    link: proc.link,
    base: proc.base,
    token,
    dataDir,
    /** Stop the server, keeping its data directory. */
    halt: () => proc.stop(),
    /** Start it again on the same data directory and port (the page's URL stays valid). */
    async resume() {
      proc = await spawnServer(dataDir, token, Number(new URL(server.base).port));
    },
    async stop() {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A JSON API call with the server token; returns the parsed body (throws on an error status). */
export async function api(server, method, path, body) {
  const r = await fetch(server.base + path, {
    method,
    headers: {
      authorization: `Bearer ${server.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Import a `.src.md` document; returns the notebook's id. */
export async function importNotebook(server, text) {
  return (await api(server, "POST", "/api/import", { text })).result.id;
}

/** A `.src.md` document: `cells` are [filename, source] pairs or markdown strings. */
export function srcmd({
  title = "Test",
  language = "javascript",
  packageJson = '{\n  "type": "module"\n}',
  cells = [],
}) {
  const fence = language === "typescript" ? "typescript" : "javascript";
  let doc = `<!-- srcbook:{"language":"${language}"} -->\n\n# ${title}\n\n###### package.json\n\n\`\`\`json\n${packageJson}\n\`\`\`\n`;
  for (const c of cells)
    doc += typeof c === "string" ? `\n${c}\n` : `\n###### ${c[0]}\n\n\`\`\`${fence}\n${c[1]}\n\`\`\`\n`;
  return doc;
}

/** A browser context signed in through the printed link (it leaves the session cookie). */
export async function signedIn(browser, server, options) {
  const ctx = await browser.newContext(options);
  const p = await ctx.newPage();
  await p.goto(server.link);
  await p.close();
  return ctx;
}

/** Wait until the page has rendered everything it received so far (a frame, then a task). */
export const settled = (page) =>
  page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));

/** The save indicator with this text (a string or RegExp). */
export const saveState = (page, text) => page.getByTestId("save-state").filter({ hasText: text });

/** One server, one browser and a signed-in context for a test file (torn down after it). */
export async function setup() {
  const server = await startServer();
  const browser = await launch();
  return { server, browser, context: await signedIn(browser, server) };
}

export async function teardown({ server, browser }) {
  await browser?.close();
  await server?.stop();
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** Fail the test on any page error or console error (CSP violations show up there). */
export function watchErrors(page, errors) {
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on(
    "console",
    (m) =>
      m.type() === "error" &&
      !/Failed to load resource/.test(m.text()) &&
      errors.push(`console: ${m.text()}`),
  );
}

export async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}
