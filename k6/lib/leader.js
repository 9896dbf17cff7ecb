// Follows the leader, as every quorumkv tool does (tools/lib/leader-client.ts, docs/design.md §9):
// a 421 names the leader, so the write goes there; a 503 `no_leader` (an election) or a refused
// connection (the leader is gone) means polling every known node's /status, with backoff, until
// one leads, for at most LEADER_WAIT_MS per write. Those answers never reached a leader, so the
// write is sent again. A reset or timed-out connection is different: the leader may have logged
// the write before it died, so it is indeterminate and not sent again.
//
// Each write ends as one `write_ms` sample tagged outcome=acknowledged|failed|indeterminate and
// code (the JSON error, http_<status> or k6_error_<code>): tools/lib/k6-driver.ts reads those.
import http from "k6/http";
import { sleep } from "k6";
import { Rate, Trend } from "k6/metrics";

const trimSlash = (url) => url.replace(/\/+$/, "");

const BASE_URL = trimSlash(__ENV.BASE_URL || "http://127.0.0.1:5001");
// Other nodes to ask for the leader when it is gone: comma-separated base URLs.
const PEERS = (__ENV.PEERS || "").split(",").filter(Boolean).map(trimSlash);
// Bound on following one write to a leader (redirects, elections, a dead leader), all told.
const LEADER_WAIT_MS = Number(__ENV.LEADER_WAIT_MS || 10000);
// Bound on a write's own answer; one not answered by then is indeterminate.
const REQUEST_TIMEOUT = __ENV.REQUEST_TIMEOUT || "30s";
// k6's error codes (grafana.com/docs/k6/latest/javascript-api/error-codes): a refused dial sent nothing.
const DIAL_REFUSED = 1212;
const STATUS_TIMEOUT = "1s";
const BACKOFF_FIRST_S = 0.01;
// Small: a VU notices a new leader up to one interval late, which adds to the window it sees.
const BACKOFF_MAX_S = 0.05;
const REDIRECT_HOPS_MAX = 4;

// One write, from its first send to its last answer: redirects and waits for a leader included.
const writeMs = new Trend("write_ms", true);
// Writes refused for sure; indeterminate ones are in write_ms{outcome:indeterminate}.
const writeFailed = new Rate("write_failed");

// Per VU: the leader as far as this VU knows, and every node it has heard of.
let leader = BASE_URL;
const nodes = new Set([BASE_URL, ...PEERS]);

// 421 and 503 are part of following the leader, not failures of the request itself.
const params = {
  headers: { "Content-Type": "application/json" },
  timeout: REQUEST_TIMEOUT,
  responseCallback: http.expectedStatuses(200, 421),
  tags: { name: "PUT /kv/:key" },
};

function field(response, name) {
  try {
    const body = response.json();
    return body && typeof body === "object" ? body[name] : undefined;
  } catch (_) {
    return undefined;
  }
}

function learn(url) {
  if (typeof url === "string" && /^https?:\/\/[^/]+/.test(url)) nodes.add(trimSlash(url));
}

// Polls every known node's /status until one leads (the highest epoch, as a deposed leader may
// not know it yet) or the deadline passes; returns whether one was found.
function findLeader(deadlineMs) {
  let backoffS = BACKOFF_FIRST_S;
  for (;;) {
    const urls = [...nodes];
    const answers = http.batch(urls.map((url) => ["GET", `${url}/status`, null, { timeout: STATUS_TIMEOUT, tags: { name: "GET /status" } }]));
    let best = null;
    answers.forEach((response, i) => {
      if (response.status !== 200) return;
      for (const peer of field(response, "peers") || []) learn(peer);
      for (const follower of field(response, "followers") || []) learn(follower && follower.url);
      learn(field(response, "leader"));
      const epoch = Number(field(response, "epoch") || 0);
      if (field(response, "role") === "leader" && (best === null || epoch > best.epoch)) best = { url: urls[i], epoch };
    });
    if (best !== null) {
      leader = best.url;
      return true;
    }
    if (Date.now() >= deadlineMs) return false;
    sleep(Math.min(backoffS, (deadlineMs - Date.now()) / 1000));
    backoffS = Math.min(backoffS * 2, BACKOFF_MAX_S);
  }
}

function finish(outcome, code, ms) {
  writeMs.add(ms, { outcome, code });
  writeFailed.add(outcome === "failed");
  return outcome;
}

// PUT `path` with `body` on the leader; returns "acknowledged", "failed" or "indeterminate".
// The time counted is k6's own per request, plus the wall-clock time spent finding a leader.
export function putFollowingLeader(path, body) {
  const deadlineMs = Date.now() + LEADER_WAIT_MS;
  let spentMs = 0;
  let hops = 0;
  let backoffS = BACKOFF_FIRST_S;
  for (;;) {
    const tried = leader;
    const response = http.put(`${tried}${path}`, body, params);
    spentMs += response.timings.duration;
    const error = field(response, "error");
    if (response.status === 421 && typeof field(response, "leader") === "string" && hops < REDIRECT_HOPS_MAX) {
      hops++;
      learn(field(response, "leader"));
      leader = trimSlash(field(response, "leader"));
      continue;
    }
    const noLeader = response.status === 421 || (response.status === 503 && error === "no_leader") || response.error_code === DIAL_REFUSED;
    if (noLeader) {
      hops = 0;
      const searchStartedMs = Date.now();
      if (searchStartedMs >= deadlineMs || !findLeader(deadlineMs)) return finish("failed", "leader_not_found", spentMs + Date.now() - searchStartedMs);
      if (leader === tried) {
        sleep(backoffS);
        backoffS = Math.min(backoffS * 2, BACKOFF_MAX_S);
      } else backoffS = BACKOFF_FIRST_S;
      spentMs += Date.now() - searchStartedMs;
      continue;
    }
    if (response.status === 200) return finish("acknowledged", "", spentMs);
    if (response.status === 0) return finish("indeterminate", `k6_error_${response.error_code}`, spentMs);
    return finish(error === "quorum_timeout" ? "indeterminate" : "failed", error || `http_${response.status}`, spentMs);
  }
}
