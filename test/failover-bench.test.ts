import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { FailoverReport } from "../bench/failover.ts";

/**
 * `bun run failover` for real, short: two quorums, two kills each, on real processes (PEERS,
 * DESIGN §9).
 */

const root = resolve(import.meta.dir, "..");
const outDir = mkdtempSync(join(tmpdir(), "quorumkv-failover-test-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("bun run failover, short", () => {
  test("kills the leader twice per quorum: every window measured, no acknowledged write lost, all nodes agree", async () => {
    const child = Bun.spawn(
      [
        process.execPath,
        "bench/failover.ts",
        ...[
          "--kills",
          "2",
          "--quorums",
          "1,3",
          "--steady-writes",
          "50",
          "--restart-delay-ms",
          "300",
          "--out-dir",
          outDir,
          "--sweep",
          "results/quorum-sweep.json",
        ],
      ],
      { cwd: root, stdout: "pipe", stderr: "pipe" },
    );
    const [exitCode, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    expect({ exitCode, stderr: exitCode === 0 ? "" : stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(stdout).toContain("| W | kills | window p50 ms |");
    const report = JSON.parse(readFileSync(join(outDir, "failover.json"), "utf8")) as FailoverReport;
    expect(report.workload).toMatchObject({ nodes: 6, concurrency: 20, killsPerQuorum: 2 });
    expect(report.results.map((r) => r.writeQuorum)).toEqual([1, 3]);
    for (const result of report.results) {
      expect(result).toMatchObject({ kills: 2, lostWrites: 0, consistent: true });
      expect(result.error).toBeUndefined();
      expect(result.windowMs.all).toHaveLength(2);
      expect(result.windowMs.all.every((ms) => ms > 0)).toBe(true);
      // --steady-writes before each kill.
      expect(result.acknowledged).toBeGreaterThanOrEqual(2 * 50);
      expect(result.killsDone.map((kill) => kill.windowMs)).toEqual(result.windowMs.all);
    }
    expect(existsSync(join(outDir, "failover.png"))).toBe(true);
  });
});
