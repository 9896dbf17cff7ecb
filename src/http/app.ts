import { Hono } from "hono";
import { constants } from "../core/constants.ts";
import { FollowerNode } from "../node/follower-node.ts";
import type { LeaderNode } from "../node/leader-node.ts";
import { adminRoutes } from "./admin-routes.ts";
import { requireClusterToken } from "./auth.ts";
import { notFound, onError } from "./errors.ts";
import { bodyLimits } from "./input.ts";
import { inspectionRoutes, replicateRoutes } from "./internal-routes.ts";
import { emptyKeyRoutes, readRoutes } from "./read-routes.ts";
import { statusRoutes } from "./status-routes.ts";
import { notLeaderRoutes, writeRoutes } from "./write-routes.ts";

/** Largest replicate message a follower accepts: a full batch, JSON-escaped. */
export function replicateBodyLimitBytes(maxValueBytes: number): number {
  return 8 * (constants.batchCharsMax + maxValueBytes);
}

const replicationPaths = new Set(["/internal/replicate", "/internal/snapshot"]);

/** The Hono app of one node: common routes plus the role's own. */
export function createApp(node: LeaderNode | FollowerNode): Hono {
  const app = new Hono();
  app.onError(onError);
  app.notFound(notFound);
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
  app.route("/", emptyKeyRoutes());
  app.route("/", readRoutes(node));
  app.route("/", inspectionRoutes(node));
  if (node instanceof FollowerNode) {
    app.route("/", notLeaderRoutes(node.config.leaderUrl));
    app.route("/", replicateRoutes(node));
  } else {
    app.route("/", writeRoutes(node));
    app.route("/", adminRoutes(node));
  }
  return app;
}
