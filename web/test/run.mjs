// Unit tests of the UI's modules: vite (already the UI's bundler; rolldown and oxc inside) turns each
// test/*.test.ts with what it imports into one ES module, and Node's own runner (node --test) runs them. No
// second TypeScript transformer or test framework to install; `npm test` type-checks the tests first.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const tests = readdirSync(join(web, "test")).filter((f) => f.endsWith(".test.ts"));
const out = mkdtempSync(join(tmpdir(), "quire-web-unit-"));
try {
  await build({
    configFile: false,
    root: web,
    logLevel: "warn",
    build: {
      ssr: true,
      outDir: out,
      emptyOutDir: true,
      target: "node20",
      minify: false,
      sourcemap: true,
      rolldownOptions: {
        input: Object.fromEntries(tests.map((f) => [basename(f, ".ts"), join(web, "test", f)])),
        output: { entryFileNames: "[name].mjs" },
      },
    },
  });
  const files = tests.map((f) => join(out, basename(f, ".ts") + ".mjs"));
  const run = spawnSync(
    process.execPath,
    ["--enable-source-maps", "--test", ...process.argv.slice(2), ...files],
    {
      stdio: "inherit",
    },
  );
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
