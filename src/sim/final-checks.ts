import type { StoredValue } from "../core/state-machine.ts";
import type { Entry } from "../core/types.ts";
import type { InvariantName } from "./invariants.ts";
import { checkRegister, formatOperation, type Operation } from "./linearizability.ts";
import type { AckedWrite } from "./leader-process.ts";

type Report = (invariant: InvariantName, message: string) => void;

export interface FinalState {
  name: string;
  appliedOffset: number;
  values: ReadonlyMap<string, StoredValue>;
}

const historyLinesShownMax = 40;

/**
 * Every acknowledged write is committed and, on every node, is the key's value or has been
 * replaced by a later committed write (which the node then shows). `committed[i]` is the entry
 * committed at offset i + 1.
 */
export function checkDurability(committed: readonly Entry[], acked: readonly AckedWrite[], nodes: readonly FinalState[], report: Report): void {
  for (const write of acked) {
    const what = `acknowledged write ${write.key}=${write.value ?? "(delete)"} at offset ${write.offset}`;
    const entry = committed[write.offset - 1];
    if (!entry) {
      report("durability", `${what} is not in the committed history at the end (it ends at ${committed.length})`);
      continue;
    }
    if (entry.key !== write.key || entry.value !== write.value) {
      report("durability", `${what}: the committed history has ${formatEntry(entry)} there`);
      continue;
    }
    for (const node of nodes) {
      const latest = latestWrite(committed, write.key, node.appliedOffset);
      if (!latest || latest.offset < write.offset) {
        report("durability", `${what} is missing on ${node.name} (applied up to ${node.appliedOffset})`);
        continue;
      }
      const stored = node.values.get(write.key);
      if ((stored?.value ?? null) !== latest.value || (stored && stored.offset !== latest.offset)) {
        const holds = stored ? `${stored.value} from ${stored.offset}` : "nothing";
        report("durability", `${what}: ${node.name} holds ${holds} instead of ${formatEntry(latest)}`);
      }
    }
  }
}

/** Leader reads and writes, key by key (linearizability is compositional). */
export function checkLinearizability(histories: ReadonlyMap<string, readonly Operation[]>, report: Report): void {
  for (const [key, history] of [...histories].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const result = checkRegister(history);
    if (result.linearizable) continue;
    const shown = history.slice(0, historyLinesShownMax).map((op) => `    ${formatOperation(op)}`);
    const more = history.length > historyLinesShownMax ? [`    … ${history.length - historyLinesShownMax} more`] : [];
    report("linearizability", [`key ${key}: ${result.reason}`, ...shown, ...more].join("\n"));
  }
}

export function formatEntry(entry: Entry): string {
  return `${entry.offset} e${entry.epoch} ${entry.key}=${entry.value ?? "(delete)"}`;
}

/** The last committed write of `key` at or below `offset`. */
function latestWrite(committed: readonly Entry[], key: string, offset: number): Entry | undefined {
  for (let index = Math.min(offset, committed.length) - 1; index >= 0; index--) {
    if (committed[index]!.key === key) return committed[index];
  }
  return undefined;
}
