import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { LeaderNode } from "../node/leader-node.ts";
import { ApiError } from "./errors.ts";
import { keyFromPath, keyRoute, keySchema, parseBody, queryHook, readJson, valueSchema, writeQuerySchema } from "./input.ts";

/** Writes on the leader: PUT/DELETE /kv/:key and the seed's POST /set. */
export function writeRoutes(leader: LeaderNode): Hono {
  const { maxKeyBytes } = leader.config;
  const app = new Hono();
  const putBody = z.object({ value: valueSchema });
  const setBody = z.object({ key: z.string(), value: valueSchema });
  const setKey = z.object({ key: keySchema(maxKeyBytes) });
  const querySchema = writeQuerySchema(leader.followerUrls.length);
  type WriteQuery = z.output<typeof querySchema>;
  const validateQuery = zValidator("query", querySchema, queryHook);

  const answer = async (c: Context, key: string, value: string | null, query: WriteQuery) => {
    const outcome = await leader.write(key, value, query);
    if (outcome.kind === "committed") return c.json({ key, offset: outcome.offset, acks: outcome.acks });
    if (outcome.kind === "deposed") throw deposedError(outcome.epoch);
    if (outcome.kind === "storage_unavailable") {
      throw new ApiError(503, "storage_unavailable", `the leader cannot store its log (${outcome.reason}); nothing was written, retry later`, { reason: outcome.reason });
    }
    if (outcome.kind === "overloaded") {
      throw new ApiError(503, "overloaded", `the leader holds MAX_PENDING_WRITES (${outcome.limit}) ${outcome.bound}; nothing was written, retry later`, {
        bound: outcome.bound,
        limit: outcome.limit,
      });
    }
    if (outcome.deposedBy !== undefined) {
      throw new ApiError(
        503,
        "quorum_timeout",
        `write ${outcome.offset} reached ${outcome.acks} of ${outcome.required} acks before this leader was deposed by epoch ${outcome.deposedBy}; the new leader may or may not have taken it over`,
        { key, offset: outcome.offset, acks: outcome.acks, required: outcome.required, deposedBy: outcome.deposedBy },
      );
    }
    throw new ApiError(
      503,
      "quorum_timeout",
      `write ${outcome.offset} reached ${outcome.acks} of ${outcome.required} acks in time; it is in the leader's log and may still commit`,
      { key, offset: outcome.offset, acks: outcome.acks, required: outcome.required },
    );
  };

  app.put(`/kv/${keyRoute}`, validateQuery, async (c) => {
    const key = keyFromPath(c, "/kv/", maxKeyBytes);
    const { value } = await showingShape('{"value": <any JSON>}', async () => parseBody(putBody, await readJson(c), "invalid_value"));
    return answer(c, key, value, c.req.valid("query"));
  });
  app.delete(`/kv/${keyRoute}`, validateQuery, (c) =>
    answer(c, keyFromPath(c, "/kv/", maxKeyBytes), null, c.req.valid("query")),
  );
  app.post("/set", validateQuery, async (c) => {
    const { key, value } = await showingShape('{"key": "<key>", "value": <any JSON>}', async () => {
      const body = await readJson(c);
      const key = parseBody(setKey, body, "invalid_key").key;
      return { key, value: parseBody(setBody, body, "invalid_value").value };
    });
    return answer(c, key, value, c.req.valid("query"));
  });
  return app;
}

/**
 * Runs a body parse; a 400 from it also names the body the route expects, since "not valid
 * JSON" alone (curl without -d, say) leaves a newcomer guessing.
 */
async function showingShape<T>(shape: string, parse: () => Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 400) throw error;
    throw new ApiError(400, error.code, `${error.message}; expected a JSON body like ${shape}`, error.details);
  }
}

/** A deposed leader refuses writes: it does not know the new leader's address. */
export function deposedError(epoch: number): ApiError {
  return new ApiError(421, "not_leader", `this leader was deposed by epoch ${epoch}; send writes to the new leader`, { leader: null, deposedBy: epoch });
}

/** On a follower every write is refused with the leader's address. */
export function notLeaderRoutes(leaderUrl: string | null): Hono {
  const app = new Hono();
  const refuse = () => {
    throw new ApiError(421, "not_leader", "this node is a follower; send writes to the leader", { leader: leaderUrl });
  };
  // The leader's own key pattern: "/kv/*" would also claim "/kv", which no role serves.
  app.put(`/kv/${keyRoute}`, refuse);
  app.delete(`/kv/${keyRoute}`, refuse);
  app.post("/set", refuse);
  app.put("/admin/config", refuse);
  return app;
}
