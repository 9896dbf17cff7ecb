import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import type { ServingNode } from "../node/serving-node.ts";
import { constants } from "../core/constants.ts";
import { nodeTimings } from "../node/timings.ts";
import { type ReadResult, readCommitted } from "../node/read.ts";
import { ApiError } from "./errors.ts";
import { keyFromPath, keyRoute, queryHook, readQuerySchema } from "./input.ts";

/** GET /kv/:key and the seed's GET /get/:key, on any node: committed values only. */
export function readRoutes(node: ServingNode): Hono {
  const app = new Hono();
  const read = (prefix: string) => async (c: Context) => {
    const key = keyFromPath(c, prefix, node.config.maxKeyBytes);
    const { minOffset } = readQuerySchema.parse(c.req.query()); // validated already; this types it
    const result = await new Promise<ReadResult>((resolve) => readCommitted(node, key, minOffset ?? 0, nodeTimings.readWaitMs, resolve));
    if (result.kind === "refused") throw new ApiError(503, "stale_read", result.message, { reason: result.reason });
    if (result.kind === "overloaded") {
      throw new ApiError(503, "overloaded", `${constants.offsetWatchersMax} reads are waiting for an offset already; retry later`, {
        bound: "offset watchers",
        limit: constants.offsetWatchersMax,
      });
    }
    if (result.kind === "stale_read") {
      throw new ApiError(503, "stale_read", `this node has not applied offset ${result.needed} yet; retry or read from the leader`, {
        minOffset: result.needed,
        appliedOffset: result.appliedOffset,
      });
    }
    const { stored } = result;
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
