import { parseConfig } from "../config.ts";
import { createApp, replicateBodyLimitBytes } from "../http/app.ts";
import { streamHandler, streamUpgrader } from "../http/stream.ts";
import { productionFollowerEnv } from "./env.ts";
import { FollowerNode } from "./follower-node.ts";
import { HttpTransport } from "./http-transport.ts";
import { StreamTransport } from "./stream-transport.ts";
import { transportConformance } from "./transport-conformance.ts";
import type { Transport } from "./transport.ts";

const token = "conformance-token-0123";

/** A real FollowerNode behind Bun.serve on a free port, as src/main.ts serves it. */
function servedFollower(newTransport: (token: string) => Transport) {
  return async () => {
    const config = parseConfig({ ROLE: "follower", CLUSTER_TOKEN: token, NODE_ID: "f1" });
    const follower = new FollowerNode(config, productionFollowerEnv());
    const app = createApp(follower);
    const upgrade = streamUpgrader(token);
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request, server) {
        const stream = upgrade(request, server);
        if (stream === "upgraded") return undefined;
        return stream ?? app.fetch(request, server);
      },
      websocket: streamHandler(follower, replicateBodyLimitBytes(config.maxValueBytes)),
    });
    const transport = newTransport(token);
    return {
      transport,
      url: `http://127.0.0.1:${server.port}`,
      // Port 1 (tcpmux) is privileged and unused: connections are refused at once.
      unreachableUrl: "http://127.0.0.1:1",
      follower,
      call: <Value>(start: (done: (answer: Value) => void) => void) => new Promise<Value>((resolve) => start(resolve)),
      stop: async () => {
        transport.close();
        follower.stop();
        await server.stop(true);
      },
    };
  };
}

transportConformance(
  "WebSocket stream (TRANSPORT=websocket)",
  servedFollower((clusterToken) => new StreamTransport(clusterToken)),
);
transportConformance(
  "HTTP (TRANSPORT=http)",
  servedFollower((clusterToken) => new HttpTransport(clusterToken)),
);
