import { parseToolFlags } from "../src/flags.ts";
import { DelayScheduler } from "../src/node/delay-scheduler.ts";

/**
 * How exactly the simulated network waits: 20 chains of delays drawn from U(0.1, 10) ms, 5,000 in
 * all, each measured from `after()` to its callback. Prints the error (applied − requested) and
 * the CPU the scheduler cost.
 */
parseToolFlags(
  "delay-accuracy",
  `Usage: bun run delay-accuracy

5,000 delays drawn from U(0.1, 10) ms in 20 chains through the node's delay scheduler: the error
of each (applied minus requested) and the CPU the scheduler cost.`,
  {},
);
const delaysTotal = 5000;
const chains = 20;
const scheduler = new DelayScheduler();
const errorsMs: number[] = [];
const cpuBefore = process.cpuUsage();
const startedMs = performance.now();

await new Promise<void>((resolve) => {
  let started = 0;
  const next = () => {
    if (started >= delaysTotal) return;
    started++;
    const delayMs = 0.1 + Math.random() * 9.9;
    const scheduledMs = performance.now();
    scheduler.after(delayMs, () => {
      errorsMs.push(performance.now() - scheduledMs - delayMs);
      if (errorsMs.length === delaysTotal) resolve();
      else next();
    });
  };
  for (let i = 0; i < chains; i++) next();
});

scheduler.stop();
const wallMs = performance.now() - startedMs;
const cpu = process.cpuUsage(cpuBefore);
errorsMs.sort((a, b) => a - b);
const at = (q: number) => errorsMs[Math.floor(q * (errorsMs.length - 1))]!.toFixed(3);
const mean = errorsMs.reduce((sum, e) => sum + e, 0) / errorsMs.length;
console.log(
  `${delaysTotal} delays U(0.1, 10) ms: error mean ${mean.toFixed(3)} ms, quartiles ${at(0.25)} / ${at(0.5)} / ${at(0.75)} ms, ` +
    `p99 ${at(0.99)} ms; CPU ${(((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(0)} % of a core`,
);
