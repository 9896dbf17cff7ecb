import { expect, test } from "bun:test";
import { readRecoveryStream, recoveryLines } from "./transport.ts";

const data = {
  epoch: 3,
  appliedOffset: 5,
  appliedEpoch: 3,
  pairs: [["k", '"v"', 5] as [string, string, number]],
  entries: [{ offset: 6, epoch: 3, key: "k", value: null }],
};

/** The text in chunks of `size` bytes, as a response body arrives. */
async function* chunksOf(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let start = 0; start < bytes.length; start += size) yield bytes.slice(start, start + size);
}

test("a recovery stream round-trips whatever its chunking; a truncated one, or one with more lines than announced, is refused", async () => {
  const text = [...recoveryLines(data)].join("\n");
  for (const size of [1, 3, 7, 1000]) expect(await readRecoveryStream(chunksOf(text, size))).toEqual(data);
  const truncated = text.split("\n").slice(0, 2).join("\n");
  await expect(readRecoveryStream(chunksOf(truncated, 5))).rejects.toThrow(/truncated/);
  await expect(readRecoveryStream(chunksOf(`${text}\n["x","1",1]`, 5))).rejects.toThrow(/more lines/);
  await expect(readRecoveryStream(chunksOf('{"epoch":-1}', 5))).rejects.toThrow(/bad header/);
  await expect(readRecoveryStream(chunksOf(text, 5), () => {}, text.length - 1)).rejects.toThrow(/longer than/);
  let progress = 0;
  await readRecoveryStream(chunksOf(text, 10), () => progress++);
  expect(progress).toBe(Math.ceil(new TextEncoder().encode(text).length / 10));
});
