import type { EventQueue } from "./event-queue.ts";
import type { FollowerHost } from "./follower-host.ts";
import { SimClock } from "./sim-env.ts";
import type { Random } from "./random.ts";
import type { Scenario } from "./scenario.ts";
import type { Trace } from "./trace.ts";

/** What every part of one run shares: the clock and agenda, the one PRNG, the scenario, the trace. */
export class SimContext {
  /** The clock every node reads (it may step; the agenda's time does not). */
  readonly clock: SimClock;
  #nextCallId = 1;
  /** Told when a recovering leader process asks a follower for its data (the targeted faults stall one such fetch). */
  onRecoveryFetch: ((leader: string, follower: FollowerHost) => void) | null = null;

  constructor(
    readonly queue: EventQueue,
    readonly rng: Random,
    readonly scenario: Scenario,
    readonly trace: Trace,
  ) {
    this.clock = new SimClock(queue);
  }

  get nowUs(): number {
    return this.queue.nowUs;
  }

  /** Virtual time as the core wants it. */
  get nowMs(): number {
    return this.queue.nowUs / 1000;
  }

  log(text: string): void {
    this.trace.add(this.queue.nowUs, text);
  }

  /** Calls are numbered across every leader process of the run, so a trace line names one call. */
  nextCallId(): number {
    return this.#nextCallId++;
  }

  /** A uniform draw from a delay range. */
  delayUs(range: { minUs: number; maxUs: number }): number {
    return this.rng.int(range.minUs, range.maxUs);
  }
}
