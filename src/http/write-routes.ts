import { type Context, Hono } from "hono";
import { z } from "zod";
import type { WriteOutcome } from "../node/leader-env.ts";
import type { LeaderNode } from "../node/leader-node.ts";
import { ApiError } from "./errors.ts";
import { keyFromPath, keyRoute, keySchema, optionalQuery, parseBody, readJson, valueSchema, writeQuerySchema } from "./input.ts";

/** Writes on the leader: PUT/DELETE /kv/:key and the seed's POST /set. */
export function writeRoutes(leader: LeaderNode): Hono {
  const { maxKeyBytes } = leader.config;
  const app = new Hono();
  const putBody = z.object({ value: valueSchema });
  const setBody = z.object({ key: z.string(), value: valueSchema });
  const setKey = z.object({ key: keySchema(maxKeyBytes) });
  const querySchema = writeQuerySchema(leader.followerUrls.length);
  type WriteQuery = z.output<typeof querySchema>;
  const validateQuery = optionalQuery(querySchema);

  const answer = async (c: Context, key: string, value: string | null, query: WriteQuery) => {
    const { ifOffset, ...options } = query;
    const condition = ifOffset === undefined ? undefined : { ifOffset };
    const outcome = await leader.write(key, value, { ...options, condition });
    if (outcome.kind === "committed") {
      const decided = outcome.decided;
      if (decided?.kind === "precondition_failed") {
        const now = decided.offset === 0 ? "the key is absent" : `its value is from offset ${decided.offset}`;
        throw new ApiError(412, "precondition_failed", `ifOffset=${ifOffset} does not match: ${now} (decided at offset ${outcome.offset})`, {
          key,
          offset: decided.offset,
        });
      }
      return c.json({ key, offset: outcome.offset, acks: outcome.acks });
    }
    throw unsettledError(outcome, key);
  };

  app.put(`/kv/${keyRoute}`, validateQuery, async (c) => {
    const key = keyFromPath(c, "/kv/", maxKeyBytes);
    const { value } = await showingShape('{"value": <any JSON>}', async () => parseBody(putBody, await readJson(c), "invalid_value"));
    return answer(c, key, value, c.req.valid("query"));
  });
  app.delete(`/kv/${keyRoute}`, validateQuery, (c) => answer(c, keyFromPath(c, "/kv/", maxKeyBytes), null, c.req.valid("query")));
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
 * The answer to a write that did not commit in time (503 quorum_timeout: indeterminate, never
 * silently lost or done), or was refused before anything was appended (421, 503 overloaded).
 */
export function unsettledError(outcome: Exclude<WriteOutcome, { kind: "committed" }>, key?: string): ApiError {
  if (outcome.kind === "deposed") return deposedError(outcome.epoch);
  if (outcome.kind === "storage_unavailable") {
    return new ApiError(503, "storage_unavailable", `the leader cannot store its log (${outcome.reason}); nothing was written, retry later`, {
      reason: outcome.reason,
    });
  }
  if (outcome.kind === "overloaded") {
    return new ApiError(503, "overloaded", `the leader holds MAX_PENDING_WRITES (${outcome.limit}) ${outcome.bound}; nothing was written, retry later`, {
      bound: outcome.bound,
      limit: outcome.limit,
    });
  }
  const details = { ...(key === undefined ? {} : { key }), offset: outcome.offset, acks: outcome.acks, required: outcome.required };
  if (outcome.deposedBy !== undefined) {
    return new ApiError(
      503,
      "quorum_timeout",
      `write ${outcome.offset} reached ${outcome.acks} of ${outcome.required} acks before this leader was deposed by epoch ${outcome.deposedBy}; the new leader may or may not have taken it over`,
      { ...details, deposedBy: outcome.deposedBy },
    );
  }
  return new ApiError(
    503,
    "quorum_timeout",
    `write ${outcome.offset} reached ${outcome.acks} of ${outcome.required} acks in time; it is in the leader's log and may still commit`,
    details,
  );
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

/**
 * Every route that changes data, gated by `refuse`: it throws the answer of a node that takes no
 * writes now (a follower's 421, or among PEERS a 421 or 503 no_leader), or returns, and the route
 * goes on to whoever serves it. The one list of write routes, for every role.
 */
export function writeGate(refuse: () => void): Hono {
  const app = new Hono();
  const gate = async (_c: Context, next: () => Promise<void>) => {
    refuse();
    await next();
  };
  // The leader's own key pattern: "/kv/*" would also claim "/kv", which no role serves.
  app.put(`/kv/${keyRoute}`, gate);
  app.delete(`/kv/${keyRoute}`, gate);
  app.post("/set", gate);
  app.post("/txn", gate);
  app.put("/admin/config", gate);
  return app;
}

/** On a follower with a fixed role every write is refused with the leader's address. */
export function notLeaderRoutes(leaderUrl: string | null): Hono {
  return writeGate(() => {
    throw new ApiError(421, "not_leader", "this node is a follower; send writes to the leader", { leader: leaderUrl });
  });
}
