import { afterEach, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { dump, waitFor } from "../helpers.ts";

// Real processes: CAS increments and a CAS lock, under a follower kill and a leader restart.

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

type Answer = { status: number; body: Record<string, any> } | { status: "error" };

/** One call; a network error (the leader restarting) is an answer too: nothing is known of its effect. */
async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  } catch {
    return { status: "error" };
  }
}
const putJson = (value: unknown): RequestInit => ({ method: "PUT", body: JSON.stringify({ value }), headers: { "content-type": "application/json" } });

test("20 clients CAS-increment 5 counters through a follower kill and a leader restart: none lost, none doubled", async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3, quorumTimeoutMs: 1000 });
  const { leader } = cluster;
  const counters = 5;
  const acknowledged = new Array<number>(counters).fill(0);
  const indeterminate = new Array<number>(counters).fill(0);
  let preconditionFailures = 0;
  let stop = false;
  const client = async (id: number) => {
    for (let round = 0; !stop; round++) {
      const counter = (id + round) % counters;
      const url = `${leader.url}/kv/counter-${counter}`;
      const read = await call(url);
      if (read.status !== 200 && read.status !== 404) {
        await Bun.sleep(20);
        continue;
      }
      const current = read.status === 200 ? (read.body.value as number) : 0;
      const offset = read.status === 200 ? (read.body.offset as number) : 0;
      // One attempt per read, never retried blindly: a retried CAS could only fail (412) if the
      // first one took effect, so an unclear answer is counted as indeterminate and left there.
      const write = await call(`${url}?ifOffset=${offset}`, putJson(current + 1));
      if (write.status === 200) acknowledged[counter]!++;
      else if (write.status === 412) preconditionFailures++;
      else if (write.status === "error" || write.status === 503) indeterminate[counter]!++;
      else throw new Error(`unexpected answer ${JSON.stringify(write)}`);
      if (write.status !== 200 && write.status !== 412) await Bun.sleep(20);
    }
  };
  const total = () => acknowledged.reduce((sum, n) => sum + n, 0);
  const clients = Array.from({ length: 20 }, (_, id) => client(id));
  await waitFor("100 increments", () => total() >= 100, 30_000);
  await cluster.followers[1]!.stop("SIGKILL");
  await waitFor("250 increments", () => total() >= 250, 30_000);
  await leader.stop();
  await leader.start();
  await waitFor("400 increments after the leader restart", () => total() >= 400, 60_000);
  await cluster.followers[1]!.start();
  await waitFor("500 increments", () => total() >= 500, 30_000);
  stop = true;
  await Promise.all(clients);
  expect(preconditionFailures).toBeGreaterThan(0); // clients did race for the same counters
  const final = await dump(leader.url, cluster.token);
  for (let counter = 0; counter < counters; counter++) {
    const value = (final.get(`counter-${counter}`)?.value as number | undefined) ?? 0;
    const bounds = { counter, acknowledged: acknowledged[counter], indeterminate: indeterminate[counter] };
    expect({ ...bounds, atLeastAcknowledged: value >= acknowledged[counter]! }).toEqual({ ...bounds, atLeastAcknowledged: true });
    expect({ ...bounds, atMostAcknowledgedPlusIndeterminate: value <= acknowledged[counter]! + indeterminate[counter]! }).toEqual({
      ...bounds,
      atMostAcknowledgedPlusIndeterminate: true,
    });
  }
  // Every node decided every CAS alike.
  await waitFor("followers converged", async () => {
    const dumps = await Promise.all(cluster!.followers.map((follower) => dump(follower.url, cluster!.token)));
    return dumps.every((d) => JSON.stringify([...d].sort()) === JSON.stringify([...final].sort()));
  });
});

test("a CAS lock gives mutual exclusion through a leader restart", async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3, quorumTimeoutMs: 1000 });
  const { leader } = cluster;
  const lockUrl = `${leader.url}/kv/lock`;
  const ownerUrl = `${leader.url}/kv/owner`;
  const holds: { acquired: number; released: number | null; client: number }[] = [];
  const violations: string[] = [];
  let stop = false;
  /** Until the answer is known: a network error or a 503 is resolved by reading the lock. */
  const acquire = async (nonce: string): Promise<number | null> => {
    const attempt = await call(`${lockUrl}?ifOffset=0`, putJson(nonce));
    if (attempt.status === 200) return attempt.body.offset as number;
    if (attempt.status === 412) return null;
    for (;;) {
      const read = await call(lockUrl);
      if (read.status === 404) return null;
      if (read.status === 200) return read.body.value === nonce ? (read.body.offset as number) : null;
      await Bun.sleep(20);
    }
  };
  const release = async (acquired: number): Promise<number | null> => {
    for (;;) {
      const attempt = await call(`${lockUrl}?ifOffset=${acquired}`, { method: "DELETE" });
      if (attempt.status === 200) return attempt.body.offset as number;
      if (attempt.status === 412) return null; // an earlier attempt released it
      await Bun.sleep(20);
    }
  };
  const client = async (id: number) => {
    for (let round = 0; !stop; round++) {
      const nonce = `c${id}-${round}`;
      const acquired = await acquire(nonce);
      if (acquired === null) {
        await Bun.sleep(5);
        continue;
      }
      // The critical section: mark the owner, then find it unchanged; a second holder would overwrite it.
      while ((await call(ownerUrl, putJson(nonce))).status !== 200) await Bun.sleep(20);
      await Bun.sleep(2);
      const seen = await call(ownerUrl);
      if (seen.status === 200 && seen.body.value !== nonce) violations.push(`${nonce} found ${seen.body.value} while holding the lock`);
      holds.push({ acquired, released: await release(acquired), client: id });
    }
  };
  const clients = Array.from({ length: 8 }, (_, id) => client(id));
  await waitFor("30 holds", () => holds.length >= 30, 30_000);
  await leader.stop();
  await leader.start();
  const before = holds.length;
  await waitFor("30 more holds after the restart", () => holds.length >= before + 30, 60_000);
  stop = true;
  await Promise.all(clients);
  expect(violations).toEqual([]);
  // Holds are disjoint in log order: each acquire comes after the previous hold's release.
  const ordered = [...holds].sort((a, b) => a.acquired - b.acquired);
  for (let i = 1; i < ordered.length; i++) {
    const previous = ordered[i - 1]!;
    if (previous.released !== null) expect([previous, ordered[i]!.acquired > previous.released]).toEqual([previous, true]);
  }
  expect(new Set(holds.map((hold) => hold.client)).size).toBeGreaterThan(1);
});
