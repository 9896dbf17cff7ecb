import type { Change } from "../core/change-window.ts";
import type { ServingNode } from "./serving-node.ts";

/** Watch streams one node serves at once (WATCHERS_MAX); one more is answered 503 overloaded. */
export const watchersMax = 1000;
/** Changes one watcher is sent per write at most (its queue: it waits for the client before reading more). */
export const watchBatchChangesMax = 256;
/** A watcher that has had nothing to send for this long gets a comment line (proxies close silent streams). */
export const watchKeepaliveMs = 5000;

/** What a watcher at `cursor` (the next offset it wants) does next. */
export type WatchStep =
  /** Send these (offset order; whole offsets only), then go on from `cursor`. */
  | { kind: "changes"; changes: Change[]; cursor: number }
  /** Nothing applied at or after the cursor yet. */
  | { kind: "wait" }
  /** Changes from the cursor are no longer held: the watcher must start over from a read. */
  | { kind: "compacted"; oldestOffset: number }
  /** The watcher reads too slowly: changes it has not read are about to be dropped. It may resume from the cursor at once. */
  | { kind: "dropped"; resumeFrom: number }
  /** The node serves no reads now (a diverged follower, a deposed leader). */
  | { kind: "refused"; message: string };

/**
 * The next step of a watcher of keys starting with `prefix`, read from the node's change window
 * (the state machine's; a follower's is replaced when it installs a snapshot, and starts there).
 */
export function nextWatchStep(node: ServingNode, prefix: string, cursor: number): WatchStep {
  const refusal = node.readRefusal;
  if (refusal) return { kind: "refused", message: refusal.message };
  const state = node.state;
  const window = state.changes;
  if (cursor <= window.completeAfter) return { kind: "compacted", oldestOffset: window.completeAfter + 1 };
  if (cursor > state.appliedOffset) return { kind: "wait" };
  if (window.nearEviction(cursor)) return { kind: "dropped", resumeFrom: cursor };
  const batch = window.from(cursor, watchBatchChangesMax);
  // A full batch ends at an offset boundary; a short one holds everything applied so far.
  const next = batch.length >= watchBatchChangesMax ? batch.at(-1)!.offset + 1 : state.appliedOffset + 1;
  return { kind: "changes", changes: prefix === "" ? batch : batch.filter((change) => change.key.startsWith(prefix)), cursor: next };
}

/** Counts the watch streams of one node against watchersMax. */
export class WatcherCount {
  #open = 0;

  get open(): number {
    return this.#open;
  }

  /** Takes a slot, or returns false when watchersMax streams are open. */
  take(): boolean {
    if (this.#open >= watchersMax) return false;
    this.#open++;
    return true;
  }

  release(): void {
    this.#open--;
  }
}
