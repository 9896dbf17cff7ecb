/** A comparison of a transaction: the key's value was set at `offset` (0: the key is absent). */
export interface TxnCompare {
  key: string;
  offset: number;
}

/** An operation of a transaction's branch; a put's `value` is JSON text. */
export type TxnOp = { op: "put"; key: string; value: string } | { op: "delete"; key: string } | { op: "get"; key: string };

/** etcd's Txn: if every comparison holds, `success` runs, else `failure`; one log entry, applied as one step. */
export interface Txn {
  compare: TxnCompare[];
  success: TxnOp[];
  failure: TxnOp[];
}

/** What one operation did: a get sees the state at its place in the transaction (`value` JSON text; absent: no such key). */
export type TxnOpResult =
  | { op: "put"; key: string; offset: number }
  | { op: "delete"; key: string; deleted: boolean }
  | { op: "get"; key: string; value?: string; offset?: number };

/** What applying a conditional entry decided (a plain write decides nothing and gets none). */
export type ApplyOutcome =
  | { kind: "written" }
  | { kind: "precondition_failed"; key: string; offset: number }
  | { kind: "txn"; succeeded: boolean; results: TxnOpResult[] };

/** Comparisons plus operations of both branches a transaction may hold (TXN_OPS_MAX). */
export const txnOpsMax = 128;

/** Characters of a transaction's keys and values, as the log counts them toward a batch's size. */
export function txnChars(txn: Txn): number {
  let chars = 0;
  for (const compare of txn.compare) chars += compare.key.length + 16;
  for (const op of txn.success) chars += op.key.length + (op.op === "put" ? op.value.length : 0) + 16;
  for (const op of txn.failure) chars += op.key.length + (op.op === "put" ? op.value.length : 0) + 16;
  return chars;
}

/** Every key a transaction names (peer checks: each must be a key a client could write). */
export function txnKeys(txn: Txn): string[] {
  return [...txn.compare, ...txn.success, ...txn.failure].map((item) => item.key);
}
