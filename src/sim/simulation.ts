import { AssertionError } from "../core/assert.ts";
import { productionPeerChecks } from "./adversary.ts";
import { SimContext } from "./context.ts";
import { EventQueue } from "./event-queue.ts";
import { type FaultStats, FaultInjector } from "./faults.ts";
import { InvariantChecker, type Violation } from "./invariants.ts";
import { LeaderHost, type LeaderStats } from "./leader-host.ts";
import { type MutantName, mutants } from "./mutants.ts";
import { type NetworkStats, Network } from "./network.ts";
import { Random } from "./random.ts";
import { type Scenario, type ScenarioOptions, drawScenario } from "./scenario.ts";
import { FollowerHost } from "./follower-host.ts";
import { TargetedFaults, type TargetedStats } from "./targeted-faults.ts";
import { Trace } from "./trace.ts";
import { type WorkloadStats, Workload } from "./workload.ts";

export interface RunOptions {
  seed: number;
  followers?: number;
  writes?: number;
  /** False: no faults at all (delays still reorder messages). */
  faults?: boolean;
  /** "some" (default): a share of the runs with WRITE_QUORUM ≥ 1 restart the leader; "always": all of them. */
  leaderRestarts?: ScenarioOptions["leaderRestarts"];
  /** Leader faults may depose the leader, leaving it running for a while (default true). */
  deposedLeaders?: boolean;
  /**
   * Clients also read from a deposed leader while it runs (default true): it must confirm that it
   * leads before it serves one (ReadIndex), or linearizability fails.
   */
  deposedReads?: boolean;
  mutant?: MutantName;
  /**
   * Replaces the drawn heartbeat interval, drawing nothing more (the seed's run is otherwise the
   * same) and keeping the drawn convergence bound: with heartbeats far apart, followers learn the
   * last commit after the writes stop only from the leader's own announcement of it.
   */
  heartbeatMs?: number;
  /** Keep every trace line in the result. */
  keepTrace?: boolean;
  /** Called with each trace line as it happens. */
  onTraceLine?: (line: string) => void;
}

export interface RunResult {
  seed: number;
  scenario: Scenario;
  violations: Violation[];
  /** FNV-1a of the trace: equal for two runs of one seed, different across seeds. */
  traceHash: string;
  traceLines: string[];
  events: number;
  endUs: number;
  /** Virtual time from quiescence (faults healed, writes done) to identical states, or null. */
  convergenceUs: number | null;
  network: NetworkStats;
  faults: FaultStats;
  leader: LeaderStats;
  /** The targeted faults (src/sim/targeted-faults.ts), and the forks of the committed history lossy asynchronous recoveries made. */
  targeted: TargetedStats & { historyForks: number };
  /** Why the run left the contract (a corrupt record lost synced entries), or null. */
  outsideContract: string | null;
  /** Followers that caught up by snapshot (the leader's log no longer held what they needed). */
  snapshotsInstalled: number;
  workload: WorkloadStats;
  replayCommand: string;
}

export const defaultFollowers = 5;
export const defaultWrites = 50;

/** Runs one seed to quiescence (or to the convergence bound) and checks every invariant. */
export function runSimulation(options: RunOptions): RunResult {
  const followerCount = options.followers ?? defaultFollowers;
  const writes = options.writes ?? defaultWrites;
  const faultsOn = options.faults ?? true;
  const mutant = options.mutant ? mutants[options.mutant] : undefined;

  const rng = new Random(options.seed);
  const leaderRestarts = options.leaderRestarts ?? (mutant?.needsLeaderRestarts ? "always" : "some");
  const drawn = drawScenario(rng, {
    followers: followerCount,
    writes,
    faults: faultsOn,
    leaderRestarts,
    deposedLeaders: options.deposedLeaders ?? true,
  });
  const scenario = options.heartbeatMs === undefined ? drawn : { ...drawn, heartbeatUs: options.heartbeatMs * 1000 };
  const queue = new EventQueue();
  const trace = new Trace(options.keepTrace ?? false, options.onTraceLine);
  const context = new SimContext(queue, rng, scenario, trace);

  const checker = new InvariantChecker(context);
  const network = new Network(context, followerCount);
  const followers = Array.from(
    { length: followerCount },
    (_, index) =>
      new FollowerHost(index, context, mutant?.follower, {
        watch: (follower, state) => checker.watchFollowerState(follower.name, state),
        mayCorrupt: () => checker.mayCorrupt(),
        lostSynced: (follower, lost) => checker.followerLostSynced(follower, lost),
      }),
  );
  if (mutant?.followerAcksBeforeSync) for (const follower of followers) follower.disk.acksBeforeSync = true;
  if (scenario.failingDisk) followers[scenario.failingDisk.follower]!.disk.files.syncFailureChance = scenario.failingDisk.syncFailureChance;
  const host = new LeaderHost(context, followers, network, checker, {
    newCore: mutant?.leader,
    policy: mutant?.recovery,
    recoveryTimings: mutant?.recoveryTimings,
  });
  checker.attach(host, followers);
  // Even seeds add read-modify-writes (CAS, transactions) to the workload; odd seeds draw nothing
  // more from the PRNG, so they replay the runs (and the seeds tests pin) of the plain workload.
  const workload = new Workload(context, host, followers, checker, options.deposedReads ?? true, options.seed % 2 === 0);
  const faults = new FaultInjector(context, network, host, followers, checker, mutant?.peerChecks ?? productionPeerChecks);
  const targeted = new TargetedFaults(options.seed, context, host, network, followers, checker, leaderRestarts);

  host.start();
  workload.start();
  faults.start();
  targeted.start();

  let events = 0;
  let quietSinceUs: number | null = null;
  let convergenceUs: number | null = null;
  let aborted = false;
  for (;;) {
    if (quietSinceUs === null && workload.doneUs !== null && queue.nowUs >= scenario.faultWindowUs && !targeted.busy) {
      quietSinceUs = queue.nowUs;
      context.log("quiet: faults healed and clients done; waiting for every node to converge");
    }
    if (quietSinceUs !== null) {
      if (checker.converged()) {
        convergenceUs = queue.nowUs - quietSinceUs;
        context.log(`converged after ${convergenceUs / 1000}ms of quiet`);
        break;
      }
      if (queue.nowUs - quietSinceUs > scenario.convergenceBoundUs) {
        checker.report("convergence", `not converged ${scenario.convergenceBoundUs / 1000}ms after quiet: ${checker.describeLag()}`);
        break;
      }
    }
    try {
      if (!queue.runNext()) break;
    } catch (error) {
      if (!(error instanceof AssertionError)) throw new Error(`seed ${options.seed}: simulator failure: ${String(error)}`, { cause: error });
      checker.report("core-assertion", error.message);
      aborted = true;
      break;
    }
    events++;
    checker.afterEvent();
  }
  if (!aborted) checker.finish(workload.histories);

  return {
    seed: options.seed,
    scenario,
    violations: checker.violations,
    traceHash: trace.hash,
    traceLines: trace.lines,
    events,
    endUs: queue.nowUs,
    convergenceUs,
    network: network.stats,
    faults: faults.stats,
    leader: host.stats,
    targeted: { ...targeted.stats, historyForks: checker.abandoned.length },
    outsideContract: checker.outsideContract,
    snapshotsInstalled: followers.reduce((total, follower) => total + follower.snapshotsInstalled, 0),
    workload: workload.stats,
    replayCommand: replayCommand(options),
  };
}

export function replayCommand(options: RunOptions): string {
  const flags = [`--seed ${options.seed}`];
  if (options.followers !== undefined && options.followers !== defaultFollowers) flags.push(`--followers ${options.followers}`);
  if (options.writes !== undefined && options.writes !== defaultWrites) flags.push(`--writes ${options.writes}`);
  if (options.faults === false) flags.push("--no-faults");
  if (options.leaderRestarts !== undefined && options.leaderRestarts !== "some") flags.push(`--leader-restarts ${options.leaderRestarts}`);
  if (options.deposedLeaders === false) flags.push("--no-deposed-leaders");
  if (options.deposedReads === false) flags.push("--no-deposed-reads");
  if (options.mutant) flags.push(`--mutant ${options.mutant}`);
  if (options.heartbeatMs !== undefined) flags.push(`--heartbeat-ms ${options.heartbeatMs}`);
  return `bun run sim ${flags.join(" ")}`;
}
