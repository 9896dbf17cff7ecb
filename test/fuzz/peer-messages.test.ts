import { expect, test } from "bun:test";
import { replicateMessageSchema, snapshotChunkSchema } from "../../src/http/internal-routes.ts";
import { replicateMutations, snapshotMutations, validReplicate, validSnapshot } from "./peer-messages.ts";

/**
 * The fuzz spoils valid replication messages one way at a time. That only tests something while
 * the unspoiled message is valid: this guard fails as soon as the protocol grows a field the
 * fuzz does not send (update validReplicate / validSnapshot), or a mutation stops spoiling.
 */

const context = { commitOffset: 0, followerEpoch: 7, followerLastOffset: 3 };

test("the fuzz's base replicate message is valid, and each mutation makes it invalid", () => {
  expect(replicateMessageSchema.safeParse(validReplicate(context)).error).toBeUndefined();
  for (const [name, mutate] of Object.entries(replicateMutations)) {
    const message = validReplicate(context);
    mutate(message);
    expect({ name, valid: replicateMessageSchema.safeParse(message).success }).toEqual({ name, valid: false });
  }
});

test("the fuzz's base snapshot chunk is valid, and each mutation makes it invalid", () => {
  expect(snapshotChunkSchema.safeParse(validSnapshot(context)).error).toBeUndefined();
  for (const [name, mutate] of Object.entries(snapshotMutations)) {
    const chunk = validSnapshot(context);
    mutate(chunk);
    expect({ name, valid: snapshotChunkSchema.safeParse(chunk).success }).toEqual({ name, valid: false });
  }
});
