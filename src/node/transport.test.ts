import { expect, test } from "bun:test";
import { parseRecoveryStream, recoveryLines } from "./transport.ts";

test("a recovery stream round-trips and a truncated one is refused", () => {
  const data = {
    epoch: 3,
    appliedOffset: 5,
    appliedEpoch: 3,
    pairs: [["k", '"v"', 5] as [string, string, number]],
    entries: [{ offset: 6, epoch: 3, key: "k", value: null }],
  };
  const text = [...recoveryLines(data)].join("\n");
  expect(parseRecoveryStream(text)).toEqual(data);
  expect(() => parseRecoveryStream(text.split("\n").slice(0, 2).join("\n"))).toThrow(/truncated/);
});
