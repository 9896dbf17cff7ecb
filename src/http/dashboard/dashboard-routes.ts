import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Hono } from "hono";
import type { FollowerNode } from "../../node/follower-node.ts";
import type { LeaderNode } from "../../node/leader-node.ts";
import type { NodeMetrics } from "../../node/metrics.ts";
import { ApiError } from "../errors.ts";
import { ClusterViewer, nodeReport } from "./cluster-view.ts";

/** The latest sweep (`npm run sweep` writes it), served if this checkout has one. */
export const sweepPath = join(resolve(import.meta.dir, "../../.."), "results", "quorum-sweep.json");

const page = readFileSync(join(import.meta.dir, "index.html"), "utf8");
const script = readFileSync(join(import.meta.dir, "app.js"), "utf8");

/**
 * The live dashboard at `GET /` (docs/observability.md): a page and its script, this node's
 * report, the whole cluster as this node sees it, and the latest sweep. Nothing from elsewhere.
 */
export function dashboardRoutes(node: LeaderNode | FollowerNode, metrics: NodeMetrics): Hono {
  const app = new Hono();
  const viewer = new ClusterViewer(node, metrics);
  app.get("/", (c) => c.html(page));
  app.get("/dashboard/app.js", (c) => c.body(script, 200, { "content-type": "text/javascript; charset=utf-8" }));
  app.get("/dashboard/node.json", (c) => c.json(nodeReport(node, metrics)));
  app.get("/dashboard/cluster.json", async (c) => c.json(await viewer.view()));
  app.get("/dashboard/sweep.json", async (c) => {
    const file = Bun.file(sweepPath);
    if (!(await file.exists())) throw new ApiError(404, "not_found", "no results/quorum-sweep.json on this node (npm run sweep writes it)");
    return c.body(await file.text(), 200, { "content-type": "application/json" });
  });
  return app;
}
