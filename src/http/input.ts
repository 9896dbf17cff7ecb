import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { constants } from "../core/constants.ts";
import { ApiError } from "./errors.ts";

// biome-ignore lint: control characters are what the pattern is about
const controlCharacter = /[\u0000-\u001f\u007f]/;

export function keySchema(maxKeyBytes: number) {
  return z
    .string()
    .min(1, "key must not be empty")
    .refine((key) => !controlCharacter.test(key), "key must not contain control characters")
    .refine((key) => Buffer.byteLength(key, "utf8") <= maxKeyBytes, `key must be at most ${maxKeyBytes} bytes of UTF-8`);
}

/** Parses a key (already percent-decoded) or throws 400 invalid_key. */
export function parseKey(raw: string, maxKeyBytes: number): string {
  const result = keySchema(maxKeyBytes).safeParse(raw);
  if (!result.success) throw new ApiError(400, "invalid_key", result.error.issues[0]!.message);
  return result.data;
}

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

/** Depth of a parsed JSON value, without recursion (a hostile body cannot blow the stack). */
export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== "object") continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Reads the body as JSON whatever the content type (curl -d sends form encoding by default). */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "request body is not valid JSON");
  }
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown, code: string): z.output<T> {
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
  .refine((value) => !jsonDepthExceeds(value, constants.valueDepthMax), `value nests deeper than ${constants.valueDepthMax} levels`)
  .transform((value) => JSON.stringify(value));

export function limitBody(maxBytes: number) {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, "payload_too_large", `request body is larger than ${maxBytes} bytes`, { limit: maxBytes });
    },
  });
}

const integerText = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** Query parameters of a write: `quorum` (0..followers) and `timeoutMs`. */
export function writeQuerySchema(followerCount: number) {
  return z.object({
    quorum: integerText(0, followerCount).optional(),
    timeoutMs: integerText(1, 600_000).optional(),
  });
}

export const readQuerySchema = z.object({ minOffset: integerText(0, Number.MAX_SAFE_INTEGER).optional() });

const queryErrorCodes: Record<string, string> = {
  quorum: "invalid_quorum",
  timeoutMs: "invalid_timeout",
  minOffset: "invalid_offset",
};

/** Hook for zValidator("query", …): the first bad parameter names the error code. */
export function queryHook(result: { success: boolean; error?: { issues: readonly z.core.$ZodIssue[] } }): void {
  if (result.success || !result.error) return;
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? "query");
  throw new ApiError(400, queryErrorCodes[name] ?? "invalid_query", `${name}: ${issue.message}`);
}
