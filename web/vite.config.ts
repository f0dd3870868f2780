import { defineConfig, type Plugin } from "vite";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** Write .br and .gz next to every text asset: the server sends them as they are (no compression cost per request). */
function precompress(): Plugin {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  return {
    name: "quire-precompress",
    apply: "build",
    closeBundle() {
      for (const file of walk("dist")) {
        if (!/\.(js|css|html|svg|json|txt)$/.test(file)) continue;
        const data = readFileSync(file);
        if (data.length < 256) continue;
        writeFileSync(file + ".gz", gzipSync(data, { level: 9 }));
        writeFileSync(
          file + ".br",
          brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

/** Inline the (small) stylesheet into index.html: one round trip less before the first paint. */
function inlineCss(): Plugin {
  return {
    name: "quire-inline-css",
    apply: "build",
    enforce: "post",
    generateBundle(_, bundle) {
      const html = Object.values(bundle).find((f) => f.fileName === "index.html");
      if (!html || html.type !== "asset") return;
      let text = String(html.source);
      for (const [name, f] of Object.entries(bundle)) {
        if (f.type !== "asset" || !name.endsWith(".css")) continue;
        const tag = new RegExp(`<link rel="stylesheet"[^>]*href="/${name.replace(/[.$]/g, "\\$&")}"[^>]*>`);
        if (!tag.test(text)) continue;
        text = text.replace(tag, () => `<style>${String(f.source)}</style>`);
        delete bundle[name];
      }
      html.source = text;
    },
  };
}

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:2150", "/websocket": { target: "ws://127.0.0.1:2150", ws: true } },
  },
  plugins: [inlineCss(), precompress()],
});
