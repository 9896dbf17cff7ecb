import type { StoredValue } from "../core/state-machine.ts";
import type { ReadConfirmation, ReadRefusal, ServingNode } from "./serving-node.ts";

export type ReadResult =
  | { kind: "value"; stored: StoredValue | undefined }
  | { kind: "stale_read"; needed: number; appliedOffset: number }
  /** offsetWatchersMax reads wait already (503 overloaded). */
  | { kind: "overloaded" }
  | ({ kind: "refused" } & ReadRefusal);

/**
 * A read on any node: committed values only, once `minOffset` and the node's read barrier are
 * applied (a recovered leader first commits what it took over, so it never serves a state older
 * than a write its predecessor acknowledged), waiting at most `waitMs`. A leader first confirms
 * that it still leads (at most `waitMs` more; `unconfirmed` after): a deposed leader that has not
 * heard of its successor yet must not serve a state older than the successor's acknowledged
 * writes. A node that must serve no read (a diverged follower, a deposed leader) refuses at once.
 */
export function readCommitted(node: ServingNode, key: string, minOffset: number, waitMs: number, done: (result: ReadResult) => void): void {
  whenReadable(node, minOffset, waitMs, (gate) => done(gate.kind === "readable" ? { kind: "value", stored: node.state.get(key) } : gate));
}

export type ReadGate = Exclude<ReadResult, { kind: "value" }> | { kind: "readable" };

/**
 * The gate of readCommitted for any read of the state (a scan too): `readable` once the state may
 * be read — on a leader, after its confirmation round.
 */
export function whenReadable(node: ServingNode, minOffset: number, waitMs: number, done: (gate: ReadGate) => void): void {
  const refusal = node.readRefusal;
  if (refusal) {
    done({ kind: "refused", ...refusal });
    return;
  }
  if (!node.confirmRead) {
    whenApplied(node, minOffset, waitMs, done);
    return;
  }
  node.confirmRead(waitMs, (confirmation: ReadConfirmation) => {
    if (confirmation.kind === "confirmed") whenApplied(node, Math.max(minOffset, confirmation.readIndex), waitMs, done);
    else done(confirmation);
  });
}

function whenApplied(node: ServingNode, minOffset: number, waitMs: number, done: (gate: ReadGate) => void): void {
  const needed = Math.max(minOffset, node.readBarrierOffset);
  // `applied` is what this node can vouch for (a follower's verified against its leader).
  if (!node.applied.reached(needed) && node.applied.full) {
    done({ kind: "overloaded" });
    return;
  }
  node.applied.waitFor(needed, waitMs, (reached) => {
    if (!reached) done({ kind: "stale_read", needed, appliedOffset: node.state.appliedOffset });
    else done({ kind: "readable" });
  });
}
