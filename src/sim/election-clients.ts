import type { LeaderNode } from "../node/leader-node.ts";
import type { WriteOutcome } from "../node/leader-env.ts";
import { type ReadResult, readCommitted } from "../node/read.ts";
import type { PeerMachine } from "./election-net.ts";
import type { EventQueue } from "./event-queue.ts";
import type { Operation } from "./linearizability.ts";
import type { Random } from "./random.ts";
import type { Trace } from "./trace.ts";

/** An acknowledged write: what the leader said it committed. */
export interface AckedWrite {
  key: string;
  value: string;
  offset: number;
}

type Answer =
  | { kind: "down" }
  | { kind: "not_leader"; leader: string }
  | { kind: "no_leader" }
  | { kind: "write"; outcome: WriteOutcome }
  | { kind: "read"; result: ReadResult };

export const electionKeys = ["a", "b", "c"];

/**
 * Closed-loop clients of an election run, as the tools behave (DESIGN §9): each sends its
 * operation to the node it believes leads, follows 421 to the leader, and on 503 no_leader or a
 * refused connection tries another node after a short pause. Writes and leader reads are recorded
 * per key for the linearizability check; a write whose outcome is unknown (a timeout, or no
 * answer from a node that died) is recorded as never answered.
 */
export class ElectionClients {
  readonly histories = new Map<string, Operation[]>();
  readonly acked: AckedWrite[] = [];
  doneUs: number | null = null;
  stats = { writes: 0, reads: 0, unknown: 0, redirects: 0, gaveUp: 0 };
  #running = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly rng: Random,
    private readonly trace: Trace,
    private readonly machines: readonly PeerMachine[],
    private readonly timing: { linkDelayUs: { minUs: number; maxUs: number }; answerTimeoutMs: number; readWaitMs: number; opDeadlineMs: number },
  ) {}

  start(clients: number, opsEach: number): void {
    this.#running = clients;
    for (let client = 0; client < clients; client++) this.#next(client, opsEach, this.rng.int(0, this.machines.length - 1));
  }

  #record(key: string, op: Operation): void {
    const ops = this.histories.get(key) ?? [];
    ops.push(op);
    this.histories.set(key, ops);
  }

  #next(client: number, left: number, guess: number): void {
    if (left === 0) {
      if (--this.#running === 0) this.doneUs = this.queue.nowUs;
      return;
    }
    const key = this.rng.pick(electionKeys);
    const write = this.rng.chance(0.7);
    const value = JSON.stringify(`c${client}-${left}`);
    const deadlineUs = this.queue.nowUs + this.timing.opDeadlineMs * 1000;
    const proceed = (nextGuess: number) => this.queue.after(this.rng.int(0, 3000), () => this.#next(client, left - 1, nextGuess));
    const attempt = (target: number) => {
      if (this.queue.nowUs > deadlineUs) {
        this.stats.gaveUp++;
        proceed(target);
        return;
      }
      const invokeUs = this.queue.nowUs;
      let answered = false;
      const retry = (nextTarget: number) => this.queue.after(this.rng.int(500, 5000), () => attempt(nextTarget));
      const onAnswer = (answer: Answer) => {
        if (answered) return;
        answered = true;
        if (answer.kind === "down" || answer.kind === "no_leader") return retry(this.rng.int(0, this.machines.length - 1));
        if (answer.kind === "not_leader") {
          this.stats.redirects++;
          return retry(
            Math.max(
              0,
              this.machines.findIndex((machine) => machine.url === answer.leader),
            ),
          );
        }
        if (answer.kind === "read") {
          if (answer.result.kind === "value") {
            this.stats.reads++;
            const stored = answer.result.stored;
            this.#record(key, { kind: "read", value: stored ? stored.value : null, invokeUs, responseUs: this.queue.nowUs });
          }
          return proceed(target);
        }
        const outcome = answer.outcome;
        if (outcome.kind === "committed") {
          this.stats.writes++;
          this.acked.push({ key, value, offset: outcome.offset });
          this.#record(key, { kind: "write", value, invokeUs, responseUs: this.queue.nowUs });
          return proceed(target);
        }
        if (outcome.kind === "timeout") {
          this.stats.unknown++;
          this.#record(key, { kind: "write", value, invokeUs, responseUs: Number.POSITIVE_INFINITY });
          return proceed(target);
        }
        return retry(target); // refused before anything was appended
      };
      // No answer in time: a write may or may not have happened.
      this.queue.after(this.timing.answerTimeoutMs * 1000, () => {
        if (answered) return;
        answered = true;
        if (write) {
          this.stats.unknown++;
          this.#record(key, { kind: "write", value, invokeUs, responseUs: Number.POSITIVE_INFINITY });
        }
        proceed(this.rng.int(0, this.machines.length - 1));
      });
      this.#send(target, (reply) => this.#serve(target, write, key, value, reply), onAnswer);
    };
    attempt(guess);
  }

  /** The request crosses the client's link, is served, and the answer crosses back (lost if the node died meanwhile). */
  #send(target: number, serve: (reply: (answer: Answer) => void) => void, onAnswer: (answer: Answer) => void): void {
    const delay = () => this.rng.int(this.timing.linkDelayUs.minUs, this.timing.linkDelayUs.maxUs);
    this.queue.after(delay(), () => {
      const timers = this.machines[target]!.timers;
      serve((answer) => {
        if (timers && !timers.alive) return;
        this.queue.after(delay(), () => onAnswer(answer));
      });
    });
  }

  #serve(target: number, write: boolean, key: string, value: string, reply: (answer: Answer) => void): void {
    const machine = this.machines[target]!;
    const peer = machine.peer;
    if (!peer) return reply({ kind: "down" });
    const refusal = peer.writeRefusal();
    if (refusal) {
      this.trace.add(this.queue.nowUs, `client → ${machine.url}: ${refusal.kind}`);
      return reply(refusal.kind === "not_leader" ? { kind: "not_leader", leader: refusal.leader } : { kind: "no_leader" });
    }
    const leader = peer.current as LeaderNode;
    if (write) leader.propose(key, value, {}, (outcome) => reply({ kind: "write", outcome }));
    else readCommitted(leader, key, 0, this.timing.readWaitMs, (result) => reply({ kind: "read", result }));
  }
}
