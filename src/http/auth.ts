import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Bearer CLUSTER_TOKEN, compared in constant time (hashing first hides the length too). */
export function requireClusterToken(token: string): MiddlewareHandler {
  const expected = digest(token);
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      throw new ApiError(401, "unauthorized", "this route needs the cluster token: Authorization: Bearer <CLUSTER_TOKEN>");
    }
    await next();
  };
}
