import type { SimContext } from "./context.ts";
import { type DelayRangeUs, slowFactor } from "./scenario.ts";

/** Which way a message goes on a follower's link. */
export type Direction = "to-follower" | "to-leader";
/** What a partition cuts: both ways, or one (a one-way partition: requests arrive, answers do not, or the reverse). */
export type Cut = Direction | "both";

export interface NetworkStats {
  carried: number;
  dropped: number;
  duplicated: number;
  slowed: number;
  lostInPartition: number;
}

/**
 * The links between the leader and each follower. Every message gets its own uniform delay, so
 * messages overtake each other; while faults are on, a message may also be dropped, delivered
 * twice or held up far longer than usual, and a follower's link may be cut, both ways or one way,
 * until a given time.
 */
export class Network {
  /** False once faults stop: delays (and so reordering) remain, losses and copies do not. */
  lossy = true;
  readonly stats: NetworkStats = { carried: 0, dropped: 0, duplicated: 0, slowed: 0, lostInPartition: 0 };
  /** Per direction, per follower: the link is cut until then. */
  readonly #cutUntilUs: Record<Direction, number[]>;

  constructor(
    private readonly context: SimContext,
    followers: number,
  ) {
    this.#cutUntilUs = { "to-follower": Array.from({ length: followers }, () => 0), "to-leader": Array.from({ length: followers }, () => 0) };
  }

  partition(follower: number, untilUs: number, cut: Cut = "both"): void {
    for (const direction of ["to-follower", "to-leader"] as const) {
      if (cut !== "both" && cut !== direction) continue;
      const until = this.#cutUntilUs[direction];
      until[follower] = Math.max(until[follower]!, untilUs);
    }
  }

  isPartitioned(follower: number, direction: Direction): boolean {
    return this.context.nowUs < this.#cutUntilUs[direction][follower]!;
  }

  /** Ends the cuts of one follower's link, both ways. */
  endPartition(follower: number): void {
    this.#cutUntilUs["to-follower"][follower] = 0;
    this.#cutUntilUs["to-leader"][follower] = 0;
  }

  healPartitions(): void {
    this.#cutUntilUs["to-follower"].fill(0);
    this.#cutUntilUs["to-leader"].fill(0);
  }

  /** Carries one message on the link of `follower`; a cut of its direction in place when it arrives loses it. */
  carry(follower: number, direction: Direction, label: string, delay: DelayRangeUs, deliver: () => void): void {
    const { context } = this;
    this.stats.carried++;
    if (this.lossy && context.rng.chance(context.scenario.dropProbability)) {
      this.stats.dropped++;
      context.log(`net  drop ${label}`);
      return;
    }
    const copies = this.lossy && context.rng.chance(context.scenario.duplicateProbability) ? 2 : 1;
    if (copies === 2) {
      this.stats.duplicated++;
      context.log(`net  duplicate ${label}`);
    }
    for (let copy = 0; copy < copies; copy++) {
      let delayUs = context.delayUs(delay);
      if (this.lossy && context.rng.chance(context.scenario.slowProbability)) {
        this.stats.slowed++;
        delayUs = context.rng.int(delay.maxUs, slowFactor * delay.maxUs);
        context.log(`net  slow ${label}: ${delayUs / 1000}ms`);
      }
      context.queue.after(delayUs, () => {
        if (this.isPartitioned(follower, direction)) {
          this.stats.lostInPartition++;
          context.log(`net  lost in partition ${label}`);
          return;
        }
        deliver();
      });
    }
  }
}
