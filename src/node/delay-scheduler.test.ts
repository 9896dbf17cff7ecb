import { expect, test } from "bun:test";
import { DelayScheduler } from "./delay-scheduler.ts";

test("runs every callback, earliest deadline first, and reports the delays it applied", async () => {
  const scheduler = new DelayScheduler();
  const requested = Array.from({ length: 200 }, (_, i) => 0.1 + ((i * 37) % 100) / 10); // 0.1 .. 10 ms, shuffled
  const order: number[] = [];
  await new Promise<void>((resolve) => {
    requested.forEach((delayMs, i) =>
      scheduler.after(delayMs, () => {
        order.push(i);
        if (order.length === requested.length) resolve();
      }),
    );
  });
  scheduler.stop();
  const byDeadline = requested.map((delayMs, i) => ({ delayMs, i })).sort((a, b) => a.delayMs - b.delayMs);
  // Deadlines 0.1 ms apart may swap under load; anything further apart keeps its order.
  order.forEach((index, position) => expect(Math.abs(requested[index]! - byDeadline[position]!.delayMs)).toBeLessThan(1.5));
  const measured = scheduler.quartiles()!;
  expect(measured.samples).toBe(200);
  expect(measured.p25Ms).toBeLessThan(measured.p50Ms);
  expect(measured.p50Ms).toBeLessThan(measured.p75Ms);
  expect(measured.meanMs).toBeGreaterThan(4); // requested mean 5.05 ms: it did wait
});

test("reports nothing before any delay ran", () => {
  expect(new DelayScheduler().quartiles()).toBeNull();
});
