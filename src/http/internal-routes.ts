import { Hono } from "hono";
import { z } from "zod";
import { constants } from "../core/constants.ts";
import { txnOpsMax } from "../core/txn.ts";
import { FollowerNode } from "../node/follower-node.ts";
import type { ServingNode } from "../node/serving-node.ts";
import { ApiError } from "./errors.ts";
import { keySchema, parseBody, readJson } from "./input.ts";
import { epochProblem, replicateProblem, snapshotProblem } from "../core/peer-bounds.ts";
import { recoveryLines } from "../node/transport.ts";
import type { Entry, ReplicateMessage, ReplicateReply, SnapshotReply } from "../core/types.ts";

/** Streams lines as NDJSON, a thousand lines a chunk, pulled as the client reads. */
function ndjsonStream(lines: Iterator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      let chunk = "";
      for (let i = 0; i < 1000; i++) {
        const next = lines.next();
        if (next.done) {
          if (chunk) controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        chunk += `${next.value}\n`;
      }
      controller.enqueue(encoder.encode(chunk));
    },
  });
}

const offset = z.number().int().min(0);

/** A JSON string with nothing escaped: valid JSON text, known without parsing it (the common value). */
const plainJsonString = /^"[^"\\\u0000-\u001f]*"$/;

/** A stored value is JSON text; anything else would make GET and dump answer broken JSON. */
function isJsonText(text: string): boolean {
  if (plainJsonString.test(text)) return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
const jsonText = z.string().refine(isJsonText, "value must be JSON text");

/** A transaction as a log entry carries it (keys are checked against the follower's limit in core/peer-bounds.ts). */
const txnOpSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("put"), key: z.string(), value: jsonText }),
  z.object({ op: z.literal("delete"), key: z.string() }),
  z.object({ op: z.literal("get"), key: z.string() }),
]);
const txnEntrySchema = z
  .object({ compare: z.array(z.object({ key: z.string(), offset })), success: z.array(txnOpSchema), failure: z.array(txnOpSchema) })
  .refine((txn) => txn.compare.length + txn.success.length + txn.failure.length <= txnOpsMax, `at most ${txnOpsMax} comparisons and operations`);

/**
 * A log entry's shape; its numbers and value are checked by replicateMessageSchema in one pass
 * over the batch, which costs a fraction of a zod check per field on every entry (the follower's
 * hottest validation: BENCHMARKS.md, issue 16).
 */
const entrySchema = z.object({
  offset: z.number(),
  epoch: z.number(),
  key: z.string(),
  value: z.string().nullable(),
  ifOffset: z.number().optional(),
  txn: txnEntrySchema.optional(),
});

/** A whole number within `min`..`max`, as `z.number().int().min(min).max(max)` accepts (int means a safe integer). */
const wholeIn = (value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): value is number =>
  Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;

const isWholeNumber = (value: unknown): value is number => wholeIn(value, 0);

/** What is wrong with an entry expected at `expectedOffset` (prevOffset is checked: a contiguous offset is a whole number ≥ 1), or null. */
function entryProblem(entry: z.output<typeof entrySchema>, expectedOffset: number): { field: string; message: string } | null {
  if (entry.offset !== expectedOffset) return { field: "offset", message: "entries must follow prevOffset without holes" };
  if (!isWholeNumber(entry.epoch)) return { field: "epoch", message: "epoch must be a whole number" };
  if (entry.ifOffset !== undefined && !isWholeNumber(entry.ifOffset)) return { field: "ifOffset", message: "ifOffset must be a whole number" };
  if (entry.value !== null && !isJsonText(entry.value)) return { field: "value", message: "value must be JSON text" };
  return null;
}

export const replicateMessageSchema = z
  .object({
    epoch: z.number().int().min(0),
    leaderId: z.string(),
    prevOffset: offset,
    prevEpoch: z.number().int().min(-1),
    entries: z.array(entrySchema).max(constants.batchEntriesMax),
    commitOffset: offset,
    writeQuorumFloor: z.number().int().min(0).max(constants.followersMax).optional(),
    writeQuorum: z.number().int().min(0).max(constants.followersMax).optional(),
  })
  .superRefine((message, context) => {
    for (let index = 0; index < message.entries.length; index++) {
      const problem = entryProblem(message.entries[index]!, message.prevOffset + 1 + index);
      if (problem) {
        context.addIssue({ code: "custom", path: ["entries", index, problem.field], message: problem.message });
        return;
      }
    }
  });

/**
 * The common replicate message checked by hand, without zod: plain entries (no transaction) whose
 * fields have exactly the types replicateMessageSchema asks for and pass its one-pass check. It
 * accepts only what the schema accepts and returns what the schema would (the known fields, in
 * fresh objects), and null for anything else, which the schema then decides and words the error
 * of. zod's object check of every entry cost the followers about a quarter of their CPU per write
 * at zero delay (BENCHMARKS.md, issue 16).
 */
export function plainReplicateMessage(input: unknown): ReplicateMessage | null {
  if (typeof input !== "object" || input === null) return null;
  const m = input as Record<string, unknown>;
  const { epoch, leaderId, prevOffset, prevEpoch, entries: raw, commitOffset, writeQuorumFloor, writeQuorum } = m;
  if (!wholeIn(epoch, 0) || typeof leaderId !== "string" || !wholeIn(prevOffset, 0) || !wholeIn(prevEpoch, -1) || !wholeIn(commitOffset, 0)) return null;
  if (writeQuorumFloor !== undefined && !wholeIn(writeQuorumFloor, 0, constants.followersMax)) return null;
  if (writeQuorum !== undefined && !wholeIn(writeQuorum, 0, constants.followersMax)) return null;
  if (!Array.isArray(raw) || raw.length > constants.batchEntriesMax) return null;
  const entries: Entry[] = new Array(raw.length);
  for (let index = 0; index < raw.length; index++) {
    const item: unknown = raw[index];
    if (typeof item !== "object" || item === null) return null;
    const { offset, epoch: entryEpoch, key, value, ifOffset, txn } = item as Record<string, unknown>;
    if (txn !== undefined || typeof offset !== "number" || typeof entryEpoch !== "number" || typeof key !== "string") return null;
    if ((value !== null && typeof value !== "string") || (ifOffset !== undefined && typeof ifOffset !== "number")) return null;
    const entry: Entry = ifOffset === undefined ? { offset, epoch: entryEpoch, key, value } : { offset, epoch: entryEpoch, key, value, ifOffset };
    if (entryProblem(entry, prevOffset + 1 + index)) return null;
    entries[index] = entry;
  }
  const message: ReplicateMessage = { epoch, leaderId, prevOffset, prevEpoch, entries, commitOffset };
  if (writeQuorumFloor !== undefined) message.writeQuorumFloor = writeQuorumFloor;
  if (writeQuorum !== undefined) message.writeQuorum = writeQuorum;
  return message;
}

export const snapshotChunkSchema = z
  .object({
    epoch: z.number().int().min(0),
    leaderId: z.string(),
    snapshotOffset: offset,
    snapshotEpoch: z.number().int().min(0),
    chunk: z.number().int().min(0),
    pairs: z.array(z.tuple([z.string(), jsonText, offset.min(1)])),
    done: z.boolean(),
    commitOffset: offset,
  })
  .refine((chunk) => chunk.pairs.every(([, , pairOffset]) => pairOffset <= chunk.snapshotOffset), "a pair is newer than the snapshot")
  .refine((chunk) => new Set(chunk.pairs.map(([key]) => key)).size === chunk.pairs.length, "a key appears twice in the chunk");

/** Digest and dump on every node (behind the cluster token, mounted under /internal). */
export function inspectionRoutes(node: ServingNode): Hono {
  const app = new Hono();
  app.get("/internal/digest", (c) =>
    c.json({
      id: node.config.nodeId,
      role: node.role,
      epoch: node.epoch,
      lastOffset: node.lastOffset,
      lastEntryEpoch: node.lastEntryEpoch,
      commitOffset: node.commitOffset,
      ...node.state.digest(),
    }),
  );
  // Newline-delimited JSON, one {key, value, offset} per line, streamed in chunks.
  app.get("/internal/dump", (c) => {
    const lines = (function* () {
      for (const [key, stored] of node.state.entries()) {
        yield `{"key":${JSON.stringify(key)},"value":${stored.value},"offset":${stored.offset}}`;
      }
    })();
    return c.body(ndjsonStream(lines), 200, {
      "content-type": "application/x-ndjson",
      "x-applied-offset": String(node.state.appliedOffset),
    });
  });
  return app;
}

/** 400 invalid_message for what no honest peer sends (core/peer-bounds.ts). */
function refuseDishonest(problem: string | null): void {
  if (problem) throw new ApiError(400, "invalid_message", problem);
}

/**
 * Why no honest peer announces `epoch` to `node`, or null. Checked before the lookup, as among
 * PEERS a leader steps down for a newer epoch: a message refused after that had deposed it.
 */
export function implausibleEpoch(node: { epoch: number; lastOffset: number }, epoch: number): string | null {
  return Number.isSafeInteger(epoch) ? epochProblem(node, epoch) : `epoch ${epoch} is not a whole number`;
}

/** Keys a follower remembers as checked (per key limit): a workload writes the same keys again and again. */
const checkedClientKeysMax = 4096;
const clientKeyChecks = new Map<number, (key: string) => boolean>();

/** Whether a key is one a client could write on this node (the same rules as PUT /kv/:key). */
function clientKeyCheck(maxKeyBytes: number): (key: string) => boolean {
  let check = clientKeyChecks.get(maxKeyBytes);
  if (!check) {
    const schema = keySchema(maxKeyBytes);
    const checked = new Set<string>();
    check = (key) => {
      if (checked.has(key)) return true;
      if (!schema.safeParse(key).success) return false;
      if (checked.size >= checkedClientKeysMax) checked.clear();
      checked.add(key);
      return true;
    };
    clientKeyChecks.set(maxKeyBytes, check);
  }
  return check;
}

/** A replication answer: a status and the JSON body, as the HTTP route and the stream send it. */
export interface ReplicationAnswer {
  status: 200 | 400 | 409;
  body: Record<string, unknown>;
}

/**
 * The follower's handling of a replicate message or a snapshot chunk, shared by
 * `POST /internal/replicate|snapshot` and the `/internal/stream` WebSocket.
 */
export async function answerReplication(follower: FollowerNode, kind: "replicate" | "snapshot", input: unknown): Promise<ReplicationAnswer> {
  const nodeId = follower.config.nodeId;
  const refuse = (error: ApiError): ReplicationAnswer => ({
    status: error.status as 400 | 409,
    body: { error: error.code, message: error.message, ...error.details },
  });
  try {
    const position = { epoch: follower.epoch, lastOffset: follower.lastOffset };
    const isClientKey = clientKeyCheck(follower.config.maxKeyBytes);
    if (kind === "replicate") {
      const message = plainReplicateMessage(input) ?? parseBody(replicateMessageSchema, input, "invalid_message");
      refuseDishonest(replicateProblem(position, message, isClientKey));
      const reply = await new Promise<ReplicateReply>((resolve) => follower.replicate(message, resolve));
      switch (reply.kind) {
        case "ok":
          return { status: 200, body: { lastOffset: reply.lastOffset, incarnation: reply.incarnation, nodeId } };
        case "gap":
          if (reply.diverged) {
            return refuse(
              new ApiError(409, "gap", "this follower applied writes the leader's log does not have; it needs a snapshot", {
                lastOffset: reply.lastOffset,
                incarnation: reply.incarnation,
                diverged: true,
                nodeId,
              }),
            );
          }
          return refuse(
            new ApiError(409, "gap", `expected offset ${reply.lastOffset + 1}, got a message after ${message.prevOffset}`, {
              lastOffset: reply.lastOffset,
              incarnation: reply.incarnation,
              nodeId,
            }),
          );
        case "stale_epoch":
          return refuse(new ApiError(409, "stale_epoch", `epoch ${message.epoch} is older than ${reply.epoch}`, { epoch: reply.epoch, nodeId }));
      }
    }
    const chunk = parseBody(snapshotChunkSchema, input, "invalid_message");
    refuseDishonest(snapshotProblem(position, chunk, isClientKey));
    const reply = await new Promise<SnapshotReply>((resolve) => follower.receiveSnapshot(chunk, resolve));
    switch (reply.kind) {
      case "ok":
        return { status: 200, body: { lastOffset: reply.lastOffset, incarnation: reply.incarnation, nodeId } };
      case "chunk_ok":
        return { status: 200, body: { chunk: reply.chunk, incarnation: reply.incarnation, nodeId } };
      case "gap":
        return refuse(
          new ApiError(409, "gap", `snapshot chunk ${chunk.chunk} out of order; start the snapshot over`, {
            lastOffset: reply.lastOffset,
            incarnation: reply.incarnation,
            nodeId,
          }),
        );
      case "stale_epoch":
        return refuse(new ApiError(409, "stale_epoch", `epoch ${chunk.epoch} is older than ${reply.epoch}`, { epoch: reply.epoch, nodeId }));
    }
  } catch (error) {
    if (error instanceof ApiError) return refuse(error);
    throw error;
  }
}

/**
 * Among PEERS the follower that handles a peer message depends on its epoch: a leader meeting a
 * newer one steps down first (PeerNode.followerFor); an older one is a stale leader's or
 * candidate's and hears this leader's epoch.
 */
export interface FollowerLookup {
  followerFor(epoch: number): FollowerNode | { leaderEpoch: number };
  readonly current: ServingNode;
}

/** The follower's end of replication: log entries, snapshot chunks, and recovery by a restarting leader. */
export function replicateRoutes(target: FollowerNode | FollowerLookup): Hono {
  const app = new Hono();
  const lookup: FollowerLookup = "followerFor" in target ? target : { followerFor: () => target, current: target };
  const nodeId = lookup.current.config.nodeId;
  const staleEpoch = (epoch: number, leaderEpoch: number) =>
    new ApiError(409, "stale_epoch", `epoch ${epoch} is older than this leader's ${leaderEpoch}`, { epoch: leaderEpoch, nodeId });
  for (const kind of ["replicate", "snapshot"] as const) {
    app.post(`/internal/${kind}`, async (c) => {
      const body = await readJson(c);
      const epoch = (body as { epoch?: unknown } | null)?.epoch;
      if (typeof epoch === "number") refuseDishonest(implausibleEpoch(lookup.current, epoch));
      const follower = lookup.followerFor(typeof epoch === "number" ? epoch : 0);
      if (!(follower instanceof FollowerNode)) throw staleEpoch(Number(epoch), follower.leaderEpoch);
      const answer = await answerReplication(follower, kind, body);
      return c.json(answer.body, answer.status);
    });
  }
  // A restarting leader (or, among PEERS, a candidate) fences: the follower reports its position, then adopts the new epoch.
  const fenceSchema = z.object({ epoch: z.number().int().min(1), leaderId: z.string() });
  app.post("/internal/fence", async (c) => {
    const { epoch, leaderId } = parseBody(fenceSchema, await readJson(c), "invalid_message");
    refuseDishonest(implausibleEpoch(lookup.current, epoch));
    const follower = lookup.followerFor(epoch);
    if (!(follower instanceof FollowerNode)) {
      // A leader at this epoch or a newer one: its epoch refuses the vote.
      const node = lookup.current;
      const position = {
        epoch: follower.leaderEpoch,
        lastOffset: node.lastOffset,
        lastEntryEpoch: node.lastEntryEpoch,
        appliedOffset: node.state.appliedOffset,
      };
      return c.json({ ...position, writeQuorumFloor: null, writeQuorum: null, nodeId });
    }
    const position = await new Promise<object>((resolve) => follower.fence(epoch, leaderId, resolve));
    return c.json({ ...position, nodeId });
  });
  app.get("/internal/recover", (c) => {
    const follower = lookup.followerFor(0);
    if (!(follower instanceof FollowerNode)) throw staleEpoch(0, follower.leaderEpoch);
    const lines = recoveryLines(follower.recoveryData());
    return c.body(ndjsonStream(lines), 200, { "content-type": "application/x-ndjson" });
  });
  return app;
}
