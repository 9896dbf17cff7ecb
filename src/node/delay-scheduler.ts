/**
 * Runs callbacks after fractional-millisecond delays. Bun's timers have 1 ms resolution
 * (`setTimeout(f, 2.5)` fires after about 2 ms, `Bun.sleep(0.3)` at once), which would make the
 * simulated network faster than its model. So one timer wakes us shortly before the earliest
 * deadline and `setImmediate` polls the clock for the last stretch. One min-heap serves every
 * pending delay, so the cost does not grow with the number of messages in flight.
 */
interface Pending {
  dueMs: number;
  run: () => void;
}

/** Wake this long before a deadline, then poll: covers the timer's coarse resolution. */
const timerSlackMs = 2;

export class DelayScheduler {
  #heap: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #polling = false;
  /** The delays actually applied, for honest reporting (bounded ring). */
  readonly applied = new Float64Array(4096);
  #appliedCount = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  after(delayMs: number, run: () => void): void {
    const startMs = this.now();
    const dueMs = startMs + delayMs;
    this.#push({
      dueMs,
      run: () => {
        this.applied[this.#appliedCount++ % this.applied.length] = this.now() - startMs;
        run();
      },
    });
    this.#arm();
  }

  /** The last (up to 4096) delays actually applied, in ms. */
  appliedSamples(): Float64Array {
    return this.applied.slice(0, Math.min(this.#appliedCount, this.applied.length));
  }

  #arm(): void {
    if (this.#polling) return;
    const first = this.#heap[0];
    if (!first) return;
    const waitMs = first.dueMs - this.now() - timerSlackMs;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (waitMs <= 0) {
      this.#polling = true;
      setImmediate(this.#poll);
    } else {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#polling = true;
        this.#poll();
      }, waitMs);
    }
  }

  #poll = (): void => {
    const nowMs = this.now();
    while (this.#heap.length > 0 && this.#heap[0]!.dueMs <= nowMs) this.#pop().run();
    this.#polling = false;
    const first = this.#heap[0];
    if (!first) return;
    if (first.dueMs - this.now() <= timerSlackMs) {
      this.#polling = true;
      setImmediate(this.#poll);
    } else {
      this.#arm();
    }
  };

  #push(item: Pending): void {
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.dueMs <= heap[i]!.dueMs) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  #pop(): Pending {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && heap[left]!.dueMs < heap[smallest]!.dueMs) smallest = left;
        if (right < heap.length && heap[right]!.dueMs < heap[smallest]!.dueMs) smallest = right;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}
