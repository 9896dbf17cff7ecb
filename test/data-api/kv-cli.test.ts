import { afterAll, beforeAll, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { type Cluster, startCluster } from "../../src/cluster.ts";

// The kv CLI against a real cluster, pointed at a follower so that every write follows 421.

const root = resolve(import.meta.dir, "../..");
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 3, writeQuorum: 2, minDelayMs: 0, maxDelayMs: 1 });
});
afterAll(async () => {
  await cluster?.stop();
});

async function kv(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([process.execPath, join(root, "tools/kv.ts"), ...args, "--endpoints", cluster.followers[0]!.url], {
    cwd: root,
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, CLUSTER_TOKEN: cluster.token },
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

test("put, get, del with conditions; exit 1 for not found and failed conditions", async () => {
  expect(await kv(["put", "cfg/a", '{"on":true}'])).toMatchObject({ code: 0, stdout: "OK cfg/a offset 1\n" });
  expect(await kv(["get", "cfg/a", "--json"])).toMatchObject({ code: 0, stdout: '{"key":"cfg/a","value":{"on":true},"offset":1}\n' });
  expect(await kv(["put", "cfg/b", "plain text"])).toMatchObject({ code: 0 });
  expect(await kv(["get", "cfg/b", "--min-offset", "2"])).toMatchObject({ code: 0, stdout: "plain text\n" });
  const conflict = await kv(["put", "cfg/a", "2", "--if-offset", "0"]);
  expect(conflict.code).toBe(1);
  expect(conflict.stderr).toContain("412 precondition_failed");
  expect(await kv(["del", "cfg/b", "--if-offset", "2"])).toMatchObject({ code: 0 });
  expect((await kv(["get", "cfg/b", "--min-offset", "4"])).code).toBe(1);
  expect((await kv(["get"])).code).toBe(2);
  expect((await kv(["frobnicate"])).code).toBe(2);
});

test("scan pages, txn from stdin, watch from an offset, status and check", async () => {
  for (let i = 0; i < 5; i++) expect((await kv(["put", `scan/${i}`, String(i)])).code).toBe(0);
  const scan = await kv(["scan", "--prefix", "scan/", "--limit", "2", "--all"]);
  expect(scan.code).toBe(0);
  expect(
    scan.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split("\t")[0]),
  ).toEqual(["scan/0", "scan/1", "scan/2", "scan/3", "scan/4"]);
  const txn = JSON.stringify({ compare: [{ key: "scan/0", offset: 0 }], success: [], failure: [{ op: "get", key: "scan/0" }] });
  const failed = await kv(["txn"], txn);
  expect(failed.code).toBe(1);
  expect(failed.stdout).toContain("FAILURE");
  const succeeded = await kv(["txn", JSON.stringify({ success: [{ op: "put", key: "scan/5", value: 5 }] }), "--json"]);
  expect(succeeded.code).toBe(0);
  expect(JSON.parse(succeeded.stdout)).toMatchObject({ succeeded: true, results: [{ op: "put", key: "scan/5" }] });
  const watch = await kv(["watch", "--prefix", "scan/", "--from-offset", "1", "--count", "3", "--json"]);
  expect(watch.code).toBe(0);
  expect(
    watch.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line).key),
  ).toEqual(["scan/0", "scan/1", "scan/2"]);
  const status = await kv(["status"]);
  expect(status).toMatchObject({ code: 0 });
  expect(status.stdout).toContain("follower");
  const check = await kv(["check"]);
  expect(check.code).toBe(0);
  expect(check.stdout).toContain("3/3 followers consistent");
  const bench = await kv(["bench", "--writes", "200", "--concurrency", "4", "--json"]);
  expect(bench.code).toBe(0);
  expect(JSON.parse(bench.stdout)).toMatchObject({ writes: 200, succeeded: 200 });
});

test("no endpoint answering is exit 2", async () => {
  const child = Bun.spawn([process.execPath, join(root, "tools/kv.ts"), "get", "k", "--endpoints", "http://127.0.0.1:9"], { stdout: "pipe", stderr: "pipe" });
  expect(await child.exited).toBe(2);
});
