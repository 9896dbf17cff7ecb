import { expect, test } from "bun:test";
import { summarizeK6Output } from "./k6-driver.ts";

/** One line of `k6 run --out json=…`, in the documented shape. */
function point(metric: string, time: string, value: number, tags: Record<string, string>) {
  return JSON.stringify({ type: "Point", metric, data: { time, value, tags } });
}

test("k6 samples become the same summary as the built-in driver", () => {
  const lines = [
    JSON.stringify({ type: "Metric", metric: "http_req_duration", data: { type: "trend", contains: "time" } }),
    point("http_req_duration", "2025-01-01T00:00:00.010000000Z", 10, { status: "200", expected_response: "true" }),
    point("http_reqs", "2025-01-01T00:00:00.010000000Z", 1, { status: "200" }),
    point("http_req_duration", "2025-01-01T00:00:00.500000000Z", 20, { status: "200", expected_response: "true" }),
    point("http_req_duration", "2025-01-01T00:00:01.000000000Z", 30, { status: "503", expected_response: "false" }),
    point("http_req_duration", "2025-01-01T00:00:01.000000000Z", 5000, { status: "0", error_code: "1211", expected_response: "false" }),
    "",
  ];
  const summary = summarizeK6Output(lines.join("\n"), { leaderUrl: "http://l:1", keys: 100, concurrency: 20 });
  expect(summary.writes).toBe(4);
  expect(summary.succeeded).toBe(2);
  expect(summary.failed).toBe(2);
  expect(summary.successRate).toBe(0.5);
  expect(summary.errors).toEqual({ http_503: 1, k6_error_1211: 1 });
  // From the start of the first request (0.010 s − 10 ms = 0 s) to the last answer (1 s), but
  // the network error's 5 s started 4 s before 0: the run spans 5 s.
  expect(summary.seconds).toBe(5);
  expect(summary.throughput).toBe(0.4);
  expect(summary.latencyMs.max).toBeCloseTo(20, 1);
  expect(summary.latencyMs.mean).toBeCloseTo(15, 1);
});
