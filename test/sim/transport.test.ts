import { nodeTimings } from "../../src/node/timings.ts";
import { transportConformance } from "../../src/node/transport-conformance.ts";
import type { TransportError } from "../../src/node/transport.ts";
import { SimContext } from "../../src/sim/context.ts";
import { EventQueue } from "../../src/sim/event-queue.ts";
import { FollowerHost } from "../../src/sim/follower-host.ts";
import { Network } from "../../src/sim/network.ts";
import { Random } from "../../src/sim/random.ts";
import { drawScenario } from "../../src/sim/scenario.ts";
import { ProcessTimers } from "../../src/sim/sim-env.ts";
import { SimTransport } from "../../src/sim/sim-transport.ts";
import { Trace } from "../../src/sim/trace.ts";

// The simulator's Transport passes the suite the production transports pass: f0 is the
// follower, f1 a host whose process is down (connections refused).
transportConformance("simulated network (src/sim)", async () => {
  const rng = new Random(7);
  const drawn = drawScenario(rng, { followers: 2, writes: 0, faults: false, leaderRestarts: "never", deposedLeaders: false });
  const context = new SimContext(new EventQueue(), rng, { ...drawn, timings: nodeTimings }, new Trace(false));
  const network = new Network(context, 2);
  network.lossy = false;
  const hooks = { watch: () => {}, mayCorrupt: () => false, lostSynced: () => {} };
  const followers = [new FollowerHost(0, context, undefined, hooks), new FollowerHost(1, context, undefined, hooks)];
  followers[1]!.crash();
  const transport = new SimTransport("L1", context, network, followers, new ProcessTimers(context.queue));
  return {
    transport,
    url: "f0",
    unreachableUrl: "f1",
    follower: followers[0]!.node,
    async call<Value>(start: (done: (answer: Value | TransportError) => void) => void) {
      const answers: (Value | TransportError)[] = [];
      start((answer) => answers.push(answer));
      // Calls started together (the test's, before it awaits) all go out before the agenda runs.
      await Promise.resolve();
      while (answers.length === 0 && context.queue.runNext());
      return answers[0]!;
    },
    stop: () => {},
  };
});
