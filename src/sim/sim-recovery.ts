import { type FollowerPosition, mostAdvanced, nextEpoch, recoveryQuorum } from "../core/recovery.ts";
import { StateMachine } from "../core/state-machine.ts";
import type { Entry } from "../core/types.ts";
import type { SimContext } from "./context.ts";
import { followerName } from "./format.ts";
import type { Network } from "./network.ts";
import type { Answer, Call, CallOwner, HeldLog, SimFollower } from "./sim-follower.ts";

/** The choices of recovery that mutants change; the node's are `nodeRecoveryPolicy`. */
export interface RecoveryPolicy {
  /** Picks the follower whose state and log the new leader takes over. */
  rank(positions: readonly FollowerPosition[]): FollowerPosition | null;
  /** Whether the new leader takes the entries held beyond the applied state, not only the state. */
  takePendingEntries: boolean;
  /** Whether recovery starts over when the data fetched falls short of the position ranked (src/node/recovery.ts `reaches`). */
  checksSource: boolean;
  /** Whether position requests carry the new epoch, which followers adopt before they answer (POST /internal/fence). */
  fences: boolean;
}

export const nodeRecoveryPolicy: RecoveryPolicy = { rank: mostAdvanced, takePendingEntries: true, checksSource: true, fences: true };

/** A follower that answered the last round, and what it held when it answered (for the checker). */
export interface PolledFollower {
  position: FollowerPosition;
  held: HeldLog;
}

export interface RecoveryOutcome {
  epoch: number;
  recovered?: { state: StateMachine; entries: Entry[]; from: string };
  polled: PolledFollower[];
}

/**
 * A (re)started leader process before it listens, as src/node/recovery.ts runs it: rounds of
 * position requests to every follower (each with its own timeout; a round ends when every request
 * answered or timed out) until `recoveryQuorum` answered in one round (or, in asynchronous mode,
 * the bound passed); then a new epoch above every epoch seen and the clock (the virtual one here),
 * and the most advanced follower's state and held entries, fetched by one more request. If that
 * request fails the process exits (main.ts does not catch it) and is started again later.
 *
 * Requests of recovery carry no simulated delay in the node (only replicate messages do), so both
 * ways take the reply delay here; partitions, drops and copies apply as to every message.
 */
export class SimRecovery implements CallOwner {
  #aborted = false;
  #startedUs = 0;
  #round = 0;
  /** With `fences`: the epoch the next round fences followers at, and will lead in. */
  #fenceEpoch = 0;
  /** What to do with the answer of each call still awaited. */
  #handlers = new Map<Call, (answer: Answer | null) => void>();

  constructor(
    readonly name: string,
    private readonly context: SimContext,
    private readonly followers: readonly SimFollower[],
    private readonly network: Network,
    private readonly policy: RecoveryPolicy,
    private readonly onDone: (outcome: RecoveryOutcome) => void,
    private readonly onFailed: (reason: string) => void,
  ) {}

  start(): void {
    this.#startedUs = this.context.nowUs;
    const { writeQuorum } = this.context.scenario;
    this.context.log(`${this.name} recovering: needs ${recoveryQuorum(this.followers.length, writeQuorum)} of ${this.followers.length} positions`);
    this.#fenceEpoch = nextEpoch([], Math.floor(this.context.nowMs));
    this.#poll();
  }

  /** The process died during recovery: nothing it awaits matters any more. */
  abort(): void {
    this.#aborted = true;
    this.context.log(`${this.name} dies while recovering`);
  }

  onAnswer(call: Call, answer: Answer): void {
    if (this.#aborted || call.settled) {
      this.context.log(`${this.name} ← ${followerName(call.follower)} #${call.id} ${answer.kind}: ignored`);
      return;
    }
    call.settled = true;
    this.#handlers.get(call)?.(answer);
    this.#handlers.delete(call);
  }

  #poll(): void {
    const { scenario } = this.context;
    const round = ++this.#round;
    const polled: PolledFollower[] = [];
    let outstanding = this.followers.length;
    const settled = () => {
      if (--outstanding > 0) return;
      this.#afterRound(round, polled);
    };
    if (outstanding === 0) {
      this.#afterRound(round, polled);
      return;
    }
    const fenceEpoch = this.policy.fences ? this.#fenceEpoch : null;
    for (const follower of this.followers) {
      this.#request(follower, "position", scenario.positionTimeoutUs, fenceEpoch, (answer) => {
        if (answer?.kind === "position") polled.push({ position: answer.position, held: answer.held });
        settled();
      });
    }
  }

  #afterRound(round: number, polled: PolledFollower[]): void {
    const { scenario } = this.context;
    const needed = recoveryQuorum(this.followers.length, scenario.writeQuorum);
    this.context.log(`${this.name} round ${round}: ${polled.length} of the ${needed} positions needed answered`);
    const asyncGiveUp = scenario.writeQuorum === 0 && this.context.nowUs - this.#startedUs > scenario.asyncWaitUs;
    if (polled.length < needed && !asyncGiveUp) {
      this.context.queue.after(scenario.positionRetryUs, () => {
        if (!this.#aborted) this.#poll();
      });
      return;
    }
    const positions = polled.map((answer) => answer.position);
    if (this.policy.fences && positions.some((position) => position.epoch >= this.#fenceEpoch)) {
      // Someone fenced or led at this epoch or above: fence above it.
      this.#fenceEpoch = nextEpoch(positions, Math.floor(this.context.nowMs));
      this.context.log(`${this.name} round ${round}: followers have seen a newer epoch; fences again at e${this.#fenceEpoch}`);
      this.#poll();
      return;
    }
    const epoch = this.policy.fences ? this.#fenceEpoch : nextEpoch(positions, Math.floor(this.context.nowMs));
    const best = this.policy.rank(positions);
    if (!best || best.lastOffset === 0) {
      this.context.log(`${this.name} recovered nothing to take over; epoch ${epoch}`);
      this.onDone({ epoch, polled });
      return;
    }
    const source = this.followers.find((follower) => follower.name === best.url)!;
    this.context.log(`${this.name} takes over ${best.url} (e${best.epoch} last=${best.lastOffset} (e${best.lastEntryEpoch}) applied=${best.appliedOffset}); epoch ${epoch}`);
    this.#request(source, "recover", scenario.recoverTimeoutUs, null, (answer) => {
      if (answer?.kind !== "recovery_data") {
        this.onFailed(`fetching ${best.url}'s data failed (${answer?.kind === "failure" ? answer.reason : "timeout"})`);
        return;
      }
      const { data } = answer;
      const lastOffset = data.appliedOffset + data.entries.length;
      const lastEntryEpoch = data.entries.at(-1)?.epoch ?? data.appliedEpoch;
      const reaches = lastEntryEpoch > best.lastEntryEpoch || (lastEntryEpoch === best.lastEntryEpoch && lastOffset >= best.lastOffset);
      if (this.policy.checksSource && !reaches) {
        this.context.log(`${this.name}: ${best.url} now holds up to ${lastOffset} (e${lastEntryEpoch}), less than its position; recovery starts over`);
        this.#poll();
        return;
      }
      const state = StateMachine.restore(data.appliedOffset, data.appliedEpoch, data.pairs);
      const entries = this.policy.takePendingEntries ? data.entries : [];
      this.onDone({ epoch, recovered: { state, entries, from: best.url }, polled });
    });
  }

  /** One request to a follower; `handle(null)` on timeout. */
  #request(
    follower: SimFollower,
    kind: "position" | "recover",
    timeoutUs: number,
    fenceEpoch: number | null,
    handle: (answer: Answer | null) => void,
  ): void {
    const call: Call = { id: this.context.nextCallId(), follower: follower.index, owner: this, settled: false };
    this.#handlers.set(call, handle);
    const label = `${this.name} #${call.id} → ${follower.name} ${kind}`;
    this.context.log(label);
    this.network.carry(follower.index, label, this.context.scenario.replyDelay, () => {
      if (this.#aborted) this.context.log(`net  ${label} lost: its sender died`);
      else if (kind === "position") follower.position(call, fenceEpoch);
      else follower.recoveryData(call);
    });
    this.context.queue.after(timeoutUs, () => {
      if (call.settled || this.#aborted) return;
      call.settled = true;
      this.context.log(`${label} timed out`);
      this.#handlers.delete(call);
      handle(null);
    });
  }
}
