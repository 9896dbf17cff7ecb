import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Whether an Authorization header carries the cluster token, compared in constant time (hashing first hides the length too). */
export function hasClusterToken(header: string | null | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  return match !== null && timingSafeEqual(digest(match[1]!.trim()), digest(token));
}

/** Bearer CLUSTER_TOKEN on every request, else 401. */
export function requireClusterToken(token: string): MiddlewareHandler {
  return async (c, next) => {
    if (!hasClusterToken(c.req.header("authorization"), token)) {
      throw new ApiError(401, "unauthorized", "this route needs the cluster token: Authorization: Bearer <CLUSTER_TOKEN>");
    }
    await next();
  };
}
