import { Hono } from "hono";
import { z } from "zod";
import { constants } from "../core/constants.ts";
import type { FollowerNode } from "../node/follower-node.ts";
import type { ServingNode } from "../node/serving-node.ts";
import { ApiError } from "./errors.ts";
import { limitBody, parseBody, readJson } from "./input.ts";

const offset = z.number().int().min(0);

export const replicateMessageSchema = z
  .object({
    epoch: z.number().int().min(0),
    leaderId: z.string(),
    prevOffset: offset,
    entries: z
      .array(z.object({ offset: offset.min(1), epoch: z.number().int().min(0), key: z.string(), value: z.string().nullable() }))
      .max(constants.batchEntriesMax),
    commitOffset: offset,
  })
  .refine(
    (message) => message.entries.every((entry, index) => entry.offset === message.prevOffset + 1 + index),
    "entries must follow prevOffset without holes",
  );

/** Digest and dump on every node (behind the cluster token, mounted under /internal). */
export function inspectionRoutes(node: ServingNode): Hono {
  const app = new Hono();
  app.get("/internal/digest", (c) =>
    c.json({
      id: node.config.nodeId,
      role: node.role,
      epoch: node.epoch,
      lastOffset: node.lastOffset,
      commitOffset: node.commitOffset,
      ...node.state.digest(),
    }),
  );
  // Newline-delimited JSON, one {key, value, offset} per line, streamed in chunks.
  app.get("/internal/dump", (c) => {
    const pairs = node.state.entries();
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        let chunk = "";
        for (let i = 0; i < 1000; i++) {
          const next = pairs.next();
          if (next.done) {
            if (chunk) controller.enqueue(encoder.encode(chunk));
            controller.close();
            return;
          }
          const [key, stored] = next.value;
          chunk += `{"key":${JSON.stringify(key)},"value":${stored.value},"offset":${stored.offset}}\n`;
        }
        controller.enqueue(encoder.encode(chunk));
      },
    });
    return c.body(stream, 200, {
      "content-type": "application/x-ndjson",
      "x-applied-offset": String(node.state.appliedOffset),
    });
  });
  return app;
}

/** The follower's end of replication. */
export function replicateRoutes(follower: FollowerNode, bodyLimitBytes: number): Hono {
  const app = new Hono();
  app.post("/internal/replicate", limitBody(bodyLimitBytes), async (c) => {
    const message = parseBody(replicateMessageSchema, await readJson(c), "invalid_message");
    const reply = await follower.replicate(message);
    const nodeId = follower.config.nodeId;
    switch (reply.kind) {
      case "ok":
        return c.json({ lastOffset: reply.lastOffset, nodeId });
      case "gap":
        throw new ApiError(409, "gap", `expected offset ${reply.lastOffset + 1}, got a message after ${message.prevOffset}`, {
          lastOffset: reply.lastOffset,
          nodeId,
        });
      case "stale_epoch":
        throw new ApiError(409, "stale_epoch", `epoch ${message.epoch} is older than ${reply.epoch}`, { epoch: reply.epoch, nodeId });
    }
  });
  return app;
}
