import { afterEach, expect, test } from "bun:test";
import { freePort } from "../../src/cluster.ts";
import { IndeterminateError, LeaderClient, NoLeaderError } from "./leader-client.ts";

/**
 * Fake nodes on free ports: each answers GET /status with what the test says it is, and every
 * write with 200, 421 {leader} or 503 no_leader accordingly. The tests count what each received.
 */
interface FakeNode {
  url: string;
  /** What the node says in /status; writes are answered from it. */
  state: { role: "leader" | "follower" | "candidate"; epoch?: number; leader?: string | null; peers?: string[] };
  writes: number;
  statusPolls: number;
  stop(): void;
}

const started: FakeNode[] = [];
afterEach(() => {
  for (const node of started.splice(0)) node.stop();
});

function fakeNode(state: FakeNode["state"], onStatus?: (node: FakeNode) => void): FakeNode {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/status") {
        node.statusPolls++;
        onStatus?.(node);
        return Response.json({ id: node.url, ...node.state, followers: [] });
      }
      node.writes++;
      if (node.state.role === "leader") return Response.json({ key: path.slice(4), offset: node.writes, acks: 1 });
      if (node.state.leader) return Response.json({ error: "not_leader", message: "not the leader", leader: node.state.leader }, { status: 421 });
      return Response.json({ error: "no_leader", message: "an election is under way" }, { status: 503 });
    },
  });
  const node: FakeNode = { url: `http://127.0.0.1:${server.port}`, state, writes: 0, statusPolls: 0, stop: () => server.stop(true) };
  started.push(node);
  return node;
}

const put = { method: "PUT", body: JSON.stringify({ value: "v" }), headers: { "content-type": "application/json" } };

test("a single fixed-role leader: one request per write, no status polled", async () => {
  const leader = fakeNode({ role: "leader" });
  const client = new LeaderClient({ leaderUrl: leader.url });
  for (let i = 0; i < 3; i++) expect((await client.send("/kv/a", put)).status).toBe(200);
  expect({ writes: leader.writes, statusPolls: leader.statusPolls }).toEqual({ writes: 3, statusPolls: 0 });
});

test("421: the write goes to the leader named, and so do the next ones", async () => {
  const leader = fakeNode({ role: "leader", epoch: 2 });
  const follower = fakeNode({ role: "follower", epoch: 2, leader: leader.url });
  const client = new LeaderClient({ leaderUrl: follower.url });
  const answer = await client.send("/kv/a", put);
  expect(answer).toMatchObject({ status: 200, url: leader.url });
  expect(client.leaderUrl).toBe(leader.url);
  await client.send("/kv/b", put);
  expect({ follower: follower.writes, leader: leader.writes }).toEqual({ follower: 1, leader: 2 });
  // Followed from the answer itself: nobody's /status was needed.
  expect(follower.statusPolls + leader.statusPolls).toBe(0);
});

test("503 no_leader: the nodes are polled until one leads, then the write goes there", async () => {
  const candidate = fakeNode({ role: "candidate", epoch: 3, leader: null });
  // The other node wins the election once the client has polled the candidate three times.
  const winner = fakeNode({ role: "candidate", epoch: 3, leader: null });
  const onPoll = (node: FakeNode) => {
    if (node.statusPolls >= 3) winner.state = { role: "leader", epoch: 4 };
  };
  const polled = fakeNode({ role: "follower", epoch: 3, leader: null }, onPoll);
  const client = new LeaderClient({ leaderUrl: candidate.url, nodeUrls: [polled.url, winner.url] });
  const answer = await client.send("/kv/a", put);
  expect(answer).toMatchObject({ status: 200, url: winner.url });
  expect(candidate.writes).toBe(1);
  expect(polled.statusPolls).toBeGreaterThanOrEqual(3);
  expect(winner.writes).toBe(1);
});

test("a refused connection (the leader was killed): another node that leads takes the write", async () => {
  const dead = `http://127.0.0.1:${freePort()}`;
  const leader = fakeNode({ role: "leader", epoch: 5 });
  const client = new LeaderClient({ leaderUrl: dead, nodeUrls: [leader.url] });
  expect(await client.send("/kv/a", put)).toMatchObject({ status: 200, url: leader.url });
});

test("nodes the client did not know are learnt from the peers a node lists in /status", async () => {
  const leader = fakeNode({ role: "leader", epoch: 7 });
  const follower = fakeNode({ role: "follower", epoch: 7, leader: null });
  follower.state.peers = [follower.url, leader.url];
  const client = new LeaderClient({ leaderUrl: follower.url });
  expect(await client.send("/kv/a", put)).toMatchObject({ status: 200, url: leader.url });
  expect(client.nodeUrls.sort()).toEqual([follower.url, leader.url].sort());
});

test("two nodes claim to lead: the higher epoch wins (the other was deposed and does not know it)", async () => {
  const deposed = fakeNode({ role: "leader", epoch: 3 });
  const current = fakeNode({ role: "leader", epoch: 4 });
  const client = new LeaderClient({ leaderUrl: deposed.url, nodeUrls: [current.url] });
  expect(await client.findLeader()).toBe(current.url);
});

test("no leader within the bound: a NoLeaderError that names the bound and what each node said", async () => {
  const a = fakeNode({ role: "candidate", epoch: 1, leader: null });
  const b = fakeNode({ role: "follower", epoch: 1, leader: null });
  const dead = `http://127.0.0.1:${freePort()}`;
  const client = new LeaderClient({ leaderUrl: a.url, nodeUrls: [b.url, dead], leaderWaitMs: 300 });
  const error = await client.send("/kv/a", put).catch((thrown: Error) => thrown);
  expect(error).toBeInstanceOf(NoLeaderError);
  expect((error as Error).message).toContain("within 300 ms (leader wait bound)");
  expect((error as Error).message).toContain(`${a.url} candidate, ${b.url} follower, ${dead} unreachable`);
  // It kept polling while it waited, and sent the write nowhere else.
  expect(b.statusPolls).toBeGreaterThan(1);
  expect({ a: a.writes, b: b.writes }).toEqual({ a: 1, b: 0 });
});

test("the connection breaks after the write was sent: indeterminate, and not sent again", async () => {
  let received = 0;
  // A leader that dies with the write in hand: it reads the request, then drops the connection.
  const dying = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        received++;
        socket.terminate();
      },
    },
  });
  const other = fakeNode({ role: "leader", epoch: 9 });
  try {
    const client = new LeaderClient({ leaderUrl: `http://127.0.0.1:${dying.port}`, nodeUrls: [other.url] });
    const error = await client.send("/kv/a", put).catch((thrown: Error) => thrown);
    expect(error).toBeInstanceOf(IndeterminateError);
    expect((error as IndeterminateError).code).toBe("ECONNRESET");
    expect({ received, resent: other.writes }).toEqual({ received: 1, resent: 0 });
  } finally {
    dying.stop(true);
  }
});
