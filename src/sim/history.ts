import type { StateMachine, StoredValue } from "../core/state-machine.ts";
import type { Entry } from "../core/types.ts";
import { formatEntry, replayAt } from "./final-checks.ts";
import type { HeldLog } from "./follower-host.ts";
import type { InvariantName } from "./invariants.ts";

type Report = (invariant: InvariantName, message: string) => void;

/**
 * A branch of the committed history that a lossy recovery abandoned (asynchronous replication:
 * recovery went on without a follower that held entries no other had). `entries` is the history
 * as it was; the new leader's history shares its first `forkedAfter` entries.
 */
export interface AbandonedBranch {
  entries: readonly Entry[];
  forkedAfter: number;
}

export function sameEntry(a: Entry, b: Entry): boolean {
  const sameCondition = a.ifOffset === b.ifOffset && (a.txn === b.txn || JSON.stringify(a.txn) === JSON.stringify(b.txn));
  return a.offset === b.offset && a.epoch === b.epoch && a.key === b.key && a.value === b.value && sameCondition;
}

/** Whether `held` contains `entry` (an applied state is committed history, checked elsewhere). */
export function holds(held: HeldLog, entry: Entry): boolean {
  if (entry.offset <= held.appliedOffset) return true;
  const pending = held.pending[entry.offset - held.appliedOffset - 1];
  return pending !== undefined && sameEntry(pending, entry);
}

/** How far `held` (an applied state and the entries after it) agrees with `committed`. */
export function heldCommittedUpTo(committed: readonly Entry[], held: HeldLog): number {
  // An applied state is committed history (checked at every apply and restore).
  let offset = Math.min(held.appliedOffset, committed.length);
  for (const entry of held.pending) {
    if (entry.offset !== offset + 1 || offset >= committed.length || !sameEntry(entry, committed[offset]!)) break;
    offset++;
  }
  return offset;
}

/** What is wrong with a restored state (a snapshot, a restart) as the history `committed` has it at its offset, or null. */
export function restoredDiffers(committed: readonly Entry[], state: StateMachine): { invariant: InvariantName; what: string } | null {
  const offset = state.appliedOffset;
  if (offset > committed.length) return { invariant: "visibility", what: `beyond the committed history (${committed.length})` };
  const expected = replayAt(committed, [offset]).get(offset)!;
  const actual = new Map(state.entries());
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(key);
    const got = actual.get(key);
    if (want?.value === got?.value && want?.offset === got?.offset) continue;
    const show = (stored: StoredValue | undefined) => (stored ? `${stored.value} from ${stored.offset}` : "nothing");
    return { invariant: "log-prefix", what: `with ${key} = ${show(got)}, the committed history gives ${show(want)}` };
  }
  const epoch = offset === 0 ? 0 : committed[offset - 1]!.epoch;
  if (state.appliedEpoch !== epoch) return { invariant: "log-prefix", what: `of epoch ${state.appliedEpoch}, the committed entry there is of epoch ${epoch}` };
  return null;
}

/**
 * A restored state that is not the committed history there may be an abandoned branch's (a
 * follower restarting from a disk that holds what a lossy recovery left behind): the branch it
 * matches, or null.
 */
export function abandonedBranchOf(abandoned: readonly AbandonedBranch[], state: StateMachine): AbandonedBranch | null {
  return abandoned.find((branch) => state.appliedOffset > branch.forkedAfter && restoredDiffers(branch.entries, state) === null) ?? null;
}

export function compareWithCommitted(committed: readonly Entry[], node: string, entry: Entry, report: Report): void {
  const expected = committed[entry.offset - 1];
  if (!expected) {
    report("log-prefix", `${node} applied ${formatEntry(entry)}, past the end of the committed history (${committed.length})`);
    return;
  }
  if (!sameEntry(expected, entry)) report("log-prefix", `${node} applied ${formatEntry(entry)} where the committed history has ${formatEntry(expected)}`);
}
