import { expect, test } from "bun:test";
import { OffsetWatch } from "./offset-watch.ts";

test("at most watchersMax waits at once: one more is refused at once, and counted", async () => {
  let offset = 0;
  const watch = new OffsetWatch(() => offset, 2);
  const waits = [watch.waitFor(1, 10_000), watch.waitFor(2, 10_000)];
  expect(watch.full).toBe(true);
  expect(await watch.waitFor(3, 10_000)).toBe(false);
  expect(watch.refusedWhenFull).toBe(1);
  expect(await watch.waitFor(0, 10_000)).toBe(true); // already reached: no wait, never refused
  offset = 2;
  watch.notify();
  expect(await Promise.all(waits)).toEqual([true, true]);
  expect(watch.full).toBe(false);
  const late = watch.waitFor(3, 10_000);
  watch.close();
  expect(await late).toBe(false);
});
