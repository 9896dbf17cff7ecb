import { describe, expect, test } from "bun:test";
import { kthOrderStatisticCdf, kthOrderStatisticMedian, mulberry32, orderedLogBound, unorderedBound } from "./theory.ts";

const defaults = { minDelayMs: 0.1, maxDelayMs: 10 };

/** |actual − expected| ≤ fraction·expected */
function expectWithin(actual: number, expected: number, fraction: number) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * fraction);
}

describe("unordered bound", () => {
  test("medians of Beta(k, 6−k) are docs/design.md's 0.129, 0.314, 0.500, 0.686, 0.871", () => {
    const medians = [1, 2, 3, 4, 5].map((k) => Number(kthOrderStatisticMedian(k, 5).toFixed(3)));
    expect(medians).toEqual([0.129, 0.314, 0.5, 0.686, 0.871]);
  });

  test("closed forms at the extremes: min and max of n uniforms", () => {
    for (const n of [1, 2, 3, 7, 16]) {
      expect(kthOrderStatisticMedian(1, n)).toBeCloseTo(1 - 0.5 ** (1 / n), 12);
      expect(kthOrderStatisticMedian(n, n)).toBeCloseTo(0.5 ** (1 / n), 12);
    }
  });

  test("the k-th fastest and the k-th slowest are mirror images", () => {
    for (let k = 1; k <= 7; k++) expect(kthOrderStatisticMedian(k, 7) + kthOrderStatisticMedian(8 - k, 7)).toBeCloseTo(1, 12);
  });

  test("the cdf is the probability that at least k of n draws fall below x", () => {
    // n = 2, k = 2: both below x → x²; k = 1: at least one → 1 − (1 − x)².
    expect(kthOrderStatisticCdf(0.3, 2, 2)).toBeCloseTo(0.09, 12);
    expect(kthOrderStatisticCdf(0.3, 1, 2)).toBeCloseTo(0.51, 12);
  });

  test("agrees with sampling the k-th smallest of n uniforms (n = 4)", () => {
    const random = mulberry32(7);
    for (let k = 1; k <= 4; k++) {
      const samples = Array.from({ length: 40_001 }, () => Array.from({ length: 4 }, random).sort((x, y) => x - y)[k - 1]!);
      samples.sort((x, y) => x - y);
      expect(samples[20_000]!).toBeCloseTo(kthOrderStatisticMedian(k, 4), 2);
    }
  });

  test("docs/design.md's default medians 1.38 … 8.72 ms and means a + (b−a)·k/6", () => {
    const bounds = [1, 2, 3, 4, 5].map((quorum) => unorderedBound(quorum, 5, defaults));
    expect(bounds.map((b) => Number(b.medianMs.toFixed(2)))).toEqual([1.38, 3.21, 5.05, 6.89, 8.72]);
    bounds.forEach((bound, index) => expect(bound.meanMs).toBeCloseTo(0.1 + (9.9 * (index + 1)) / 6, 12));
  });

  test("quorum 0 or above the follower count has no bound", () => {
    expect(() => unorderedBound(0, 5, defaults)).toThrow(/quorum/);
    expect(() => unorderedBound(6, 5, defaults)).toThrow(/quorum/);
  });
});

describe("ordered-log bound", () => {
  test("reproduces docs/design.md §6 for C = 20 and the defaults (within 2 %)", () => {
    const medians = [6.9, 7.6, 8.2, 8.8, 9.5];
    const throughputs = [2950, 2660, 2480, 2320, 2160];
    for (let quorum = 1; quorum <= 5; quorum++) {
      const bound = orderedLogBound({ quorum, followers: 5, concurrency: 20, delay: defaults });
      expectWithin(bound.medianMs, medians[quorum - 1]!, 0.02);
      expectWithin(bound.throughput, throughputs[quorum - 1]!, 0.02);
    }
  });

  test("ordering costs: every quorum is slower than a lone unordered write", () => {
    for (let quorum = 1; quorum <= 5; quorum++) {
      const ordered = orderedLogBound({ quorum, followers: 5, concurrency: 20, delay: defaults, writes: 20_000 });
      expect(ordered.medianMs).toBeGreaterThan(unorderedBound(quorum, 5, defaults).medianMs);
    }
  });

  test("a fixed delay d gives latency d and throughput C/d exactly", () => {
    const bound = orderedLogBound({ quorum: 3, followers: 5, concurrency: 20, delay: { minDelayMs: 2, maxDelayMs: 2 }, writes: 2000 });
    expect(bound.medianMs).toBe(2);
    expect(bound.meanMs).toBe(2);
    expect(bound.throughput).toBeCloseTo(10_000, 6);
  });

  test("one client waiting for all followers never queues behind anything: the unordered bound", () => {
    const ordered = orderedLogBound({ quorum: 5, followers: 5, concurrency: 1, delay: defaults, writes: 100_000 });
    const unordered = unorderedBound(5, 5, defaults);
    expectWithin(ordered.medianMs, unordered.medianMs, 0.01);
    expectWithin(ordered.meanMs, unordered.meanMs, 0.01);
  });

  test("Little's law holds: throughput = clients / mean latency", () => {
    const bound = orderedLogBound({ quorum: 2, followers: 5, concurrency: 20, delay: defaults, writes: 50_000 });
    expectWithin(bound.throughput, (20 / bound.meanMs) * 1000, 0.01);
  });

  test("a seed replays exactly; another seed differs", () => {
    const options = { quorum: 3, followers: 5, concurrency: 20, delay: defaults, writes: 5000 };
    expect(orderedLogBound({ ...options, seed: 42 })).toEqual(orderedLogBound({ ...options, seed: 42 }));
    expect(orderedLogBound({ ...options, seed: 43 }).meanMs).not.toBe(orderedLogBound({ ...options, seed: 42 }).meanMs);
  });
});
