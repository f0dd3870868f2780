// Lighthouse (performance, accessibility, best practices) on the home, notebook and dashboard pages served by the
// real binary. Run through scripts/lighthouse, which installs a pinned lighthouse and builds everything.
// Usage: node e2e/lighthouse.mjs <path to node_modules holding lighthouse> [min score, default 95]
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { artifacts, CHROMIUM_ARGS, startServer } from "./harness.mjs";

const toolDir = process.argv[2];
const min = Number(process.argv[3] ?? 95);
const req = createRequire(join(toolDir, "package.json"));
const lighthouse = (await import(pathToFileURL(req.resolve("lighthouse")).href)).default;
const chromeLauncher = await import(pathToFileURL(req.resolve("chrome-launcher")).href);

const DOC = `<!-- srcbook:{"language":"typescript"} -->

# Lighthouse notebook

###### package.json

\`\`\`json
{
  "type": "module",
  "dependencies": {}
}
\`\`\`

## Hello

Some **markdown** with \`code\`, a list:

- one
- two

###### hello.ts

\`\`\`typescript
const greeting: string = "hello";
console.log(greeting.toUpperCase());
\`\`\`

###### sum.ts

\`\`\`typescript
export function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
\`\`\`
`;

const server = await startServer();
const auth = { authorization: `Bearer ${server.token}`, "content-type": "application/json" };
const imported = await fetch(server.base + "/api/import", {
  method: "POST",
  headers: auth,
  body: JSON.stringify({ text: DOC }),
});
if (!imported.ok) throw new Error(`import failed: ${imported.status} ${await imported.text()}`);
const { result } = await imported.json();

// The session cookie the printed link would give a browser, sent as a header so no redirect is measured.
const exchange = await fetch(`${server.base}/?token=${encodeURIComponent(server.token)}`, {
  redirect: "manual",
});
const cookie = (exchange.headers.get("set-cookie") ?? "").split(";")[0];
if (!cookie.startsWith("quire_session=")) throw new Error("no session cookie from the token exchange");
const presets = (process.env.LH_PRESET ?? "mobile,desktop").split(",");
const desktopConfig = (
  await import(pathToFileURL(join(dirname(req.resolve("lighthouse")), "config/desktop-config.js")).href)
).default;

const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  chromeFlags: CHROMIUM_ARGS,
});
const scores = {};
let failed = false;
try {
  for (const preset of presets)
    for (const [page, path] of [
      ["home", "/"],
      ["notebook", `/srcbooks/${result.id}`],
      ["admin", "/admin"],
    ]) {
      const name = `${preset} ${page}`;
      const r = await lighthouse(
        server.base + path,
        {
          port: chrome.port,
          output: "html",
          logLevel: "error",
          onlyCategories: ["performance", "accessibility", "best-practices"],
          extraHeaders: { Cookie: cookie },
        },
        preset === "desktop" ? desktopConfig : undefined,
      );
      writeFileSync(join(artifacts, `lighthouse-${preset}-${page}.html`), r.report);
      scores[name] = Object.fromEntries(
        Object.entries(r.lhr.categories).map(([k, c]) => [k, Math.round(c.score * 100)]),
      );
      for (const [k, v] of Object.entries(scores[name])) if (v < min) failed = true;
      const failing = Object.values(r.lhr.audits).filter(
        (a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== "informative",
      );
      for (const a of failing) console.log(`  ${name}: ${a.id} (${a.score}) ${a.displayValue ?? ""}`);
    }
} finally {
  await chrome.kill();
  await server.stop();
}
console.log(JSON.stringify(scores, null, 2));
writeFileSync(join(artifacts, "lighthouse.json"), JSON.stringify(scores, null, 2) + "\n");
if (failed) {
  console.error(`lighthouse: a score is below ${min}`);
  process.exit(1);
}
