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

export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];

export async function startServer() {
  const bin = process.env.QUIRE_BIN ?? join(root, "target/release/quire");
  const dataDir = mkdtempSync(join(tmpdir(), "quire-e2e-"));
  const token = "e2e-token-" + Math.random().toString(36).slice(2) + "0123456789";
  const child = spawn(bin, ["serve", "--port", "0", "--no-browser", "--data-dir", dataDir, "--token", token], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "1" },
  });
  // Never leave the server behind, even when a test process dies.
  process.once("exit", () => child.kill("SIGKILL"));
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
  return {
    link, base, token, dataDir,
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && errors.push(`console: ${m.text()}`));
}

export async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}
