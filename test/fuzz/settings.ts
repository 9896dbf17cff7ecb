import type fc from "fast-check";

/**
 * Fuzz run sizes. The defaults suit CI (a few seconds); raise them for a longer hunt:
 *
 *   FUZZ_RUNS=20000 bun test test/fuzz          # in-process sequences (default 600, ≈12,000 requests)
 *   FUZZ_NODE_RUNS=1000 bun test test/fuzz      # sequences against real processes (default 100, ≈1,000 requests)
 *   FUZZ_SEED=123 FUZZ_PATH="4:2:0" bun test …  # replay the failure fast-check printed
 */
function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, got "${text}"`);
  return value;
}

export function fuzzParameters(runsVariable: "FUZZ_RUNS" | "FUZZ_NODE_RUNS", defaultRuns: number): fc.Parameters<unknown> {
  const seed = process.env.FUZZ_SEED;
  return {
    numRuns: positiveInteger(runsVariable, defaultRuns),
    ...(seed ? { seed: Number(seed), path: process.env.FUZZ_PATH } : {}),
    // Shrinking replays requests; a bound keeps a failing CI run from spending minutes on it.
    interruptAfterTimeLimit: 10 * 60_000,
    markInterruptAsFailure: true,
  };
}

export const defaultRequestRuns = 600;
export const defaultNodeRuns = 100;
