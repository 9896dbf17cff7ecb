import type { WriteRecord } from "../tools/load.ts";

/**
 * What the failover benchmark measures, apart from the processes: every write's outcome as the
 * client saw it (tools/load.ts onWrite), the unavailability window of each kill, and afterwards
 * whether each acknowledged write is in the final state. Writes have keys of their own (key-<i>,
 * value-<i>), so presence is exact. A write in flight when the leader died is indeterminate: it
 * may or may not be there, and neither counts against the cluster.
 */

export class AckTracker {
  readonly records: WriteRecord[] = [];
  readonly #lastAckAtMs = new Map<string, number>();
  #acks = 0;
  #waiters: { test: (record: WriteRecord) => boolean; resolve: (record: WriteRecord) => void }[] = [];

  /** tools/load.ts's onWrite. */
  readonly onWrite = (record: WriteRecord): void => {
    this.records.push(record);
    if (record.outcome !== "acknowledged" || record.url === undefined) return;
    this.#acks++;
    this.#lastAckAtMs.set(record.url, Math.max(this.#lastAckAtMs.get(record.url) ?? 0, record.answeredAtMs));
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.test(record)) return true;
      waiter.resolve(record);
      return false;
    });
  };

  /** When `url` last acknowledged a write (performance.now()), or undefined. */
  lastAckAtMs(url: string): number | undefined {
    return this.#lastAckAtMs.get(url);
  }

  get acknowledged(): number {
    return this.#acks;
  }

  /** The first acknowledged write from now on that passes `test`; null after `boundMs`. */
  firstAck(test: (record: WriteRecord) => boolean, boundMs: number): Promise<WriteRecord | null> {
    return this.#wait(test, boundMs);
  }

  /** Resolves once `count` more writes were acknowledged (by anyone); false after `boundMs`. */
  async moreAcks(count: number, boundMs: number): Promise<boolean> {
    const target = this.#acks + count;
    if (count <= 0) return true;
    return (await this.#wait(() => this.#acks >= target, boundMs)) !== null;
  }

  #wait(test: (record: WriteRecord) => boolean, boundMs: number): Promise<WriteRecord | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== entry);
        resolve(null);
      }, boundMs);
      const entry = {
        test,
        resolve: (record: WriteRecord) => {
          clearTimeout(timer);
          resolve(record);
        },
      };
      this.#waiters.push(entry);
    });
  }
}

export interface WriteAudit {
  acknowledged: number;
  /** Acknowledged, and not in the final state: must be 0. */
  lostWrites: number;
  /** A few of them, for the report. */
  lostExamples: string[];
  /** Refused for sure (4xx, no leader within the bound). */
  failedWrites: number;
  /** Refused, yet in the final state: a 421 may answer a write the deposed leader had logged. */
  failedWritesApplied: number;
  /** Fate unknown when answered (in flight at the kill, quorum_timeout). */
  indeterminate: number;
  /** Of those, how many are in the final state. */
  indeterminateApplied: number;
}

/**
 * Each write against the final state: `stored` is key → stored value as JSON (readDump's
 * "offset value" lines, the offset removed), from a node every other node agrees with.
 */
export function auditWrites(records: readonly WriteRecord[], stored: ReadonlyMap<string, string>): WriteAudit {
  const audit: WriteAudit = {
    acknowledged: 0,
    lostWrites: 0,
    lostExamples: [],
    failedWrites: 0,
    failedWritesApplied: 0,
    indeterminate: 0,
    indeterminateApplied: 0,
  };
  for (const record of records) {
    const present = stored.get(record.key) === JSON.stringify(record.value);
    if (record.outcome === "acknowledged") {
      audit.acknowledged++;
      if (!present) {
        audit.lostWrites++;
        if (audit.lostExamples.length < 5) audit.lostExamples.push(`${record.key}=${record.value} (offset ${record.offset} by ${record.url})`);
      }
    } else if (record.outcome === "failed") {
      audit.failedWrites++;
      if (present) audit.failedWritesApplied++;
    } else {
      audit.indeterminate++;
      if (present) audit.indeterminateApplied++;
    }
  }
  return audit;
}

export interface WindowStats {
  p50: number;
  mean: number;
  max: number;
  /** Every kill's window in order, ms. */
  all: number[];
}

const round = (value: number) => Number(value.toFixed(1));

export function windowStats(windowsMs: readonly number[]): WindowStats {
  if (windowsMs.length === 0) return { p50: 0, mean: 0, max: 0, all: [] };
  const sorted = [...windowsMs].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const p50 = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { p50: round(p50), mean: round(mean), max: round(sorted.at(-1)!), all: windowsMs.map(round) };
}
