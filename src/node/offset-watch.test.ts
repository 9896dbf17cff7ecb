import { expect, test } from "bun:test";
import { realTimers } from "./env.ts";
import { OffsetWatch } from "./offset-watch.ts";

test("at most watchersMax waits at once: one more is refused at once, and counted", async () => {
  let offset = 0;
  const watch = new OffsetWatch(() => offset, realTimers, 2);
  const waits = [watch.wait(1, 10_000), watch.wait(2, 10_000)];
  expect(watch.full).toBe(true);
  expect(await watch.wait(3, 10_000)).toBe(false);
  expect(watch.refusedWhenFull).toBe(1);
  expect(await watch.wait(0, 10_000)).toBe(true); // already reached: no wait, never refused
  offset = 2;
  watch.notify();
  expect(await Promise.all(waits)).toEqual([true, true]);
  expect(watch.full).toBe(false);
  const late = watch.wait(3, 10_000);
  watch.close();
  expect(await late).toBe(false);
});
