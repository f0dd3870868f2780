// The admin dashboard against the real server: figures appear, move with real traffic, fit 360 px,
// and a browser without a session is sent to the login page.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launch, shot, startServer, watchErrors } from "./harness.mjs";

let server, browser, context;
const errors = [];

before(async () => {
  server = await startServer();
  browser = await launch();
  context = await browser.newContext();
  const p = await context.newPage();
  await p.goto(server.link); // the printed link leaves a session cookie in the context
  await p.close();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const figure = async (p, id) => Number((await p.getByTestId(id).innerText()).replace(/,/g, ""));

test("the dashboard shows live figures that follow real traffic", async () => {
  const p = await context.newPage();
  watchErrors(p, errors);
  await p.goto(server.base + "/admin");
  await p.getByRole("heading", { name: "Dashboard", level: 1 }).waitFor();
  await p.getByTestId("requests-total").waitFor();
  const total = await figure(p, "requests-total");
  assert.ok(total > 0, `requests since start: ${total}`);
  assert.ok((await figure(p, "rps-10s")) > 0, "requests per second over 10 s");
  assert.ok((await figure(p, "requests-60s")) > 0);
  assert.match(await p.getByTestId("p95").innerText(), /\d (ms|s)$/);
  assert.ok((await figure(p, "notebooks")) >= 0);
  await p.locator("svg.spark[role=img]").first().waitFor();

  // Traffic from outside the page: 40 API calls and 5 unknown routes (404s).
  const auth = { authorization: `Bearer ${server.token}` };
  const errorsBefore = await figure(p, "errors-4xx-total");
  for (let i = 0; i < 40; i++)
    assert.equal((await fetch(server.base + "/api/sessions", { headers: auth })).status, 200);
  for (let i = 0; i < 5; i++)
    assert.equal((await fetch(server.base + "/api/nope", { headers: auth })).status, 404);
  // The next polls pick them up (no fixed sleep: wait for the figure to move).
  await p.waitForFunction(
    ([want]) =>
      Number(document.querySelector('[data-testid="requests-total"]').textContent.replace(/,/g, "")) >= want,
    [total + 45],
    { timeout: 10_000 },
  );
  await p.waitForFunction(
    ([want]) =>
      Number(document.querySelector('[data-testid="errors-4xx-total"]').textContent.replace(/,/g, "")) >=
      want,
    [errorsBefore + 5],
    { timeout: 10_000 },
  );
  assert.ok((await figure(p, "errors-4xx-60s")) >= 5);
  await shot(p, "admin");

  // Pausing stops the updates; resuming starts them again.
  await p.getByRole("button", { name: "Pause updates" }).click();
  await p.getByRole("button", { name: "Resume updates" }).waitFor();
  await p.getByRole("button", { name: "Resume updates" }).click();
  await p.getByRole("button", { name: "Pause updates" }).waitFor();
  await p.close();
});

test("the dashboard fits 360 px and is reachable from the main navigation", async () => {
  const small = await browser.newContext({ viewport: { width: 360, height: 740 } });
  await small.addCookies(await context.cookies());
  const p = await small.newPage();
  watchErrors(p, errors);
  await p.goto(server.base + "/");
  await p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click();
  await p.getByTestId("requests-total").waitFor();
  assert.equal(new URL(p.url()).pathname, "/admin");
  const width = await p.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `/admin is ${width}px wide`);
  await shot(p, "admin-360");
  await small.close();
});

test("without a session the dashboard asks to sign in", async () => {
  const fresh = await browser.newContext();
  const p = await fresh.newPage();
  watchErrors(p, errors);
  await p.goto(server.base + "/admin");
  await p.getByRole("heading", { name: "Sign in to Quire" }).waitFor();
  await p.getByLabel("Access token").fill(server.token);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByTestId("requests-total").waitFor();
  await fresh.close();
});

test("no page error or CSP violation was logged", () => {
  assert.deepEqual(errors, []);
});
