import { describe, expect, test } from "bun:test";
import { EventQueue } from "../../src/sim/event-queue.ts";

describe("EventQueue", () => {
  test("runs events in time order, ties in the order they were scheduled, advancing the clock", () => {
    const queue = new EventQueue();
    const ran: string[] = [];
    const record = (name: string) => () => ran.push(`${name}@${queue.nowUs}`);
    queue.at(30, record("c"));
    queue.at(10, record("a1"));
    queue.at(20, record("b"));
    queue.at(10, record("a2"));
    queue.at(10, () => {
      ran.push(`a3@${queue.nowUs}`);
      queue.after(0, record("a4")); // same instant, after everything already due then
    });
    while (queue.runNext());
    expect(ran).toEqual(["a1@10", "a2@10", "a3@10", "a4@10", "b@20", "c@30"]);
    expect(queue.nowUs).toBe(30);
    expect(queue.size).toBe(0);
  });

  test("keeps order across many interleaved pushes and pops", () => {
    const queue = new EventQueue();
    const times: number[] = [];
    for (let i = 0; i < 200; i++) queue.at((i * 7919) % 211, () => times.push(queue.nowUs));
    while (queue.runNext());
    expect(times).toEqual(times.toSorted((a, b) => a - b));
    expect(times.length).toBe(200);
  });

  test("refuses the past and fractional times", () => {
    const queue = new EventQueue();
    queue.at(5, () => {});
    queue.runNext();
    expect(() => queue.at(4, () => {})).toThrow(RangeError);
    expect(() => queue.after(0.5, () => {})).toThrow(RangeError);
  });
});
