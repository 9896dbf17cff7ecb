import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, type ClusterOptions, startCluster } from "../../src/cluster.ts";
import type { SyncMode } from "../../src/node/storage.ts";

/** `--sync` of the tools: the nodes' storage, memory (no DATA_DIR) or a DATA_DIR with that SYNC. */
export type ToolStorage = "memory" | SyncMode;
export const toolStorageChoices: readonly ToolStorage[] = ["memory", "fsync", "write", "none"];

/**
 * Runs `work` against a fresh local cluster on free ports (never 5001–5006, which `npm start`
 * may hold) and stops every node by PID afterwards, on Ctrl-C too. With a `storage` other than
 * memory each node keeps its data in a temporary folder, removed afterwards.
 */
export async function withLocalCluster<T>(options: ClusterOptions, work: (cluster: Cluster) => Promise<T>, storage: ToolStorage = "memory"): Promise<T> {
  const dataDir = storage === "memory" ? undefined : mkdtempSync(join(tmpdir(), "quorumkv-tool-data-"));
  const env = storage === "memory" ? options.env : { ...options.env, SYNC: storage };
  const cluster = await startCluster({ ...options, basePort: undefined, dataDir, env });
  const onSignal = () => {
    void cluster.stop().finally(() => {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await work(cluster);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cluster.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
