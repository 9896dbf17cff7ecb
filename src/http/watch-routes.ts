import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { Change } from "../core/change-window.ts";
import type { ServingNode } from "../node/serving-node.ts";
import { nextWatchStep, WatcherCount, watchersMax, watchKeepaliveMs } from "../node/watch-feed.ts";
import { ApiError } from "./errors.ts";
import { integerText, queryHook } from "./input.ts";

/**
 * GET /watch?prefix=&fromOffset= on any node: Server-Sent Events of committed changes of keys
 * starting with `prefix`, in offset order, from `fromOffset` (0 or 1: from the start; default: the next one applied), or
 * after the `Last-Event-ID` a reconnecting client sends (it wins). Each change is one `change`
 * event `{key, value, offset}` or `{key, deleted: true, offset}`; `id` is the offset, written on
 * the last change of each offset only, so a resumed stream never skips part of a transaction.
 * Ends with `event: compacted` (410 before the stream starts) when the node no longer holds the
 * changes asked for, or `event: dropped` `{resumeFrom}` when the client reads too slowly.
 */
export function watchRoutes(node: ServingNode): Hono {
  const app = new Hono();
  const watchers = new WatcherCount();
  const querySchema = z.object({
    prefix: z.string().max(node.config.maxKeyBytes, `must be at most ${node.config.maxKeyBytes} characters`).default(""),
    fromOffset: integerText(0, Number.MAX_SAFE_INTEGER).optional(),
  });
  app.get("/watch", zValidator("query", querySchema, queryHook), (c) => {
    const { prefix, fromOffset } = c.req.valid("query");
    const lastEventId = c.req.header("last-event-id");
    if (lastEventId !== undefined && !/^\d+$/.test(lastEventId)) throw new ApiError(400, "invalid_offset", "Last-Event-ID must be an offset");
    // Offsets start at 1: fromOffset=0 asks for everything, as 1 does.
    let cursor = lastEventId !== undefined ? Number(lastEventId) + 1 : Math.max(1, fromOffset ?? node.state.appliedOffset + 1);
    const first = nextWatchStep(node, prefix, cursor);
    if (first.kind === "refused") throw new ApiError(503, "stale_read", first.message);
    if (first.kind === "compacted") {
      throw new ApiError(410, "compacted", `this node no longer holds changes from offset ${cursor}; the oldest it holds is ${first.oldestOffset}`, {
        fromOffset: cursor,
        oldestOffset: first.oldestOffset,
      });
    }
    if (!watchers.take()) {
      throw new ApiError(503, "overloaded", `this node serves WATCHERS_MAX (${watchersMax}) watch streams already; retry later`, {
        bound: "watchers",
        limit: watchersMax,
      });
    }
    return streamSSE(c, async (stream) => {
      try {
        while (!stream.aborted && !stream.closed) {
          const step = nextWatchStep(node, prefix, cursor);
          if (step.kind === "changes") {
            if (step.changes.length > 0) await stream.write(formatChanges(step.changes));
            cursor = step.cursor;
          } else if (step.kind === "wait") {
            if (!(await waitApplied(node, cursor))) await stream.write(": keepalive\n\n");
          } else {
            const data =
              step.kind === "dropped"
                ? { resumeFrom: step.resumeFrom }
                : step.kind === "compacted"
                  ? { oldestOffset: step.oldestOffset }
                  : { message: step.message };
            await stream.write(`event: ${step.kind === "refused" ? "error" : step.kind}\ndata: ${JSON.stringify(data)}\n\n`);
            return;
          }
        }
      } finally {
        watchers.release();
      }
    });
  });
  return app;
}

/** Waits until `offset` is applied, at most the keepalive interval; false when it was not. */
async function waitApplied(node: ServingNode, offset: number): Promise<boolean> {
  if (node.applied.full) {
    // Every offset wait is taken (reads wait too): look again after a while rather than spin.
    await new Promise((resolve) => setTimeout(resolve, 100));
    return node.applied.reached(offset);
  }
  return new Promise((resolve) => node.applied.waitFor(offset, watchKeepaliveMs, resolve));
}

/** SSE text of a batch, written at once: one event per change, `id` on the last of each offset. */
export function formatChanges(changes: readonly Change[]): string {
  let text = "";
  for (let index = 0; index < changes.length; index++) {
    const change = changes[index]!;
    const body = change.value === null ? `"deleted":true` : `"value":${change.value}`;
    text += `event: change\ndata: {"key":${JSON.stringify(change.key)},${body},"offset":${change.offset}}\n`;
    text += changes[index + 1]?.offset === change.offset ? "\n" : `id: ${change.offset}\n\n`;
  }
  return text;
}
