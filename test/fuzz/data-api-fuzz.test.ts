import { expect, test } from "bun:test";
import fc from "fast-check";
import { txnOpsMax } from "../../src/core/txn.ts";
import { inProcessCluster } from "../../src/in-process-cluster.ts";
import { waitFor } from "../helpers.ts";
import { fuzzParameters } from "./settings.ts";

/**
 * The data API's routes (PUT/DELETE ?ifOffset, POST /txn, GET /kv scans, GET /watch's refusals)
 * in hostile sequences, through `app.request` on an in-process cluster, each answer checked
 * against a model of the committed pairs: conditions decided as the model decides them, scans
 * exactly the model's pairs in order, bad input a JSON 400 that changes nothing, never a 5xx;
 * at the end every follower holds exactly the model. FUZZ_RUNS scales it as the other fuzzers.
 */

type Model = Map<string, { value: unknown; offset: number }>;
const hotKeys = ["a", "b", "a/1", "a/2", "b/1", "é", "z"];
const key = fc.constantFrom(...hotKeys);
const value = fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }));
/** An offset the client might send: often one it read (resolved against the model at run time), or junk. */
const offsetGuess = fc.oneof(
  { arbitrary: fc.constant("current" as const), weight: 3 },
  { arbitrary: fc.integer({ min: 0, max: 30 }), weight: 2 },
  { arbitrary: fc.constantFrom("-1", "x", "1.5", "", "1e3"), weight: 1 },
);
const op = fc.oneof(
  fc.record({ op: fc.constant("put"), key, value }),
  fc.record({ op: fc.constant("delete"), key }),
  fc.record({ op: fc.constant("get"), key }),
);
const junkOp = fc.constantFrom<unknown>({ op: "put", key: "a" }, { op: "incr", key: "a" }, { op: "get", key: "" }, { op: "get" }, "get", null);

const step = fc.oneof(
  fc.record({ kind: fc.constant("cas" as const), method: fc.constantFrom("PUT", "PUT", "PUT", "DELETE"), key, value, ifOffset: offsetGuess }),
  fc.record({
    kind: fc.constant("txn" as const),
    compare: fc.array(fc.record({ key, offset: offsetGuess }), { maxLength: 3 }),
    success: fc.array(op, { maxLength: 4 }),
    failure: fc.array(op, { maxLength: 4 }),
    junk: fc.option(
      fc.oneof(
        junkOp.map((j) => ({ success: [j] })),
        fc.constant({ extra: 1 }),
        fc.constant({ success: Array(txnOpsMax + 1).fill({ op: "get", key: "a" }) }),
      ),
      { freq: 5 },
    ),
  }),
  fc.record({
    kind: fc.constant("scan" as const),
    to: fc.constantFrom("leader", "follower"),
    prefix: fc.option(fc.constantFrom("", "a", "a/", "b", "é", "q"), { nil: undefined }),
    after: fc.option(fc.constantFrom(...hotKeys, "", "a/", "zz"), { nil: undefined }),
    limit: fc.option(fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constantFrom("0", "1001", "x", "-2")), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant("watch" as const), query: fc.constantFrom("fromOffset=1.5", "fromOffset=x", `prefix=${"p".repeat(1025)}`, "fromOffset=-1") }),
);

const resolve = (guess: number | string, model: Model, k: string) => (guess === "current" ? String(model.get(k)?.offset ?? 0) : String(guess));
const isOffset = (text: string) => /^\d+$/.test(text);

test("fuzzing the data API in process: conditions, transactions and scans agree with a model; bad input changes nothing", async () => {
  let requests = 0;
  let decided = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30, size: "max" }), async (steps) => {
      const cluster = inProcessCluster();
      const model: Model = new Map();
      let offset = 0;
      const call = async (app: typeof cluster.leader.app, path: string, init?: RequestInit) => {
        requests++;
        const response = await app.request(path, init);
        expect(response.status).toBeLessThan(500);
        const body = (await response.json()) as Record<string, any>;
        if (response.status >= 400) expect(typeof body.error).toBe("string");
        return { status: response.status, body };
      };
      try {
        for (const s of steps) {
          const before = cluster.leader.node.lastOffset;
          if (s.kind === "cas") {
            const ifOffset = resolve(s.ifOffset, model, s.key);
            const init = s.method === "PUT" ? { method: "PUT", body: JSON.stringify({ value: s.value }) } : { method: "DELETE" };
            const answer = await call(cluster.leader.app, `/kv/${encodeURIComponent(s.key)}?ifOffset=${ifOffset}`, init);
            if (!isOffset(ifOffset)) {
              expect(answer.body.error).toBe("invalid_offset");
              expect(cluster.leader.node.lastOffset).toBe(before);
              continue;
            }
            offset++;
            decided++;
            const current = model.get(s.key)?.offset ?? 0;
            if (current !== Number(ifOffset)) {
              expect({ status: answer.status, body: answer.body }).toMatchObject({
                status: 412,
                body: { error: "precondition_failed", key: s.key, offset: current },
              });
            } else {
              expect(answer).toMatchObject({ status: 200, body: { offset } });
              if (s.method === "PUT") model.set(s.key, { value: s.value, offset });
              else model.delete(s.key);
            }
          } else if (s.kind === "txn") {
            const compare = s.compare.map((c) => ({ key: c.key, offset: resolve(c.offset, model, c.key) }));
            const body = s.junk ?? {
              compare: compare.map((c) => ({ key: c.key, offset: isOffset(c.offset) ? Number(c.offset) : c.offset })),
              success: s.success,
              failure: s.failure,
            };
            const answer = await call(cluster.leader.app, "/txn", { method: "POST", body: JSON.stringify(body) });
            if (s.junk || !compare.every((c) => isOffset(c.offset))) {
              expect(answer.body.error).toBe("invalid_txn");
              expect(cluster.leader.node.lastOffset).toBe(before);
              continue;
            }
            offset++;
            decided++;
            const succeeded = compare.every((c) => (model.get(c.key)?.offset ?? 0) === Number(c.offset));
            const results = (succeeded ? s.success : s.failure).map((o) => {
              if (o.op === "get") {
                const stored = model.get(o.key);
                return stored ? { op: "get", key: o.key, found: true, value: stored.value, offset: stored.offset } : { op: "get", key: o.key, found: false };
              }
              if (o.op === "put") {
                model.set(o.key, { value: (o as { value: unknown }).value, offset });
                return { op: "put", key: o.key, offset };
              }
              const deleted = model.delete(o.key);
              return { op: "delete", key: o.key, deleted };
            });
            expect(answer).toEqual({ status: 200, body: { succeeded, offset, acks: expect.any(Number), results } });
          } else if (s.kind === "scan") {
            const params = new URLSearchParams({ minOffset: String(offset) });
            if (s.prefix !== undefined) params.set("prefix", s.prefix);
            if (s.after !== undefined) params.set("after", s.after);
            if (s.limit !== undefined) params.set("limit", String(s.limit));
            const app = s.to === "leader" ? cluster.leader.app : cluster.followers[0]!.app;
            const answer = await call(app, `/kv?${params}`);
            const limit = s.limit === undefined ? 100 : typeof s.limit === "number" ? s.limit : null;
            if (limit === null) {
              expect(answer.body.error).toBe("invalid_query");
              continue;
            }
            const prefix = s.prefix ?? "";
            const matching = [...model.keys()].filter((k) => k.startsWith(prefix) && (s.after === undefined || k > s.after)).sort();
            const items = matching.slice(0, limit).map((k) => ({ key: k, value: model.get(k)!.value, offset: model.get(k)!.offset }));
            const next = matching.length > limit ? { next: items.at(-1)!.key } : {};
            expect(answer).toEqual({ status: 200, body: { items, appliedOffset: expect.any(Number), ...next } });
          } else {
            expect((await call(cluster.followers[1]!.app, `/watch?${s.query}`)).status).toBe(400);
          }
          expect(cluster.leader.node.lastOffset).toBe(offset);
        }
        const leader = cluster.leader.node;
        await waitFor(
          "followers apply the leader's commit",
          () => cluster.followers.every((f) => f.node.state.appliedOffset === leader.commitOffset),
          10_000,
          1,
        );
        const expected = [...model].map(([k, stored]) => [k, JSON.stringify(stored.value), stored.offset]).sort();
        for (const node of [leader, ...cluster.followers.map((f) => f.node)]) {
          const actual = [...node.state.entries()].map(([k, stored]) => [k, stored.value, stored.offset]).sort();
          expect(actual).toEqual(expected);
        }
      } finally {
        cluster.stop();
      }
    }),
    fuzzParameters("FUZZ_RUNS", 300),
  );
  // Guards the setting itself: the default run must stay a real fuzz, not a token one.
  if (!process.env.FUZZ_RUNS) expect(requests).toBeGreaterThan(1500);
  expect(decided).toBeGreaterThan(0);
});
