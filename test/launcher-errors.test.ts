import { afterEach, describe, expect, test } from "bun:test";
import { auth, inProcessCluster, jsonRequest } from "../src/in-process-cluster.ts";

// Issue 10: errors a newcomer meets in the first hour must name the right thing.

let cluster: ReturnType<typeof inProcessCluster>;
afterEach(() => cluster?.stop());

type App = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

async function call(app: App, path: string, init?: RequestInit) {
  const response = await app.request(path, init);
  const text = await response.text();
  return { status: response.status, allow: response.headers.get("allow"), body: (text ? JSON.parse(text) : {}) as Record<string, any> };
}

const leaderState = () => ({ lastOffset: cluster.leader.node.lastOffset, digest: cluster.leader.node.state.digest() });

describe("a write's 400 shows the body it expects", () => {
  const cases: [name: string, path: string, init: RequestInit, code: string, shape: string][] = [
    ["PUT without a body", "/kv/k", { method: "PUT" }, "invalid_json", '{"value": <any JSON>}'],
    ["PUT with a form body (curl -d without JSON)", "/kv/k", { method: "PUT", body: "value=1" }, "invalid_json", '{"value": <any JSON>}'],
    ["PUT with an object lacking value", "/kv/k", jsonRequest("PUT", { valeu: 1 }), "invalid_value", '{"value": <any JSON>}'],
    ["PUT with a bare value", "/kv/k", jsonRequest("PUT", '"hello"'), "invalid_value", '{"value": <any JSON>}'],
    ["POST /set without a body", "/set", { method: "POST" }, "invalid_json", '{"key": "<key>", "value": <any JSON>}'],
    ["POST /set without a key", "/set", jsonRequest("POST", { value: 1 }), "invalid_key", '{"key": "<key>", "value": <any JSON>}'],
  ];
  for (const [name, path, init, code, shape] of cases) {
    test(name, async () => {
      cluster = inProcessCluster();
      const before = leaderState();
      const answer = await call(cluster.leader.app, path, init);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe(code);
      expect(answer.body.message).toContain(`expected a JSON body like ${shape}`);
      expect(leaderState()).toEqual(before);
    });
  }

  test("a body that is too large is still a plain 413", async () => {
    cluster = inProcessCluster();
    const answer = await call(cluster.leader.app, "/kv/k", jsonRequest("PUT", { value: "x".repeat(1024 * 1024) }));
    expect(answer.status).toBe(413);
    expect(answer.body.message).not.toContain("expected a JSON body");
  });
});

describe("a wrong method on a known route is 405 with Allow", () => {
  const anyKeyMethods = "DELETE, GET, HEAD, PUT";
  const read = "GET, HEAD";
  const leaderCases: [method: string, path: string, allow: string][] = [
    ["POST", "/kv/k", anyKeyMethods],
    ["PATCH", "/kv/a/b", anyKeyMethods],
    ["GET", "/set", "POST"],
    ["PUT", "/get/k", read],
    ["POST", "/status", read],
    ["DELETE", "/health", read],
    ["GET", "/admin/config", "PUT"],
    ["POST", "/internal/digest", read],
    ["PUT", "/internal/dump", read],
  ];
  // A follower lists PUT and DELETE on /kv/:key too: they answer 421 with the leader's URL.
  const followerCases: [method: string, path: string, allow: string][] = [
    ["POST", "/kv/k", anyKeyMethods],
    ["GET", "/set", "POST"],
    ["GET", "/admin/config", "PUT"],
    ["GET", "/internal/replicate", "POST"],
    ["GET", "/internal/snapshot", "POST"],
    ["GET", "/internal/fence", "POST"],
    ["POST", "/internal/recover", read],
  ];
  for (const [role, cases] of [
    ["leader", leaderCases],
    ["follower", followerCases],
  ] as const) {
    for (const [method, path, allow] of cases) {
      test(`${method} ${path} on a ${role}: Allow ${allow}`, async () => {
        cluster = inProcessCluster();
        const app = role === "leader" ? cluster.leader.app : cluster.followers[0]!.app;
        const before = leaderState();
        const answer = await call(app, path, { method, headers: auth });
        expect(answer).toEqual({
          status: 405,
          allow,
          body: { error: "method_not_allowed", message: `${method} is not allowed on ${path}; use ${allow}`, allow: allow.split(", ") },
        });
        expect(leaderState()).toEqual(before);
      });
    }
  }

  test("a path no route knows stays 404 not_found, without Allow", async () => {
    cluster = inProcessCluster();
    for (const [method, path] of [
      ["GET", "/nope"],
      ["POST", "/internal/nope"],
      ["GET", "/kvx/k"],
    ]) {
      const answer = await call(cluster.leader.app, path!, { method, headers: auth });
      expect({ path, status: answer.status, error: answer.body.error, allow: answer.allow }).toEqual({ path, status: 404, error: "not_found", allow: null });
    }
  });

  test("the right method on each route is not caught by the 405", async () => {
    cluster = inProcessCluster();
    expect((await call(cluster.leader.app, "/kv/k", { method: "HEAD" })).status).toBe(404); // HEAD is GET without a body
    expect((await call(cluster.leader.app, "/status")).status).toBe(200);
    expect((await call(cluster.followers[0]!.app, "/kv/k", jsonRequest("PUT", { value: 1 }))).status).toBe(421);
  });
});
