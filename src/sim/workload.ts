import type { StoredValue } from "../core/state-machine.ts";
import type { WriteOptions } from "../node/leader-env.ts";
import type { SimContext } from "./context.ts";
import { followerName } from "./format.ts";
import type { InvariantChecker } from "./invariants.ts";
import type { LeaderHost } from "./leader-host.ts";
import type { Operation } from "./linearizability.ts";
import type { FollowerHost } from "./follower-host.ts";

export interface WorkloadStats {
  writes: number;
  committed: number;
  /** Read-modify-writes (conditional writes and transactions) that committed: applied, or refused by their condition. */
  casApplied: number;
  casFailed: number;
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
/**
 * Share of writes that are read-modify-writes: a leader read, then a write conditional on the
 * offset read (PUT ?ifOffset), or a transaction comparing it (POST /txn); and of those, the share
 * that are transactions.
 */
const casShare = 0.25;
const txnShare = 0.4;
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
    casApplied: 0,
    casFailed: 0,
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
    /** Whether this run's clients also do read-modify-writes (CAS and transactions). */
    private readonly readModifyWrites: boolean,
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
      if (this.readModifyWrites && rng.chance(casShare)) this.#readModifyWrite(client, key, value, quorum, rng.chance(txnShare), then);
      else this.#write(client, key, value, quorum, then);
    }
  }

  /**
   * A leader read, then a write of `value` conditional on the offset read: PUT ?ifOffset, or a
   * transaction comparing the key (success: put or delete it; failure: get it). In the history it
   * is the read, then a CAS expecting the value read (values are unique per write).
   */
  #readModifyWrite(client: number, key: string, value: string | null, quorum: number | undefined, asTxn: boolean, then: () => void): void {
    this.#readLeader(client, key, (read) => {
      if (!read) {
        then();
        return;
      }
      const ifOffset = read.stored?.offset ?? 0;
      const expected = read.stored?.value ?? null;
      const txn = {
        compare: [{ key, offset: ifOffset }],
        success: [value === null ? { op: "delete" as const, key } : { op: "put" as const, key, value }],
        failure: [{ op: "get" as const, key }],
      };
      const what = asTxn ? `txn if ${key}@${ifOffset} then ${key}=${value ?? "(delete)"}` : `cas ${key}=${value ?? "(delete)"} ifOffset=${ifOffset}`;
      const [writeKey, writeValue, condition] = asTxn ? ["", null, { txn }] : [key, value, { ifOffset }];
      this.#write(client, writeKey, writeValue, quorum, then, { what, condition, record: { key, expected, value } });
    });
  }

  /** A write; `cas` makes it a read-modify-write, recorded as a CAS of `record.key` from `record.expected`. */
  #write(
    client: number,
    key: string,
    value: string | null,
    quorum: number | undefined,
    then: () => void,
    cas?: { what: string; condition: WriteOptions["condition"]; record: { key: string; expected: string | null; value: string | null } },
  ): void {
    const { context } = this;
    const invokeUs = context.nowUs;
    this.#writesIssued++;
    context.log(`c${client} ${cas?.what ?? `write ${key}=${value ?? "(delete)"}`}${quorum === undefined ? "" : ` quorum=${quorum}`}`);
    this.#clientHop(() => {
      const leader = this.host.serving;
      if (!leader) {
        this.#writesIssued--; // it never happened: the client will write again
        this.#refused(client, `write ${key}`, then);
        return;
      }
      this.stats.writes++;
      leader.write(
        key,
        value,
        quorum,
        (outcome) =>
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
            const responseUs = committed ? context.nowUs : Number.POSITIVE_INFINITY;
            if (!cas) {
              context.log(`c${client} ← ${leader.name} write ${key} ${outcome.kind} at ${outcome.offset}`);
              this.#record(key, { kind: "write", value, invokeUs, responseUs });
            } else {
              const decided = committed ? outcome.decided : undefined;
              const succeeded = decided === undefined ? undefined : decided.kind === "txn" ? decided.succeeded : decided.kind === "written";
              if (succeeded !== undefined) this.stats[succeeded ? "casApplied" : "casFailed"]++;
              context.log(`c${client} ← ${leader.name} ${cas.what} ${outcome.kind}${succeeded === false ? " (condition failed)" : ""} at ${outcome.offset}`);
              const { record } = cas;
              this.#record(record.key, {
                kind: "cas",
                expected: record.expected,
                value: record.value,
                invokeUs,
                responseUs,
                ...(succeeded === undefined ? {} : { succeeded }),
              });
            }
            then();
          }),
        cas?.condition,
      );
    });
  }

  /** A leader read; `then` gets what it returned (absent when refused or lost: no answer to act on). */
  #readLeader(client: number, key: string, then: (read?: { stored: StoredValue | undefined }) => void): void {
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
            then({ stored: read.stored });
            return;
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
