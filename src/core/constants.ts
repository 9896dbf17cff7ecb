import { assert } from "./assert.ts";

/** Named bounds of the replication core. Units are the last word of every name. */
export const constants = {
  /** Messages in flight to one follower at once (pipelining depth). */
  inflightMessagesMax: 256,
  /** Entries carried by one replicate message. */
  batchEntriesMax: 512,
  /** Characters of keys and values carried by one replicate message (one entry always fits). */
  batchCharsMax: 4 * 1024 * 1024,
  /**
   * A commit offset no batch carried is sent to a follower in a message of its own only once its
   * link has been quiet this long (nothing sent or answered): under load the next batch, due
   * sooner, carries it, and a message that carries nothing else costs the follower a wake-up.
   */
  commitAnnounceQuietMs: 2,
  /** Wait before a follower whose message failed is probed again. */
  retryBackoffMs: 50,
  /** A follower is reported unhealthy when it has not answered for this long. */
  unhealthyAfterMs: 1000,
  /** A follower that has not heard from a leader for this long serves no `minOffset` read (it may have been replaced). */
  followerReadSilenceMs: 1000,
  /** Waits on one offset watch at once: reads waiting for minOffset, or a follower's messages waiting for a gap to fill. */
  offsetWatchersMax: 10_000,
  /** How long a follower holds a message that arrived ahead of an earlier one. */
  gapWaitMs: 1000,
  /** Deepest JSON nesting accepted in a value. */
  valueDepthMax: 64,
  /** Highest offset any peer may name: 2^48, centuries of writes, far below where doubles stop counting. */
  offsetMax: 2 ** 48,
  /** Highest epoch any peer may announce (as offsetMax). */
  epochMax: 2 ** 48,
  /** How far above a follower's epoch a leader's may be (each leader start adds one or two). */
  epochJumpMax: 1_000_000,
  /** Earlier processes of one follower whose late replies the leader still recognises (and ignores). */
  retiredIncarnationsMax: 16,
  /** Followers the leader can have. */
  followersMax: 32,
  /** Epoch runs a follower remembers for its applied entries (one per leader it applied entries of). */
  epochRunsMax: 1024,
  /** A restarting leader gives up on a follower's data when none arrived for this long (then tries another). */
  recoveryIdleTimeoutMs: 2000,
  /** Bytes of one recovery stream (a follower's whole state and log) a restarting leader reads at most. */
  recoveryStreamBytesMax: 4 * 1024 * 1024 * 1024,
  /** Rounds of fencing a restarting leader tries before it gives up (each takes about 1.5 s). */
  recoveryRoundsMax: 400,
} as const;

assert(constants.inflightMessagesMax >= 1, "at least one message in flight");
assert(constants.batchEntriesMax >= 1, "a batch carries at least one entry");
assert(constants.batchCharsMax >= 1024, "a batch carries a useful amount of data");
assert(constants.unhealthyAfterMs > constants.retryBackoffMs, "health outlives one retry");
assert(constants.offsetMax <= Number.MAX_SAFE_INTEGER / 2 && constants.epochMax <= Number.MAX_SAFE_INTEGER / 2, "offsets and epochs count exactly");
assert(constants.epochJumpMax >= 2, "a leader may be a couple of epochs ahead of a follower");
