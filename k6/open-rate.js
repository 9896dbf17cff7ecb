// Open model: writes start at a fixed rate whatever the answers, like independent users.
//
// Why: in a closed test (writes.js) a slow answer delays the client's next write, so a stall
// produces fewer samples instead of many slow ones, and the percentiles hide it ("coordinated
// omission"). Here k6 starts each iteration on schedule; when no VU is free the iteration is
// dropped and counted in `dropped_iterations` instead of silently sent late. A non-zero count
// means the cluster (or this machine) could not keep up, and the latencies understate the wait.
// (`bun run load --rate R` does the same and measures latency from each write's scheduled start.)
//
//   k6 run -e RATE=1000 -e DURATION=30s k6/open-rate.js
import { check } from "k6";
import exec from "k6/execution";
import { putFollowingLeader } from "./lib/leader.js";

const RATE = Number(__ENV.RATE || 1000);
const DURATION = __ENV.DURATION || "30s";
const KEYS = Number(__ENV.KEYS || 100);
const QUERY = __ENV.QUORUM ? `?quorum=${__ENV.QUORUM}` : "";
// Enough VUs for RATE writes/s at ~20 ms each, with room for stalls up to MAX_VUS.
const PRE_ALLOCATED_VUS = Number(__ENV.PRE_ALLOCATED_VUS || 50);
const MAX_VUS = Number(__ENV.MAX_VUS || 500);

export const options = {
  scenarios: {
    open_rate: {
      executor: "constant-arrival-rate",
      rate: RATE,
      timeUnit: "1s",
      duration: DURATION,
      preAllocatedVUs: PRE_ALLOCATED_VUS,
      maxVUs: MAX_VUS,
    },
  },
  thresholds: {
    write_failed: ["rate<0.001"],
    "write_ms{outcome:acknowledged}": ["p(95)<100"],
    // Every scheduled write must have been sent, or the percentiles above are not the whole story.
    dropped_iterations: ["count==0"],
  },
};

export default function () {
  const i = exec.scenario.iterationInTest;
  const outcome = putFollowingLeader(`/kv/key-${i % KEYS}${QUERY}`, JSON.stringify({ value: `value-${i}` }));
  check(outcome, { "write acknowledged": (o) => o === "acknowledged" });
}
