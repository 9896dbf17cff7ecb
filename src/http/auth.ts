import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * A check of Authorization headers against the cluster token, compared in constant time
 * (hashing first hides the length too; the token's own digest is computed once).
 */
export function clusterTokenCheck(token: string): (header: string | null | undefined) => boolean {
  const expected = digest(token);
  return (header) => {
    const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
    return match !== null && timingSafeEqual(digest(match[1]!.trim()), expected);
  };
}

/** Bearer CLUSTER_TOKEN on every request, else 401. */
export function requireClusterToken(token: string): MiddlewareHandler {
  const hasToken = clusterTokenCheck(token);
  return async (c, next) => {
    if (!hasToken(c.req.header("authorization"))) {
      throw new ApiError(401, "unauthorized", "this route needs the cluster token: Authorization: Bearer <CLUSTER_TOKEN>");
    }
    await next();
  };
}
