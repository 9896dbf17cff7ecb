import { MinHeap } from "../core/min-heap.ts";

/**
 * Runs callbacks after fractional-millisecond delays, honestly. Bun's timers have 1 ms
 * resolution (`setTimeout(f, 2.5)` fires after about 2 ms, `Bun.sleep(0.3)` at once), which would
 * make the simulated network faster than its model; polling the clock from the event loop would
 * burn a core. So a worker thread sleeps with Atomics.wait until the earliest deadline and posts
 * a tick. The message hop costs ~0.1–0.2 ms, so the worker wakes `leadMs` early, and `leadMs`
 * follows the measured lateness until the mean applied delay matches the requested one.
 * One min-heap serves every pending delay.
 */
interface Pending {
  dueMs: number;
  startMs: number;
  run: () => void;
}

/** Bounds of the self-calibrating wake-up lead, and how fast it follows the lateness. */
const leadMsMax = 1;
const leadGain = 0.05;
const appliedSamplesMax = 4096;

export interface DelayQuartiles {
  samples: number;
  meanMs: number;
  p25Ms: number;
  p50Ms: number;
  p75Ms: number;
}

export class DelayScheduler {
  #heap = new MinHeap<Pending>((a, b) => a.dueMs < b.dueMs);
  #worker: Worker | null = null;
  #wakeAt: Float64Array | null = null;
  #generation: Int32Array | null = null;
  #leadMs = 0.15;
  /** Delays actually applied (a ring), for /status. */
  readonly #applied = new Float64Array(appliedSamplesMax);
  #appliedCount = 0;

  after(delayMs: number, run: () => void): void {
    const startMs = now();
    const item = { dueMs: startMs + delayMs, startMs, run };
    this.#heap.push(item);
    if (this.#heap.peek() === item) this.#arm();
  }

  /** Mean and quartiles of the last (up to 4096) delays applied, in ms. */
  quartiles(): DelayQuartiles | null {
    const count = Math.min(this.#appliedCount, appliedSamplesMax);
    if (count === 0) return null;
    const sorted = this.#applied.slice(0, count).sort();
    const at = (q: number) => round(sorted[Math.min(count - 1, Math.floor(q * count))]!);
    const mean = sorted.reduce((sum, value) => sum + value, 0) / count;
    return { samples: count, meanMs: round(mean), p25Ms: at(0.25), p50Ms: at(0.5), p75Ms: at(0.75) };
  }

  stop(): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.#heap.clear();
  }

  #tick = (): void => {
    const nowMs = now();
    for (let next = this.#heap.peek(); next && next.dueMs - this.#leadMs <= nowMs; next = this.#heap.peek()) {
      const item = this.#heap.pop()!;
      const ranMs = now();
      this.#applied[this.#appliedCount++ % appliedSamplesMax] = ranMs - item.startMs;
      this.#leadMs = Math.min(leadMsMax, Math.max(0, this.#leadMs + leadGain * (ranMs - item.dueMs)));
      item.run();
    }
    this.#arm();
  };

  /** Tells the worker the next wake time (or none). */
  #arm(): void {
    if (!this.#worker) this.#startWorker();
    const first = this.#heap.peek();
    // Pending delays keep the process alive, as timers do.
    if (first) this.#worker!.ref();
    else this.#worker!.unref();
    this.#wakeAt![0] = first ? first.dueMs - this.#leadMs : 0;
    Atomics.add(this.#generation!, 0, 1);
    Atomics.notify(this.#generation!, 0);
  }

  #startWorker(): void {
    const buffer = new SharedArrayBuffer(16);
    this.#wakeAt = new Float64Array(buffer, 0, 1);
    this.#generation = new Int32Array(buffer, 8, 1);
    this.#worker = new Worker(new URL("./delay-worker.ts", import.meta.url).href);
    this.#worker.onmessage = this.#tick;
    this.#worker.postMessage(buffer);
  }
}

/** Same clock as the worker's. */
const now = () => performance.timeOrigin + performance.now();
const round = (ms: number) => Math.round(ms * 1000) / 1000;
