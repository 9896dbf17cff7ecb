import type { Cluster } from "../src/cluster.ts";
import { dump, http, waitFor } from "./helpers.ts";

export interface WriteRecord {
  key: string;
  value: string;
  /** The offset the leader gave it (200 and 503 answers carry one). */
  offset?: number;
  status: number | "network_error";
  latencyMs: number;
}

/**
 * Concurrent writers with unique values, recording every answer, until stopped. With
 * `uniqueKeys` each write has a key of its own, so its presence can be checked afterwards.
 */
export function startWriters(cluster: Cluster, options: { concurrency?: number; keys?: number; uniqueKeys?: boolean } = {}) {
  const records: WriteRecord[] = [];
  let running = true;
  let sequence = 0;
  const writer = async () => {
    while (running) {
      const id = sequence++;
      const key = options.uniqueKeys ? `unique-${id}` : `key-${id % (options.keys ?? 50)}`;
      const value = `value-${id}`;
      const started = performance.now();
      try {
        const answer = await http(`${cluster.leader.url}/kv/${key}`, { method: "PUT", json: { value } });
        records.push({ key, value, offset: answer.body.offset, status: answer.status, latencyMs: performance.now() - started });
      } catch {
        records.push({ key, value, status: "network_error", latencyMs: performance.now() - started });
        await Bun.sleep(20);
      }
    }
  };
  const writers = Array.from({ length: options.concurrency ?? 10 }, writer);
  return {
    records,
    /** Resolves once `count` more writes were answered. */
    async progress(count: number, timeoutMs = 20_000) {
      const target = records.length + count;
      await waitFor(`${count} more writes`, () => records.length >= target, timeoutMs);
    },
    async stop(): Promise<WriteRecord[]> {
      running = false;
      await Promise.all(writers);
      return records;
    },
  };
}

/** Waits until every running node applied the leader's commit offset and all digests agree. */
export async function expectConverged(cluster: Cluster, timeoutMs = 20_000): Promise<void> {
  const digest = async (url: string) => (await http(`${url}/internal/digest`, { token: cluster.token })).body;
  await waitFor(
    "all nodes to converge",
    async () => {
      const leader = await digest(cluster.leader.url);
      const followers = await Promise.all(cluster.followers.map((f) => digest(f.url)));
      return followers.every((f) => f.appliedOffset === leader.commitOffset && f.digest === leader.digest && f.keys === leader.keys);
    },
    timeoutMs,
    50,
  );
}

/**
 * Every acknowledged write is in the final state unless a later write to its key replaced it,
 * on every node, with identical dumps everywhere.
 */
export async function expectAcknowledgedWritesKept(cluster: Cluster, records: readonly WriteRecord[]): Promise<void> {
  const leaderDump = await dump(cluster.leader.url, cluster.token);
  const missing: string[] = [];
  for (const record of records) {
    if (record.status !== 200) continue;
    const stored = leaderDump.get(record.key);
    if (!stored || stored.offset < record.offset! || (stored.offset === record.offset && stored.value !== record.value)) {
      missing.push(`${record.key}=${record.value}@${record.offset} (found ${JSON.stringify(stored)})`);
    }
  }
  if (missing.length > 0) throw new Error(`${missing.length} acknowledged writes lost, e.g. ${missing.slice(0, 3).join("; ")}`);
  for (const follower of cluster.followers) {
    const followerDump = await dump(follower.url, cluster.token);
    if (followerDump.size !== leaderDump.size) throw new Error(`${follower.id} has ${followerDump.size} keys, the leader ${leaderDump.size}`);
    for (const [key, stored] of leaderDump) {
      const other = followerDump.get(key);
      if (other?.offset !== stored.offset || JSON.stringify(other.value) !== JSON.stringify(stored.value)) {
        throw new Error(`${follower.id} differs on ${key}: ${JSON.stringify(other)} vs ${JSON.stringify(stored)}`);
      }
    }
  }
}
