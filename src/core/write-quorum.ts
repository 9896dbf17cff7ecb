/**
 * The leader's write quorum as replicated state (DESIGN §9). Raising it takes effect at once.
 * Lowering it waits for a marker entry to commit under the quorum in force: every message sent
 * meanwhile carries the lowered floor, so by then that many followers know it, and a restarting
 * leader that hears from enough followers for the old quorum hears of the new one
 * (core/recovery.ts). The floor is the smallest quorum that may have acknowledged an entry not
 * yet held by every follower; it comes back up once the whole log is everywhere.
 */
export class WriteQuorum {
  #inForce: number;
  #lowering: { quorum: number; markerOffset: number } | null = null;
  #floor: number;

  constructor(quorum: number, recoveredFloor = quorum) {
    this.#inForce = quorum;
    this.#floor = Math.min(quorum, recoveredFloor);
  }

  get inForce(): number {
    return this.#inForce;
  }

  get pending(): number | null {
    return this.#lowering?.quorum ?? null;
  }

  get floor(): number {
    return this.#floor;
  }

  /** Whether `quorum` lowers the one in force (the caller then appends a marker and calls `lowerAt`). */
  lowers(quorum: number): boolean {
    return quorum < this.#inForce;
  }

  raise(quorum: number): void {
    this.#lowering = null;
    this.#inForce = quorum;
  }

  lowerAt(quorum: number, markerOffset: number): void {
    this.#lowering = { quorum, markerOffset };
    this.#floor = Math.min(this.#floor, quorum);
  }

  /** After a commit: true when a lowered quorum took effect (the caller recomputes the commit). */
  committed(commitOffset: number): boolean {
    if (!this.#lowering || commitOffset < this.#lowering.markerOffset) return false;
    this.#inForce = this.#lowering.quorum;
    this.#lowering = null;
    return true;
  }

  /** Once every follower holds the whole log, no entry depends on a lower quorum any more. */
  heldEverywhere(): void {
    if (!this.#lowering) this.#floor = this.#inForce;
  }
}
