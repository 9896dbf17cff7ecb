import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/free-port.ts";

/** How the skeleton's nodes store each batch: not at all, appended, or appended and fdatasync'd. */
export type FloorStorage = "memory" | "write" | "fsync";

export interface FloorCluster {
  leaderUrl: string;
  /** Leader first, then the followers. */
  pids: number[];
  /** The nodes' files (with a storage other than memory): `leader`, `follower-0`, `follower-1`, … */
  dir: string;
}

/**
 * Runs `work` against the skeleton of bench/lib/floor-node.ts (a leader and `followers`
 * followers on free ports of 127.0.0.1), then stops every process it started, by PID, and removes
 * their files.
 */
export async function withFloorCluster<T>(
  options: { followers: number; quorum: number; storage: FloorStorage },
  work: (cluster: FloorCluster) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "quorumkv-floor-"));
  const script = join(import.meta.dir, "floor-node.ts");
  const processes: ReturnType<typeof Bun.spawn>[] = [];
  const spawn = (env: Record<string, string>) => {
    const child = Bun.spawn([process.execPath, script], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" });
    processes.push(child);
    return child;
  };
  const storage = (name: string): Record<string, string> => (options.storage === "memory" ? {} : { SYNC_FILE: join(dir, name), SYNC: options.storage });
  // Stopped on Ctrl-C and SIGTERM too, at once. When another handler was there first (a
  // withLocalCluster around this one), that one exits once its own cluster is stopped.
  const exits = process.listenerCount("SIGINT") === 0;
  const onSignal = () => {
    for (const child of processes) child.kill();
    rmSync(dir, { recursive: true, force: true });
    if (exits) process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const followerPorts = Array.from({ length: options.followers }, () => freePort());
    for (const [i, port] of followerPorts.entries()) spawn({ ROLE: "follower", PORT: String(port), ...storage(`follower-${i}`) });
    await Promise.all(followerPorts.map((port) => until(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok)));
    const leaderPort = freePort();
    const followerUrls = followerPorts.map((port) => `ws://127.0.0.1:${port}/`).join(",");
    const leader = spawn({ ROLE: "leader", PORT: String(leaderPort), FOLLOWERS: followerUrls, QUORUM: String(options.quorum), ...storage("leader") });
    const leaderUrl = `http://127.0.0.1:${leaderPort}`;
    await until(async () => ((await (await fetch(`${leaderUrl}/health`)).json()) as { ready: boolean }).ready);
    return await work({ leaderUrl, pids: [leader.pid, ...processes.slice(0, options.followers).map((child) => child.pid)], dir });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const child of processes) child.kill();
    await Promise.all(processes.map((child) => child.exited));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it holds (a refused connection counts as not yet), for at most 10 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error("the floor skeleton (bench/lib/floor-node.ts) did not start within 10 s");
    await Bun.sleep(20);
  }
}
