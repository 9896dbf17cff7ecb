import { type Cluster, type ClusterOptions, startCluster } from "../../src/cluster.ts";

/**
 * Runs `work` against a fresh local cluster on free ports (never 5001–5006, which `npm start`
 * may hold) and stops every node by PID afterwards, on Ctrl-C too.
 */
export async function withLocalCluster<T>(options: ClusterOptions, work: (cluster: Cluster) => Promise<T>): Promise<T> {
  const cluster = await startCluster({ ...options, basePort: undefined });
  const onSignal = () => {
    void cluster.stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await work(cluster);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cluster.stop();
  }
}
