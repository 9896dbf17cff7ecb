import { zValidator } from "@hono/zod-validator";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { constants } from "../core/constants.ts";
import { ApiError, type ErrorCode } from "./errors.ts";

const controlCharacter = /[\u0000-\u001f\u007f]/;

const keySchemas = new Map<number, z.ZodType<string>>();

/** The schema of a key, built once per limit (building zod schemas per request is costly). */
export function keySchema(maxKeyBytes: number): z.ZodType<string> {
  let schema = keySchemas.get(maxKeyBytes);
  if (!schema) {
    schema = z
      .string()
      .min(1, "key must not be empty")
      .refine((key) => !controlCharacter.test(key), "key must not contain control characters")
      // URLs drop "." and ".." path segments (%2E too), so such a key could be written but never read.
      .refine((key) => key !== "." && key !== "..", 'key must not be "." or ".." (a URL cannot address it)')
      .refine((key) => Buffer.byteLength(key, "utf8") <= maxKeyBytes, `key must be at most ${maxKeyBytes} bytes of UTF-8`);
    keySchemas.set(maxKeyBytes, schema);
  }
  return schema;
}

/** Parses a key (already percent-decoded) or throws 400 invalid_key. */
export function parseKey(raw: string, maxKeyBytes: number): string {
  const result = keySchema(maxKeyBytes).safeParse(raw);
  if (!result.success) throw new ApiError(400, "invalid_key", result.error.issues[0]!.message);
  return result.data;
}

/** Route pattern of a key: any characters, "/" and line separators too (`.` would miss U+2028). */
export const keyRoute = ":key{[\\s\\S]+}";

/** The key from `/kv/<key>` or `/get/<key>`: everything after the prefix, percent-decoded. */
export function keyFromPath(c: Context, prefix: string, maxKeyBytes: number): string {
  const url = c.req.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const queryStart = url.indexOf("?", pathStart);
  const path = url.slice(pathStart, queryStart === -1 ? undefined : queryStart);
  let key: string;
  try {
    key = decodeURIComponent(path.slice(prefix.length));
  } catch {
    throw new ApiError(400, "invalid_key", "key is not valid percent-encoded UTF-8");
  }
  return parseKey(key, maxKeyBytes);
}

/**
 * Why a parsed JSON value cannot be stored as sent, or null: nested too deep, or a number beyond
 * a double (JSON.parse makes it Infinity, which would be stored as null). Walks without
 * recursion, so a hostile body cannot blow the stack.
 */
export function jsonValueProblem(value: unknown, maxDepth: number): string | null {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item === "number" && !Number.isFinite(item)) return "value holds a number too large for a double";
    if (item === null || typeof item !== "object") continue;
    if (depth > maxDepth) return `value nests deeper than ${maxDepth} levels`;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads the body as JSON whatever the content type (curl -d sends form encoding by default).
 * Bytes that are not UTF-8 are refused rather than stored as U+FFFD.
 */
export async function readJson(c: Context): Promise<unknown> {
  let text: string;
  try {
    text = utf8.decode(await c.req.arrayBuffer());
  } catch {
    throw new ApiError(400, "invalid_json", "request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "request body is not valid JSON");
  }
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown, code: ErrorCode): z.output<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new ApiError(400, code, `${where}${issue.message}`);
  }
  return result.data;
}

/** A JSON value as stored: its canonical JSON text, depth-checked. */
export const valueSchema = z
  .unknown()
  .refine((value) => value !== undefined, "value is required")
  .superRefine((value, context) => {
    const problem = jsonValueProblem(value, constants.valueDepthMax);
    if (problem) context.addIssue({ code: "custom", message: problem });
  })
  .transform((value) => JSON.stringify(value));

/** 413, and the connection closes, so the rest of an oversize upload is never read. */
function refuseOversize(c: Context, maxBytes: number): never {
  c.header("connection", "close");
  throw new ApiError(413, "payload_too_large", `request body is larger than ${maxBytes} bytes`, { limit: maxBytes });
}

/**
 * Body limits in two steps: `announced` refuses from Content-Length alone, on any method and
 * before anything else, without reading a byte; `counted` refuses a chunked body as soon as it
 * passes the limit (Bun itself holds a body to its Content-Length).
 */
export function bodyLimits(maxBytesFor: (c: Context) => number): { announced: MiddlewareHandler; counted: MiddlewareHandler } {
  return {
    announced: async (c, next) => {
      const maxBytes = maxBytesFor(c);
      if (Number(c.req.header("content-length")) > maxBytes) refuseOversize(c, maxBytes);
      await next();
    },
    counted: (c, next) => {
      // A body with a Content-Length was bounded by `announced` (Bun reads no more than it says);
      // hono's bodyLimit would also check it, but only after opening the body as a stream.
      const headers = c.req.raw.headers;
      if (headers.has("content-length") && !headers.has("transfer-encoding")) return next();
      const maxBytes = maxBytesFor(c);
      return bodyLimit({ maxSize: maxBytes, onError: () => refuseOversize(c, maxBytes) })(c, next);
    },
  };
}

export const integerText = (min: number, max: number) =>
  z.string().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().int().min(min).max(max));

/** Query parameters of a write: `quorum` (0..followers) and `timeoutMs`. */
export function writeQuerySchema(followerCount: number) {
  return z.object({
    quorum: integerText(0, followerCount).optional(),
    timeoutMs: integerText(1, 600_000).optional(),
    /** A conditional write: the offset of the value the client read (0: the key must be absent). */
    ifOffset: integerText(0, Number.MAX_SAFE_INTEGER).optional(),
  });
}

export const readQuerySchema = z.object({ minOffset: integerText(0, Number.MAX_SAFE_INTEGER).optional() });

const queryErrorCodes: Record<string, ErrorCode> = {
  quorum: "invalid_quorum",
  timeoutMs: "invalid_timeout",
  minOffset: "invalid_offset",
  ifOffset: "invalid_offset",
  fromOffset: "invalid_offset",
};

/**
 * zValidator("query", …) for a schema whose parameters are all optional: a URL without a query
 * string validates to {} without running zod (most writes carry none).
 */
export function optionalQuery<T extends z.ZodObject>(schema: T) {
  const validate = zValidator("query", schema, queryHook);
  const skipping: MiddlewareHandler = (c, next) => {
    if (c.req.url.includes("?")) return validate(c, next);
    c.req.addValidatedData("query", {});
    return next();
  };
  return skipping as typeof validate;
}

/** Hook for zValidator("query", …): the first bad parameter names the error code. */
export function queryHook(result: { success: boolean; error?: { issues: readonly z.core.$ZodIssue[] } }): void {
  if (result.success || !result.error) return;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? "query");
  throw new ApiError(400, queryErrorCodes[name] ?? "invalid_query", `${name}: ${issue.message}`);
}
