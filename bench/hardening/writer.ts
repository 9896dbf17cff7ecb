/**
 * A closed-loop keep-alive writer with values of a chosen size: `concurrency` clients share
 * `writes` PUTs of key-(i mod keys). Counts answers by status; no latency bookkeeping, so it
 * adds nothing to the memory it is used to measure.
 */

export interface WriterOptions {
  leaderUrl: string;
  writes: number;
  concurrency: number;
  keys: number;
  /** Characters of each value (a JSON string); 0 means the plain `value-<i>`. */
  valueChars?: number;
  requestTimeoutMs?: number;
  onProgress?: (done: number) => void;
}

export interface WriterResult {
  succeeded: number;
  failed: number;
  /** JSON error code, http_<status> or network error name → count. */
  errors: Record<string, number>;
  seconds: number;
}

export function valueFor(index: number, valueChars = 0): string {
  const base = `value-${index}`;
  return valueChars > base.length ? base + "x".repeat(valueChars - base.length) : base;
}

export async function writeLoad(options: WriterOptions): Promise<WriterResult> {
  const result: WriterResult = { succeeded: 0, failed: 0, errors: {}, seconds: 0 };
  let next = 0;
  const fail = (code: string) => {
    result.failed++;
    result.errors[code] = (result.errors[code] ?? 0) + 1;
  };
  const client = async () => {
    while (next < options.writes) {
      const index = next++;
      try {
        const response = await fetch(`${options.leaderUrl}/kv/key-${index % options.keys}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: `{"value":"${valueFor(index, options.valueChars)}"}`,
          signal: AbortSignal.timeout(options.requestTimeoutMs ?? 30_000),
        });
        const text = await response.text();
        if (response.status === 200) result.succeeded++;
        else fail(/"error":"([a-z_]+)"/.exec(text)?.[1] ?? `http_${response.status}`);
      } catch (error) {
        fail((error as Error).name);
      }
      options.onProgress?.(result.succeeded + result.failed);
    }
  };
  const startedMs = performance.now();
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.writes) }, client));
  result.seconds = (performance.now() - startedMs) / 1000;
  return result;
}
