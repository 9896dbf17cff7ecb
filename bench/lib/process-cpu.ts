import { readFileSync } from "node:fs";

/** Linux reports /proc times in USER_HZ, 100 per second on every common build. */
const microsecondsPerTick = 10_000;

/** user and system µs of a /proc stat file (fields 14 and 15). */
function statMicroseconds(path: string): { user: number; system: number } {
  // After the command name, which may itself hold ") ".
  const text = readFileSync(path, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) * microsecondsPerTick, system: Number(fields[12]) * microsecondsPerTick };
}

/**
 * µs of CPU a process has used so far in user space and in the kernel, all its threads together,
 * and of those its main thread (where the JavaScript runs; the others mostly compile and collect
 * garbage).
 */
export function processCpuSplitMicroseconds(pid: number): { user: number; system: number; mainThread: number } {
  const main = statMicroseconds(`/proc/${pid}/task/${pid}/stat`);
  return { ...statMicroseconds(`/proc/${pid}/stat`), mainThread: main.user + main.system };
}

/** µs of user + system CPU a process has used so far. */
export function processCpuMicroseconds(pid: number): number {
  const { user, system } = processCpuSplitMicroseconds(pid);
  return user + system;
}

/** µs of CPU this process has used so far, user + system. */
export function ownCpuMicroseconds(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/**
 * CPU of some processes over a piece of work: start it, then `perOperation(count)` gives µs per
 * operation of each, and `splitPerOperation(count)` the same as user space and kernel apart, and
 * the main thread's share.
 */
export function cpuMeter(pids: readonly number[]): {
  perOperation: (operations: number) => number[];
  splitPerOperation: (operations: number) => { user: number; system: number; mainThread: number }[];
} {
  const before = pids.map(processCpuSplitMicroseconds);
  const splitPerOperation = (operations: number) =>
    pids.map((pid, i) => {
      const now = processCpuSplitMicroseconds(pid);
      const then = before[i]!;
      return {
        user: (now.user - then.user) / operations,
        system: (now.system - then.system) / operations,
        mainThread: (now.mainThread - then.mainThread) / operations,
      };
    });
  return { splitPerOperation, perOperation: (operations) => splitPerOperation(operations).map(({ user, system }) => user + system) };
}
