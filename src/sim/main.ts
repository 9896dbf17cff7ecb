import { parseToolFlags } from "../flags.ts";
import { isElectionMutantName, electionMutants } from "./election-mutants.ts";
import { type ElectionRunResult, runElectionSimulation } from "./election-sim.ts";
import { isMutantName, mutants } from "./mutants.ts";
import { describeScenario, leaderRestartModes } from "./scenario.ts";
import { type RunOptions, type RunResult, defaultFollowers, defaultWrites, runSimulation } from "./simulation.ts";

/**
 * `bun run sim --seed N` replays one seed with its trace; `bun run sim --seeds N --start S` runs
 * seeds S…S+N−1 and prints seeds per second. Exit 1 on any violation, printing the command that
 * replays each failing seed.
 */
/** Every this many seeds of a default run also runs as an election scenario (src/sim/election-sim.ts). */
const electionShare = 10;

const usage = `Usage: bun run sim --seed N | --seeds N [--start S] [flags]

Replays one seed with its trace (--seed), or runs seeds S…S+N−1 and prints seeds per second
(--seeds); every ${electionShare}th seed also runs an election scenario (PEERS), --elections runs only those.
Exit 1 on any violation, with the command that replays each failing seed.`;

const values = parseToolFlags("sim", usage, {
  seed: { type: "number", integer: true, min: 0, help: "replay this seed, printing its trace" },
  seeds: { type: "number", integer: true, min: 1, help: "run this many seeds" },
  start: { type: "number", default: 1, integer: true, min: 0, help: "with --seeds: the first seed" },
  followers: { type: "number", integer: true, min: 1, help: `followers (default ${defaultFollowers})` },
  writes: { type: "number", integer: true, min: 0, help: `writes per run (default ${defaultWrites})` },
  noFaults: { type: "boolean", help: "inject no faults" },
  leaderRestarts: { type: "string", choices: leaderRestartModes, help: "leader crashes and restarts" },
  noDeposedLeaders: { type: "boolean", help: "no deposed leader keeps sending" },
  noDeposedReads: { type: "boolean", help: "clients never read from a deposed leader that still runs" },
  heartbeatMs: { type: "number", min: 1, help: "replace the drawn heartbeat interval (the convergence bound stays the drawn one)" },
  mutant: { type: "string", choices: [...Object.keys(mutants), ...Object.keys(electionMutants)], help: "run a deliberately broken variant" },
  elections: { type: "boolean", help: "election scenarios only: PEERS nodes that fail over (src/sim/election-sim.ts)" },
  quiet: { type: "boolean", help: "with --seed: no trace" },
});

function fail(message: string): never {
  console.error(`sim: ${message} (see --help)`);
  process.exit(2);
}

if ((values.seed === undefined) === (values.seeds === undefined)) fail("give exactly one of --seed and --seeds");

const base: Omit<RunOptions, "seed"> = {
  followers: values.followers,
  writes: values.writes,
  faults: !values.noFaults,
  leaderRestarts: values.leaderRestarts,
  deposedLeaders: values.noDeposedLeaders ? false : undefined,
  deposedReads: values.noDeposedReads ? false : undefined,
  mutant: values.mutant !== undefined && isMutantName(values.mutant) ? values.mutant : undefined,
  heartbeatMs: values.heartbeatMs,
};
const electionMutant = values.mutant !== undefined && isElectionMutantName(values.mutant) ? values.mutant : undefined;
if (electionMutant && !values.elections) fail(`--mutant ${values.mutant} is an election mutant: add --elections`);

function printElectionViolations(result: ElectionRunResult): void {
  for (const violation of result.violations) console.log(`  ${violation.invariant} at ${violation.atUs / 1000}ms: ${violation.message}`);
  console.log(`  replay: ${result.replayCommand}`);
}

function replayElection(seed: number): boolean {
  const result = runElectionSimulation({ seed, mutant: electionMutant, onTraceLine: values.quiet ? undefined : (line) => console.log(line) });
  console.log(`\nseed ${seed} (elections): ${result.family}, ${result.nodes} nodes, write quorum ${result.writeQuorum}`);
  console.log(`events=${result.events} end=${result.endUs / 1000}ms trace=${result.traceHash}`);
  console.log(`faults ${JSON.stringify(result.stats)}\nclients ${JSON.stringify(result.clients)}`);
  if (result.violations.length === 0) {
    console.log("ok: one leader per epoch, committed entries agree, nothing acknowledged lost, linearizable, converged");
    return true;
  }
  console.log(`FAILED seed ${seed}:`);
  printElectionViolations(result);
  return false;
}

function printViolations(result: RunResult): void {
  for (const violation of result.violations) {
    console.log(`  ${violation.invariant} at ${violation.atUs / 1000}ms: ${violation.message}`);
  }
  console.log(`  replay: ${result.replayCommand}`);
}

function replayOne(seed: number): boolean {
  const result = runSimulation({ ...base, seed, onTraceLine: values.quiet ? undefined : (line) => console.log(line) });
  console.log(`\nseed ${seed}\n${describeScenario(result.scenario)}`);
  console.log(`events=${result.events} end=${result.endUs / 1000}ms trace=${result.traceHash}`);
  console.log(`network ${JSON.stringify(result.network)}\nfaults ${JSON.stringify(result.faults)}\nleader ${JSON.stringify(result.leader)}`);
  console.log(`targeted ${JSON.stringify(result.targeted)}`);
  console.log(`clients ${JSON.stringify(result.workload)}\nsnapshots installed: ${result.snapshotsInstalled}`);
  if (result.violations.length === 0 && result.outsideContract !== null) {
    console.log(`ok, outside the contract: ${result.outsideContract}`);
    return true;
  }
  if (result.violations.length === 0) {
    console.log(`ok: converged ${(result.convergenceUs ?? 0) / 1000}ms after quiet, every invariant held`);
    return true;
  }
  console.log(`FAILED seed ${seed}:`);
  printViolations(result);
  return false;
}

function runMany(start: number, count: number): boolean {
  const startedMs = performance.now();
  let failures = 0;
  let events = 0;
  let snapshots = 0;
  let outsideContract = 0;
  let withLeaderFaults = 0;
  const injected = {
    crashes: 0,
    partitions: 0,
    oneWayPartitions: 0,
    pauses: 0,
    deposedMessages: 0,
    quorumChanges: 0,
    clockSteps: 0,
    adversarialMessages: 0,
    dropped: 0,
    duplicated: 0,
    slowed: 0,
  };
  const leader = { leaderCrashes: 0, leaderDeposals: 0, recoveries: 0, takeovers: 0 };
  const elections = { runs: 0, failed: 0, leaderships: 0, crashes: 0, partitions: 0 };
  const targeted = { stalledFetches: 0, crashesLeavingOneAhead: 0, historyForks: 0 };
  for (let seed = start; seed < start + count; seed++) {
    if (values.elections || seed % electionShare === 0) {
      const run = runElectionSimulation({ seed, mutant: electionMutant });
      elections.runs++;
      events += run.events;
      for (const key of ["leaderships", "crashes", "partitions"] as const) elections[key] += run.stats[key];
      if (run.violations.length > 0) {
        elections.failed++;
        failures++;
        console.log(`FAILED seed ${seed} (elections): ${[...new Set(run.violations.map((v) => v.invariant))].join(", ")}`);
        printElectionViolations(run);
      }
    }
    if (values.elections) continue;
    const result = runSimulation({ ...base, seed });
    events += result.events;
    snapshots += result.snapshotsInstalled;
    for (const key of ["crashes", "partitions", "oneWayPartitions", "pauses", "deposedMessages", "quorumChanges", "clockSteps", "adversarialMessages"] as const)
      injected[key] += result.faults[key];
    for (const key of ["dropped", "duplicated", "slowed"] as const) injected[key] += result.network[key];
    for (const key of Object.keys(leader) as (keyof typeof leader)[]) leader[key] += result.leader[key];
    for (const key of Object.keys(targeted) as (keyof typeof targeted)[]) targeted[key] += result.targeted[key];
    if (result.scenario.leaderFaults > 0) withLeaderFaults++;
    if (result.outsideContract !== null) outsideContract++;
    if (result.violations.length === 0) continue;
    failures++;
    console.log(`FAILED seed ${seed}: ${[...new Set(result.violations.map((v) => v.invariant))].join(", ")}`);
    printViolations(result);
  }
  const seconds = (performance.now() - startedMs) / 1000;
  const show = (totals: Record<string, number>) =>
    Object.entries(totals)
      .map(([name, total]) => `${name}=${total}`)
      .join(" ");
  console.log(`faults injected: ${show(injected)}; snapshots installed: ${snapshots}`);
  console.log(
    `leader processes: ${show(leader)} in ${withLeaderFaults} seeds with leader faults; outside the contract (a corrupt record lost synced entries): ${outsideContract}`,
  );
  console.log(`election scenarios: ${show(elections)}`);
  console.log(`targeted faults: ${show(targeted)}`);
  console.log(
    `${count} seeds (${start}…${start + count - 1}), ${failures} failed, ${events} events in ${seconds.toFixed(2)}s: ` +
      `${(count / seconds).toFixed(1)} seeds/s, ${Math.round(events / seconds)} events/s`,
  );
  return failures === 0;
}

const passed = values.seed !== undefined ? (values.elections ? replayElection(values.seed) : replayOne(values.seed)) : runMany(values.start, values.seeds!);
process.exit(passed ? 0 : 1);
