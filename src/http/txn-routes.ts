import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { type TxnOpResult, txnOpsMax } from "../core/txn.ts";
import type { LeaderNode } from "../node/leader-node.ts";
import { ApiError } from "./errors.ts";
import { keySchema, parseBody, queryHook, readJson, valueSchema, writeQuerySchema } from "./input.ts";
import { unsettledError } from "./write-routes.ts";

/** The body of POST /txn (its size is bounded by MAX_VALUE_BYTES like every body). */
export function txnSchema(maxKeyBytes: number) {
  const key = keySchema(maxKeyBytes);
  const op = z.discriminatedUnion("op", [
    z.object({ op: z.literal("put"), key, value: valueSchema }),
    z.object({ op: z.literal("delete"), key }),
    z.object({ op: z.literal("get"), key }),
  ]);
  return z
    .object({
      compare: z.array(z.object({ key, offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) })).default([]),
      success: z.array(op).default([]),
      failure: z.array(op).default([]),
    })
    .strict()
    .refine((txn) => txn.compare.length + txn.success.length + txn.failure.length <= txnOpsMax, {
      message: `a transaction holds at most ${txnOpsMax} comparisons and operations in all (TXN_OPS_MAX)`,
    });
}

/**
 * POST /txn on the leader: etcd's Txn. One log entry, decided when applied (in log order, on
 * every node alike): if every comparison holds, `success` runs, else `failure`.
 */
export function txnRoutes(leader: LeaderNode): Hono {
  const app = new Hono();
  const schema = txnSchema(leader.config.maxKeyBytes);
  const querySchema = writeQuerySchema(leader.followerUrls.length).omit({ ifOffset: true });
  app.post("/txn", zValidator("query", querySchema, queryHook), async (c) => {
    const txn = parseBody(schema, await readJson(c), "invalid_txn");
    const outcome = await leader.write("", null, { ...c.req.valid("query"), condition: { txn } });
    if (outcome.kind !== "committed") throw unsettledError(outcome);
    const decided = outcome.decided;
    if (decided?.kind !== "txn") throw new ApiError(500, "internal", `transaction at offset ${outcome.offset} was applied without an outcome`);
    return c.json({ succeeded: decided.succeeded, offset: outcome.offset, acks: outcome.acks, results: decided.results.map(showResult) });
  });
  return app;
}

/** A result as the client sees it: a get's value as JSON, `found` saying whether the key existed. */
function showResult(result: TxnOpResult): Record<string, unknown> {
  if (result.op !== "get") return result;
  if (result.value === undefined) return { op: "get", key: result.key, found: false };
  return { op: "get", key: result.key, found: true, value: JSON.parse(result.value) as unknown, offset: result.offset };
}
