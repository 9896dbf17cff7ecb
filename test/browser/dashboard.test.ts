import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { http, waitFor } from "../helpers.ts";

/**
 * The dashboard in a real Chromium against a real 1 + 5 cluster. Chromium must launch: a CI
 * without it fails here rather than skipping (.ci/run installs it). DASHBOARD_SCREENSHOT=path
 * keeps a screenshot (docs/dashboard.png comes from this run).
 */

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

let cluster: Cluster;
let userDataDir: string;
let context: BrowserContext;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3, maxDelayMs: 2 });
  userDataDir = mkdtempSync(join(tmpdir(), "quorumkv-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath, args: chromiumArgs, headless: true, viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
});

afterAll(async () => {
  await context?.close();
  await cluster?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

const row = (id: string) => page.locator(`tr[data-node="${id}"]`);
// Short bounds: a row that is not there yet is polled again by onScreen.
const cell = async (id: string, field: string) => Number(await row(id).locator(`[data-field="${field}"]`).textContent({ timeout: 1000 }));
const health = (id: string) => row(id).getAttribute("data-health", { timeout: 1000 });

/** Polls the page (bounded) until `check` holds; returns the milliseconds it took. */
async function onScreen(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const startedMs = performance.now();
  await waitFor(what, check, timeoutMs, 25);
  return Math.round(performance.now() - startedMs);
}

describe("the dashboard at GET / in Chromium", () => {
  test("shows all six nodes and the leader", async () => {
    await page.goto(`${cluster.leader.url}/`);
    await onScreen("six node rows", async () => (await page.locator("tr[data-node]").count()) === 6);
    expect(await row("leader").getAttribute("data-role", { timeout: 1000 })).toBe("leader");
    for (const follower of cluster.followers) expect(await row(follower.id).getAttribute("data-role", { timeout: 1000 })).toBe("follower");
    await onScreen("every node healthy", async () => (await page.locator('tr[data-health="healthy"]').count()) === 6);
    expect(await page.locator('[data-figure="leader"] b').textContent()).toBe("leader");
    await onScreen("the sweep chart", async () => (await page.locator('svg[data-chart="sweep"] polyline').count()) === 3);
  });

  test("writes move the offsets on screen, on the leader and on every follower", async () => {
    const before = await cell("leader", "commitOffset");
    for (let i = 0; i < 5; i++) expect((await http(`${cluster.leader.url}/kv/screen-${i}`, { method: "PUT", json: { value: i } })).status).toBe(200);
    const tookMs = await onScreen("the leader's commit offset to move by 5", async () => (await cell("leader", "commitOffset")) >= before + 5);
    console.log(`commit offset moved on screen ${tookMs} ms after the fifth write`);
    for (const follower of cluster.followers) {
      await onScreen(`${follower.id}'s applied offset to reach ${before + 5}`, async () => (await cell(follower.id, "appliedOffset")) >= before + 5);
    }
  });

  test("under load it shows a write rate and latency percentiles", async () => {
    const stopAtMs = performance.now() + 2500;
    let written = 0;
    while (performance.now() < stopAtMs) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => http(`${cluster.leader.url}/kv/load-${i}`, { method: "PUT", json: { value: written } })));
      written += 10;
    }
    await onScreen("a write rate", async () => Number(await page.locator('[data-figure="rate"] b').textContent()) > 0);
    expect(await page.locator('[data-figure="p99"] b').textContent()).toMatch(/\d+(\.\d+)? (ms|µs)/);
    if (process.env.DASHBOARD_SCREENSHOT) await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
  });

  test("a killed follower turns down within 2 s of its death, the others stay healthy", async () => {
    const victim = cluster.followers[2]!;
    await victim.stop("SIGKILL");
    const tookMs = await onScreen(`${victim.id} not healthy`, async () => (await health(victim.id)) !== "healthy");
    console.log(`${victim.id} shown ${await health(victim.id)} ${tookMs} ms after SIGKILL`);
    expect(tookMs).toBeLessThan(5000);
    expect(await health(victim.id)).toBe("down");
    for (const follower of cluster.followers.filter((f) => f !== victim)) expect(await health(follower.id)).toBe("healthy");
    await victim.start();
    await onScreen(`${victim.id} healthy again`, async () => (await health(victim.id)) === "healthy", 10_000);
  });

  test("a page served by a follower sees the leader die and a new epoch take over", async () => {
    await page.goto(`${cluster.followers[0]!.url}/`);
    await onScreen("six node rows from a follower", async () => (await page.locator("tr[data-node]").count()) === 6);
    const epoch = await cell("leader", "epoch");
    await cluster.leader.stop("SIGKILL");
    await onScreen("the leader shown down", async () => (await health("leader")) === "down");
    // The followers it last heard of stay on screen while the leader is gone.
    expect(await page.locator("tr[data-node]").count()).toBe(6);
    await cluster.leader.start();
    await onScreen(
      "the restarted leader healthy, in a newer epoch",
      async () => (await health("leader")) === "healthy" && (await cell("leader", "epoch")) > epoch,
      10_000,
    );
    expect(consoleErrors).toEqual([]);
  });
});
