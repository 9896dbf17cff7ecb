import { describe, expect, test } from "bun:test";
import { Random } from "../../src/sim/random.ts";

describe("Random", () => {
  test("one seed gives one sequence", () => {
    const a = new Random(42);
    const b = new Random(42);
    const first = Array.from({ length: 100 }, () => a.uint32());
    expect(Array.from({ length: 100 }, () => b.uint32())).toEqual(first);
  });

  test("neighbouring seeds, and seeds differing only above 2^32, give different sequences", () => {
    const draw = (seed: number) =>
      Array.from(
        { length: 8 },
        (
          (rng) => () =>
            rng.uint32()
        )(new Random(seed)),
      );
    expect(draw(1)).not.toEqual(draw(2));
    expect(draw(5)).not.toEqual(draw(5 + 2 ** 32));
  });

  test("int covers [min, max] inclusively and nothing else", () => {
    const rng = new Random(7);
    const seen = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      const value = rng.int(3, 6);
      seen.set(value, (seen.get(value) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([3, 4, 5, 6]);
    for (const count of seen.values()) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });

  test("float stays in [0, 1) with a mean near one half; chance follows its probability", () => {
    const rng = new Random(9);
    let sum = 0;
    let hits = 0;
    for (let i = 0; i < 10_000; i++) {
      const value = rng.float();
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
      sum += value;
      if (rng.chance(0.1)) hits++;
    }
    expect(Math.abs(sum / 10_000 - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(hits - 1000)).toBeLessThan(120);
  });
});
