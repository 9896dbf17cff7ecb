import { expect, test } from "bun:test";
import { StateMachine, watchWindowChanges } from "../core/state-machine.ts";
import { nextWatchStep } from "./watch-feed.ts";
import type { ServingNode } from "./serving-node.ts";

const nodeOver = (state: StateMachine, refused = false) =>
  ({ state, readRefusal: refused ? { reason: "diverged", message: "diverged" } : null }) as unknown as ServingNode;

function stateWith(changes: number): StateMachine {
  const state = new StateMachine();
  for (let offset = 1; offset <= changes; offset++) state.apply({ offset, epoch: 1, key: `k${offset % 10}`, value: "1" });
  return state;
}

test("a watcher reads batches up to what is applied, waits beyond, and is refused on a node that serves no reads", () => {
  const state = stateWith(300);
  const first = nextWatchStep(nodeOver(state), "", 1);
  expect(first).toMatchObject({ kind: "changes", cursor: 257 });
  expect(first.kind === "changes" && first.changes.length).toBe(256);
  const rest = nextWatchStep(nodeOver(state), "k1", 257);
  expect(rest).toMatchObject({ kind: "changes", cursor: 301 });
  expect(rest.kind === "changes" && rest.changes.map((change) => change.offset)).toEqual([261, 271, 281, 291]);
  expect(nextWatchStep(nodeOver(state), "", 301)).toEqual({ kind: "wait" });
  expect(nextWatchStep(nodeOver(state, true), "", 1)).toEqual({ kind: "refused", message: "diverged" });
});

test("a slow watcher is dropped while its resume offset is still held; past the window it is compacted", () => {
  const state = stateWith(watchWindowChanges);
  expect(nextWatchStep(nodeOver(state), "", 1)).toEqual({ kind: "dropped", resumeFrom: 1 });
  expect(nextWatchStep(nodeOver(state), "", watchWindowChanges / 2).kind).toBe("changes");
  state.apply({ offset: watchWindowChanges + 1, epoch: 1, key: "k", value: "1" });
  expect(nextWatchStep(nodeOver(state), "", 1)).toEqual({ kind: "compacted", oldestOffset: 2 });
});
