import fc from "fast-check";
import type { RenderContext } from "./requests.ts";

/** Peer messages with the right token: garbage is 400, an older epoch 409, nothing is applied. */

/** A replicate or snapshot message: a valid one at the follower's epoch, spoiled by `mutation`. */
export interface PeerMessage {
  mutation: string;
  /** Raw body instead of a message (not JSON, or JSON of the wrong shape). */
  raw?: Uint8Array;
  errors: string[];
}

const utf8 = new TextEncoder();

type Message = Record<string, unknown>;

/** Each spoils a valid message so that no schema-respecting node may apply it. */
export const replicateMutations: Record<string, (m: Message) => void> = {
  "epoch is a string": (m) => (m.epoch = String(m.epoch)),
  "epoch is negative": (m) => (m.epoch = -1),
  "epoch is a fraction": (m) => (m.epoch = 1.5),
  "epoch is beyond 2^53": (m) => (m.epoch = 2 ** 53 + 2),
  "epoch is missing": (m) => delete m.epoch,
  "leaderId is a number": (m) => (m.leaderId = 5),
  "prevOffset is negative": (m) => (m.prevOffset = -1),
  "prevOffset is a string": (m) => (m.prevOffset = "0"),
  "prevEpoch is missing": (m) => delete m.prevEpoch,
  "prevEpoch is below -1": (m) => (m.prevEpoch = -2),
  "entries is not a list": (m) => (m.entries = { 0: 1 }),
  "entries is missing": (m) => delete m.entries,
  "entry is a number": (m) => (m.entries = [1]),
  "entry has no key": (m) => delete (m.entries as Message[])[0]!.key,
  "entry key is a number": (m) => ((m.entries as Message[])[0]!.key = 7),
  "entry value is a number": (m) => ((m.entries as Message[])[0]!.value = 7),
  "entry value is not JSON text": (m) => ((m.entries as Message[])[0]!.value = "not json"),
  "entry value is truncated JSON": (m) => ((m.entries as Message[])[0]!.value = '{"a":'),
  "entry value is a string whose closing quote is escaped": (m) => ((m.entries as Message[])[0]!.value = '"a\\"'),
  "entry value is a string with a raw control character": (m) => ((m.entries as Message[])[0]!.value = '"a\u0001b"'),
  "entries skip an offset": (m) => ((m.entries as Message[])[1]!.offset = ((m.entries as Message[])[1]!.offset as number) + 1),
  "entry offset is zero": (m) => ((m.entries as Message[])[0]!.offset = 0),
  "entry epoch is negative": (m) => ((m.entries as Message[])[0]!.epoch = -1),
  "entry epoch is a fraction": (m) => ((m.entries as Message[])[0]!.epoch = 0.5),
  "entry ifOffset is negative": (m) => ((m.entries as Message[])[0]!.ifOffset = -1),
  "entry ifOffset is a string": (m) => ((m.entries as Message[])[0]!.ifOffset = "0"),
  "more than 512 entries": (m) => {
    const first = (m.prevOffset as number) + 1;
    m.entries = Array.from({ length: 513 }, (_, i) => ({ offset: first + i, epoch: m.epoch, key: `k${i}`, value: "1" }));
  },
  "commitOffset is negative": (m) => (m.commitOffset = -1),
  "commitOffset is a fraction": (m) => (m.commitOffset = 0.5),
  "a newer epoch with a hole": (m) => {
    m.epoch = (m.epoch as number) + 1000;
    (m.entries as Message[])[1]!.offset = (m.prevOffset as number) + 5;
  },
};

export const snapshotMutations: Record<string, (m: Message) => void> = {
  "a pair newer than the snapshot": (m) => ((m.pairs as unknown[][])[0]![2] = (m.snapshotOffset as number) + 1),
  "a key twice": (m) => ((m.pairs as unknown[][])[1]![0] = (m.pairs as unknown[][])[0]![0]),
  "a value that is not JSON text": (m) => ((m.pairs as unknown[][])[0]![1] = "{oops"),
  "a pair of two": (m) => ((m.pairs as unknown[][])[0] = ["k", "1"]),
  "a pair at offset 0": (m) => ((m.pairs as unknown[][])[0]![2] = 0),
  "chunk is negative": (m) => (m.chunk = -1),
  "chunk is a string": (m) => (m.chunk = "0"),
  "done is a string": (m) => (m.done = "yes"),
  "snapshotOffset is negative": (m) => (m.snapshotOffset = -1),
  "snapshotEpoch is missing": (m) => delete m.snapshotEpoch,
  "pairs is not a list": (m) => (m.pairs = "k=1"),
  "epoch is missing": (m) => delete m.epoch,
  "commitOffset is negative": (m) => (m.commitOffset = -1),
  "a newer epoch with a bad pair": (m) => {
    m.epoch = (m.epoch as number) + 1000;
    (m.pairs as unknown[][])[0]![2] = -5;
  },
};

export function validReplicate(context: RenderContext): Message {
  const first = context.followerLastOffset + 1;
  return {
    epoch: context.followerEpoch,
    leaderId: "intruder",
    prevOffset: context.followerLastOffset,
    prevEpoch: context.followerEpoch,
    entries: [0, 1].map((i) => ({ offset: first + i, epoch: context.followerEpoch, key: `injected-${i}`, value: '"injected"' })),
    commitOffset: first + 1,
  };
}

export function validSnapshot(context: RenderContext): Message {
  const snapshotOffset = context.followerLastOffset + 100;
  return {
    epoch: context.followerEpoch,
    leaderId: "intruder",
    snapshotOffset,
    snapshotEpoch: context.followerEpoch,
    chunk: 0,
    pairs: [
      ["injected-a", '"injected"', 1],
      ["injected-b", "[1]", 2],
    ],
    done: true,
    commitOffset: snapshotOffset,
  };
}

/** A message for `route`, rendered against the follower's current epoch and offset. */
export function renderPeerMessage(route: string, message: PeerMessage, context: RenderContext): Uint8Array {
  if (message.raw) return message.raw;
  const isReplicate = route === "/internal/replicate";
  const built = isReplicate ? validReplicate(context) : validSnapshot(context);
  if (message.mutation === "an older epoch") built.epoch = context.followerEpoch - 1;
  else (isReplicate ? replicateMutations : snapshotMutations)[message.mutation]!(built);
  return utf8.encode(JSON.stringify(built));
}

export const peerMessage = (mutations: Record<string, unknown>): fc.Arbitrary<PeerMessage> =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...Object.keys(mutations)).map((mutation) => ({ mutation, errors: ["invalid_message"] })), weight: 6 },
    { arbitrary: fc.constant<PeerMessage>({ mutation: "an older epoch", errors: ["stale_epoch"] }), weight: 2 },
    {
      arbitrary: fc.constantFrom("", "{", "not json", "\u0000", '{"epoch":1,').map((t) => ({ mutation: "raw", raw: utf8.encode(t), errors: ["invalid_json"] })),
      weight: 1,
    },
    {
      arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ mutation: "raw", raw: utf8.encode(JSON.stringify(v)), errors: ["invalid_message"] })),
      weight: 1,
    },
    {
      arbitrary: fc.constant<PeerMessage>({ mutation: "raw", raw: new Uint8Array([0x7b, 0xff, 0x7d]), errors: ["invalid_json"] }),
      weight: 1,
    },
  );
