import type { FollowerPosition } from "../core/recovery.ts";
import type { RecoveryData, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import type { FollowerNode } from "../node/follower-node.ts";
import { type Answer, type Transport, type TransportReply, TransportError } from "../node/transport.ts";
import type { SimContext } from "./context.ts";
import { type FollowerHost, type HeldLog, isFailure } from "./follower-host.ts";
import { formatChunk, formatMessage, formatReply } from "./format.ts";
import type { Network } from "./network.ts";
import type { ProcessTimers } from "./sim-env.ts";

/**
 * One leader process's Transport over the simulated network. A call crosses the network to the
 * follower's host (delays, drops, copies, partitions), runs on its FollowerNode, and the answer
 * crosses back. Like a real transport it settles once: the first answer, or a TransportError
 * when the timeout passes (on the process's own timers) or the connection breaks. A copied
 * request runs twice; the late answer is ignored. Nothing reaches a process that died.
 */
export class SimTransport implements Transport {
  readonly name = "simulated";
  /** What each follower held when it last answered a fence, and which process it was: the checker's view of a recovery's poll. */
  readonly heldAtFence = new Map<string, { held: HeldLog; incarnation: number }>();

  constructor(
    private readonly owner: string,
    private readonly context: SimContext,
    private readonly network: Network,
    private readonly followers: readonly FollowerHost[],
    private readonly timers: ProcessTimers,
  ) {}

  replicate(url: string, message: ReplicateMessage, timeoutMs: number, done: Answer<TransportReply<ReplicateReply>>): void {
    this.#call(
      url,
      formatMessage(message),
      timeoutMs,
      done,
      (node, reply) => node.replicate(message, (r) => reply({ reply: r })),
      (answer) => formatReply(answer.reply),
    );
  }

  snapshot(url: string, chunk: SnapshotChunk, timeoutMs: number, done: Answer<TransportReply<SnapshotReply>>): void {
    this.#call(
      url,
      formatChunk(chunk),
      timeoutMs,
      done,
      (node, reply) => node.receiveSnapshot(chunk, (r) => reply({ reply: r })),
      (answer) => formatReply(answer.reply),
    );
  }

  fence(url: string, epoch: number, leaderId: string, timeoutMs: number, done: Answer<FollowerPosition>): void {
    const follower = this.#follower(url);
    this.#call<{ position: FollowerPosition; held: HeldLog; incarnation: number }>(
      url,
      epoch === 0 ? "position" : `fence e${epoch}`,
      timeoutMs,
      (answer) => {
        if (!(answer instanceof TransportError)) this.heldAtFence.set(url, { held: answer.held, incarnation: answer.incarnation });
        done(answer instanceof TransportError ? answer : answer.position);
      },
      (node, reply) =>
        node.fence(epoch, leaderId, (position) => reply({ position: { ...position, url }, held: follower.held(), incarnation: follower.incarnation })),
      ({ position }) =>
        `e${position.epoch} last=${position.lastOffset} (e${position.lastEntryEpoch}) applied=${position.appliedOffset}, now e${follower.core.epoch}`,
    );
  }

  recover(url: string, timeoutMs: number, done: Answer<RecoveryData>): void {
    this.context.onRecoveryFetch?.(this.owner, this.#follower(url));
    this.#call(
      url,
      "recover",
      timeoutMs,
      done,
      (node, reply) => reply(node.recoveryData()),
      (data) => `applied=${data.appliedOffset} (e${data.appliedEpoch}) + ${data.entries.length} entries`,
    );
  }

  close(): void {}

  #follower(url: string): FollowerHost {
    const follower = this.followers.find((host) => host.name === url);
    if (!follower) throw new Error(`no follower ${url} in the simulation`);
    return follower;
  }

  #call<Value>(
    url: string,
    what: string,
    timeoutMs: number,
    done: Answer<Value>,
    run: (node: FollowerNode, reply: (value: Value) => void) => void,
    describe: (value: Value) => string,
  ): void {
    const { context, network, timers } = this;
    const follower = this.#follower(url);
    const id = context.nextCallId();
    const label = `${this.owner} #${id} → ${follower.name}`;
    let settled = false;
    context.log(`${label} ${what}`);
    timers.after(timeoutMs, () => {
      if (settled) return;
      settled = true;
      context.log(`${label} timed out`);
      done(new TransportError(`${url}: no answer within ${timeoutMs} ms`));
    });
    network.carry(follower.index, "to-follower", label, context.scenario.linkDelay, () => {
      if (!timers.alive) {
        context.log(`net  ${label} lost: its sender died`);
        return;
      }
      follower.handle(`${follower.name} ← ${this.owner} #${id} ${what}`, run, (answer) => {
        const shown = isFailure(answer) ? answer.failure : describe(answer);
        network.carry(follower.index, "to-leader", `${follower.name} answer #${id} ${shown}`, context.scenario.linkDelay, () => {
          if (!timers.alive) context.log(`${this.owner} ← ${follower.name} #${id} ${shown}: nobody listens, the process is gone`);
          else if (settled) context.log(`${this.owner} ← ${follower.name} #${id} ${shown}: ignored, call already settled`);
          else {
            settled = true;
            context.log(`${this.owner} ← ${follower.name} #${id} ${shown}`);
            done(isFailure(answer) ? new TransportError(`${url}: connection ${answer.failure}`) : answer);
          }
        });
      });
    });
  }
}
