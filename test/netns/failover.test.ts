import { afterAll, beforeAll, expect, test } from "bun:test";
import { checkRegister, type Operation } from "../../src/sim/linearizability.ts";
import { waitFor } from "../helpers.ts";
import { type Host, NetnsUnavailable, ourNamespaces, PrivateNetwork } from "./netns.ts";

// Failover across real partitions (docs/failover.md): five PEERS nodes, each in a network
// namespace of its own (test/netns/netns.ts), WRITE_QUORUM 2, so an election needs 3 promises.
// The leader is cut off from every other node (the client still reaches it): a new leader is
// elected on the majority side and takes writes; the old one never acknowledges one; healed, it
// follows the new leader. The client's history must be linearizable. Root only, as partitions.test.ts.

const port = "7000";
const token = "netns-failover-token";
let network: PrivateNetwork | undefined;
let setupError: Error | undefined;
let agent: ReturnType<PrivateNetwork["spawn"]>;
let nodes: Host[] = [];
const history: Operation[] = [];
const waiting = new Map<number, (answer: Answer) => void>();
let nextId = 1;

interface Answer {
  status: number;
  body: Record<string, any> | null;
  invokeMs: number;
  responseMs: number;
}

async function readAnswers(): Promise<void> {
  let buffered = "";
  for await (const chunk of agent.stdout) {
    buffered += new TextDecoder().decode(chunk);
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
      const answer = JSON.parse(buffered.slice(0, newline)) as Answer & { id: number };
      buffered = buffered.slice(newline + 1);
      waiting.get(answer.id)?.(answer);
      waiting.delete(answer.id);
    }
  }
}

/** A request made from the client's namespace (test/netns/client-agent.ts). */
function call(method: string, host: Host, path: string, body?: unknown, timeoutMs = 3000): Promise<Answer> {
  const id = nextId++;
  const answer = new Promise<Answer>((resolve) => waiting.set(id, resolve));
  agent.stdin.write(`${JSON.stringify({ id, method, url: `http://${host.address}:${port}${path}`, body, timeoutMs })}\n`);
  agent.stdin.flush();
  return answer;
}

const urlOf = (host: Host) => `http://${host.address}:${port}`;

/** A write of one key: 200 acknowledged, anything but a refusal (421, 503 no_leader) indeterminate. */
async function write(host: Host, value: number): Promise<Answer> {
  const answer = await call("PUT", host, "/kv/x", { value });
  const refused = answer.status === 421 || answer.body?.error === "no_leader";
  if (!refused) {
    const responseUs = answer.status === 200 ? answer.responseMs * 1000 : Number.POSITIVE_INFINITY;
    history.push({ kind: "write", value: JSON.stringify(value), invokeUs: answer.invokeMs * 1000, responseUs });
  }
  return answer;
}

async function status(host: Host): Promise<Record<string, any> | null> {
  const answer = await call("GET", host, "/status", undefined, 1000);
  return answer.status === 200 ? answer.body : null;
}

beforeAll(async () => {
  try {
    network = new PrivateNetwork();
    await network.open();
    const clientHost = await network.addHost("client");
    for (const name of ["p0", "p1", "p2", "p3", "p4"]) nodes.push(await network.addHost(name));
    agent = network.spawn(clientHost, "test/netns/client-agent.ts", {}, "pipe");
    void readAnswers();
    const peers = nodes.map(urlOf).join(",");
    const common = { CLUSTER_TOKEN: token, PORT: port, PEERS: peers, WRITE_QUORUM: "2", MIN_DELAY_MS: "0", MAX_DELAY_MS: "0", QUORUM_TIMEOUT_MS: "1000" };
    nodes.forEach((node, index) =>
      network!.spawn(node, "src/main.ts", {
        ...common,
        ROLE: index === 0 ? "leader" : "follower",
        NODE_ID: node.name,
        HOST: node.address,
        ADVERTISE_URL: urlOf(node),
      }),
    );
    await waitFor("p0 to lead", async () => (await status(nodes[0]!))?.role === "leader", 30_000, 100);
  } catch (error) {
    setupError = error instanceof NetnsUnavailable ? error : new Error(`setting up the namespaces failed: ${(error as Error).message}`);
  }
}, 60_000);

afterAll(async () => {
  if (setupError instanceof NetnsUnavailable) return;
  await network?.close();
  if (network) expect(await ourNamespaces(network.prefix)).toEqual([]);
});

test("the leader cut off from every peer: the majority elects a new leader that takes writes; the old one acknowledges none; healed, it follows", async () => {
  if (setupError) throw setupError;
  const [old, ...others] = nodes as [Host, ...Host[]];
  expect((await write(old, 1)).status).toBe(200);
  for (const other of others) {
    await network!.cut(old, other);
    await network!.cut(other, old);
  }
  const successor = await waitFor(
    "a leader on the majority side",
    async () => {
      for (const other of others) if ((await status(other))?.role === "leader") return other;
      return null;
    },
    20_000,
    100,
  );
  expect((await write(successor, 2)).status).toBe(200);
  // Cut off, the old leader can commit nothing: every write it takes is in doubt, none acknowledged.
  const attempts = await Promise.all([write(old, 3), write(old, 4)]);
  for (const attempt of attempts) expect(attempt.status).not.toBe(200);
  expect((await write(successor, 5)).status).toBe(200);
  for (const other of others) {
    await network!.heal(old, other);
    await network!.heal(other, old);
  }
  const successorUrl = urlOf(successor);
  await waitFor("the old leader to follow the new one", async () => (await status(old))?.leader === successorUrl, 20_000, 100);
  const read = await call("GET", successor, "/kv/x");
  expect(read.status).toBe(200);
  history.push({ kind: "read", value: JSON.stringify(read.body!.value), invokeUs: read.invokeMs * 1000, responseUs: read.responseMs * 1000 });
  expect(checkRegister(history)).toEqual({ linearizable: true });
  await waitFor(
    "every node to hold the new leader's state",
    async () => {
      const digests = await Promise.all(nodes.map(async (node) => (await status(node))?.digest));
      return digests.every((digest) => digest === digests[nodes.indexOf(successor)]);
    },
    20_000,
    200,
  );
}, 90_000);
