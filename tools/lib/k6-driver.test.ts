import { expect, test } from "bun:test";
import { summarizeK6Output } from "./k6-driver.ts";

/** One line of `k6 run --out json=…`, in the documented shape. */
function point(metric: string, time: string, value: number, tags: Record<string, string>) {
  return JSON.stringify({ type: "Point", metric, data: { time, value, tags } });
}

test("k6 samples become the same summary as the built-in driver", () => {
  // write_ms: one sample per write (k6/lib/leader.js); the 421 that preceded a write's second
  // request is in http_req_duration only, and is not a write of its own.
  const lines = [
    JSON.stringify({ type: "Metric", metric: "write_ms", data: { type: "trend", contains: "time" } }),
    point("http_req_duration", "2025-01-01T00:00:00.005000000Z", 4, { status: "421", expected_response: "true" }),
    point("write_ms", "2025-01-01T00:00:00.010000000Z", 10, { outcome: "acknowledged", code: "" }),
    point("http_reqs", "2025-01-01T00:00:00.010000000Z", 1, { status: "200" }),
    point("write_ms", "2025-01-01T00:00:00.500000000Z", 20, { outcome: "acknowledged", code: "" }),
    point("write_ms", "2025-01-01T00:00:01.000000000Z", 30, { outcome: "failed", code: "overloaded" }),
    point("write_ms", "2025-01-01T00:00:01.000000000Z", 5000, { outcome: "indeterminate", code: "k6_error_1220" }),
    "",
  ];
  const summary = summarizeK6Output(lines.join("\n"), { leaderUrl: "http://l:1", keys: 100, concurrency: 20 });
  expect(summary.writes).toBe(4);
  expect(summary.succeeded).toBe(2);
  expect(summary.failed).toBe(1);
  expect(summary.indeterminate).toBe(1);
  expect(summary.successRate).toBe(0.5);
  expect(summary.errors).toEqual({ overloaded: 1, k6_error_1220: 1 });
  // From the start of the first request (0.010 s − 10 ms = 0 s) to the last answer (1 s), but
  // the network error's 5 s started 4 s before 0: the run spans 5 s.
  expect(summary.seconds).toBe(5);
  expect(summary.throughput).toBe(0.4);
  expect(summary.latencyMs.max).toBeCloseTo(20, 1);
  expect(summary.latencyMs.mean).toBeCloseTo(15, 1);
});
