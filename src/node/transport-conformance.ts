import { describe, expect, test } from "bun:test";
import type { FollowerPosition } from "../core/recovery.ts";
import type { Entry, RecoveryData, ReplicateMessage, ReplicateReply, SnapshotReply } from "../core/types.ts";
import type { FollowerNode } from "./follower-node.ts";
import { type Answer, type Transport, type TransportReply, TransportError } from "./transport.ts";

/** One Transport wired to one FollowerNode, as a conformance run needs it. */
export interface TransportUnderTest {
  transport: Transport;
  /** The follower's address, and one where nobody answers. */
  url: string;
  unreachableUrl: string;
  follower: FollowerNode;
  /** Starts a call and gives its answer once `done` was called (a simulator runs its agenda for it). */
  call<Value>(start: (done: Answer<Value>) => void): Promise<Value | TransportError>;
  stop(): Promise<void> | void;
}

const timeoutMs = 5000;

function entries(from: number, to: number, epoch = 1): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({ offset: from + i, epoch, key: `k${from + i}`, value: JSON.stringify(from + i) }));
}

function message(prevOffset: number, carried: Entry[], commitOffset: number, epoch = 1): ReplicateMessage {
  return { epoch, leaderId: "L", prevOffset, prevEpoch: prevOffset === 0 ? 0 : epoch, entries: carried, commitOffset };
}

function value<Value>(answer: Value | TransportError): Value {
  if (answer instanceof TransportError) throw answer;
  return answer;
}

/**
 * What every Transport must do, whatever carries it (unjs/unstorage's shared driver test): the
 * WebSocket stream and HTTP in production, the simulated network in src/sim. Each test gets a
 * fresh follower from `setUp`.
 */
export function transportConformance(name: string, setUp: () => Promise<TransportUnderTest>): void {
  describe(`Transport conformance: ${name}`, () => {
    const withFollower = (title: string, body: (under: TransportUnderTest) => Promise<void>) =>
      test(title, async () => {
        const under = await setUp();
        try {
          await body(under);
        } finally {
          await under.stop();
        }
      });

    withFollower("replicate: the follower appends and answers ok with its incarnation; commit makes entries visible", async (under) => {
      const { transport, url, follower } = under;
      const answer = value(await under.call<TransportReply<ReplicateReply>>((done) => transport.replicate(url, message(0, entries(1, 3), 2), timeoutMs, done)));
      expect(answer.reply).toEqual({ kind: "ok", lastOffset: 3, incarnation: follower.core.incarnation });
      expect(follower.lastOffset).toBe(3);
      expect(follower.state.appliedOffset).toBe(2);
    });

    withFollower("replicate: a message that arrives ahead of a gap is answered once the gap fills, and both are ok", async (under) => {
      const { transport, url, follower } = under;
      const ahead = under.call<TransportReply<ReplicateReply>>((done) => transport.replicate(url, message(2, entries(3, 4), 0), timeoutMs, done));
      const first = under.call<TransportReply<ReplicateReply>>((done) => transport.replicate(url, message(0, entries(1, 2), 0), timeoutMs, done));
      expect(value(await first).reply).toMatchObject({ kind: "ok", lastOffset: 2 });
      expect(value(await ahead).reply).toMatchObject({ kind: "ok", lastOffset: 4 });
      expect(follower.lastOffset).toBe(4);
    });

    withFollower("fence: the position before, then the old epoch is refused with stale_epoch", async (under) => {
      const { transport, url, follower } = under;
      // The write quorum in force travels with the message, and the fence reports it (W is replicated state).
      const carrying = { ...message(0, entries(1, 2), 1), writeQuorum: 4 };
      value(await under.call<TransportReply<ReplicateReply>>((done) => transport.replicate(url, carrying, timeoutMs, done)));
      const position = value(await under.call<FollowerPosition>((done) => transport.fence(url, 5, "L2", timeoutMs, done)));
      expect(position).toEqual({ url, epoch: 1, lastOffset: 2, lastEntryEpoch: 1, appliedOffset: 1, writeQuorumFloor: null, writeQuorum: 4 });
      expect(follower.epoch).toBe(5);
      const refused = value(await under.call<TransportReply<ReplicateReply>>((done) => transport.replicate(url, message(2, [], 2), timeoutMs, done)));
      expect(refused.reply).toEqual({ kind: "stale_epoch", epoch: 5 });
    });

    withFollower("snapshot: chunks in order, chunk_ok then ok; the state is replaced", async (under) => {
      const { transport, url, follower } = under;
      const chunk = (index: number, done: boolean) => ({
        epoch: 1,
        leaderId: "L",
        snapshotOffset: 10,
        snapshotEpoch: 1,
        chunk: index,
        pairs: [[`s${index}`, JSON.stringify(index), 10 - index] as [string, string, number]],
        done,
        commitOffset: 10,
      });
      const first = value(await under.call<TransportReply<SnapshotReply>>((done) => transport.snapshot(url, chunk(0, false), timeoutMs, done)));
      expect(first.reply).toEqual({ kind: "chunk_ok", chunk: 0, incarnation: follower.core.incarnation });
      const last = value(await under.call<TransportReply<SnapshotReply>>((done) => transport.snapshot(url, chunk(1, true), timeoutMs, done)));
      expect(last.reply).toEqual({ kind: "ok", lastOffset: 10, incarnation: follower.core.incarnation });
      expect([...follower.state.entries()].map(([key]) => key).sort()).toEqual(["s0", "s1"]);
    });

    withFollower("recover: the applied state and the entries held beyond it", async (under) => {
      const { transport, url } = under;
      value(await under.call<TransportReply<ReplicateReply>>((done) => transport.replicate(url, message(0, entries(1, 4), 2), timeoutMs, done)));
      const data = value(await under.call<RecoveryData>((done) => transport.recover(url, timeoutMs, done)));
      expect(data).toEqual({
        epoch: 1,
        appliedOffset: 2,
        appliedEpoch: 1,
        pairs: [
          ["k1", "1", 1],
          ["k2", "2", 2],
        ],
        entries: entries(3, 4),
      });
    });

    withFollower("an unreachable follower is a TransportError, answered once", async (under) => {
      const { transport, unreachableUrl } = under;
      let calls = 0;
      const answer = await under.call<TransportReply<ReplicateReply>>((done) =>
        transport.replicate(unreachableUrl, message(0, entries(1, 1), 0), 1000, (result) => {
          calls++;
          done(result);
        }),
      );
      expect(answer).toBeInstanceOf(TransportError);
      expect(await under.call<FollowerPosition>((done) => transport.fence(unreachableUrl, 2, "L", 1000, done))).toBeInstanceOf(TransportError);
      expect(calls).toBe(1);
    });
  });
}
