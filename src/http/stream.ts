import type { Server, WebSocketHandler } from "bun";
import type { FollowerNode } from "../node/follower-node.ts";
import { clusterTokenCheck } from "./auth.ts";
import { answerReplication, type ReplicationAnswer } from "./internal-routes.ts";

/** Who answers a frame: a follower, or (among PEERS) whichever follower the node is when the frame arrives. */
export type ReplicationTarget = FollowerNode | ((kind: "replicate" | "snapshot", body: unknown) => Promise<ReplicationAnswer>);

/**
 * `/internal/stream`: replication over one WebSocket per leader instead of one HTTP request per
 * message (under half the CPU per message, `bench/transport-cost.ts`). A frame is
 * `{id, kind: "replicate"|"snapshot", body}`; the answer `{id, status, body}` is exactly what
 * `POST /internal/<kind>` would answer. Answers may come back out of order (a message that
 * arrived ahead of an earlier one waits for it), so the leader matches them by `id`.
 */
export const streamPath = "/internal/stream";

interface Frame {
  id: number;
  kind: "replicate" | "snapshot";
  body: unknown;
}

/**
 * Handles a request for the stream: "upgraded" (Bun then owns the connection), or a refusal;
 * undefined for any other path (checked cheaply first: every request of a follower passes here).
 */
export function streamUpgrader(token: string): (request: Request, server: Server<undefined>) => Response | "upgraded" | undefined {
  const hasToken = clusterTokenCheck(token);
  return (request, server) => {
    if (!request.url.includes(streamPath) || new URL(request.url).pathname !== streamPath) return undefined;
    if (!hasToken(request.headers.get("authorization"))) {
      return Response.json({ error: "unauthorized", message: "this route needs the cluster token: Authorization: Bearer <CLUSTER_TOKEN>" }, { status: 401 });
    }
    if (server.upgrade(request)) return "upgraded";
    return Response.json({ error: "upgrade_required", message: `${streamPath} is a WebSocket` }, { status: 426 });
  };
}

export function streamHandler(target: ReplicationTarget, maxPayloadBytes: number): WebSocketHandler<undefined> {
  const answerFrame = typeof target === "function" ? target : (kind: "replicate" | "snapshot", body: unknown) => answerReplication(target, kind, body);
  return {
    maxPayloadLength: maxPayloadBytes,
    async message(socket, data) {
      let frame: Frame;
      try {
        frame = JSON.parse(String(data)) as Frame;
        if (typeof frame?.id !== "number" || (frame.kind !== "replicate" && frame.kind !== "snapshot")) throw new Error("no frame");
      } catch {
        socket.close(1003, "frames are {id, kind, body} JSON");
        return;
      }
      const answer = await answerFrame(frame.kind, frame.body);
      socket.send(JSON.stringify({ id: frame.id, status: answer.status, body: answer.body }));
    },
  };
}
