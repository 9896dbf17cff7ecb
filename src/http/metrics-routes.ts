import { Hono, type MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { FollowerNode } from "../node/follower-node.ts";
import type { LeaderNode } from "../node/leader-node.ts";
import { type NodeMetrics, renderMetrics } from "../node/metrics.ts";
import { ApiError } from "./errors.ts";

/**
 * Counts every answer by method, matched route pattern and status (not by path: keys would make
 * the label set unbounded), and every 503 overloaded by the bound it names. Runs first, so it sees
 * the answers of the other middleware (401, 413) too.
 */
export function countRequests(metrics: NodeMetrics): MiddlewareHandler {
  // Label of each matched pattern, worked out once: the patterns are the app's own, so few.
  const labels = new Map<string, string>();
  return async (c, next) => {
    await next();
    const pattern = routePath(c, -1);
    let label = labels.get(pattern);
    if (label === undefined) {
      // Unmatched paths report the catch-all middleware's own pattern: one label for all of them.
      const route = pattern.replace(/\{[^/]*\}/g, "");
      label = route === "/*" || route === "*" ? "unmatched" : route;
      labels.set(pattern, label);
    }
    metrics.httpAnswered(c.req.method, label, c.res.status);
    const error = c.error;
    if (error instanceof ApiError && error.code === "overloaded") metrics.boundHit(String(error.details.bound ?? "unknown"));
  };
}

/** GET /metrics: the Prometheus text exposition (docs/observability.md lists every family). */
export function metricsRoutes(node: LeaderNode | FollowerNode, metrics: NodeMetrics): Hono {
  const app = new Hono();
  app.get("/metrics", (c) => c.body(renderMetrics(node, metrics), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));
  return app;
}
