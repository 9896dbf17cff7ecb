/** A usage or connection problem of a tool (no cluster there, a wrong token, no leader): exit 2. */
export class TargetError extends Error {
  override name = "TargetError";
}
