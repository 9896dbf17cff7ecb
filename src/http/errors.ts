import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** An error with a stable code, rendered by `onError` as `{error, message, ...details}`. */
export class ApiError extends Error {
  override name = "ApiError";

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
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
  return c.json({ error: "internal", message: "unexpected error; see the node's log" }, 500);
}

export function notFound(c: Context): Response {
  return c.json({ error: "not_found", message: `no route for ${c.req.method} ${c.req.path}` }, 404);
}
