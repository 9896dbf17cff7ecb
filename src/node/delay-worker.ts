/**
 * The delay scheduler's timer thread: sleeps with Atomics.wait (sub-millisecond precise, no
 * busy loop) until the wake time the main thread wrote into shared memory, then posts a tick.
 * Layout of the shared buffer: Float64 wake time (performance.timeOrigin-based ms, 0 = none),
 * then Int32 generation, bumped by the main thread whenever it changes the wake time.
 */
declare const self: Worker;

self.onmessage = (event: MessageEvent<SharedArrayBuffer>) => {
  const wakeAt = new Float64Array(event.data, 0, 1);
  const generation = new Int32Array(event.data, 8, 1);
  const now = () => performance.timeOrigin + performance.now();
  for (;;) {
    const seen = Atomics.load(generation, 0);
    const target = wakeAt[0]!;
    if (target === 0) {
      Atomics.wait(generation, 0, seen);
      continue;
    }
    const remainingMs = target - now();
    if (remainingMs > 0) {
      Atomics.wait(generation, 0, seen, remainingMs);
      continue;
    }
    postMessage(0);
    Atomics.wait(generation, 0, seen); // until the main thread re-arms
  }
};
