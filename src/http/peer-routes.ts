import { Hono } from "hono";
import { z } from "zod";
import { FollowerNode } from "../node/follower-node.ts";
import { NodeMetrics } from "../node/metrics.ts";
import type { StandOutcome } from "../node/peer-env.ts";
import type { PeerNode } from "../node/peer-node.ts";
import { realClock } from "../node/env.ts";
import { createApp, replicateBodyLimitBytes } from "./app.ts";
import { requireClusterToken } from "./auth.ts";
import { ApiError, onError } from "./errors.ts";
import { bodyLimits, parseBody, readJson } from "./input.ts";
import { answerReplication, implausibleEpoch, type ReplicationAnswer, replicateRoutes } from "./internal-routes.ts";
import { writeGate } from "./write-routes.ts";

const preVoteSchema = z.object({ epoch: z.number().int().min(0), candidate: z.string().max(2048) });
const timeoutNowSchema = z.object({ epoch: z.number().int().min(0), leader: z.string().max(2048) });

/**
 * The Hono app of a node among PEERS: the election routes, the write gate and the peer messages
 * here; everything else goes to the app of the role it has now (createApp, rebuilt on each change).
 */
export function peerApp(peer: PeerNode, metrics = new NodeMetrics(realClock)): Hono {
  const app = new Hono();
  app.onError(onError);
  let roleApp = { node: peer.current, app: createApp(peer.current, metrics) };
  const currentApp = () => {
    if (roleApp.node !== peer.current) roleApp = { node: peer.current, app: createApp(peer.current, metrics) };
    return roleApp.app;
  };
  const config = peer.config;
  const auth = requireClusterToken(config.clusterToken);
  const replicationPaths = new Set(["/internal/replicate", "/internal/snapshot"]);
  const limits = bodyLimits((c) => (replicationPaths.has(c.req.path) ? replicateBodyLimitBytes(config.maxValueBytes) : config.maxValueBytes));
  const peerPaths = ["/internal/replicate", "/internal/snapshot", "/internal/fence", "/internal/recover", "/internal/pre-vote", "/internal/timeout-now"];
  for (const path of [...peerPaths, "/admin/step-down", "/admin/promote"]) app.use(path, limits.announced, auth, limits.counted);

  // A node that does not lead answers writes 421 `{leader}` or 503 no_leader (DESIGN §9).
  app.route(
    "/",
    writeGate(() => refuseUnlessLeading(peer)),
  );
  app.get("/status", (c) => c.json(peer.status()));
  app.route("/", replicateRoutes(peer));
  app.post("/internal/pre-vote", async (c) => c.json(peer.preVote(parseBody(preVoteSchema, await readJson(c), "invalid_message"))));
  app.post("/internal/timeout-now", async (c) => c.json({ started: peer.timeoutNow(parseBody(timeoutNowSchema, await readJson(c), "invalid_message")) }));
  app.post("/admin/step-down", async (c) => {
    if (!peer.leading) refuseUnlessLeading(peer);
    const outcome = await new Promise<StandOutcome & { leader?: string }>((resolve) => peer.stepDown(resolve));
    if (outcome.kind === "failed") throw new ApiError(503, "no_leader", `step-down failed: ${outcome.reason}`);
    return c.json({ leader: outcome.leader, epoch: outcome.epoch });
  });
  app.post("/admin/promote", async (c) => {
    if (peer.leading) return c.json({ leader: peer.selfUrl, epoch: peer.epoch });
    const outcome = await new Promise<StandOutcome>((resolve) => peer.promote(resolve));
    if (outcome.kind === "failed") throw new ApiError(503, "no_leader", `promote failed: ${outcome.reason}`);
    return c.json({ leader: peer.selfUrl, epoch: outcome.epoch, lossy: true });
  });
  app.all("*", (c) => currentApp().fetch(c.req.raw));
  return app;
}

function refuseUnlessLeading(peer: PeerNode): void {
  const refusal = peer.writeRefusal();
  if (refusal === null) return;
  if (refusal.kind === "not_leader") throw new ApiError(421, "not_leader", "this node does not lead; send writes to the leader", { leader: refusal.leader });
  throw new ApiError(503, "no_leader", `no leader to take writes now: ${refusal.reason}; retry shortly`);
}

/** `/internal/stream` frames among PEERS: answered by whichever follower the node is when each arrives. */
export function peerReplication(peer: PeerNode): (kind: "replicate" | "snapshot", body: unknown) => Promise<ReplicationAnswer> {
  return async (kind, body) => {
    const epoch = (body as { epoch?: unknown } | null)?.epoch;
    const implausible = typeof epoch === "number" ? implausibleEpoch(peer.current, epoch) : null;
    if (implausible) return { status: 400, body: { error: "invalid_message", message: implausible, nodeId: peer.config.nodeId } };
    const follower = peer.followerFor(typeof epoch === "number" ? epoch : 0);
    if (follower instanceof FollowerNode) return answerReplication(follower, kind, body);
    const message = `epoch ${String(epoch)} is older than this leader's ${follower.leaderEpoch}`;
    return { status: 409, body: { error: "stale_epoch", message, epoch: follower.leaderEpoch, nodeId: peer.config.nodeId } };
  };
}
