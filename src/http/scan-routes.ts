import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { type ReadGate, whenReadable } from "../node/read.ts";
import type { ServingNode } from "../node/serving-node.ts";
import { nodeTimings } from "../node/timings.ts";
import { integerText, queryHook } from "./input.ts";
import { unreadableError } from "./read-routes.ts";

/** Pairs one scan answers at most (SCAN_LIMIT_MAX), and by default. */
export const scanLimitMax = 1000;
export const scanLimitDefault = 100;

/**
 * GET /kv?prefix=&after=&limit=&minOffset= on any node: committed pairs in key order (UTF-16 code
 * units, JavaScript's string order), from the state's ordered index, never a copy of the keyspace.
 * `next` (the last key returned) is there when more may follow: pass it as `after`. Each page is
 * read at the node's applied offset, given as `appliedOffset` (pass it as `minOffset` to the next
 * page for reads that never go back).
 */
export function scanRoutes(node: ServingNode): Hono {
  const app = new Hono();
  const bounded = z.string().max(node.config.maxKeyBytes, `must be at most ${node.config.maxKeyBytes} characters`);
  const querySchema = z.object({
    prefix: bounded.default(""),
    after: bounded.optional(),
    limit: integerText(1, scanLimitMax).default(scanLimitDefault),
    minOffset: integerText(0, Number.MAX_SAFE_INTEGER).optional(),
  });
  app.get("/kv", zValidator("query", querySchema, queryHook), async (c) => {
    const { prefix, after, limit, minOffset } = c.req.valid("query");
    const gate = await new Promise<ReadGate>((resolve) => whenReadable(node, minOffset ?? 0, nodeTimings.readWaitMs, resolve));
    if (gate.kind !== "readable") throw unreadableError(gate);
    // One more than asked says whether another page follows.
    const pairs = node.state.scan(prefix, after ?? null, limit + 1);
    const more = pairs.length > limit;
    if (more) pairs.pop();
    // Values are JSON text: the answer is assembled rather than re-encoded.
    const items = pairs.map(([key, stored]) => `{"key":${JSON.stringify(key)},"value":${stored.value},"offset":${stored.offset}}`);
    const next = more ? `,"next":${JSON.stringify(pairs.at(-1)![0])}` : "";
    return c.body(`{"items":[${items.join(",")}],"appliedOffset":${node.state.appliedOffset}${next}}`, 200, { "content-type": "application/json" });
  });
  return app;
}
