// The login, settings, home and files pages against the real server (no simulated routes): a wrong token
// is reported, Settings' default language reaches the create form, the AI settings are hidden, and the
// Files page shows the server's own quota figures and which account uploaded each file.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { api, setup, shot, teardown, watchErrors } from "./harness.mjs";

let server, browser, context;
const errors = [];
before(async () => ({ server, browser, context } = await setup()));
after(() => teardown({ server, browser }));

async function page(ctx = context) {
  const p = await ctx.newPage();
  watchErrors(p, errors);
  return p;
}

/** As the page formats sizes (Files.tsx fmtBytes). */
function fmtBytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) ((n /= 1024), i++);
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

test("a wrong token on the login page says so; the right one signs in", async () => {
  const fresh = await browser.newContext();
  const p = await page(fresh);
  await p.goto(server.base + "/settings");
  await p.getByRole("heading", { name: "Sign in to Quire" }).waitFor();
  await p.getByLabel("Access token").fill("not-the-right-token-0123456789");
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("alert").filter({ hasText: "That token is not valid" }).waitFor();
  assert.equal(new URL(p.url()).pathname, "/settings");
  await shot(p, "login-wrong-token");

  // A link with a wrong token says so too, and the token leaves the address bar.
  await p.goto(server.base + "/settings?token=wrong-link-token-0123456789");
  await p.getByRole("alert").filter({ hasText: "The token in this link is not valid" }).waitFor();
  assert.equal(new URL(p.url()).search, "");

  await p.getByLabel("Access token").fill(server.token);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Settings", level: 1 }).waitFor();
  assert.equal(new URL(p.url()).search, "");
  await fresh.close();
});

test("Settings show the AI section with the key fields empty (keys are never shown back)", async () => {
  const p = await page();
  await p.goto(server.base + "/settings");
  await p.getByLabel("Default language for new notebooks").waitFor();
  await p.getByRole("button", { name: "Test" }).waitFor();
  for (const input of await p.locator("main input[type=password]").all())
    assert.equal(await input.inputValue(), "", "a key field never holds a key");
  await shot(p, "settings-ai");
  await p.close();
});

test("Settings' default language is the create form's", async () => {
  const p = await page();
  const select = p.getByLabel("Default language for new notebooks");

  for (const [value, label] of [
    ["javascript", "JavaScript"],
    ["typescript", "TypeScript"],
  ]) {
    await p.goto(server.base + "/settings");
    await select.selectOption(value);
    await p.getByRole("button", { name: "Save settings" }).click();
    await p.getByText("Settings saved.").waitFor();
    await p.goto(server.base + "/");
    await p.waitForFunction((v) => document.querySelector(`input[name=lang][value=${v}]`)?.checked, value);
    await p.getByLabel("Title").fill(`Default ${value}`);
    await p.getByRole("button", { name: "Create notebook" }).click();
    await p.waitForURL(/\/srcbooks\/[^/]+$/);
    await p.locator(".pill", { hasText: label }).waitFor();
    const id = p.url().split("/").pop();
    assert.equal((await api(server, "GET", `/api/sessions/${id}`)).result.language, value);
  }
  await p.close();
});

test("the Files page shows the server's quota for this session", async () => {
  const p = await page();
  await p.goto(server.base + "/storage");
  await p.getByRole("heading", { name: "Stored files" }).waitFor();
  await p.getByLabel(/Choose files/).setInputFiles({
    name: "mine.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("uploaded from the page\n"),
  });
  await p.locator(".job", { hasText: "mine.txt" }).locator(".meta", { hasText: "done" }).waitFor();
  await p.locator("tr", { hasText: "mine.txt" }).waitFor();

  // The server token has no quota (the server says `unlimited`): no bar that fills up, the real usage.
  const q = await api(server, "GET", "/quota");
  assert.equal(q.unlimited, true);
  const today = `${q.uploads_today} upload${q.uploads_today === 1 ? "" : "s"} today`;
  const quota = p.getByTestId("quota").filter({ hasText: today });
  await quota.waitFor();
  assert.equal(
    await quota.innerText(),
    `${fmtBytes(q.used_bytes)} stored · no quota: signed in with the server token (accounts may keep ${fmtBytes(q.max_bytes)} each) · ${today}`,
  );
  assert.equal(await p.locator("progress#quota").count(), 0);
  await p.close();
});

test("a file another account labelled like this page's files shows that account, not the server's", async () => {
  const creds = { email: "other@example.com", password: "correct horse battery staple" };
  await api(server, "POST", "/auth/register", creds);
  const login = await (
    await fetch(server.base + "/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(creds),
    })
  ).json();
  const upload = async (name, token) => {
    const form = new FormData();
    form.append("file", new Blob([`${name}\n`], { type: "text/plain" }), name);
    form.append("owner", "quire");
    const up = await fetch(server.base + "/files", {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    assert.equal(up.status, 200, await up.clone().text());
  };
  await upload("theirs.txt", login.accessToken);
  await upload("ours.txt", server.token);

  const p = await page();
  await p.goto(server.base + "/storage");
  const theirs = p.locator("tr", { hasText: "theirs.txt" });
  await theirs.waitFor();
  await p.locator("tr", { hasText: "ours.txt" }).waitFor();
  await shot(p, "files-uploaders");
  assert.equal(
    await p.locator("tr", { hasText: "ours.txt" }).getByTestId("uploader").innerText(),
    "you (server token)",
  );
  assert.equal(await theirs.getByTestId("uploader").innerText(), "other@example.com");
  await p.close();
});

test("no page error was logged", () => {
  assert.deepEqual(errors, []);
});
