import { expect, test } from "bun:test";
import { DelayScheduler } from "./delay-scheduler.ts";

test("runs every callback, never earlier than its delay less the wake-up lead, and reports what it applied", async () => {
  const scheduler = new DelayScheduler();
  const requested = Array.from({ length: 200 }, (_, i) => 0.1 + ((i * 37) % 100) / 10); // 0.1 .. 10 ms, shuffled
  const waitedMs: number[] = [];
  await new Promise<void>((resolve) => {
    for (const delayMs of requested) {
      const startMs = performance.now();
      scheduler.after(delayMs, () => {
        waitedMs.push(performance.now() - startMs - delayMs);
        if (waitedMs.length === requested.length) resolve();
      });
    }
  });
  scheduler.stop();
  // Lateness depends on the machine's load and is measured by benchmarks; earliness is bounded
  // by the self-calibrating lead (at most 1 ms), whatever the load.
  expect(Math.min(...waitedMs)).toBeGreaterThan(-1.05);
  const measured = scheduler.quartiles()!;
  expect(measured.samples).toBe(200);
  expect(measured.p25Ms).toBeLessThan(measured.p50Ms);
  expect(measured.p50Ms).toBeLessThan(measured.p75Ms);
  expect(measured.meanMs).toBeGreaterThan(4); // requested mean 5.05 ms: it did wait
});

test("reports nothing before any delay ran", () => {
  expect(new DelayScheduler().quartiles()).toBeNull();
});
