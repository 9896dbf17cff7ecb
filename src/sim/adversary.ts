import { constants } from "../core/constants.ts";
import { epochProblem, type FollowerPosition, replicateProblem, snapshotProblem } from "../core/peer-bounds.ts";
import type { ReplicateMessage, SnapshotChunk } from "../core/types.ts";
import { keySchema } from "../http/input.ts";
import type { Random } from "./random.ts";

/** A message no honest peer sends, from a peer that holds the cluster token. */
export type Forged =
  | { kind: "replicate"; what: string; message: ReplicateMessage }
  | { kind: "snapshot"; what: string; chunk: SnapshotChunk }
  | { kind: "fence"; what: string; epoch: number };

/** The checks /internal/replicate|snapshot|fence run before the node sees a message (src/core/peer-bounds.ts). */
export interface PeerChecks {
  replicate(position: FollowerPosition, message: ReplicateMessage, isClientKey: (key: string) => boolean): string | null;
  snapshot(position: FollowerPosition, chunk: SnapshotChunk, isClientKey: (key: string) => boolean): string | null;
  fence(position: FollowerPosition, epoch: number): string | null;
}

export const productionPeerChecks: PeerChecks = { replicate: replicateProblem, snapshot: snapshotProblem, fence: epochProblem };

/** As the HTTP layer judges keys: what a client could write with MAX_KEY_BYTES. */
export function clientKeyCheck(maxKeyBytes: number): (key: string) => boolean {
  const schema = keySchema(maxKeyBytes);
  return (key) => schema.safeParse(key).success;
}

const farEpoch = Number.MAX_SAFE_INTEGER;
const farOffset = Number.MAX_SAFE_INTEGER;

/** One forged message against a follower at `position`, of a kind drawn from `rng`. */
export function forge(rng: Random, position: FollowerPosition, maxKeyBytes: number): Forged {
  const epoch = Math.max(position.epoch, 1);
  const message = (prevOffset: number, key: string, messageEpoch = epoch): ReplicateMessage => ({
    epoch: messageEpoch,
    leaderId: "intruder",
    prevOffset,
    prevEpoch: 0,
    entries: [{ offset: prevOffset + 1, epoch: messageEpoch, key, value: '"forged"' }],
    commitOffset: 0,
  });
  switch (rng.int(0, 5)) {
    case 0:
      return { kind: "replicate", what: "a heartbeat at epoch 2^53 - 1", message: { ...message(0, "k"), entries: [], epoch: farEpoch } };
    case 1:
      return { kind: "fence", what: "a fence at epoch 2^53 - 1", epoch: farEpoch };
    case 2:
      return { kind: "replicate", what: "an entry at offset 2^53 - 1", message: message(farOffset - 1, "k") };
    case 3:
      return {
        kind: "replicate",
        what: "an entry whose key no client could write",
        message: message(position.lastOffset, rng.pick(["..", ".", "a\u0000b", "x".repeat(maxKeyBytes + 1)])),
      };
    case 4:
      return {
        kind: "replicate",
        what: `an epoch ${constants.epochJumpMax + 1} above the follower's`,
        message: message(position.lastOffset, "k", position.epoch + constants.epochJumpMax + 1),
      };
    default:
      return {
        kind: "snapshot",
        what: "a snapshot at offset 2^53 - 1",
        chunk: { epoch, leaderId: "intruder", snapshotOffset: farOffset, snapshotEpoch: epoch, chunk: 0, pairs: [], done: true, commitOffset: farOffset },
      };
  }
}

/** Why the checks refuse `forged` (400 invalid_message), or null when they would let it through. */
export function judge(checks: PeerChecks, position: FollowerPosition, forged: Forged, isClientKey: (key: string) => boolean): string | null {
  switch (forged.kind) {
    case "replicate":
      return checks.replicate(position, forged.message, isClientKey);
    case "snapshot":
      return checks.snapshot(position, forged.chunk, isClientKey);
    case "fence":
      return checks.fence(position, forged.epoch);
  }
}
