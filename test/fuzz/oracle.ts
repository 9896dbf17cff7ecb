import { contract, statusOfCode } from "./cases.ts";
import { type FuzzCase, type RenderContext, type RenderedRequest, type Role, describeRequest, render } from "./requests.ts";

/**
 * Runs fuzz cases against a node and checks every answer against the expected state: a 2xx for
 * valid input, a 4xx with a JSON {error, message} otherwise, never a 5xx; the leader's log and
 * digest change only for a valid write, a follower's epoch never, and the final state is exactly
 * the valid writes, on the leader and on every follower.
 */

export interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

export interface NodeState {
  epoch: number;
  lastOffset: number;
  digest: string;
}

export type Pairs = Map<string, { value: string; offset: number }>;

/** The node under test: an in-process cluster or real processes. */
export interface FuzzTarget {
  send(to: Role, request: RenderedRequest): Promise<Answer>;
  /** The leader, or the one follower that fuzz cases reach. */
  state(role: Role): Promise<NodeState>;
  /** The leader's committed pairs, values as JSON text. */
  leaderPairs(): Promise<Pairs>;
  /** Waits until every follower holds exactly the leader's state; throws when they do not. */
  converged(): Promise<void>;
}

export interface Config {
  writeQuorum: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/** What the leader must hold: exactly the writes it acknowledged, in order. */
export class ExpectedState {
  readonly pairs: Pairs = new Map();
  lastOffset = 0;
  constructor(public config: Config) {}
}

type Prediction =
  | { outcome: "write"; key: string; value: string | null; required: number }
  | { outcome: "read"; key: string; exact: boolean }
  | { outcome: "config"; config: Config }
  | { outcome: "ok"; ndjson: boolean }
  | { outcome: "error"; codes: string[] };

const error = (...codes: string[]): Prediction => ({ outcome: "error", codes: [...new Set(codes)] });

export function predict(fuzz: FuzzCase, model: ExpectedState, context: RenderContext): Prediction {
  switch (fuzz.kind) {
    case "put":
    case "delete":
    case "set": {
      const oversize = fuzz.kind !== "delete" && fuzz.body.errors.includes("payload_too_large");
      if (fuzz.to === "follower") {
        // The body limit comes first; /kv/ with no key at all is refused as an empty key.
        const emptyKey = fuzz.kind !== "set" && fuzz.key.segment === "";
        return error("not_leader", ...(oversize ? ["payload_too_large"] : []), ...(emptyKey ? ["invalid_key"] : []));
      }
      const keyErrors = fuzz.kind !== "set" && fuzz.key.key === null ? ["invalid_key"] : [];
      const bodyErrors = fuzz.kind === "delete" ? [] : fuzz.body.errors;
      const errors = [...fuzz.query.errors, ...keyErrors, ...bodyErrors];
      if (errors.length > 0) return error(...errors);
      const key = fuzz.kind === "set" ? fuzz.body.key! : fuzz.key.key!;
      const value = fuzz.kind === "delete" ? null : fuzz.body.value!;
      return { outcome: "write", key, value, required: Math.max(fuzz.query.quorum ?? 0, model.config.writeQuorum) };
    }
    case "read": {
      const errors = [...fuzz.query.errors, ...(fuzz.key.key === null ? ["invalid_key"] : [])];
      if (errors.length > 0) return error(...errors);
      const readsOwnWrites = fuzz.query.params.some(([name, value]) => name === "minOffset" && value === "@commit");
      return { outcome: "read", key: fuzz.key.key!, exact: fuzz.to === "leader" || readsOwnWrites };
    }
    case "info":
      return { outcome: "ok", ndjson: false };
    case "inspect":
      if (!fuzz.auth.accepted) return error("unauthorized");
      if (fuzz.to === "leader" && fuzz.path === "/internal/recover") return error("not_found");
      return { outcome: "ok", ndjson: fuzz.path !== "/internal/digest" };
    case "admin": {
      if (!fuzz.auth.accepted) return error("unauthorized");
      if (fuzz.to === "follower") return error("not_leader");
      if (fuzz.body.errors.length > 0) return error(...fuzz.body.errors);
      const config = { ...model.config, ...fuzz.body.change };
      if (config.minDelayMs > config.maxDelayMs) return error("invalid_config");
      return { outcome: "config", config };
    }
    case "peer":
      if (!fuzz.auth.accepted) return error("unauthorized");
      if (fuzz.to === "leader") return error("not_found");
      // Before the first message a follower is at epoch 0, and epoch -1 is not an epoch.
      if (fuzz.message.mutation === "an older epoch" && context.followerEpoch === 0) return error("invalid_message");
      return error(...fuzz.message.errors);
    case "stray": {
      const isProtected = fuzz.path.startsWith("/internal/") || fuzz.path.startsWith("/admin/");
      if (isProtected && !fuzz.auth.accepted) return error("unauthorized");
      return routeMethods(fuzz.to, fuzz.path).length > 0 ? error("method_not_allowed") : error("not_found");
    }
  }
}

/** The methods a role answers on a path (DESIGN §4): any other one is 405, an unknown path 404. */
function routeMethods(role: Role, path: string): string[] {
  const read = ["GET", "HEAD"];
  if (/^\/kv\/./.test(path)) return ["DELETE", "GET", "HEAD", "PUT"];
  if (/^\/get\/./.test(path)) return read;
  if (["/status", "/health", "/internal/digest", "/internal/dump", "/kv", "/watch"].includes(path)) return read;
  if (["/", "/metrics", "/dashboard/app.js", "/dashboard/node.json", "/dashboard/cluster.json", "/dashboard/sweep.json"].includes(path)) return read;
  if (path === "/txn") return ["POST"];
  if (path === "/set") return ["POST"];
  if (path === "/admin/config") return ["PUT"];
  if (role === "follower" && path === "/internal/recover") return read;
  if (role === "follower" && ["/internal/replicate", "/internal/snapshot", "/internal/fence"].includes(path)) return ["POST"];
  return [];
}

class Violation extends Error {
  override name = "Violation";
}

function parseJson(answer: Answer, where: string): Record<string, unknown> {
  try {
    return JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    throw new Violation(`${where}\n→ ${answer.status} with a body that is not JSON: ${JSON.stringify(answer.text.slice(0, 300))}`);
  }
}

function check(condition: boolean, where: string, answer: Answer, expected: string): void {
  if (!condition) throw new Violation(`${where}\n→ ${answer.status} ${answer.text.slice(0, 400)}\nexpected ${expected}`);
}

/** Checks one answer against the prediction; updates the model for writes and config changes. */
function verify(request: RenderedRequest, answer: Answer, prediction: Prediction, model: ExpectedState, where: string): void {
  check(answer.status < 500, where, answer, "no 5xx, ever");
  const head = request.method === "HEAD";
  switch (prediction.outcome) {
    case "error": {
      const statuses = prediction.codes.map((code) => statusOfCode[code]!);
      check(statuses.includes(answer.status), where, answer, `${statuses.join(" or ")} (${prediction.codes.join(" / ")})`);
      if (head) return;
      check(answer.contentType?.startsWith("application/json") === true, where, answer, "a JSON error (content-type application/json)");
      const body = parseJson(answer, where);
      check(
        typeof body.error === "string" &&
          prediction.codes.includes(body.error) &&
          statusOfCode[body.error] === answer.status &&
          typeof body.message === "string",
        where,
        answer,
        `{error: ${prediction.codes.join(" | ")}, message}`,
      );
      return;
    }
    case "write": {
      const offset = model.lastOffset + 1;
      check(answer.status === 200, where, answer, `200 for a valid write of ${JSON.stringify(prediction.key)}`);
      const body = parseJson(answer, where);
      check(
        body.key === prediction.key &&
          body.offset === offset &&
          typeof body.acks === "number" &&
          body.acks >= prediction.required &&
          body.acks <= contract.followers,
        where,
        answer,
        `{key: ${JSON.stringify(prediction.key)}, offset: ${offset}, acks: ${prediction.required}..${contract.followers}}`,
      );
      model.lastOffset = offset;
      if (prediction.value === null) model.pairs.delete(prediction.key);
      else model.pairs.set(prediction.key, { value: prediction.value, offset });
      return;
    }
    case "read": {
      const stored = model.pairs.get(prediction.key);
      if (prediction.exact) {
        check(answer.status === (stored ? 200 : 404), where, answer, stored ? `200 with ${stored.value}` : "404 not_found");
      } else {
        check(answer.status === 200 || answer.status === 404, where, answer, "200 or 404 (a follower may lag)");
      }
      if (head) return;
      const body = parseJson(answer, where);
      if (answer.status === 404) {
        check(body.error === "not_found" && body.key === prediction.key, where, answer, `{error: not_found, key: ${JSON.stringify(prediction.key)}}`);
        return;
      }
      check(body.key === prediction.key && typeof body.offset === "number" && body.offset <= model.lastOffset, where, answer, "{key, value, offset}");
      if (prediction.exact) {
        check(
          JSON.stringify(body.value) === stored!.value && body.offset === stored!.offset,
          where,
          answer,
          `value ${stored!.value} at offset ${stored!.offset}`,
        );
      }
      return;
    }
    case "config": {
      check(answer.status === 200, where, answer, `200 with ${JSON.stringify(prediction.config)}`);
      const body = parseJson(answer, where);
      check(
        body.writeQuorum === prediction.config.writeQuorum &&
          body.minDelayMs === prediction.config.minDelayMs &&
          body.maxDelayMs === prediction.config.maxDelayMs,
        where,
        answer,
        JSON.stringify(prediction.config),
      );
      model.config = prediction.config;
      return;
    }
    case "ok": {
      check(answer.status === 200, where, answer, "200");
      if (head) return;
      if (!prediction.ndjson) {
        parseJson(answer, where);
        return;
      }
      for (const line of answer.text.split("\n")) {
        if (!line) continue;
        try {
          JSON.parse(line);
        } catch {
          check(false, where, answer, `NDJSON, got the line ${JSON.stringify(line.slice(0, 100))}`);
        }
      }
    }
  }
}

export interface RunStats {
  requests: number;
  writes: number;
  byStatus: Map<number, number>;
}

export const newStats = (): RunStats => ({ requests: 0, writes: 0, byStatus: new Map() });

/** Sends one case and checks the answer and the state around it. */
export async function execute(target: FuzzTarget, model: ExpectedState, fuzz: FuzzCase, stats: RunStats): Promise<void> {
  const leaderBefore = await target.state("leader");
  const followerBefore = fuzz.to === "follower" ? await target.state("follower") : null;
  if (leaderBefore.lastOffset !== model.lastOffset) {
    throw new Violation(`the leader's log reached offset ${leaderBefore.lastOffset}, but only ${model.lastOffset} valid writes were sent`);
  }
  const context: RenderContext = {
    commitOffset: model.lastOffset,
    followerEpoch: followerBefore?.epoch ?? 0,
    followerLastOffset: followerBefore?.lastOffset ?? 0,
  };
  const request = render(fuzz, context);
  const prediction = predict(fuzz, model, context);
  const where = describeRequest(fuzz.to, request);
  const answer = await target.send(fuzz.to, request);
  stats.requests++;
  stats.byStatus.set(answer.status, (stats.byStatus.get(answer.status) ?? 0) + 1);
  const quorumBefore = model.config.writeQuorum;
  verify(request, answer, prediction, model, where);
  const leaderAfter = await target.state("leader");
  // Lowering the write quorum is a write of its own: one marker entry (no key, no value).
  const lowered = prediction.outcome === "config" && model.config.writeQuorum < quorumBefore;
  if (lowered) model.lastOffset++;
  if (prediction.outcome === "write" || lowered) {
    stats.writes++;
    if (leaderAfter.lastOffset !== leaderBefore.lastOffset + 1)
      throw new Violation(`${where}\na valid write moved the log from ${leaderBefore.lastOffset} to ${leaderAfter.lastOffset}`);
  } else if (leaderAfter.lastOffset !== leaderBefore.lastOffset || leaderAfter.digest !== leaderBefore.digest) {
    throw new Violation(
      `${where}\n→ ${answer.status} ${answer.text.slice(0, 200)}\nchanged the leader's state without a valid write: offset ${leaderBefore.lastOffset}→${leaderAfter.lastOffset}, digest ${leaderBefore.digest}→${leaderAfter.digest}`,
    );
  }
  if (followerBefore) {
    const followerAfter = await target.state("follower");
    if (followerAfter.epoch !== followerBefore.epoch)
      throw new Violation(`${where}\nchanged the follower's epoch ${followerBefore.epoch}→${followerAfter.epoch}`);
  }
}

/** After a sequence: the leader holds exactly the model, and every follower holds the leader's state. */
export async function expectFinalState(target: FuzzTarget, model: ExpectedState): Promise<void> {
  const pairs = await target.leaderPairs();
  const problems: string[] = [];
  for (const [key, expected] of model.pairs) {
    const actual = pairs.get(key);
    if (actual?.value !== expected.value || actual.offset !== expected.offset) {
      problems.push(`${JSON.stringify(key)}: expected ${expected.value}@${expected.offset}, found ${actual ? `${actual.value}@${actual.offset}` : "nothing"}`);
    }
  }
  for (const key of pairs.keys()) if (!model.pairs.has(key)) problems.push(`${JSON.stringify(key)}: not written by any valid request`);
  if (problems.length > 0) throw new Violation(`the leader's state differs from the valid writes:\n${problems.slice(0, 10).join("\n")}`);
  await target.converged();
}

/** Prints how many requests ran and the status mix, so a run that tested little shows it. */
export function formatStats(name: string, stats: RunStats): string {
  const statuses = [...stats.byStatus.entries()].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`);
  return `${name}: ${stats.requests} requests (${stats.writes} valid writes); ${statuses.join(" ")}`;
}
