import { readFileSync } from "node:fs";

/** Linux reports /proc times in USER_HZ, 100 per second on every common build. */
const microsecondsPerTick = 10_000;

/** µs of user + system CPU a process has used so far (/proc/<pid>/stat fields 14 and 15). */
export function processCpuMicroseconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * microsecondsPerTick;
}

/** µs of CPU this process has used so far, user + system. */
export function ownCpuMicroseconds(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** CPU of some processes over a piece of work: start it, then `perOperation(count)` gives µs per operation of each. */
export function cpuMeter(pids: readonly number[]): { perOperation: (operations: number) => number[] } {
  const before = pids.map(processCpuMicroseconds);
  return { perOperation: (operations) => pids.map((pid, i) => (processCpuMicroseconds(pid) - before[i]!) / operations) };
}
