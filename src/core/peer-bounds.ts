import { constants } from "./constants.ts";
import { epochMarkerKey } from "./leader.ts";
import { txnKeys } from "./txn.ts";
import type { RecoveryData, ReplicateMessage, SnapshotChunk } from "./types.ts";

/**
 * What no honest peer sends, judged against the follower's own position (DESIGN §5: peers are
 * trusted only as far as the protocol allows). Each returns why a message is refused, or null.
 * A token holder could otherwise fence at epoch 2^53 − 1 (wedging every later leader), move a
 * follower's log to an offset no leader reaches, or store a key no client could write. A message
 * of an older epoch is not judged: it changes nothing and its sender must hear stale_epoch.
 */
export interface FollowerPosition {
  epoch: number;
  lastOffset: number;
}

/** An epoch a leader may announce: integers grow by one per leader start, so never a jump beyond epochJumpMax. */
export function epochProblem(follower: FollowerPosition, epoch: number): string | null {
  if (epoch > constants.epochMax) return `epoch ${epoch} is beyond epochMax (${constants.epochMax})`;
  if (epoch > follower.epoch + constants.epochJumpMax) {
    return `epoch ${epoch} jumps more than epochJumpMax (${constants.epochJumpMax}) above this follower's ${follower.epoch}`;
  }
  return null;
}

/** How far ahead of the follower's log entries may start: the messages a leader pipelines at most. */
export const entriesAheadMax = constants.inflightMessagesMax * constants.batchEntriesMax;

/**
 * A replicate message: its epoch (above), offsets within offsetMax, entries no further ahead
 * than a leader pipelines, and keys a client could write (or the empty key of a marker, which
 * has no value).
 */
export function replicateProblem(follower: FollowerPosition, message: ReplicateMessage, isClientKey: (key: string) => boolean): string | null {
  if (message.epoch < follower.epoch) return null;
  const epoch = epochProblem(follower, message.epoch);
  if (epoch) return epoch;
  const lastCarried = message.prevOffset + message.entries.length;
  if (Math.max(lastCarried, message.commitOffset) > constants.offsetMax) return `offsets beyond offsetMax (${constants.offsetMax})`;
  if (message.entries.length > 0 && message.prevOffset > follower.lastOffset + entriesAheadMax) {
    return `entries start at ${message.prevOffset + 1}, more than ${entriesAheadMax} after this follower's ${follower.lastOffset}`;
  }
  for (const entry of message.entries) {
    if (entry.epoch > message.epoch) return `entry ${entry.offset} has epoch ${entry.epoch}, newer than the message's ${message.epoch}`;
    if (entry.key === epochMarkerKey ? entry.value !== null || entry.ifOffset !== undefined : !isClientKey(entry.key)) {
      return `entry ${entry.offset} has a key no client could write`;
    }
    if (entry.txn && (entry.key !== epochMarkerKey || !txnKeys(entry.txn).every(isClientKey)))
      return `entry ${entry.offset} is a transaction with a key no client could write`;
  }
  return null;
}

/** A snapshot chunk: its epoch, an offset within offsetMax and at most the commit it announces, and client keys. */
export function snapshotProblem(follower: FollowerPosition, chunk: SnapshotChunk, isClientKey: (key: string) => boolean): string | null {
  if (chunk.epoch < follower.epoch) return null;
  const epoch = epochProblem(follower, chunk.epoch);
  if (epoch) return epoch;
  if (chunk.commitOffset > constants.offsetMax) return `commit offset beyond offsetMax (${constants.offsetMax})`;
  if (chunk.snapshotOffset > chunk.commitOffset) return `snapshot offset ${chunk.snapshotOffset} is beyond the commit offset ${chunk.commitOffset}`;
  if (chunk.snapshotEpoch > chunk.epoch) return `snapshot epoch ${chunk.snapshotEpoch} is newer than the chunk's ${chunk.epoch}`;
  for (const [key] of chunk.pairs) if (!isClientKey(key)) return "a pair has a key no client could write";
  return null;
}

const whole = (value: unknown, min: number): value is number => Number.isSafeInteger(value) && (value as number) >= min;

/**
 * Recovery data (`GET /internal/recover`) a candidate may take over: pairs of distinct keys, each
 * set at or below the applied offset, then entries at the offsets right after it, each with an
 * epoch and a key. Anything else no honest follower sends; the candidate tries its next source.
 */
export function recoveryDataProblem(data: RecoveryData): string | null {
  if (!whole(data.epoch, 0) || !whole(data.appliedOffset, 0) || !whole(data.appliedEpoch, 0)) return "its epochs and offset are not whole numbers";
  const keys = new Set<string>();
  for (const pair of data.pairs as unknown[]) {
    const [key, value, offset] = Array.isArray(pair) ? pair : [];
    if (typeof key !== "string" || typeof value !== "string" || !whole(offset, 1)) return "a pair is not [key, value, offset]";
    if (offset > data.appliedOffset) return `the pair of ${JSON.stringify(key)} is at ${offset}, after its applied offset ${data.appliedOffset}`;
    if (keys.has(key)) return `the key ${JSON.stringify(key)} comes twice among its pairs`;
    keys.add(key);
  }
  for (let index = 0; index < data.entries.length; index++) {
    const entry = data.entries[index] as unknown as Record<string, unknown> | null;
    const offset = data.appliedOffset + 1 + index;
    if (entry?.offset !== offset) return `its entry ${index + 1} is not at offset ${offset}`;
    if (!whole(entry.epoch, 0) || typeof entry.key !== "string" || (entry.value !== null && typeof entry.value !== "string")) {
      return `its entry at ${offset} is not {offset, epoch, key, value}`;
    }
  }
  return null;
}
