import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, openSync, closeSync, rmSync, rmdirSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, startCluster } from "../src/cluster.ts";
import { dump, http, waitFor } from "./helpers.ts";

// Every node's DATA_DIR on a 4 MiB tmpfs that the test fills up: needs root to mount.
const isRoot = process.getuid?.() === 0;
const mountPoint = mkdtempSync(join(tmpdir(), "quorumkv-full-"));
let mounted = false;
let cluster: Cluster | undefined;

beforeAll(() => {
  if (!isRoot) {
    console.warn("disk-full test skipped: mounting a tmpfs needs root");
    return;
  }
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
  mounted = mount.exitCode === 0;
  if (!mounted) console.warn(`disk-full test: mount tmpfs failed: ${mount.stderr.toString().trim()}`);
});

afterAll(async () => {
  await cluster?.stop();
  if (mounted) Bun.spawnSync(["umount", mountPoint]);
  rmdirSync(mountPoint);
});

/** Writes a file until the disk says ENOSPC. */
function fill(path: string): void {
  const fd = openSync(path, "w");
  const block = Buffer.alloc(64 * 1024, 7);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
}

test.skipIf(!isRoot)(
  "a full disk: writes answer 503 storage_unavailable, nothing acknowledged is lost, and writes resume once space returns",
  async () => {
    // As root the mount must work: a test that passes without its disk tests nothing.
    expect(mounted).toBe(true);
    cluster = await startCluster({ followers: 5, writeQuorum: 3, dataDir: mountPoint, quorumTimeoutMs: 1000 });
    const put = (key: string, value = key) => http(`${cluster!.leader.url}/kv/${key}`, { method: "PUT", json: { value } });
    const acknowledged = new Map<string, string>();
    for (let n = 0; n < 50; n++) {
      expect((await put(`before-${n}`)).status).toBe(200);
      acknowledged.set(`before-${n}`, `before-${n}`);
    }
    const filler = join(mountPoint, "filler");
    fill(filler);
    const refused = await waitFor("a write refused with storage_unavailable", async () => {
      // Large values: each node's log has up to logPreallocateBytes of zeros ahead of it to use up first.
      const key = `full-${performance.now()}`;
      const answer = await put(key, key.padEnd(8192, "x"));
      if (answer.status === 200) acknowledged.set(key, key.padEnd(8192, "x"));
      return answer.body.error === "storage_unavailable" ? answer : null;
    });
    expect(refused.status).toBe(503);
    expect((await http(`${cluster.leader.url}/status`)).body.storage.unavailable).toContain("ENOSPC");
    rmSync(filler);
    await waitFor("writes to resume", async () => (await put("after")).status === 200, 15_000);
    const pairs = await dump(cluster.leader.url, cluster.token);
    for (const [key, value] of acknowledged) expect(pairs.get(key)?.value).toBe(value);
    // And after a kill of everything, from disk.
    for (const node of cluster.nodes) process.kill(node.pid!, "SIGKILL");
    await Promise.all(cluster.nodes.map((node) => node.stop("SIGKILL")));
    await Promise.all(cluster.followers.map((node) => node.start()));
    await cluster.leader.start();
    expect((await put("after-restart")).status).toBe(200);
    const restarted = await dump(cluster.leader.url, cluster.token);
    for (const [key, value] of acknowledged) expect(restarted.get(key)?.value).toBe(value);
  },
  90_000,
);
