import { Hono } from "hono";
import { z } from "zod";
import type { WriteOutcome } from "../node/leader-env.ts";
import type { LeaderNode } from "../node/leader-node.ts";
import { ApiError } from "./errors.ts";
import { parseBody, readJson } from "./input.ts";
import { deposedError } from "./write-routes.ts";

/**
 * PUT /admin/config: change the write quorum and the simulated delay without a restart. A lower
 * quorum is answered once it is in force (503 quorum_timeout if the current quorum cannot be met).
 */
export function adminRoutes(leader: LeaderNode): Hono {
  const app = new Hono();
  const delay = z.number().finite().min(0).max(60_000);
  const schema = z
    .object({
      writeQuorum: z.number().int().min(0).max(leader.followerUrls.length).optional(),
      minDelayMs: delay.optional(),
      maxDelayMs: delay.optional(),
    })
    .strict();
  app.put("/admin/config", async (c) => {
    const change = parseBody(schema, await readJson(c), "invalid_config");
    const minDelayMs = change.minDelayMs ?? leader.delay.minDelayMs;
    const maxDelayMs = change.maxDelayMs ?? leader.delay.maxDelayMs;
    if (minDelayMs > maxDelayMs) {
      throw new ApiError(400, "invalid_config", `minDelayMs (${minDelayMs}) must not exceed maxDelayMs (${maxDelayMs})`);
    }
    leader.setDelay({ minDelayMs, maxDelayMs });
    // Lowering the quorum is itself a write at the current quorum: answered once in force.
    const { writeQuorum } = change;
    const outcome = writeQuorum === undefined ? null : await new Promise<WriteOutcome | null>((resolve) => leader.setWriteQuorum(writeQuorum, resolve));
    if (outcome?.kind === "deposed") throw deposedError(outcome.epoch);
    if (outcome?.kind === "timeout") {
      throw new ApiError(
        503,
        "quorum_timeout",
        `write quorum ${change.writeQuorum} takes effect once ${outcome.required} followers hold the change; ${outcome.acks} do so far`,
        { offset: outcome.offset, acks: outcome.acks, required: outcome.required, pendingWriteQuorum: leader.core.pendingWriteQuorum },
      );
    }
    return c.json({ writeQuorum: leader.core.writeQuorum, ...leader.delay });
  });
  return app;
}
