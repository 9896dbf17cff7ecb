import type { SimContext } from "./context.ts";
import { followerName } from "./format.ts";
import type { InvariantChecker } from "./invariants.ts";
import type { LeaderHost } from "./leader-host.ts";
import type { Operation } from "./linearizability.ts";
import type { FollowerHost } from "./follower-host.ts";

export interface WorkloadStats {
  writes: number;
  committed: number;
  timedOut: number;
  /** Writes whose leader died before answering: the client saw a broken connection. */
  lost: number;
  /** Operations that found no leader serving (connection refused: nothing happened). */
  refused: number;
  leaderReads: number;
  /** Leader reads refused because the read barrier was not applied in time (503 stale_read). */
  leaderReadsStale: number;
  followerReads: number;
  followerReadsRefused: number;
}

/** Share of writes that are deletes, and that ask for their own quorum. */
const deleteShare = 0.1;
const ownQuorumShare = 0.25;
/** Share of leader reads that go to a deposed leader while one runs. */
const deposedReadShare = 0.5;
/** A client refused (no leader serving) waits this long before it tries again. */
const refusedBackoffUs = { minUs: 5_000, maxUs: 50_000 };
/** Refusals per write of the budget before clients give up: bounds a run whose leader never returns. */
const refusalsPerWriteMax = 20;

/**
 * Closed-loop clients: each issues one operation, waits for its answer, thinks, and goes on until
 * the run's write budget is spent. Writes carry values unique per key (client and sequence
 * number) so a read names the write it saw. Every write and every leader read lands in the
 * per-key history that the linearizability check reads; a write that timed out, or whose leader
 * died before answering, is recorded as unknown (it may or may not take effect). An operation
 * that finds no leader serving is refused before it starts, so it is not recorded.
 */
export class Workload {
  readonly histories = new Map<string, Operation[]>();
  readonly stats: WorkloadStats = {
    writes: 0,
    committed: 0,
    timedOut: 0,
    lost: 0,
    refused: 0,
    leaderReads: 0,
    leaderReadsStale: 0,
    followerReads: 0,
    followerReadsRefused: 0,
  };
  /** Virtual time when the last client finished, or null while any is still working. */
  doneUs: number | null = null;
  #clientsWorking = 0;
  /** Writes of the budget issued and not refused (stats.writes counts those a leader took). */
  #writesIssued = 0;

  constructor(
    private readonly context: SimContext,
    private readonly host: LeaderHost,
    private readonly followers: readonly FollowerHost[],
    private readonly checker: InvariantChecker,
    private readonly deposedReads: boolean,
  ) {}

  start(): void {
    const { scenario } = this.context;
    this.#clientsWorking = scenario.clients;
    for (let client = 0; client < scenario.clients; client++) {
      let sequence = 0;
      const next = () => this.#operate(client, ++sequence, () => this.context.queue.after(this.context.delayUs(scenario.thinkTime), next));
      this.context.queue.after(this.context.delayUs(scenario.thinkTime), next);
    }
  }

  #operate(client: number, sequence: number, then: () => void): void {
    const { rng, scenario } = this.context;
    if (this.#writesIssued >= scenario.writes || this.stats.refused >= refusalsPerWriteMax * scenario.writes) {
      this.#clientsWorking--;
      if (this.#clientsWorking === 0) this.doneUs = this.context.nowUs;
      return;
    }
    const key = `k${rng.int(0, scenario.keys - 1)}`;
    const draw = rng.float();
    if (draw < scenario.leaderReadShare) this.#readLeader(client, key, then);
    else if (draw < scenario.leaderReadShare + scenario.followerReadShare) this.#readFollower(client, key, then);
    else {
      const value = rng.chance(deleteShare) ? null : JSON.stringify(`c${client}.${sequence}`);
      const quorum = rng.chance(ownQuorumShare) ? rng.int(0, scenario.followers) : undefined;
      this.#write(client, key, value, quorum, then);
    }
  }

  #write(client: number, key: string, value: string | null, quorum: number | undefined, then: () => void): void {
    const { context } = this;
    const invokeUs = context.nowUs;
    this.#writesIssued++;
    context.log(`c${client} write ${key}=${value ?? "(delete)"}${quorum === undefined ? "" : ` quorum=${quorum}`}`);
    this.#clientHop(() => {
      const leader = this.host.serving;
      if (!leader) {
        this.#writesIssued--; // it never happened: the client will write again
        this.#refused(client, `write ${key}`, then);
        return;
      }
      this.stats.writes++;
      leader.write(key, value, quorum, (outcome) =>
        this.#clientHop(() => {
          if (outcome.kind === "deposed" || outcome.kind === "overloaded" || outcome.kind === "storage_unavailable") {
            // 421 or 503 overloaded: refused before anything was appended, as if no leader served.
            this.stats.writes--;
            this.#writesIssued--;
            this.#refused(client, `write ${key} (deposed leader)`, then);
            return;
          }
          const committed = outcome.kind === "committed";
          if (committed) this.stats.committed++;
          else if (outcome.kind === "timeout") this.stats.timedOut++;
          else this.stats.lost++;
          context.log(`c${client} ← ${leader.name} write ${key} ${outcome.kind} at ${outcome.offset}`);
          this.#record(key, { kind: "write", value, invokeUs, responseUs: committed ? context.nowUs : Number.POSITIVE_INFINITY });
          then();
        }),
      );
    });
  }

  #readLeader(client: number, key: string, then: () => void): void {
    const { context } = this;
    const invokeUs = context.nowUs;
    this.stats.leaderReads++;
    this.#clientHop(() => {
      // A client that still talks to a deposed leader (an old connection) reads from it.
      const deposed = this.deposedReads ? this.host.deposedRunning : [];
      const leader = deposed.length > 0 && this.context.rng.chance(deposedReadShare) ? this.context.rng.pick(deposed) : this.host.serving;
      if (!leader) {
        this.#refused(client, `read ${key}`, then);
        return;
      }
      leader.read(key, (read) =>
        this.#clientHop(() => {
          if (read.kind !== "value") {
            if (read.kind === "stale_read") this.stats.leaderReadsStale++;
            context.log(`c${client} ← ${leader.name} read ${key}: ${read.kind}`);
          } else {
            const value = read.stored?.value ?? null;
            context.log(`c${client} ← ${leader.name} read ${key} = ${value ?? "(absent)"}`);
            this.#record(key, { kind: "read", value, invokeUs, responseUs: context.nowUs });
          }
          then();
        }),
      );
    });
  }

  /** No leader listens: the client hears so at once, and backs off before it goes on. */
  #refused(client: number, what: string, then: () => void): void {
    this.stats.refused++;
    this.#clientHop(() => {
      this.context.log(`c${client} ← ${what}: refused, no leader serving`);
      this.context.queue.after(this.context.delayUs(refusedBackoffUs), then);
    });
  }

  #readFollower(client: number, key: string, then: () => void): void {
    const follower = this.context.rng.pick(this.followers);
    this.stats.followerReads++;
    this.#clientHop(() =>
      follower.read(key, (read) => {
        if (read) this.checker.onFollowerRead(follower, key, read);
        else this.stats.followerReadsRefused++;
        this.#clientHop(() => {
          const shown = read ? (read.stored?.value ?? "(absent)") : "refused";
          this.context.log(`c${client} ← ${followerName(follower.index)} read ${key} = ${shown}`);
          then();
        });
      }),
    );
  }

  /** One client ↔ node hop; clients talk over reliable links, faults are between the nodes. */
  #clientHop(run: () => void): void {
    this.context.queue.after(this.context.delayUs(this.context.scenario.clientDelay), run);
  }

  #record(key: string, op: Operation): void {
    let history = this.histories.get(key);
    if (!history) this.histories.set(key, (history = []));
    history.push(op);
  }
}
