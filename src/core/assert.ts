/** Guards an invariant that cannot fail unless the code is wrong. Stays on in production. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** `message` may be a function: on hot paths a template string would be built on every call that holds. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === "string" ? message : message());
}
