import fc from "fast-check";
import { type BodyPart, type SetBodyPart, ignoredBody, putBody, setBody } from "./bodies.ts";
import {
  type AuthPart,
  type KeyPart,
  type QueryPart,
  authPart,
  contentType,
  contract,
  extraHeaders,
  hotKeyPart,
  keyPart,
  readQuery,
  junkQuery,
  writeQuery,
} from "./cases.ts";
import { type PeerMessage, peerMessage, renderPeerMessage, replicateMutations, snapshotMutations } from "./peer-messages.ts";

/**
 * Whole requests for every route, as data: which node, which route, which parts. `render`
 * turns one into a method, path, headers and body; `predict` says what a correct node answers
 * given the expected state.
 */

export type Role = "leader" | "follower";

export interface Headers {
  contentType?: string;
  extra: Record<string, string>;
}

export interface AdminBody {
  bytes: Uint8Array;
  change?: { writeQuorum?: number; minDelayMs?: number; maxDelayMs?: number };
  errors: string[];
}

export type FuzzCase =
  | { kind: "put"; to: Role; key: KeyPart; query: QueryPart; body: BodyPart; headers: Headers }
  | { kind: "delete"; to: Role; key: KeyPart; query: QueryPart; body: Uint8Array | null; headers: Headers }
  | { kind: "set"; to: Role; query: QueryPart; body: SetBodyPart; headers: Headers }
  | { kind: "read"; to: Role; route: "/kv/" | "/get/"; method: "GET" | "HEAD"; key: KeyPart; query: QueryPart; headers: Headers }
  | { kind: "info"; to: Role; path: "/status" | "/health"; method: "GET" | "HEAD"; query: QueryPart; headers: Headers }
  | { kind: "inspect"; to: Role; path: "/internal/digest" | "/internal/dump" | "/internal/recover"; auth: AuthPart; headers: Headers }
  | { kind: "admin"; to: Role; auth: AuthPart; body: AdminBody; headers: Headers }
  | { kind: "peer"; to: Role; route: "/internal/replicate" | "/internal/snapshot"; auth: AuthPart; message: PeerMessage; headers: Headers }
  | { kind: "stray"; to: Role; method: string; path: string; auth: AuthPart; body: Uint8Array | null; headers: Headers };

export interface RenderedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
}

/** What the node under test looks like when a request is rendered. */
export interface RenderContext {
  /** The leader's commit offset (every write the model knows is committed). */
  commitOffset: number;
  followerEpoch: number;
  followerLastOffset: number;
}

// ---------------------------------------------------------------------------------------------
// Admin bodies

const adminField = <T>(valid: fc.Arbitrary<T>, invalid: unknown[]) =>
  fc.oneof(
    { arbitrary: fc.constant({ present: false as const }), weight: 2 },
    { arbitrary: valid.map((value) => ({ present: true as const, value, valid: true })), weight: 3 },
    { arbitrary: fc.constantFrom(...invalid).map((value) => ({ present: true as const, value, valid: false })), weight: 1 },
  );

const delayField = adminField(fc.constantFrom(0, 0.25, 0.5, 1), [-1, 60_001, "0", null, true, [1]]);
const utf8 = new TextEncoder();

const adminBody: fc.Arbitrary<AdminBody> = fc.oneof(
  {
    arbitrary: fc
      .record({
        writeQuorum: adminField(fc.integer({ min: 0, max: contract.followers }), [6, -1, 1.5, "3", null, false]),
        minDelayMs: delayField,
        maxDelayMs: delayField,
        unknown: fc.option(fc.constantFrom("writequorum", "delay", "token", "__proto__"), { freq: 4 }),
      })
      .map(({ writeQuorum, minDelayMs, maxDelayMs, unknown }): AdminBody => {
        const object: Record<string, unknown> = {};
        const change: Record<string, number> = {};
        let valid = unknown === null;
        for (const [name, field] of Object.entries({ writeQuorum, minDelayMs, maxDelayMs })) {
          if (!field.present) continue;
          object[name] = field.value;
          if (field.valid) change[name] = field.value as number;
          else valid = false;
        }
        if (unknown !== null) Object.defineProperty(object, unknown, { value: 1, enumerable: true });
        const bytes = utf8.encode(JSON.stringify(object));
        return valid ? { bytes, change, errors: [] } : { bytes, errors: ["invalid_config"] };
      }),
    weight: 4,
  },
  { arbitrary: fc.constantFrom("", "{", "nope", '{"writeQuorum":}').map((t) => ({ bytes: utf8.encode(t), errors: ["invalid_json"] })), weight: 1 },
  {
    arbitrary: fc.constantFrom("[]", "null", "3", '"x"', '{"writeQuorum":1e400}').map((t) => ({ bytes: utf8.encode(t), errors: ["invalid_config"] })),
    weight: 1,
  },
  {
    arbitrary: fc.uint8Array({ maxLength: 32 }).map((bytes): AdminBody => {
      try {
        const parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
        // Random bytes that happen to be `{}` change nothing and succeed.
        const empty = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) && Object.keys(parsed).length === 0;
        return empty ? { bytes, change: {}, errors: [] } : { bytes, errors: ["invalid_config"] };
      } catch {
        return { bytes, errors: ["invalid_json"] };
      }
    }),
    weight: 1,
  },
);

// ---------------------------------------------------------------------------------------------
// Stray requests: unknown paths and wrong methods

const knownFirstSegments = new Set(["kv", "get", "set", "status", "health", "internal", "admin", "metrics", "dashboard", "txn", "watch"]);
const methodsWithBody = ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

const strayTarget: fc.Arbitrary<{ method: string; path: string }> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("GET", "HEAD", ...methodsWithBody),
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) => !knownFirstSegments.has(s) && s !== "." && s !== ".."),
      fc.array(
        fc.string({ unit: "grapheme-ascii", maxLength: 6 }).filter((s) => s !== "." && s !== ".."),
        { maxLength: 3 },
      ),
    )
    .map(([method, first, rest]) => ({ method, path: `/${[first, ...rest].map(encodeURIComponent).join("/")}` })),
  fc
    .tuple(
      fc.constantFrom("GET", "POST", "PUT", "DELETE"),
      fc.constantFrom("/internal/", "/admin/"),
      fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 10 }),
    )
    .filter(([, prefix, rest]) => !["digest", "dump", "recover", "replicate", "snapshot", "config"].includes(rest) && rest !== "." && rest !== "..")
    .map(([method, prefix, rest]) => ({ method, path: prefix + encodeURIComponent(rest) })),
  fc.constantFrom(
    { method: "POST", path: "/kv/k" },
    { method: "PATCH", path: "/kv/k" },
    { method: "OPTIONS", path: "/kv/k" },
    { method: "GET", path: "/set" },
    { method: "PUT", path: "/set" },
    { method: "DELETE", path: "/get/k" },
    { method: "PUT", path: "/status" },
    { method: "POST", path: "/health" },
    { method: "GET", path: "/admin/config" },
    { method: "POST", path: "/internal/digest" },
    { method: "GET", path: "/internal/replicate" },
    { method: "PUT", path: "/internal/snapshot" },
    { method: "POST", path: "/kv" },
    { method: "GET", path: "/txn" },
    { method: "PUT", path: "/watch" },
    { method: "POST", path: "/set/" },
    { method: "GET", path: "/KV/k" },
    { method: "GET", path: "/status/x" },
    { method: "POST", path: "/" },
    { method: "PUT", path: "/metrics" },
    { method: "DELETE", path: "/dashboard/cluster.json" },
  ),
);

// ---------------------------------------------------------------------------------------------
// Whole cases

export interface CaseOptions {
  token: string;
  otherClusterToken: string;
  /** Largest extra header. */
  headerBytesMax: number;
  /** Largest request line + headers: a real server answers bigger ones itself (Bun: 431 over 16 KiB). */
  headBytesMax?: number;
  /** Share of requests sent to a follower rather than the leader. */
  followerShare?: number;
}

export function fuzzCase(options: CaseOptions): fc.Arbitrary<FuzzCase> {
  return anyCase(options)
    .filter((fuzz) => options.headBytesMax === undefined || headBytes(render(fuzz, sampleContext)) <= options.headBytesMax)
    .map((fuzz) => Object.assign(fuzz, { [fc.toStringMethod]: () => describeRequest(fuzz.to, render(fuzz, sampleContext)) }));
}

/** For sizes and descriptions: what a request looks like before the node's state is known. */
const sampleContext: RenderContext = { commitOffset: 0, followerEpoch: 1, followerLastOffset: 0 };

/** Bytes of the request line and headers, as a server's header limit counts them (roughly). */
export function headBytes(request: RenderedRequest): number {
  let bytes = request.method.length + request.path.length + 12;
  for (const [name, value] of Object.entries(request.headers)) bytes += name.length + value.length + 4;
  return bytes;
}

function anyCase(options: CaseOptions): fc.Arbitrary<FuzzCase> {
  const followerWeight = Math.round((options.followerShare ?? 0.2) * 100);
  const to = fc.oneof(
    { arbitrary: fc.constant<Role>("leader"), weight: 100 - followerWeight },
    { arbitrary: fc.constant<Role>("follower"), weight: followerWeight },
  );
  const headers = fc.record({ contentType, extra: extraHeaders(options.headerBytesMax) }, { requiredKeys: ["extra"] });
  const auth = authPart(options.token, options.otherClusterToken);
  // Peers and admins mostly get the right token, so the checks behind it are reached too.
  const peerAuth = authPart(options.token, options.otherClusterToken, 4);
  const toFollower = fc.oneof({ arbitrary: fc.constant<Role>("follower"), weight: 4 }, { arbitrary: fc.constant<Role>("leader"), weight: 1 });
  const key = fc.oneof({ arbitrary: keyPart, weight: 3 }, { arbitrary: hotKeyPart, weight: 2 });
  return fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant("put" as const), to, key, query: writeQuery, body: putBody, headers }), weight: 30 },
    { arbitrary: fc.record({ kind: fc.constant("delete" as const), to, key, query: writeQuery, body: ignoredBody, headers }), weight: 6 },
    { arbitrary: fc.record({ kind: fc.constant("set" as const), to, query: writeQuery, body: setBody, headers }), weight: 10 },
    {
      arbitrary: fc.record({
        kind: fc.constant("read" as const),
        to,
        route: fc.constantFrom("/kv/" as const, "/get/" as const),
        method: fc.constantFrom("GET" as const, "GET" as const, "HEAD" as const),
        key,
        query: readQuery,
        headers,
      }),
      weight: 20,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant("info" as const),
        to,
        path: fc.constantFrom("/status" as const, "/health" as const),
        method: fc.constantFrom("GET" as const, "HEAD" as const),
        query: junkQuery,
        headers,
      }),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant("inspect" as const),
        to,
        path: fc.constantFrom("/internal/digest" as const, "/internal/dump" as const, "/internal/recover" as const),
        auth,
        headers,
      }),
      weight: 5,
    },
    { arbitrary: fc.record({ kind: fc.constant("admin" as const), to, auth: peerAuth, body: adminBody, headers }), weight: 6 },
    {
      arbitrary: fc.oneof(
        fc.record({
          kind: fc.constant("peer" as const),
          to: toFollower,
          route: fc.constant("/internal/replicate" as const),
          auth: peerAuth,
          message: peerMessage(replicateMutations),
          headers,
        }),
        fc.record({
          kind: fc.constant("peer" as const),
          to: toFollower,
          route: fc.constant("/internal/snapshot" as const),
          auth: peerAuth,
          message: peerMessage(snapshotMutations),
          headers,
        }),
      ),
      weight: 10,
    },
    {
      arbitrary: fc.tuple(to, strayTarget, auth, ignoredBody, headers).map(
        ([role, { method, path }, authorization, body, hs]): FuzzCase => ({
          kind: "stray",
          to: role,
          method,
          path,
          auth: authorization,
          body: method === "GET" || method === "HEAD" ? null : body,
          headers: hs,
        }),
      ),
      weight: 6,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Rendering

function queryString(query: QueryPart, context: RenderContext): string {
  if (query.params.length === 0) return "";
  return `?${query.params.map(([name, value]) => `${name}=${value === "@commit" ? context.commitOffset : value}`).join("&")}`;
}

export function render(fuzz: FuzzCase, context: RenderContext): RenderedRequest {
  const headers: Record<string, string> = { ...fuzz.headers.extra };
  if (fuzz.headers.contentType !== undefined) headers["content-type"] = fuzz.headers.contentType;
  if ("auth" in fuzz && fuzz.auth.header !== null) headers.authorization = fuzz.auth.header;
  switch (fuzz.kind) {
    case "put":
      return { method: "PUT", path: `/kv/${fuzz.key.segment}${queryString(fuzz.query, context)}`, headers, body: fuzz.body.bytes };
    case "delete":
      return { method: "DELETE", path: `/kv/${fuzz.key.segment}${queryString(fuzz.query, context)}`, headers, body: fuzz.body };
    case "set":
      return { method: "POST", path: `/set${queryString(fuzz.query, context)}`, headers, body: fuzz.body.bytes };
    case "read":
      return { method: fuzz.method, path: `${fuzz.route}${fuzz.key.segment}${queryString(fuzz.query, context)}`, headers, body: null };
    case "info":
      return { method: fuzz.method, path: `${fuzz.path}${queryString(fuzz.query, context)}`, headers, body: null };
    case "inspect":
      return { method: "GET", path: fuzz.path, headers, body: null };
    case "admin":
      return { method: "PUT", path: "/admin/config", headers, body: fuzz.body.bytes };
    case "peer":
      return { method: "POST", path: fuzz.route, headers, body: renderPeerMessage(fuzz.route, fuzz.message, context) };
    case "stray":
      return { method: fuzz.method, path: fuzz.path, headers, body: fuzz.body };
  }
}

/** A short description for failure reports (bodies can be a megabyte). */
export function describeRequest(to: Role, request: RenderedRequest): string {
  const path = request.path.length > 160 ? `${request.path.slice(0, 160)}…(${request.path.length} chars)` : request.path;
  const headers = Object.entries(request.headers)
    .map(([name, value]) => `${name}: ${value.length > 60 ? `${value.slice(0, 60)}…(${value.length})` : value}`)
    .join("; ");
  let body = "";
  if (request.body) {
    const text = new TextDecoder().decode(request.body.subarray(0, 200));
    body = ` body(${request.body.length} bytes) ${JSON.stringify(text)}`;
  }
  return `${to}: ${request.method} ${path} [${headers}]${body}`;
}
