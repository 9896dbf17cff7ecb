import { Hono } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import { constants } from "../core/constants.ts";
import { FollowerNode } from "../node/follower-node.ts";
import type { LeaderNode } from "../node/leader-node.ts";
import { NodeMetrics } from "../node/metrics.ts";
import { realClock } from "../node/env.ts";
import { adminRoutes } from "./admin-routes.ts";
import { requireClusterToken } from "./auth.ts";
import { noRoute, onError } from "./errors.ts";
import { bodyLimits } from "./input.ts";
import { inspectionRoutes, replicateRoutes } from "./internal-routes.ts";
import { countRequests, metricsRoutes } from "./metrics-routes.ts";
import { dashboardRoutes } from "./dashboard/dashboard-routes.ts";
import { emptyKeyRoutes, readRoutes } from "./read-routes.ts";
import { scanRoutes } from "./scan-routes.ts";
import { statusRoutes } from "./status-routes.ts";
import { txnRoutes } from "./txn-routes.ts";
import { watchRoutes } from "./watch-routes.ts";
import { notLeaderRoutes, writeRoutes } from "./write-routes.ts";

/** Largest replicate message a follower accepts: a full batch, JSON-escaped. */
export function replicateBodyLimitBytes(maxValueBytes: number): number {
  return 8 * (constants.batchCharsMax + maxValueBytes);
}

const replicationPaths = new Set(["/internal/replicate", "/internal/snapshot"]);

/**
 * The Hono app of one node: common routes plus the role's own. `metrics` is the recorder the node
 * was given as its observer (src/main.ts), so /metrics includes its write latencies.
 */
export function createApp(node: LeaderNode | FollowerNode, metrics = new NodeMetrics(realClock)): Hono {
  const app = new Hono();
  app.onError(onError);
  app.use("*", countRequests(metrics));
  // Every body is bounded here, before any route reads it; only replication may carry a batch.
  // An announced oversize body is refused first, even before the token check; a chunked one is
  // counted only once the sender has shown the token, so strangers cannot make a node buffer one.
  const replicationBodyBytes = replicateBodyLimitBytes(node.config.maxValueBytes);
  const limits = bodyLimits((c) => (replicationPaths.has(c.req.path) ? replicationBodyBytes : node.config.maxValueBytes));
  const auth = requireClusterToken(node.config.clusterToken);
  app.use("*", limits.announced);
  app.use("/internal/*", auth);
  app.use("/admin/*", auth);
  app.use("*", limits.counted);
  app.route("/", statusRoutes(node));
  app.route("/", metricsRoutes(node, metrics));
  app.route("/", dashboardRoutes(node, metrics));
  app.route("/", emptyKeyRoutes());
  app.route("/", readRoutes(node));
  app.route("/", scanRoutes(node));
  app.route("/", watchRoutes(node));
  app.route("/", inspectionRoutes(node));
  if (node instanceof FollowerNode) {
    app.route("/", notLeaderRoutes(node.config.leaderUrl));
    app.route("/", replicateRoutes(node));
  } else {
    app.route("/", writeRoutes(node));
    app.route("/", txnRoutes(node));
    app.route("/", adminRoutes(node));
  }
  app.notFound(noRoute(methodsByPath(app)));
  return app;
}

/**
 * The methods each path answers to, read from the app's own routes (middleware, registered for
 * ALL, is left out), so a wrong method on a known route can say what to use instead.
 */
function methodsByPath(app: Hono): (path: string) => string[] {
  const router = new TrieRouter<string>();
  for (const route of app.routes) if (route.method !== "ALL") router.add("ALL", route.path, route.method);
  return (path) => {
    const methods = new Set(router.match("ALL", path)[0].map(([method]) => method));
    if (methods.has("GET")) methods.add("HEAD"); // Hono answers HEAD with the GET handler
    return [...methods].sort();
  };
}
