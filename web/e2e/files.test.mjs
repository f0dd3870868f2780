// The Files page against a simulated file store (FileDB routes + tus 1.0 at /uploads/), answered by the
// test through request interception until the real store is merged: upload with a progress bar, a
// connection killed mid-way and resumed, byte-exact content, download, delete, cancel, quota bar.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { launch, shot, startServer } from "./harness.mjs";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

function fakeStore(page) {
  const uploads = new Map(); // id -> {length, data: Buffer[], meta}
  const files = new Map(); // file_id -> {name, type, bytes}
  const log = [];
  let abortPatch = 0; // how many PATCHes to kill before they reach the store
  let holdPatch = null; // a promise that PATCHes wait for
  const json = (route, body, status = 200) =>
    route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) });
  const tus = { "Tus-Resumable": "1.0.0", "Access-Control-Expose-Headers": "Upload-Offset, Location" };
  page.context().route(/\/(files|quota|uploads)(\/|$|\?)/, async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    if (req.isNavigationRequest() && !url.pathname.startsWith("/files/")) return route.fallback();
    const method = req.method();
    log.push(`${method} ${url.pathname}`);
    let m;
    if (url.pathname === "/quota") {
      const used = [...files.values()].reduce((a, f) => a + f.bytes.length, 0);
      return json(route, {
        used_bytes: used,
        max_bytes: 500 * 2 ** 20,
        uploads_today: files.size,
        max_uploads_per_day: 50,
        usage_percentage: ((used / (500 * 2 ** 20)) * 100).toFixed(2),
      });
    }
    if ((m = /^\/files\/by-owner\/(.+)$/.exec(url.pathname)))
      return json(route, {
        owner: m[1],
        count: files.size,
        files: [...files].map(([id, f]) => ({
          file_id: id,
          original_filename: f.name,
          content_type: f.type,
          file_extension: "bin",
          total_size: f.bytes.length,
          created_at: new Date().toISOString(),
          owner: m[1],
        })),
      });
    if ((m = /^\/files\/([^/]+)\/info$/.exec(url.pathname)))
      return json(route, { file_id: m[1], content_type: files.get(m[1])?.type, expires_at: null });
    if ((m = /^\/files\/([^/]+)$/.exec(url.pathname))) {
      if (method === "DELETE") return (files.delete(m[1]), json(route, { deleted: true }));
      const f = files.get(m[1]);
      return route.fulfill({
        status: 200,
        headers: { "content-type": f.type, "content-disposition": `attachment; filename="${f.name}"` },
        body: f.bytes,
      });
    }
    if (url.pathname === "/uploads/" && method === "POST") {
      const id = "u" + uploads.size;
      const meta = Object.fromEntries(
        (req.headers()["upload-metadata"] ?? "")
          .split(",")
          .map((kv) => kv.split(" "))
          .map(([k, v]) => [k, Buffer.from(v ?? "", "base64").toString()]),
      );
      uploads.set(id, { length: Number(req.headers()["upload-length"]), data: [], meta });
      return route.fulfill({ status: 201, headers: { ...tus, Location: `/uploads/${id}` } });
    }
    if ((m = /^\/uploads\/([^/]+)$/.exec(url.pathname))) {
      const u = uploads.get(m[1]);
      if (!u) return route.fulfill({ status: 404, headers: tus });
      const offset = u.data.reduce((a, b) => a + b.length, 0);
      if (method === "HEAD")
        return route.fulfill({
          status: 200,
          headers: {
            ...tus,
            "Upload-Offset": String(offset),
            "Upload-Length": String(u.length),
            "Cache-Control": "no-store",
          },
        });
      if (method === "DELETE") return (uploads.delete(m[1]), route.fulfill({ status: 204, headers: tus }));
      if (method === "PATCH") {
        if (holdPatch) await holdPatch;
        if (abortPatch > 0 && offset > 0) return (abortPatch--, route.abort("connectionreset"));
        if (Number(req.headers()["upload-offset"]) !== offset)
          return route.fulfill({ status: 409, headers: tus });
        u.data.push(req.postDataBuffer() ?? Buffer.alloc(0));
        const now = offset + u.data.at(-1).length;
        if (now === u.length)
          files.set("f-" + m[1], {
            name: u.meta.filename,
            type: u.meta.filetype,
            bytes: Buffer.concat(u.data),
          });
        return route.fulfill({ status: 204, headers: { ...tus, "Upload-Offset": String(now) } });
      }
    }
    return route.fulfill({ status: 404, body: "" });
  });
  return {
    files,
    uploads,
    log,
    killNextPatch: () => (abortPatch = 1),
    hold: () => {
      let release;
      holdPatch = new Promise((r) => (release = r));
      return () => {
        holdPatch = null;
        release();
      };
    },
  };
}

test("files: resumable upload with progress, byte-exact download, delete, cancel, quota", async () => {
  const ctx = await browser.newContext({ acceptDownloads: true });
  const page = await ctx.newPage();
  const store = fakeStore(page);
  await page.goto(server.link);
  const created = await page.request.post(server.base + "/api/srcbooks", {
    data: { name: "Attach target", language: "javascript" },
  });
  assert.equal(created.status(), 200);
  await page.goto(server.base + "/storage");
  await page.getByRole("heading", { name: "Stored files" }).waitFor();
  await page.getByText("No files yet.").waitFor();

  // 10 MiB in 4 MiB tus chunks; the second PATCH's connection is killed, and the client resumes.
  const bytes = randomBytes(10 * 2 ** 20);
  store.killNextPatch();
  await page
    .getByLabel(/Choose files/)
    .setInputFiles({ name: "data.bin", mimeType: "application/octet-stream", buffer: bytes });
  const job = page.locator(".job", { hasText: "data.bin" });
  await job.locator('[data-state="done"], .meta', { hasText: "done" }).first().waitFor();
  assert.equal(await job.locator("progress").getAttribute("value"), String(bytes.length));
  assert.ok(store.log.includes("HEAD /uploads/u0"), "resumed from the server's offset");
  assert.ok(Buffer.concat(store.uploads.get("u0").data).equals(bytes), "the store received the exact bytes");

  const row = page.locator("tr", { hasText: "data.bin" });
  await row.waitFor();
  assert.match(await row.innerText(), /10\.0 MB/);
  assert.notEqual(await page.locator("#quota").getAttribute("value"), "0");
  await shot(page, "files");

  // The download link names the file's URL; its bytes equal the upload. (Playwright does not route
  // browser downloads, so the link's target is fetched by the page itself.)
  const link = row.getByRole("link", { name: "Download" });
  assert.equal(await link.getAttribute("download"), "data.bin");
  const href = await link.getAttribute("href");
  assert.match(href, /^\/files\/f-u0$/);
  const got = await page.evaluate(async (h) => {
    const buf = await (await fetch(h)).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
    return {
      length: buf.byteLength,
      sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
    };
  }, href);
  assert.deepEqual(got, { length: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });

  // Attach it to a notebook (the server copies it into the notebook's files/ directory).
  let attached = null;
  await ctx.route(/\/api\/sessions\/[^/]+\/files$/, async (route) => {
    attached = JSON.parse(route.request().postData());
    await route.fulfill({
      contentType: "application/json",
      body: JSON.stringify({ error: false, result: { path: "files/data.bin", size: bytes.length } }),
    });
  });
  await row.getByLabel("Attach data.bin to a notebook").selectOption({ label: "Attach target" });
  await page.getByText("Attached: cells of that notebook read it as files/data.bin.").waitFor();
  assert.deepEqual(attached, { file_id: "f-u0" });

  page.once("dialog", (d) => d.accept());
  await row.getByRole("button", { name: "Delete data.bin" }).click();
  await page.getByText("No files yet.").waitFor();

  // Cancel while a chunk is in flight: the upload is terminated on the server and leaves the list.
  const release = store.hold();
  await page
    .getByLabel(/Choose files/)
    .setInputFiles({ name: "big.bin", mimeType: "application/octet-stream", buffer: randomBytes(2 ** 20) });
  const big = page.locator(".job", { hasText: "big.bin" });
  await big.getByRole("button", { name: "Cancel" }).click();
  await big.waitFor({ state: "detached" });
  release();
  assert.ok(
    store.log.some((l) => l.startsWith("DELETE /uploads/")),
    "termination request sent",
  );
  await ctx.close();
});
