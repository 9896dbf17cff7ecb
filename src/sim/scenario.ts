import { constants } from "../core/constants.ts";
import { assert } from "../core/assert.ts";
import { type NodeTimings, nodeTimings } from "../node/timings.ts";
import { diskStorageLimits } from "../storage/disk-limits.ts";
import type { Random } from "./random.ts";

/** A uniform delay range in virtual microseconds. */
export interface DelayRangeUs {
  minUs: number;
  maxUs: number;
}

/**
 * Everything a run's seed decides before the first event: cluster shape, workload, network and
 * timing. Drawn from the run's one PRNG, so the seed alone reproduces it.
 */
export interface Scenario {
  followers: number;
  writeQuorum: number;
  clients: number;
  keys: number;
  writes: number;
  /** Share of client operations that are reads from the leader, and from a follower. */
  leaderReadShare: number;
  followerReadShare: number;
  /** The leader's own delay of each replicate message (the seed's MIN_DELAY_MS..MAX_DELAY_MS, DESIGN §6). */
  requestDelay: DelayRangeUs;
  /** One network hop between nodes, either way. */
  linkDelay: DelayRangeUs;
  /** A follower disk's sync (fdatasync), per group of writes. */
  diskSyncDelay: DelayRangeUs;
  /** Client ↔ node, each way. */
  clientDelay: DelayRangeUs;
  thinkTime: DelayRangeUs;
  dropProbability: number;
  duplicateProbability: number;
  /** Chance that a message, while faults are on, takes up to `slowFactor` times the longest delay. */
  slowProbability: number;
  /** Faults are injected during [0, faultWindowUs); then every fault heals. */
  faultWindowUs: number;
  faultIntervalMeanUs: number;
  heartbeatUs: number;
  /** Entries the leader keeps (LOG_RETENTION); a follower that needs older ones gets a snapshot. */
  logRetention: number;
  /** The node's waits: the production ones (src/node/timings.ts) in half the runs, short ones in the others. */
  timings: NodeTimings;
  clientTimeoutUs: number;
  /**
   * Leader crashes (and, with `deposedLeaders`, deposals) injected in the fault window: 0 in most
   * runs, 1–3 in a share of those with WRITE_QUORUM ≥ 1 (asynchronous replication promises
   * nothing across a leader crash, see DESIGN §5 and src/node/recovery.ts).
   */
  leaderFaults: number;
  /** Chance that a leader fault leaves the old process running (deposed) instead of killing it. */
  deposedLeaderShare: number;
  /** How long a deposed leader keeps running, and how long a crashed one stays down before it restarts. */
  deposedLifeUs: DelayRangeUs;
  leaderDownUs: DelayRangeUs;
  /**
   * The follower whose disk fails fdatasyncs as Linux does (EIO, bytes lost: SimFiles) while
   * faults are on, and the chance of each failing; null in most runs.
   */
  failingDisk: { follower: number; syncFailureChance: number } | null;
  /**
   * Where leader processes keep their log: "disk" (DATA_DIR: a restart on the same machine
   * recovers what its disk holds beside its followers' data) or "memory" (a restart holds nothing).
   */
  leaderStorage: "disk" | "memory";
  /** After faults and writes stop, every node must hold the same state within this time. */
  convergenceBoundUs: number;
}

export const leaderRestartModes = ["never", "some", "always"] as const;
export type LeaderRestarts = (typeof leaderRestartModes)[number];

export interface ScenarioOptions {
  followers: number;
  writes: number;
  faults: boolean;
  /** "some": a share of the runs with WRITE_QUORUM ≥ 1 restart the leader; "always": all of them; "never": none. */
  leaderRestarts: LeaderRestarts;
  /** Leader faults may leave the old leader running for a while (see Scenario.deposedLeaderShare). */
  deposedLeaders: boolean;
}

/** Share of runs with WRITE_QUORUM ≥ 1 that restart the leader when `leaderRestarts` is "some". */
const leaderRestartShare = 0.4;
/** Share of runs with faults in which one follower's disk fails fdatasyncs (Scenario.failingDisk). */
const failingDiskShare = 0.3;
/** Share of leader faults that depose rather than kill, when deposed leaders are on. */
const deposedShare = 0.3;

const usPerMs = 1000;
/** A slow message takes up to this many times the longest normal delay (a network hiccup). */
export const slowFactor = 20;

export function drawScenario(rng: Random, options: ScenarioOptions): Scenario {
  const { followers, writes } = options;
  assert(followers >= 1 && followers <= constants.followersMax, `followers ${followers}`);
  const requestDelayMaxUs = rng.pick([1, 5, 10, 20]) * usPerMs;
  const requestDelay = { minUs: 100, maxUs: requestDelayMaxUs };
  const linkDelay = { minUs: 50, maxUs: Math.max(100, requestDelayMaxUs / 2) };
  const heartbeatUs = rng.pick([10, 25, 50]) * usPerMs;
  // Half the runs use the node's own timings, half short ones that make gap replies, probes,
  // resends and recovery rounds frequent within a short run.
  const realTimers = rng.chance(0.5);
  const roundTripMs = (requestDelay.maxUs + 2 * linkDelay.maxUs) / usPerMs;
  const gapWaitMs = realTimers ? nodeTimings.gapWaitMs : rng.int(1, 50);
  const timings: NodeTimings = realTimers
    ? nodeTimings
    : {
        gapWaitMs,
        // Like the real node, the leader waits longer than a follower may hold a message.
        replicateTimeoutMs: gapWaitMs + roundTripMs + rng.int(10, 100),
        positionTimeoutMs: roundTripMs + rng.int(5, 50),
        positionRetryMs: rng.int(1, 50),
        recoverTimeoutMs: roundTripMs + rng.int(20, 200),
        asyncWaitMs: rng.int(50, 500),
        readWaitMs: rng.int(1, 50),
      };
  const lossy = options.faults ? 1 : 0;
  const writeQuorum = rng.int(0, followers);
  const restartsLeader =
    options.faults && writeQuorum >= 1 && options.leaderRestarts !== "never" && (options.leaderRestarts === "always" || rng.chance(leaderRestartShare));
  const leaderFaults = restartsLeader ? rng.int(1, 3) : 0;
  const roundTripUs = roundTripMs * usPerMs;
  const leaderDownUs = { minUs: 0, maxUs: 50 * usPerMs };
  const gapWaitUs = timings.gapWaitMs * usPerMs;
  const replicateTimeoutUs = timings.replicateTimeoutMs * usPerMs;
  // A recovery in progress when faults heal may wait out a round, a pause, a lost transfer and a restart.
  const recoveryBoundUs =
    (2 * (timings.positionTimeoutMs + timings.positionRetryMs) + timings.recoverTimeoutMs) * usPerMs + leaderDownUs.maxUs + 4 * roundTripUs;
  const failingDisk =
    options.faults && rng.chance(failingDiskShare) ? { follower: rng.int(0, followers - 1), syncFailureChance: rng.pick([0.05, 0.2, 0.5]) } : null;
  const leaderStorage = rng.chance(0.5) ? "disk" : "memory";
  const scenario: Scenario = {
    followers,
    writeQuorum,
    clients: rng.int(1, 6),
    keys: rng.int(1, 8),
    writes,
    leaderReadShare: 0.3,
    followerReadShare: 0.1,
    requestDelay,
    linkDelay,
    diskSyncDelay: { minUs: 50, maxUs: 500 },
    clientDelay: { minUs: 20, maxUs: 500 },
    thinkTime: { minUs: 0, maxUs: 5 * usPerMs },
    dropProbability: lossy * rng.pick([0, 0.01, 0.05, 0.1]),
    duplicateProbability: lossy * rng.pick([0, 0.01, 0.05, 0.1]),
    slowProbability: lossy * rng.pick([0, 0.01, 0.05]),
    faultWindowUs: options.faults ? 300 * usPerMs : 0,
    faultIntervalMeanUs: rng.int(10, 80) * usPerMs,
    heartbeatUs,
    // Half the runs keep the whole log; the others keep so little that restarted followers
    // catch up by snapshot.
    logRetention: rng.chance(0.5) ? Number.POSITIVE_INFINITY : rng.int(1, 30),
    timings,
    clientTimeoutUs: rng.int(20, 300) * usPerMs,
    leaderFaults,
    deposedLeaderShare: options.deposedLeaders && restartsLeader ? deposedShare : 0,
    deposedLifeUs: { minUs: 1 * usPerMs, maxUs: 100 * usPerMs },
    leaderDownUs,
    failingDisk,
    leaderStorage,
    // A disk that failed a sync stores nothing until its retry (diskStorageLimits.retryMs), which may come after faults stop.
    convergenceBoundUs:
      2 * (replicateTimeoutUs + gapWaitUs) +
      10 * heartbeatUs +
      (restartsLeader ? recoveryBoundUs : 0) +
      (failingDisk ? diskStorageLimits.retryMs * usPerMs : 0),
  };
  assert(
    timings.replicateTimeoutMs * usPerMs > gapWaitUs + requestDelay.maxUs + 2 * linkDelay.maxUs,
    "a message held for the whole gap wait is answered before the leader gives up on it",
  );
  return scenario;
}

export function describeScenario(scenario: Scenario): string {
  const ms = (us: number) => `${us / usPerMs}ms`;
  const { timings } = scenario;
  return [
    `followers=${scenario.followers} writeQuorum=${scenario.writeQuorum} clients=${scenario.clients} keys=${scenario.keys} writes=${scenario.writes}`,
    `delay=${ms(scenario.requestDelay.minUs)}..${ms(scenario.requestDelay.maxUs)} link=${ms(scenario.linkDelay.minUs)}..${ms(scenario.linkDelay.maxUs)}`,
    `drop=${scenario.dropProbability} duplicate=${scenario.duplicateProbability} slow=${scenario.slowProbability} faults until ${ms(scenario.faultWindowUs)} every ~${ms(scenario.faultIntervalMeanUs)}`,
    `heartbeat=${ms(scenario.heartbeatUs)} logRetention=${scenario.logRetention} clientTimeout=${ms(scenario.clientTimeoutUs)} timings=${JSON.stringify(timings)}`,
    `leaderFaults=${scenario.leaderFaults} deposed=${scenario.deposedLeaderShare} failingDisk=${scenario.failingDisk ? JSON.stringify(scenario.failingDisk) : "none"} leaderStorage=${scenario.leaderStorage}`,
  ].join("\n");
}
