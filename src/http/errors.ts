import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Every error code an answer may carry (DESIGN §4): clients and tools rely on these names. */
export type ErrorCode =
  | "invalid_json"
  | "invalid_key"
  | "invalid_value"
  | "invalid_quorum"
  | "invalid_timeout"
  | "invalid_offset"
  | "invalid_query"
  | "invalid_config"
  | "invalid_message"
  | "invalid_txn"
  | "unauthorized"
  | "not_found"
  | "method_not_allowed"
  | "gap"
  | "stale_epoch"
  | "payload_too_large"
  | "not_leader"
  | "no_leader"
  | "precondition_failed"
  | "compacted"
  | "quorum_timeout"
  | "stale_read"
  | "overloaded"
  | "storage_unavailable"
  | "upgrade_required"
  | "internal";

/** An error with a stable code, rendered by `onError` as `{error, message, ...details}`. */
export class ApiError extends Error {
  override name = "ApiError";

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function onError(error: Error, c: Context): Response {
  if (error instanceof ApiError) {
    return c.json({ error: error.code, message: error.message, ...error.details }, error.status);
  }
  console.error(`[${new Date().toISOString()}] unexpected error on ${c.req.method} ${c.req.path}:`, error);
  return c.json({ error: "internal" satisfies ErrorCode, message: "unexpected error; see the node's log" }, 500);
}

/**
 * The answer when no handler matched: 405 with an `Allow` header if the path is a route of this
 * node under other methods (`allowedMethods` lists them), else 404.
 */
export function noRoute(allowedMethods: (path: string) => string[]): (c: Context) => Response {
  return (c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length === 0) {
      return c.json({ error: "not_found" satisfies ErrorCode, message: `no route for ${c.req.method} ${c.req.path}` }, 404);
    }
    const allow = allowed.join(", ");
    c.header("allow", allow);
    return c.json(
      { error: "method_not_allowed" satisfies ErrorCode, message: `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`, allow: allowed },
      405,
    );
  };
}
