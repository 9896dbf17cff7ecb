import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { checkRegister, type Operation } from "../../src/sim/linearizability.ts";
import { waitFor } from "../helpers.ts";
import { type Host, NetnsUnavailable, ourNamespaces, PrivateNetwork } from "./netns.ts";

// Real partitions between real processes: each node and the client in a network namespace of its
// own (test/netns/netns.ts), links cut both ways and one way by blackhole rules in the router
// namespace between them (packets dropped silently in transit), healed again.
// The system as it is: a fixed leader (no failover), 3 followers, WRITE_QUORUM 2, so a leader
// read needs 2 followers (core/read-index.ts). The client's history (acknowledged writes, leader
// reads, 503s and timeouts as indeterminate) must be linearizable per key. Needs root: CI runs
// as root, so a machine where namespaces cannot be made FAILS here, with the reason.

const port = "7000";
const token = "netns-test-token";
let network: PrivateNetwork | undefined;
let setupError: Error | undefined;
let client: Client;
let leader: Host;
let followers: Host[] = [];
const history = new Map<string, Operation[]>();

interface Answer {
  status: number;
  body: Record<string, any> | null;
  invokeMs: number;
  responseMs: number;
}

/** Requests made by the agent in the client's namespace (test/netns/client-agent.ts). */
class Client {
  #nextId = 1;
  #waiting = new Map<number, (answer: Answer) => void>();

  constructor(private readonly agent: ReturnType<PrivateNetwork["spawn"]>) {
    void this.#readAnswers();
  }

  async #readAnswers(): Promise<void> {
    let buffered = "";
    for await (const chunk of this.agent.stdout) {
      buffered += new TextDecoder().decode(chunk);
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const answer = JSON.parse(buffered.slice(0, newline)) as Answer & { id: number };
        buffered = buffered.slice(newline + 1);
        this.#waiting.get(answer.id)?.(answer);
        this.#waiting.delete(answer.id);
        newline = buffered.indexOf("\n");
      }
    }
  }

  call(method: string, host: Host, path: string, body?: unknown, timeoutMs = 8000): Promise<Answer> {
    const id = this.#nextId++;
    const answer = new Promise<Answer>((resolve) => this.#waiting.set(id, resolve));
    this.agent.stdin.write(`${JSON.stringify({ id, method, url: `http://${host.address}:${port}${path}`, body, timeoutMs })}\n`);
    this.agent.stdin.flush();
    return answer;
  }
}

function record(key: string, operation: Operation): void {
  if (!history.has(key)) history.set(key, []);
  history.get(key)!.push(operation);
}

/** A write through the leader; 200 is acknowledged, anything else indeterminate (it may take effect later). */
async function write(key: string, value: number): Promise<Answer> {
  const answer = await client.call("PUT", leader, `/kv/${key}`, { value });
  const responseUs = answer.status === 200 ? answer.responseMs * 1000 : Number.POSITIVE_INFINITY;
  record(key, { kind: "write", value: JSON.stringify(value), invokeUs: answer.invokeMs * 1000, responseUs });
  return answer;
}

/** A read on the leader; a 503 has no effect and is not recorded. */
async function read(key: string): Promise<Answer> {
  const answer = await client.call("GET", leader, `/kv/${key}`);
  const value = answer.status === 200 ? JSON.stringify(answer.body!.value) : answer.status === 404 ? null : undefined;
  if (value !== undefined) record(key, { kind: "read", value, invokeUs: answer.invokeMs * 1000, responseUs: answer.responseMs * 1000 });
  return answer;
}

async function status(host: Host): Promise<Record<string, any>> {
  const answer = await client.call("GET", host, "/status", undefined, 2000);
  if (answer.status !== 200) throw new Error(`${host.name} /status answered ${answer.status}`);
  return answer.body!;
}

async function cutBothWays(a: Host, b: Host): Promise<void> {
  await network!.cut(a, b);
  await network!.cut(b, a);
}

async function healBothWays(a: Host, b: Host): Promise<void> {
  await network!.heal(a, b);
  await network!.heal(b, a);
}

/** Every follower holds the leader's whole log and the same state. */
async function converged(): Promise<boolean> {
  const expected = await status(leader);
  for (const follower of followers) {
    const seen = await status(follower);
    if (seen.lastOffset !== expected.lastOffset || seen.digest !== expected.digest) return false;
  }
  return true;
}

beforeAll(async () => {
  try {
    network = new PrivateNetwork();
    await network.open();
    const clientHost = await network.addHost("client");
    leader = await network.addHost("leader");
    followers = [await network.addHost("f1"), await network.addHost("f2"), await network.addHost("f3")];
    const common = { CLUSTER_TOKEN: token, PORT: port, MIN_DELAY_MS: "0", MAX_DELAY_MS: "0", QUORUM_TIMEOUT_MS: "1000" };
    const leaderUrl = `http://${leader.address}:${port}`;
    for (const follower of followers) {
      network.spawn(follower, "src/main.ts", { ...common, ROLE: "follower", NODE_ID: follower.name, HOST: follower.address, LEADER_URL: leaderUrl });
    }
    client = new Client(network.spawn(clientHost, "test/netns/client-agent.ts", {}, "pipe"));
    for (const follower of followers)
      await waitFor(`${follower.name} to serve`, async () => (await client.call("GET", follower, "/health", undefined, 500)).status === 200, 20_000, 100);
    const followerUrls = followers.map((follower) => `http://${follower.address}:${port}`).join(",");
    network.spawn(leader, "src/main.ts", { ...common, ROLE: "leader", NODE_ID: "leader", HOST: leader.address, FOLLOWERS: followerUrls, WRITE_QUORUM: "2" });
    await waitFor("the leader to serve", async () => (await client.call("GET", leader, "/health", undefined, 500)).status === 200, 20_000, 100);
  } catch (error) {
    setupError = error instanceof NetnsUnavailable ? error : new Error(`setting up the namespaces failed: ${(error as Error).message}`);
  }
}, 60_000);

afterAll(async () => {
  if (setupError instanceof NetnsUnavailable) return; // nothing was made
  await network?.close();
  if (network) expect(await ourNamespaces(network.prefix)).toEqual([]);
});

describe("partitions between namespaces", () => {
  test("the leader cut off from every follower: writes indeterminate, reads refused, nothing acknowledged lost", async () => {
    if (setupError) throw setupError;
    expect((await write("a", 1)).status).toBe(200);
    for (const follower of followers) await cutBothWays(leader, follower);
    const lost = await write("a", 2);
    expect([lost.status, lost.body?.error]).toEqual([503, "quorum_timeout"]);
    const refused = await read("a");
    expect([refused.status, refused.body?.error, refused.body?.reason]).toEqual([503, "stale_read", "unconfirmed"]);
    for (const follower of followers) await healBothWays(leader, follower);
    // The indeterminate write is in the log and commits once the followers are back.
    await waitFor("the leader to serve reads again", async () => (await read("a")).status === 200, 20_000, 200);
    expect((await read("a")).body?.value).toBe(2);
  }, 30_000);

  test("the leader cut off from a majority: no write acknowledged, no read served", async () => {
    if (setupError) throw setupError;
    await cutBothWays(leader, followers[1]!);
    await cutBothWays(leader, followers[2]!);
    const writes = await Promise.all([write("b", 1), write("b", 2)]);
    expect(writes.map((answer) => answer.status)).toEqual([503, 503]);
    const reads = await Promise.all([read("b"), read("b")]);
    expect(reads.map((answer) => answer.body?.reason)).toEqual(["unconfirmed", "unconfirmed"]);
    await healBothWays(leader, followers[1]!);
    await healBothWays(leader, followers[2]!);
    await waitFor("the leader to serve reads again", async () => (await read("b")).status === 200, 20_000, 200);
  }, 30_000);

  test("a follower cut off both ways: the others carry writes and reads; healed, it catches up", async () => {
    if (setupError) throw setupError;
    await cutBothWays(leader, followers[2]!);
    for (let value = 1; value <= 5; value++) expect((await write("c", value)).status).toBe(200);
    const reads = await Promise.all([read("c"), read("c"), read("c")]);
    expect(reads.map((answer) => [answer.status, answer.body?.value])).toEqual([
      [200, 5],
      [200, 5],
      [200, 5],
    ]);
    const behind = await client.call("GET", followers[2]!, `/kv/c?minOffset=${(await status(leader)).lastOffset}`);
    expect([behind.status, behind.body?.error]).toEqual([503, "stale_read"]);
    await healBothWays(leader, followers[2]!);
    await waitFor("every follower to converge", converged, 20_000, 200);
  }, 30_000);

  test("one way: the leader's messages to a follower dropped, then the follower's answers dropped", async () => {
    if (setupError) throw setupError;
    for (const [from, to] of [
      [leader, followers[0]!],
      [followers[0]!, leader],
    ] as const) {
      await network!.cut(from, to);
      for (const value of [1, 2]) {
        expect((await write("d", value)).status).toBe(200);
        const answer = await read("d");
        expect([answer.status, answer.body?.value]).toEqual([200, value]);
      }
      // The cut took effect: the follower lacks the writes, or the leader has not heard that it holds them.
      const { lastOffset, followers: seen } = await status(leader);
      const behind = from === leader ? (await status(followers[0]!)).lastOffset : seen[0].matchOffset;
      expect(behind).toBeLessThan(lastOffset);
      await network!.heal(from, to);
      await waitFor("every follower to converge", converged, 20_000, 200);
    }
  }, 40_000);

  test("the client's history is linearizable per key", () => {
    if (setupError) throw setupError;
    expect(history.size).toBe(4);
    for (const [key, operations] of history) expect({ key, ...checkRegister(operations) }).toEqual({ key, linearizable: true });
  });
});
