import { describe, expect, test } from "bun:test";
import { digestsAgree, hasConverged, type NodeDigest } from "./consistency.ts";

const node = (overrides: Partial<NodeDigest>): NodeDigest => ({
  url: "http://n",
  lastOffset: 10,
  commitOffset: 10,
  appliedOffset: 10,
  keys: 3,
  digest: "abc",
  ...overrides,
});

describe("convergence", () => {
  test("waits while the leader holds uncommitted writes", () => {
    const leader = node({ lastOffset: 11 });
    expect(hasConverged(leader, [leader, node({})])).toBe(false);
  });

  test("waits while a follower has not applied the leader's log", () => {
    const leader = node({});
    expect(hasConverged(leader, [leader, node({ appliedOffset: 9 })])).toBe(false);
    expect(hasConverged(leader, [leader, node({})])).toBe(true);
  });

  test("an unreachable node never converges", () => {
    const leader = node({});
    expect(hasConverged(leader, [leader, { url: "http://f", error: "ECONNREFUSED" }])).toBe(false);
  });
});

describe("agreement", () => {
  test("same digest, key count and applied offset everywhere", () => {
    const leader = node({});
    expect(digestsAgree(leader, [leader, node({})])).toBe(true);
    expect(digestsAgree(leader, [leader, node({ digest: "abd" })])).toBe(false);
    expect(digestsAgree(leader, [leader, node({ keys: 4 })])).toBe(false);
    expect(digestsAgree(leader, [leader, node({ appliedOffset: 9 })])).toBe(false);
    expect(digestsAgree(leader, [leader, { url: "http://f", error: "timeout" }])).toBe(false);
  });
});
