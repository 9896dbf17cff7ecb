import { AssertionError } from "../core/assert.ts";
import { type Config, parseConfig } from "../config.ts";
import type { LeaderNode } from "../node/leader-node.ts";
import { PeerNode } from "../node/peer-node.ts";
import type { NodeTimings } from "../node/timings.ts";
import { ElectionClients, electionKeys } from "./election-clients.ts";
import { type ElectionMutant, type ElectionMutantName, electionMutants } from "./election-mutants.ts";
import { type PeerMachine, PeerNetwork, sharedClock } from "./election-net.ts";
import { EventQueue } from "./event-queue.ts";
import { checkRegister } from "./linearizability.ts";
import { Random } from "./random.ts";
import { SimDelays, ProcessTimers } from "./sim-env.ts";
import { SimDisk } from "./sim-disk.ts";
import { Trace } from "./trace.ts";

/**
 * Elections in simulation (`bun run sim --elections`): PEERS machines, each running the production
 * PeerNode (which runs the production FollowerNode, LeaderNode and recovery) on a simulated disk,
 * timers and network. Families: `chaos` (leader crash loops, crashes, partitions during
 * elections, competing candidates, write quorum changes and step-downs during failover) and
 * `rejoin` (a follower cut off past the election timeout comes back: the leader must stay).
 */
export type ElectionFamily = "chaos" | "rejoin";

export type ElectionInvariant =
  | "one-leader-per-epoch"
  | "committed-entries-agree"
  | "acknowledged-write-lost"
  | "linearizability"
  | "liveness"
  | "healthy-leader-deposed"
  | "core-assertion";

export interface ElectionViolation {
  invariant: ElectionInvariant;
  atUs: number;
  message: string;
}

export interface ElectionRunOptions {
  seed: number;
  family?: ElectionFamily;
  mutant?: ElectionMutantName;
  keepTrace?: boolean;
  onTraceLine?: (line: string) => void;
}

export interface ElectionRunResult {
  seed: number;
  family: ElectionFamily;
  nodes: number;
  writeQuorum: number;
  violations: ElectionViolation[];
  events: number;
  endUs: number;
  traceHash: string;
  traceLines: string[];
  /** Leaderships begun, machine crashes, partitions, quorum changes, step-downs. */
  stats: { leaderships: number; crashes: number; partitions: number; quorumChanges: number; stepDowns: number };
  clients: ElectionClients["stats"];
  replayCommand: string;
}

/** The production defaults, parsed once; each run sets its quorum and timings on top. */
const defaults: Config = parseConfig({ ROLE: "follower", CLUSTER_TOKEN: "simulated-cluster" });
const faultWindowUs = 1_500_000;
const convergenceBoundUs = 5_000_000;
/** Clients must be done by then (an operation gives up after its deadline), or the run is stuck. */
const runBoundUs = 60_000_000;
const linkDelayUs = { minUs: 50, maxUs: 1000 };

export function runElectionSimulation(options: ElectionRunOptions): ElectionRunResult {
  const rng = new Random(options.seed);
  const mutant: ElectionMutant | undefined = options.mutant ? electionMutants[options.mutant] : undefined;
  const family: ElectionFamily = options.family ?? mutant?.family ?? (rng.chance(0.25) ? "rejoin" : "chaos");
  const nodes = rng.pick([3, 5, 6, 7]);
  const writeQuorum = family === "chaos" && rng.chance(0.1) ? 0 : rng.int(1, nodes - 1);
  const electionTimeoutMs = rng.pick([20, 40, 80]);
  const queue = new EventQueue();
  const trace = new Trace(options.keepTrace ?? false, options.onTraceLine);
  const violations: ElectionViolation[] = [];
  const report = (invariant: ElectionInvariant, message: string) => {
    if (!violations.some((violation) => violation.invariant === invariant)) violations.push({ invariant, atUs: queue.nowUs, message });
  };
  const stats = { leaderships: 0, crashes: 0, partitions: 0, quorumChanges: 0, stepDowns: 0 };
  const urls = Array.from({ length: nodes }, (_, index) => `http://n${index}:7000`);
  const clock = sharedClock(queue);
  const machines: (PeerMachine & { disk: SimDisk })[] = urls.map((url, index) => ({
    url,
    index,
    peer: null,
    timers: null,
    disk: new SimDisk(rng, { minUs: 50, maxUs: 300 }, clock),
  }));
  const network = new PeerNetwork(queue, rng, trace, machines, linkDelayUs, family === "chaos" ? 0.02 : 0);
  const timings: Partial<NodeTimings> = { gapWaitMs: 10, replicateTimeoutMs: 30, recoverTimeoutMs: 50, asyncWaitMs: 50, readWaitMs: 40 };
  const base: Config = { ...defaults, writeQuorum, minDelayMs: 0.05, maxDelayMs: 0.5, heartbeatMs: electionTimeoutMs / 4, quorumTimeoutMs: 200 };

  const start = (machine: (typeof machines)[number], standNow: boolean) => {
    const timers = new ProcessTimers(queue);
    const config: Config = {
      ...base,
      role: standNow ? "leader" : "follower",
      nodeId: `n${machine.index}`,
      peers: urls,
      advertiseUrl: machine.url,
      electionTimeoutMs,
      leaderUrl: null,
    };
    const log = (message: string) => trace.add(queue.nowUs, `n${machine.index} ${message}`);
    const { storage, stored } = machine.disk.open(timers, log);
    const peer = new PeerNode(config, {
      clock,
      timers,
      random: rng,
      storage,
      stored,
      log,
      newTransport: () => network.transport(machine),
      newDelays: () => new SimDelays(timers),
      rpc: network.rpc(machine),
      timings,
      policy: mutant?.policy,
      newFollowerCore: mutant?.follower,
      newLeaderCore: mutant?.leader,
      grantsPreVote: mutant?.grantsPreVote,
    });
    peer.onChange(() => {
      if (peer.role === "leader") stats.leaderships++;
    });
    machine.peer = peer;
    machine.timers = timers;
    peer.start(standNow);
  };
  const crash = (machine: (typeof machines)[number]) => {
    if (!machine.timers) return;
    trace.add(queue.nowUs, `fault: n${machine.index} crashes`);
    stats.crashes++;
    machine.timers.kill();
    machine.disk.crash();
    machine.peer = null;
    machine.timers = null;
  };
  /**
   * A crash now, or in half the cases inside the machine's next sync to disk (within 50 ms, while
   * faults are on): its log then holds records written and not acknowledged, some torn. `then`
   * runs once it is down.
   */
  const crashSometime = (machine: (typeof machines)[number], then: () => void) => {
    if (!rng.chance(0.5) || !machine.timers) {
      crash(machine);
      then();
      return;
    }
    const timers = machine.timers;
    const fire = (inSync: boolean): boolean => {
      if (machine.timers !== timers || queue.nowUs >= faultWindowUs) return false;
      machine.disk.cancelCrashInSync();
      if (inSync) trace.add(queue.nowUs, `n${machine.index} power fails while it syncs its disk`);
      crash(machine);
      then();
      return true;
    };
    machine.disk.crashInNextSync(() => fire(true));
    queue.after(50_000, () => fire(false));
  };
  const leading = () => machines.filter((machine) => machine.peer?.leading);

  // Invariants after every event: one leader per epoch; what leaders commit agrees.
  const leaderOfEpoch = new Map<number, string>();
  const committed = new Map<number, string>();
  const checkedUpTo = new WeakMap<LeaderNode, number>();
  const afterEvent = () => {
    for (const machine of leading()) {
      const leader = machine.peer!.current as LeaderNode;
      const owner = leaderOfEpoch.get(leader.epoch);
      if (owner !== undefined && owner !== machine.url) report("one-leader-per-epoch", `${owner} and ${machine.url} both lead epoch ${leader.epoch}`);
      leaderOfEpoch.set(leader.epoch, machine.url);
      const log = leader.core.log;
      const commit = leader.commitOffset;
      for (let offset = Math.max(checkedUpTo.get(leader) ?? 0, log.firstOffset - 1) + 1; offset <= commit; offset++) {
        const entry = log.at(offset);
        const text = `e${entry.epoch} ${entry.key}=${entry.value}`;
        const earlier = committed.get(offset);
        if (earlier !== undefined && earlier !== text)
          report("committed-entries-agree", `offset ${offset}: ${earlier}, then ${text} committed by ${machine.url}`);
        committed.set(offset, text);
      }
      checkedUpTo.set(leader, commit);
    }
  };

  const clients = new ElectionClients(queue, rng, trace, machines, {
    linkDelayUs,
    answerTimeoutMs: 300,
    readWaitMs: 40,
    opDeadlineMs: 4000,
  });
  machines.forEach((machine, index) => start(machine, index === 0));
  clients.start(3, family === "chaos" ? 40 : 30);
  let healthy: { url: string; epoch: number } | null = null;
  if (family === "chaos") scheduleChaos();
  else scheduleRejoin();

  function scheduleChaos(): void {
    const tick = () => {
      if (queue.nowUs >= faultWindowUs) {
        for (const machine of machines) machine.disk.cancelCrashInSync();
        network.lossy = false;
        network.healAll();
        for (const machine of machines) if (!machine.timers) start(machine, false);
        return;
      }
      const leader = leading()[0];
      const roll = rng.float();
      if (roll < 0.35 && leader) {
        crashSometime(leader, () => queue.after(rng.int(5_000, 200_000), () => queue.nowUs < faultWindowUs && !leader.timers && start(leader, false)));
      } else if (roll < 0.5) {
        const machine = rng.pick(machines);
        crashSometime(machine, () => queue.after(rng.int(5_000, 300_000), () => queue.nowUs < faultWindowUs && !machine.timers && start(machine, false)));
      } else if (roll < 0.8) {
        const size = rng.int(1, nodes - 1);
        const group =
          leader && rng.chance(0.5)
            ? [leader.index]
            : shuffled(
                rng,
                machines.map((machine) => machine.index),
              ).slice(0, size);
        trace.add(queue.nowUs, `fault: partition {${group.join(",")}} from the rest`);
        stats.partitions++;
        network.partition(group, queue.nowUs + rng.int(20_000, 400_000));
      } else if (roll < 0.9 && leader && writeQuorum > 0) {
        const quorum = rng.int(1, nodes - 1);
        trace.add(queue.nowUs, `fault: write quorum → ${quorum} at ${leader.url}`);
        stats.quorumChanges++;
        (leader.peer!.current as LeaderNode).setWriteQuorum(quorum);
      } else if (leader) {
        trace.add(queue.nowUs, `fault: step-down asked of ${leader.url}`);
        stats.stepDowns++;
        leader.peer!.stepDown(() => {});
      }
      queue.after(rng.int(20_000, 150_000), tick);
    };
    queue.after(rng.int(50_000, 150_000), tick);
  }

  function scheduleRejoin(): void {
    // Once a leader has led a while, cut one follower off past the election timeout, then heal.
    const isolate = () => {
      const leader = leading()[0];
      if (!leader) {
        queue.after(20_000, isolate);
        return;
      }
      healthy = { url: leader.url, epoch: leader.peer!.epoch };
      const follower = rng.pick(machines.filter((machine) => machine !== leader));
      const cutMs = rng.int(3, 8) * electionTimeoutMs;
      trace.add(queue.nowUs, `fault: n${follower.index} cut off for ${cutMs} ms`);
      stats.partitions++;
      network.partition([follower.index], queue.nowUs + cutMs * 1000);
      queue.after((cutMs + 10 * electionTimeoutMs) * 1000, () => {
        const now = leading()[0];
        if (now?.url !== healthy!.url || now.peer!.epoch !== healthy!.epoch) {
          report(
            "healthy-leader-deposed",
            `${healthy!.url} led epoch ${healthy!.epoch}; after n${follower.index} rejoined: ${now ? `${now.url} at epoch ${now.peer!.epoch}` : "no leader"}`,
          );
        }
      });
    };
    queue.after(200_000, isolate);
  }

  let events = 0;
  let quietSinceUs: number | null = null;
  for (;;) {
    if (quietSinceUs === null && clients.doneUs !== null && queue.nowUs >= (family === "chaos" ? faultWindowUs : 0) + 1000 * 20 * electionTimeoutMs) {
      quietSinceUs = queue.nowUs;
    }
    if (queue.nowUs > runBoundUs) {
      report("liveness", `clients not done after ${runBoundUs / 1000} virtual ms (${JSON.stringify(clients.stats)})`);
      break;
    }
    if (quietSinceUs !== null) {
      if (converged()) break;
      if (queue.nowUs - quietSinceUs > convergenceBoundUs) {
        report("liveness", `no single leader with every node caught up ${convergenceBoundUs / 1000} ms after quiet`);
        break;
      }
    }
    try {
      if (!queue.runNext()) break;
    } catch (error) {
      if (!(error instanceof AssertionError)) throw new Error(`seed ${options.seed}: election simulator failure: ${String(error)}`, { cause: error });
      report("core-assertion", error.message);
      break;
    }
    events++;
    afterEvent();
  }
  finalChecks();

  function converged(): boolean {
    const leaders = leading();
    if (leaders.length !== 1 || machines.some((machine) => !machine.peer)) return false;
    const leader = leaders[0]!.peer!.current as LeaderNode;
    if (leader.commitOffset !== leader.lastOffset) return false;
    const digest = leader.state.digest().digest;
    return machines.every(
      (machine) => machine.peer!.current.state.appliedOffset === leader.commitOffset && machine.peer!.current.state.digest().digest === digest,
    );
  }

  function finalChecks(): void {
    const leaderMachine = leading()[0];
    if (!leaderMachine || violations.some((violation) => violation.invariant === "liveness" || violation.invariant === "core-assertion")) return;
    const state = leaderMachine.peer!.current.state;
    for (const write of clients.acked) {
      const stored = state.get(write.key);
      const text = committed.get(write.offset);
      if (text !== undefined && !text.endsWith(` ${write.key}=${write.value}`))
        report("acknowledged-write-lost", `offset ${write.offset} acknowledged ${write.key}=${write.value}, committed ${text}`);
      else if (!stored || stored.offset < write.offset)
        report(
          "acknowledged-write-lost",
          `${write.key}=${write.value} (offset ${write.offset}) acknowledged; the final state has offset ${stored?.offset ?? "none"}`,
        );
    }
    for (const key of electionKeys) {
      const history = clients.histories.get(key) ?? [];
      const final = state.get(key);
      history.push({ kind: "read", value: final ? final.value : null, invokeUs: queue.nowUs, responseUs: queue.nowUs });
      const verdict = checkRegister(history);
      if (!verdict.linearizable) report("linearizability", `key ${key}: ${verdict.reason}`);
    }
  }

  return {
    seed: options.seed,
    family,
    nodes,
    writeQuorum,
    violations,
    events,
    endUs: queue.nowUs,
    traceHash: trace.hash,
    traceLines: trace.lines,
    stats,
    clients: clients.stats,
    replayCommand: `bun run sim --elections --seed ${options.seed}${options.mutant ? ` --mutant ${options.mutant}` : ""}`,
  };
}

/** The items in a random order (Fisher–Yates on the run's one PRNG). */
function shuffled<T>(rng: Random, items: readonly T[]): T[] {
  const copy = items.slice();
  for (let index = copy.length - 1; index > 0; index--) {
    const other = rng.int(0, index);
    [copy[index], copy[other]] = [copy[other]!, copy[index]!];
  }
  return copy;
}
