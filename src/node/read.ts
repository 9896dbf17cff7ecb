import type { StoredValue } from "../core/state-machine.ts";
import type { ServingNode } from "./serving-node.ts";

export type ReadResult = { kind: "value"; stored: StoredValue | undefined } | { kind: "stale_read"; needed: number; appliedOffset: number };

/**
 * A read on any node: committed values only, once `minOffset` and the node's read barrier are
 * applied (a recovered leader first commits what it took over, so it never serves a state older
 * than a write its predecessor acknowledged), waiting at most `waitMs`.
 */
export function readCommitted(node: ServingNode, key: string, minOffset: number, waitMs: number, done: (result: ReadResult) => void): void {
  const needed = Math.max(minOffset, node.readBarrierOffset);
  node.applied.waitFor(needed, waitMs, (reached) => {
    if (!reached) done({ kind: "stale_read", needed, appliedOffset: node.state.appliedOffset });
    else done({ kind: "value", stored: node.state.get(key) });
  });
}
