/**
 * A linearizability checker for one register (one key), after Wing & Gong with Lowe's
 * memoisation (the algorithm Porcupine and Knossos use): search for an order of the operations
 * that respects real time (an operation that answered before another was invoked comes first)
 * and the register's semantics (a read returns the latest write). Checking key by key is sound
 * because linearizability is compositional.
 */
export interface Operation {
  /**
   * `cas`: a read-modify-write (a conditional write, or a txn comparing this key): it writes
   * `value` if the register holds `expected` at its linearization point (values are unique per
   * write, so "the key's offset is the one read" is "the register holds the value read"), and
   * changes nothing otherwise. `succeeded` is its answer: true (200), false (412, or a txn's
   * failure branch: the register did not hold `expected`), or absent when unknown.
   */
  kind: "write" | "read" | "cas";
  /** JSON text written or read; null is absence (a delete, or a read of a missing key). */
  value: string | null;
  expected?: string | null;
  succeeded?: boolean;
  invokeUs: number;
  /**
   * When the answer reached the client. Infinity for a write whose outcome is unknown (it timed
   * out): it may take effect at any time after its invocation, or never.
   */
  responseUs: number;
}

export type LinearizabilityResult = { linearizable: true } | { linearizable: false; reason: string };

/** Bound on distinct search states, so that a pathological history fails loudly instead of hanging. */
export const searchStatesMax = 200_000;

/**
 * Unknown writes that are interchangeable: plain writes of one value, or CAS operations with one
 * expected value and one new value. A CAS is not interchangeable with a plain write of its value:
 * it takes effect only where the register holds what it expected.
 */
function writerKey(op: Operation): string {
  return op.kind === "cas" ? `cas ${JSON.stringify(op.expected ?? null)} ${JSON.stringify(op.value)}` : `write ${JSON.stringify(op.value)}`;
}

/**
 * Unknown writes are what makes the search explode, so they only ever enter it paired with a
 * read of their value: if an unknown write takes effect and the next operation is not a read
 * of its value, dropping it leaves an equally valid order — unless a failed CAS needed the
 * register to hold something other than what it expected: then one may enter alone. Of several eligible unknown writes
 * of one value only one is tried: an operation stays eligible once it is (the earliest pending
 * answer only moves later), so they are interchangeable.
 */
export function checkRegister(history: readonly Operation[], initial: string | null = null): LinearizabilityResult {
  // What later operations saw: reads, and the value a CAS expected (it came from a read) or wrote.
  const observed = new Set(history.flatMap((op) => (op.kind === "read" ? [op.value] : op.kind === "cas" ? [op.expected ?? null] : [])));
  // A failed CAS saw a value other than the one it expected: an unknown write nobody read may be why.
  const anyFailedCas = history.some((op) => op.kind === "cas" && op.succeeded === false);
  const ops = history
    .filter((op) => Number.isFinite(op.responseUs) || (op.kind !== "read" && (observed.has(op.value) || anyFailedCas)))
    .toSorted((a, b) => a.invokeUs - b.invokeUs);
  const bits = ops.map((_, i) => 1n << BigInt(i));
  const required = ops.filter((op) => Number.isFinite(op.responseUs)).length;
  const visited = new Set<string>();

  const search = (linearized: bigint, value: string | null, remaining: number): boolean => {
    if (remaining === 0) return true;
    let earliestResponseUs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < ops.length; i++) {
      if (!(linearized & bits[i]!)) earliestResponseUs = Math.min(earliestResponseUs, ops[i]!.responseUs);
    }
    // Candidates: pending operations invoked no later than the earliest pending answer
    // (sorted by invocation, so the first one past it ends the list).
    const candidates: number[] = [];
    for (let i = 0; i < ops.length && ops[i]!.invokeUs <= earliestResponseUs; i++) {
      if (!(linearized & bits[i]!)) candidates.push(i);
    }
    const unknownWriter = new Map<string, number>();
    for (const i of candidates) {
      if (ops[i]!.kind !== "read" && !Number.isFinite(ops[i]!.responseUs)) unknownWriter.set(writerKey(ops[i]!), i);
    }
    for (const i of candidates) {
      const op = ops[i]!;
      let next = linearized | bits[i]!;
      let nextValue = value;
      if (op.kind === "cas" && Number.isFinite(op.responseUs) && op.succeeded === false) {
        if (op.expected === value) continue; // it failed, so the register did not hold what it expected
      } else if (op.kind === "cas" && op.expected !== value) {
        continue; // it succeeded (or, unknown, takes effect here) only where the register held what it expected
      }
      if (op.kind === "read") {
        if (op.value !== value) continue;
      } else if (op.kind === "cas" && op.succeeded === false) {
        // a failed CAS changes nothing
      } else if (Number.isFinite(op.responseUs)) {
        nextValue = op.value;
      } else {
        if (unknownWriter.get(writerKey(op)) !== i) continue;
        const reader = candidates.find((j) => ops[j]!.kind === "read" && ops[j]!.value === op.value);
        // Unread, it matters only to a failed CAS that expected the value held now: then it may
        // enter alone (the register changed, so that CAS could fail).
        const blockedFailure = candidates.some((j) => ops[j]!.kind === "cas" && ops[j]!.succeeded === false && ops[j]!.expected === value);
        if (reader === undefined && !blockedFailure) continue;
        if (reader !== undefined) next |= bits[reader]!;
        nextValue = op.value;
      }
      const key = `${next.toString(36)}|${nextValue}`;
      if (visited.has(key)) continue;
      visited.add(key);
      if (visited.size > searchStatesMax) throw new RangeError(`linearizability search passed ${searchStatesMax} states`);
      if (search(next, nextValue, remaining - 1)) return true;
    }
    return false;
  };

  try {
    if (search(0n, initial, required)) return { linearizable: true };
  } catch (error) {
    if (error instanceof RangeError) return { linearizable: false, reason: error.message };
    throw error;
  }
  return { linearizable: false, reason: `no order of these ${ops.length} operations respects both real time and the register` };
}

export function formatOperation(op: Operation): string {
  const end = Number.isFinite(op.responseUs) ? `${op.responseUs}` : "unknown";
  const cas = op.kind === "cas" ? ` if ${op.expected ?? "(absent)"}${op.succeeded === false ? " (failed)" : ""}` : "";
  return `${op.kind} ${op.value ?? "(absent)"}${cas} [${op.invokeUs}µs, ${end}]`;
}
