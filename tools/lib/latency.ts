import * as hdr from "hdr-histogram-js";

/**
 * Latencies go into an HdrHistogram in microseconds (3 significant digits, so every percentile
 * is exact to 0.1 %), and come out in milliseconds.
 */

export interface LatencyStatsMs {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** The quantile function at these percentiles, for distribution charts. */
const distributionPercentiles = [...Array.from({ length: 99 }, (_, i) => i + 1), 99.5, 99.9, 100];

export interface PercentilePoint {
  percentile: number;
  latencyMs: number;
}

/** The median of a few figures (the mean of the middle two when their count is even). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export class LatencyRecorder {
  readonly #histogram = hdr.build({ numberOfSignificantValueDigits: 3, autoResize: true });

  get count(): number {
    return this.#histogram.totalCount;
  }

  record(latencyMs: number): void {
    // Below 1 µs is below what a request can take; 0 would be dropped from percentiles.
    this.#histogram.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
  }

  stats(): LatencyStatsMs {
    const h = this.#histogram;
    if (h.totalCount === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
    const ms = (microseconds: number) => Math.round(microseconds) / 1000;
    return {
      min: ms(h.minNonZeroValue),
      mean: ms(h.mean),
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p95: ms(h.getValueAtPercentile(95)),
      p99: ms(h.getValueAtPercentile(99)),
      max: ms(h.maxValue),
    };
  }

  distribution(): PercentilePoint[] {
    if (this.#histogram.totalCount === 0) return [];
    return distributionPercentiles.map((percentile) => ({
      percentile,
      latencyMs: this.#histogram.getValueAtPercentile(percentile) / 1000,
    }));
  }
}
