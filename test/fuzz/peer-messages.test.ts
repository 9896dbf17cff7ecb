import { expect, test } from "bun:test";
import fc from "fast-check";
import { plainReplicateMessage, replicateMessageSchema, snapshotChunkSchema } from "../../src/http/internal-routes.ts";
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

/**
 * The follower's hand-written check of a plain replicate message (the fast path before zod) must
 * accept nothing the schema refuses, and give what the schema gives for what it accepts.
 */
test("the hand-written replicate check accepts only what the schema accepts, with the same result, and takes every plain valid message", () => {
  const base = validReplicate(context);
  expect(plainReplicateMessage(base)).toEqual(replicateMessageSchema.parse(base));
  for (const [name, mutate] of Object.entries(replicateMutations)) {
    const message = validReplicate(context);
    mutate(message);
    expect({ name, accepted: plainReplicateMessage(message) }).toEqual({ name, accepted: null });
  }
  // Each field drawn mostly from values the schema takes, now and then from one it refuses (near
  // the bounds, or of another type); entries mostly at the offsets that follow prevOffset.
  const field = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ arbitrary: good, weight: 15 }, { arbitrary: bad, weight: 1 });
  const badNumber = fc.constantFrom(-1, -2, 0.5, 2 ** 53, 2 ** 53 + 2, 33, Number.NaN, "1", null, undefined);
  const whole = field(fc.constantFrom(0, 1, 2, 3), badNumber);
  const entry = fc.record(
    {
      epoch: whole,
      key: field(fc.constantFrom("k", "key-1", ""), fc.constantFrom(7, undefined)),
      value: field(fc.constantFrom('"v"', "1", '{"a":[1]}', null), fc.constantFrom("not json", '"a\\"', '"a\u0001"', 7, undefined)),
      ifOffset: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: whole, weight: 1 }),
      txn: fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 15 },
        { arbitrary: fc.constantFrom({ compare: [], success: [], failure: [] }, "txn"), weight: 1 },
      ),
      extra: fc.constantFrom(undefined, "ignored"),
    },
    { requiredKeys: ["epoch", "key", "value"] },
  );
  const message = fc
    .tuple(
      fc.record(
        {
          epoch: whole,
          leaderId: field(fc.constant("leader"), fc.constantFrom(5, undefined)),
          prevOffset: field(fc.constantFrom(0, 3), badNumber),
          prevEpoch: field(fc.constantFrom(-1, 0, 2), badNumber),
          commitOffset: whole,
          writeQuorumFloor: fc.oneof(fc.constant(undefined), whole),
          writeQuorum: fc.oneof(fc.constant(undefined), whole),
          extra: fc.constantFrom(undefined, 1),
        },
        { requiredKeys: ["epoch", "leaderId", "prevOffset", "prevEpoch", "commitOffset"] },
      ),
      field(fc.array(entry, { maxLength: 4 }), fc.constantFrom("entries", null, undefined)),
      field(fc.constant(null), fc.constantFrom(-1, 1, 0.5, "5")),
    )
    .map(([fields, entries, spoil]) => {
      if (!Array.isArray(entries)) return { ...fields, entries };
      const first = typeof fields.prevOffset === "number" ? fields.prevOffset + 1 : 1;
      return {
        ...fields,
        entries: entries.map((e, i) => ({ ...e, offset: spoil === null ? first + i : typeof spoil === "number" ? first + i + spoil : spoil })),
      };
    });
  let plainValid = 0;
  fc.assert(
    fc.property(message, (input) => {
      const fast = plainReplicateMessage(input);
      const schema = replicateMessageSchema.safeParse(input);
      if (fast !== null) {
        expect(schema.success).toBe(true);
        expect(fast).toEqual(schema.data!);
      } else if (schema.success && schema.data.entries.every((e) => e.txn === undefined)) {
        throw new Error(`a plain message the schema accepts was left to the schema: ${JSON.stringify(input)}`);
      }
      if (fast !== null) plainValid++;
    }),
    { numRuns: 20_000, seed: 16 },
  );
  // The draws must reach the accepting side too, or the equality above was never tested.
  expect(plainValid).toBeGreaterThan(100);
});
