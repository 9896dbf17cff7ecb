import type { SimContext } from "./context.ts";
import { type DelayRangeUs, slowFactor } from "./scenario.ts";

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
 * twice or held up far longer than usual, and a follower may be cut off (both directions) until a
 * given time.
 */
export class Network {
  /** False once faults stop: delays (and so reordering) remain, losses and copies do not. */
  lossy = true;
  readonly stats: NetworkStats = { carried: 0, dropped: 0, duplicated: 0, slowed: 0, lostInPartition: 0 };
  readonly #partitionedUntilUs: number[];

  constructor(
    private readonly context: SimContext,
    followers: number,
  ) {
    this.#partitionedUntilUs = Array.from({ length: followers }, () => 0);
  }

  partition(follower: number, untilUs: number): void {
    this.#partitionedUntilUs[follower] = Math.max(this.#partitionedUntilUs[follower]!, untilUs);
  }

  isPartitioned(follower: number): boolean {
    return this.context.nowUs < this.#partitionedUntilUs[follower]!;
  }

  healPartitions(): void {
    this.#partitionedUntilUs.fill(0);
  }

  /** Carries one message on the link of `follower`; a partition in place when it arrives loses it. */
  carry(follower: number, label: string, delay: DelayRangeUs, deliver: () => void): void {
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
        if (this.isPartitioned(follower)) {
          this.stats.lostInPartition++;
          context.log(`net  lost in partition ${label}`);
          return;
        }
        deliver();
      });
    }
  }
}
