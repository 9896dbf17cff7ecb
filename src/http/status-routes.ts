import { Hono } from "hono";
import type { ServingNode } from "../node/serving-node.ts";

export function statusRoutes(node: ServingNode): Hono {
  const app = new Hono();
  app.get("/status", (c) => c.json(node.status()));
  app.get("/health", (c) => c.json({ ok: true, id: node.config.nodeId, role: node.role }));
  return app;
}
