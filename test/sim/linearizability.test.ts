import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checkRegister, type Operation } from "../../src/sim/linearizability.ts";

const unknown = Number.POSITIVE_INFINITY;
const write = (value: string | null, invokeUs: number, responseUs: number): Operation => ({ kind: "write", value, invokeUs, responseUs });
const read = (value: string | null, invokeUs: number, responseUs: number): Operation => ({ kind: "read", value, invokeUs, responseUs });
/** `succeeded` absent: the CAS's outcome is unknown. */
const cas = (expected: string | null, value: string | null, invokeUs: number, responseUs: number, succeeded?: boolean): Operation => ({
  kind: "cas",
  expected,
  value,
  invokeUs,
  responseUs,
  ...(succeeded === undefined ? {} : { succeeded }),
});
const verdict = (history: Operation[]) => checkRegister(history).linearizable;

describe("checkRegister", () => {
  test("accepts a sequential history and an empty one", () => {
    expect(verdict([])).toBe(true);
    expect(verdict([read(null, 0, 1), write("a", 2, 3), read("a", 4, 5), write(null, 6, 7), read(null, 8, 9)])).toBe(true);
  });

  test("rejects a stale read after the newer write answered", () => {
    expect(verdict([write("a", 0, 10), write("b", 20, 30), read("a", 40, 45)])).toBe(false);
  });

  test("rejects a read that goes back in time after another read saw the new value", () => {
    expect(verdict([write("a", 0, 100), read("a", 10, 20), read(null, 30, 40)])).toBe(false);
  });

  test("rejects a value read before its write was invoked, and a value nobody wrote", () => {
    expect(verdict([read("a", 0, 5), write("a", 10, 20)])).toBe(false);
    expect(verdict([write("a", 0, 5), read("z", 10, 20)])).toBe(false);
  });

  test("lets a read concurrent with a write see either value", () => {
    expect(verdict([write("a", 0, 5), write("b", 10, 50), read("a", 20, 30)])).toBe(true);
    expect(verdict([write("a", 0, 5), write("b", 10, 50), read("b", 20, 30)])).toBe(true);
  });

  test("orders concurrent writes as the reads require, and rejects reads that need two orders", () => {
    const writes = [write("a", 0, 100), write("b", 0, 100)];
    expect(verdict([...writes, read("a", 110, 120)])).toBe(true);
    expect(verdict([...writes, read("b", 110, 120), read("a", 130, 140)])).toBe(false);
  });

  test("a timed-out write may take effect late, or never, but not undo itself", () => {
    expect(verdict([write("a", 0, unknown), read(null, 10, 20), read("a", 500, 510)])).toBe(true);
    expect(verdict([write("a", 0, unknown), read(null, 10, 20), read(null, 500, 510)])).toBe(true);
    expect(verdict([write("a", 0, unknown), read("a", 10, 20), read(null, 500, 510)])).toBe(false);
    expect(verdict([read("a", 0, 5), write("a", 10, unknown)])).toBe(false);
  });

  test("a timed-out delete explains a key that vanishes", () => {
    expect(verdict([write("a", 0, 5), write(null, 10, unknown), read(null, 50, 60)])).toBe(true);
    expect(verdict([write("a", 0, 5), read(null, 50, 60)])).toBe(false);
  });

  test("operations that touch at one instant are concurrent, not ordered", () => {
    expect(verdict([write("a", 0, 10), read(null, 10, 12)])).toBe(true);
  });

  test("explains a rejection", () => {
    const result = checkRegister([write("a", 0, 10), read(null, 20, 30)]);
    expect(result).toEqual({ linearizable: false, reason: expect.stringContaining("2 operations") });
  });
});

describe("checkRegister at the size of a simulated run", () => {
  test("accepts a long history of overlapping operations built from a real register", () => {
    // Each operation takes effect at a point inside its own interval, so the history is
    // linearizable by construction; the intervals overlap heavily.
    const history: Operation[] = [];
    let value: string | null = null;
    for (let point = 0; point < 80; point++) {
      const atUs = point * 10;
      const invokeUs = atUs - ((point * 37) % 45);
      const responseUs = atUs + ((point * 53) % 45);
      if (point % 3 === 0) history.push(read(value, invokeUs, responseUs));
      else {
        value = point % 7 === 0 ? null : `v${point}`;
        history.push(write(value, invokeUs, point % 5 === 0 ? unknown : responseUs));
      }
    }
    expect(checkRegister(history)).toEqual({ linearizable: true });
  });
});

/** The definition itself: some subset of the unknown writes, in some order, explains the history. */
function bruteForce(history: readonly Operation[]): boolean {
  const unknownWrites = history.filter((op) => !Number.isFinite(op.responseUs));
  const known = history.filter((op) => Number.isFinite(op.responseUs));
  for (let mask = 0; mask < 1 << unknownWrites.length; mask++) {
    const chosen = [...known, ...unknownWrites.filter((_, i) => mask & (1 << i))];
    if (someOrderWorks(chosen, [], null)) return true;
  }
  return false;
}

function someOrderWorks(pending: readonly Operation[], placed: readonly Operation[], value: string | null): boolean {
  if (pending.length === 0) return true;
  return pending.some((op, i) => {
    // Real time: nothing still pending may have answered before this one was invoked.
    if (pending.some((other) => other !== op && other.responseUs < op.invokeUs)) return false;
    if (op.kind === "read" && op.value !== value) return false;
    const rest = pending.filter((_, j) => j !== i);
    return someOrderWorks(rest, [...placed, op], op.kind === "write" ? op.value : value);
  });
}

describe("checkRegister agrees with the definition", () => {
  const operation = fc.record({
    kind: fc.constantFrom<"write" | "read">("write", "read"),
    value: fc.constantFrom("a", "b", null),
    invokeUs: fc.integer({ min: 0, max: 20 }),
    durationUs: fc.integer({ min: 0, max: 10 }),
    unknown: fc.boolean(),
  });
  const history = fc.array(operation, { minLength: 0, maxLength: 7 }).map((ops) =>
    ops.map(
      ({ kind, value, invokeUs, durationUs, unknown }): Operation => ({
        kind,
        value,
        invokeUs,
        responseUs: kind === "write" && unknown ? Number.POSITIVE_INFINITY : invokeUs + durationUs,
      }),
    ),
  );

  test("on small random histories, both linearizable and not", () => {
    const verdicts = { true: 0, false: 0 };
    fc.assert(
      fc.property(history, (ops) => {
        const expected = bruteForce(ops);
        verdicts[`${expected}`]++;
        expect(checkRegister(ops).linearizable).toBe(expected);
      }),
      { numRuns: 1500, seed: 20240601 },
    );
    expect(verdicts.true).toBeGreaterThan(100);
    expect(verdicts.false).toBeGreaterThan(100);
  });
});

describe("checkRegister with CAS (conditional writes, one-key transactions)", () => {
  test("a CAS succeeds only on the value expected; a failed one saw something else and changed nothing", () => {
    expect(verdict([write("a", 0, 1), cas("a", "b", 2, 3, true), read("b", 4, 5)])).toBe(true);
    expect(verdict([write("a", 0, 1), cas("x", "b", 2, 3, true)])).toBe(false); // it could not have succeeded
    expect(verdict([write("a", 0, 1), cas("a", "b", 2, 3, false)])).toBe(false); // it could not have failed
    expect(verdict([write("a", 0, 1), cas("x", "b", 2, 3, false), read("a", 4, 5)])).toBe(true);
    expect(verdict([write("a", 0, 1), cas("x", "b", 2, 3, false), read("b", 4, 5)])).toBe(false);
    expect(verdict([cas(null, "a", 0, 1, true), read("a", 2, 3)])).toBe(true); // ifOffset=0 on an absent key
  });

  test("two concurrent CASes from the same value: at most one succeeds (no lost update)", () => {
    expect(verdict([write("0", 0, 1), cas("0", "1a", 2, 10, true), cas("0", "1b", 3, 11, true)])).toBe(false);
    expect(verdict([write("0", 0, 1), cas("0", "1a", 2, 10, true), cas("0", "1b", 3, 11, false), read("1a", 12, 13)])).toBe(true);
  });

  test("an unknown CAS may have taken effect (a read saw it) or not, but only where its expectation held", () => {
    expect(verdict([write("a", 0, 1), cas("a", "b", 2, unknown), read("b", 5, 6)])).toBe(true);
    expect(verdict([write("a", 0, 1), cas("a", "b", 2, unknown), read("a", 5, 6)])).toBe(true);
    expect(verdict([write("a", 0, 1), cas("z", "b", 2, unknown), read("b", 5, 6)])).toBe(false);
  });
});

test("a failed CAS may be explained by an unknown write that a later read shows, or that nobody read", () => {
  expect(verdict([write("a", 0, 1), write("b", 2, unknown), read("a", 3, 4), cas("a", "c", 5, 6, false), read("b", 7, 8)])).toBe(true);
  expect(verdict([write("a", 0, 1), write("b", 2, unknown), read("a", 3, 4), cas("a", "c", 5, 6, false)])).toBe(true);
  expect(verdict([write("a", 0, 1), read("a", 3, 4), cas("a", "c", 5, 6, false)])).toBe(false);
});

test("an unknown CAS is not interchangeable with an unknown plain write of its value (simulator seed 926)", () => {
  // A CAS set k; an unknown delete explains the reads of absent that follow. An unknown CAS of
  // the same value (delete if absent) is pending alongside: it cannot take effect while k holds
  // "a", so it must not stand in for the plain delete.
  const history = [
    read(null, 0, 10),
    cas(null, "a", 10, 20, true),
    write(null, 15, unknown),
    read(null, 30, 40),
    cas(null, null, 35, unknown),
    read(null, 50, 60),
  ];
  expect(verdict(history)).toBe(true);
  // Without the plain delete nothing explains the reads: not linearizable.
  expect(verdict(history.filter((op) => op.kind !== "write"))).toBe(false);
});
