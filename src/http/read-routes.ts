import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import type { ServingNode } from "../node/serving-node.ts";
import { constants } from "../core/constants.ts";
import { nodeTimings } from "../node/timings.ts";
import { type ReadGate, type ReadResult, readCommitted } from "../node/read.ts";
import { ApiError } from "./errors.ts";
import { keyFromPath, keyRoute, queryHook, readQuerySchema } from "./input.ts";

/** GET /kv/:key and the seed's GET /get/:key, on any node: committed values only. */
export function readRoutes(node: ServingNode): Hono {
  const app = new Hono();
  const read = (prefix: string) => async (c: Context) => {
    const key = keyFromPath(c, prefix, node.config.maxKeyBytes);
    const { minOffset } = readQuerySchema.parse(c.req.query()); // validated already; this types it
    const result = await new Promise<ReadResult>((resolve) => readCommitted(node, key, minOffset ?? 0, nodeTimings.readWaitMs, resolve));
    if (result.kind !== "value") throw unreadableError(result);
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

/** Why the state may not be read now (the answer of GET /kv/:key, GET /kv and GET /watch alike). */
export function unreadableError(gate: Exclude<ReadGate, { kind: "readable" }>): ApiError {
  if (gate.kind === "refused") return new ApiError(503, "stale_read", gate.message, { reason: gate.reason });
  if (gate.kind === "overloaded") {
    return new ApiError(503, "overloaded", `${constants.offsetWatchersMax} reads are waiting for an offset already; retry later`, {
      bound: "offset watchers",
      limit: constants.offsetWatchersMax,
    });
  }
  return new ApiError(503, "stale_read", `this node has not applied offset ${gate.needed} yet; retry or read from the leader`, {
    minOffset: gate.needed,
    appliedOffset: gate.appliedOffset,
  });
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
