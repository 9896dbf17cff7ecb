import { parseToolFlags } from "../src/flags.ts";

/**
 * The two reference curves of docs/design.md §6, beside every measurement:
 * - the unordered bound: one write alone waits for the k-th fastest of N uniform delays;
 * - the ordered-log bound: zero-cost replication with contiguous acks and prefix commit, under a
 *   closed loop of C clients (head-of-line blocking included), by a seeded Monte Carlo.
 * Both ignore every cost but the simulated delay, so a measurement can only be slower.
 */

export interface DelayRange {
  minDelayMs: number;
  maxDelayMs: number;
}

export interface UnorderedBound {
  medianMs: number;
  meanMs: number;
}

export interface OrderedLogBound {
  medianMs: number;
  meanMs: number;
  /** Committed writes per second. */
  throughput: number;
}

/** P(Beta(k, n+1−k) ≤ x) = P(at least k of n uniforms ≤ x): a binomial tail, exact for small n. */
export function kthOrderStatisticCdf(x: number, k: number, n: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  let term = (1 - x) ** n; // P(exactly 0 of n below x)
  let below = 0; // P(fewer than k below x)
  for (let j = 0; j < k; j++) {
    below += term;
    term *= ((n - j) / (j + 1)) * (x / (1 - x));
  }
  return 1 - below;
}

/** Median of the k-th smallest of n U(0,1) draws, i.e. of Beta(k, n+1−k), by bisection. */
export function kthOrderStatisticMedian(k: number, n: number): number {
  checkQuorum(k, n);
  let low = 0;
  let high = 1;
  // 60 halvings take the interval below 1e-18: exact to double precision.
  for (let step = 0; step < 60; step++) {
    const middle = (low + high) / 2;
    if (kthOrderStatisticCdf(middle, k, n) < 0.5) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/** A single write that waits for the `quorum`-th fastest of `followers` uniform delays. */
export function unorderedBound(quorum: number, followers: number, delay: DelayRange): UnorderedBound {
  checkQuorum(quorum, followers);
  const { minDelayMs: a, maxDelayMs: b } = delay;
  return {
    medianMs: a + (b - a) * kthOrderStatisticMedian(quorum, followers),
    meanMs: a + ((b - a) * quorum) / (followers + 1),
  };
}

/** mulberry32: a tiny seeded PRNG, so the bound is the same number on every run. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface OrderedLogOptions {
  quorum: number;
  followers: number;
  /** Closed-loop clients, each sending its next write the moment the last one commits. */
  concurrency: number;
  delay: DelayRange;
  writes?: number;
  seed?: number;
}

/**
 * Zero-cost replication of an ordered log. Write o is sent at s_o to every follower with its
 * own delay; follower i holds o (and acks it) once every offset ≤ o has arrived there:
 * h_i(o) = max over o' ≤ o of (s_o' + d_o',i). The write commits at the quorum-th smallest
 * h_i(o), and not before the write ahead of it (prefix commit). Commits come in offset order,
 * so the client whose write o commits sends write o + C at that instant.
 */
export function orderedLogBound(options: OrderedLogOptions): OrderedLogBound {
  const { quorum, followers, concurrency, delay } = options;
  const writes = options.writes ?? 100_000;
  checkQuorum(quorum, followers);
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  if (writes < concurrency) throw new Error(`writes (${writes}) must be at least concurrency (${concurrency})`);
  const random = mulberry32(options.seed ?? 1);
  const span = delay.maxDelayMs - delay.minDelayMs;
  const heldUntilMs = new Float64Array(followers); // h_i of the latest offset
  const sorted = new Float64Array(followers);
  const commitMs = new Float64Array(writes);
  const latencyMs = new Float64Array(writes);
  let lastCommitMs = 0;
  for (let o = 0; o < writes; o++) {
    const sentMs = o < concurrency ? 0 : commitMs[o - concurrency]!;
    for (let i = 0; i < followers; i++) {
      heldUntilMs[i] = Math.max(heldUntilMs[i]!, sentMs + delay.minDelayMs + span * random());
    }
    sorted.set(heldUntilMs);
    sorted.sort();
    lastCommitMs = Math.max(lastCommitMs, sorted[quorum - 1]!);
    commitMs[o] = lastCommitMs;
    latencyMs[o] = lastCommitMs - sentMs;
  }
  // Skip the first round of C writes, which all start together at 0 (not the steady state).
  const steady = latencyMs.subarray(concurrency).sort();
  const meanMs = steady.reduce((sum, value) => sum + value, 0) / steady.length;
  const elapsedMs = commitMs[writes - 1]! - commitMs[concurrency - 1]!;
  return {
    medianMs: median(steady),
    meanMs,
    throughput: elapsedMs > 0 ? ((writes - concurrency) / elapsedMs) * 1000 : Number.POSITIVE_INFINITY,
  };
}

function median(sortedValues: Float64Array): number {
  const middle = sortedValues.length >> 1;
  return sortedValues.length % 2 === 1 ? sortedValues[middle]! : (sortedValues[middle - 1]! + sortedValues[middle]!) / 2;
}

function checkQuorum(quorum: number, followers: number): void {
  if (!(Number.isInteger(followers) && followers >= 1)) throw new Error(`followers must be a positive integer, got ${followers}`);
  if (!(Number.isInteger(quorum) && quorum >= 1 && quorum <= followers)) {
    throw new Error(`quorum must be 1..${followers} for a bound (0 waits for nobody), got ${quorum}`);
  }
}

if (import.meta.main) {
  parseToolFlags(
    "theory",
    `Usage: bun run theory

docs/design.md §6's two reference curves for quorum 1..5 of 5 followers at U(0.1, 10) ms: the unordered
bound (a lone write) and the ordered-log bound (Monte Carlo, 20 closed-loop clients).`,
    {},
  );
  const delay = { minDelayMs: 0.1, maxDelayMs: 10 };
  console.log("quorum  unordered median/mean ms   ordered-log median/mean ms  writes/s   (C=20, 5 followers, U(0.1,10) ms)");
  for (let quorum = 1; quorum <= 5; quorum++) {
    const unordered = unorderedBound(quorum, 5, delay);
    const ordered = orderedLogBound({ quorum, followers: 5, concurrency: 20, delay });
    console.log(
      `${String(quorum).padStart(6)}  ${unordered.medianMs.toFixed(2).padStart(9)} / ${unordered.meanMs.toFixed(2).padEnd(14)}` +
        `${ordered.medianMs.toFixed(2).padStart(9)} / ${ordered.meanMs.toFixed(2).padEnd(15)}${ordered.throughput.toFixed(0).padStart(7)}`,
    );
  }
}
