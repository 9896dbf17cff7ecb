// The lab's test (seed §2): 10,000 writes shared by 20 concurrent clients over 100 keys.
// Same requests as `bun run load`: PUT /kv/key-<i % KEYS> {"value": "value-<i>"}.
//
//   k6 run k6/writes.js
//   k6 run -e BASE_URL=http://127.0.0.1:5001 -e WRITES=10000 -e VUS=20 -e KEYS=100 -e QUORUM=3 k6/writes.js
import { check, sleep } from "k6";
import exec from "k6/execution";
import { putFollowingLeader } from "./lib/leader.js";

const WRITES = Number(__ENV.WRITES || 10000);
const VUS = Number(__ENV.VUS || 20);
const KEYS = Number(__ENV.KEYS || 100);
// Per-request quorum (the leader uses max(quorum, WRITE_QUORUM)); unset = the cluster's own.
const QUERY = __ENV.QUORUM ? `?quorum=${__ENV.QUORUM}` : "";
// Pause after each answer (bun run load --think-ms); VUS=1 THINK_MS=12 spaces writes wider than
// MAX_DELAY_MS, the unordered bound's setting.
const THINK_MS = Number(__ENV.THINK_MS || 0);

export const options = {
  scenarios: {
    writes: {
      // Closed model: each VU sends its next write when the last one answered.
      executor: "shared-iterations",
      vus: VUS,
      iterations: WRITES,
      maxDuration: "10m",
    },
  },
  thresholds: {
    // The seed lost 0.6 % of its writes; here none should fail (k6/lib/leader.js counts a write
    // once, after following the leader).
    write_failed: ["rate<0.001"],
    // Acknowledged writes only, like `bun run load`; generous for a 2-core machine.
    "write_ms{outcome:acknowledged}": ["p(95)<100"],
  },
};

export default function () {
  // Unique across all VUs, so the values are value-0 … value-<WRITES−1> as in tools/load.ts.
  const i = exec.scenario.iterationInTest;
  const outcome = putFollowingLeader(`/kv/key-${i % KEYS}${QUERY}`, JSON.stringify({ value: `value-${i}` }));
  check(outcome, { "write acknowledged": (o) => o === "acknowledged" });
  if (THINK_MS > 0) sleep(THINK_MS / 1000);
}
