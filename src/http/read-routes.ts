import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import type { ServingNode } from "../node/serving-node.ts";
import { constants } from "../core/constants.ts";
import { ApiError } from "./errors.ts";
import { keyFromPath, keyRoute, queryHook, readQuerySchema } from "./input.ts";

/** How long `minOffset` waits for the offset to be applied here. */
const minOffsetWaitMs = 1000;

/** GET /kv/:key and the seed's GET /get/:key, on any node: committed values only. */
export function readRoutes(node: ServingNode): Hono {
  const app = new Hono();
  const read = (prefix: string) => async (c: Context) => {
    const key = keyFromPath(c, prefix, node.config.maxKeyBytes);
    const { minOffset } = readQuerySchema.parse(c.req.query()); // validated already; this types it
    const refusal = node.readRefusal;
    if (refusal) throw new ApiError(503, "stale_read", refusal.message, { reason: refusal.reason });
    // A recovered leader first commits what it took over (its read barrier), so it never serves
    // a state older than a write its predecessor acknowledged.
    const needed = Math.max(minOffset ?? 0, node.readBarrierOffset);
    // `applied` is what this node can vouch for (a follower's verified against its leader).
    if (needed > 0 && !node.applied.reached(needed)) {
      if (node.applied.full) {
        throw new ApiError(503, "overloaded", `${constants.offsetWatchersMax} reads are waiting for an offset already; retry later`, {
          bound: "offset watchers",
          limit: constants.offsetWatchersMax,
        });
      }
    }
    if (needed > 0 && !(await node.applied.waitFor(needed, minOffsetWaitMs))) {
      throw new ApiError(503, "stale_read", `this node has not applied offset ${needed} yet; retry or read from the leader`, {
        minOffset: needed,
        appliedOffset: node.state.appliedOffset,
      });
    }
    const stored = node.state.get(key);
    if (!stored) throw new ApiError(404, "not_found", "no such key", { key });
    // The value is kept as JSON text, so the answer is assembled rather than re-encoded.
    return c.body(`{"key":${JSON.stringify(key)},"value":${stored.value},"offset":${stored.offset}}`, 200, {
      "content-type": "application/json",
    });
  };
  const validateQuery = zValidator("query", readQuerySchema, queryHook);
  app.get(`/kv/${keyRoute}`, validateQuery, read("/kv/"));
  app.get(`/get/${keyRoute}`, validateQuery, read("/get/"));
  return app;
}

export function emptyKeyRoutes(): Hono {
  const app = new Hono();
  const refuse = () => {
    throw new ApiError(400, "invalid_key", "key must not be empty");
  };
  app.all("/kv/", refuse);
  app.all("/get/", refuse);
  return app;
}
