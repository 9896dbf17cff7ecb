import { StateMachine, type StoredValue } from "../core/state-machine.ts";
import { txnKeys } from "../core/txn.ts";
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
 * committed at offset i + 1. What a node should hold is the committed history replayed up to its
 * applied offset: conditional writes and transactions decide there as everywhere (a failed
 * condition changes nothing, a transaction writes the keys of the branch it ran).
 */
export function checkDurability(committed: readonly Entry[], acked: readonly AckedWrite[], nodes: readonly FinalState[], report: Report): void {
  const touched = new Map<string, AckedWrite>();
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
    for (const key of entry.txn ? txnKeys(entry.txn) : [entry.key]) touched.set(key, write);
  }
  const replays = replayAt(
    committed,
    nodes.map((node) => node.appliedOffset),
  );
  for (const node of nodes) {
    const expected = replays.get(Math.min(node.appliedOffset, committed.length))!;
    for (const [key, write] of touched) {
      const what = `acknowledged write ${write.key}=${write.value ?? "(delete)"} at offset ${write.offset}`;
      if (node.appliedOffset < write.offset) {
        report("durability", `${what} is missing on ${node.name} (applied up to ${node.appliedOffset})`);
        continue;
      }
      const want = expected.get(key);
      const stored = node.values.get(key);
      if (want?.value !== stored?.value || want?.offset !== stored?.offset) {
        const show = (value: StoredValue | undefined) => (value ? `${value.value} from ${value.offset}` : "nothing");
        report("durability", `${what}: ${node.name} holds ${key} = ${show(stored)} instead of ${show(want)}`);
      }
    }
  }
}

/** The committed history replayed (by the production state machine's apply) up to each offset asked. */
export function replayAt(committed: readonly Entry[], offsets: readonly number[]): Map<number, Map<string, StoredValue>> {
  const wanted = [...new Set(offsets.map((offset) => Math.min(offset, committed.length)))].sort((a, b) => a - b);
  const replays = new Map<number, Map<string, StoredValue>>();
  const state = new StateMachine();
  for (const offset of wanted) {
    while (state.appliedOffset < offset) state.apply(committed[state.appliedOffset]!);
    replays.set(offset, new Map(state.entries()));
  }
  return replays;
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
