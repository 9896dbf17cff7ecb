import { readFileSync } from "node:fs";

/** Linux reports /proc times in USER_HZ, 100 per second on every common build. */
const microsecondsPerTick = 10_000;

/** µs of CPU a process has used so far in user space and in the kernel (/proc/<pid>/stat fields 14 and 15). */
export function processCpuSplitMicroseconds(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { user: Number(fields[11]) * microsecondsPerTick, system: Number(fields[12]) * microsecondsPerTick };
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
 * operation of each, and `splitPerOperation(count)` the same as user space and kernel apart.
 */
export function cpuMeter(pids: readonly number[]): {
  perOperation: (operations: number) => number[];
  splitPerOperation: (operations: number) => { user: number; system: number }[];
} {
  const before = pids.map(processCpuSplitMicroseconds);
  const splitPerOperation = (operations: number) =>
    pids.map((pid, i) => {
      const now = processCpuSplitMicroseconds(pid);
      return { user: (now.user - before[i]!.user) / operations, system: (now.system - before[i]!.system) / operations };
    });
  return { splitPerOperation, perOperation: (operations) => splitPerOperation(operations).map(({ user, system }) => user + system) };
}
