import { closeSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePort, generateToken } from "../src/cluster.ts";
import type { SyncMode } from "../src/node/storage.ts";

/**
 * A cluster of equal nodes for the failover benchmark (DESIGN §9): every node gets PEERS (all
 * base URLs) and ADVERTISE_URL (its own); node1 has ROLE=leader, which with PEERS only means
 * "stand for election at once", so a new cluster has a leader fast. Any node may lead later.
 * Each node keeps its data in `<dataDir>/<id>`, so a node killed with SIGKILL and started again
 * comes back with its log and its promises. Processes are stopped by PID, never by name.
 */

const projectRoot = resolve(import.meta.dir, "..");
const mainPath = join(projectRoot, "src", "main.ts");
/** Bound on a node answering /health after it was started. */
const startTimeoutMs = 15_000;
/** Bound on a SIGTERM'd node exiting before SIGKILL. */
const stopTimeoutMs = 3000;
const everyChild = new Set<Subprocess>();

// Whatever happens to the benchmark, its nodes go with it.
process.on("exit", () => {
  for (const child of everyChild) child.kill("SIGKILL");
});

export interface PeersNode {
  readonly id: string;
  readonly url: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts the node (again: same port, same data) and waits until it answers /health. */
  start(): Promise<void>;
  /** Sends `signal` and waits for the process to be gone (SIGKILL after a bound). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface PeersCluster {
  readonly token: string;
  readonly nodes: readonly PeersNode[];
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

export interface PeersClusterOptions {
  nodes: number;
  writeQuorum: number;
  dataDir: string;
  sync: SyncMode;
  host?: string;
  /** Extra env for every node (MIN_DELAY_MS, ELECTION_TIMEOUT_MS, …). */
  env?: Record<string, string>;
}

/** Each node's environment, per the failover contract: PEERS, ADVERTISE_URL, ROLE. */
export function peersEnv(urls: readonly string[], index: number, common: Record<string, string>): Record<string, string> {
  const url = new URL(urls[index]!);
  return {
    ...common,
    PEERS: urls.join(","),
    ADVERTISE_URL: urls[index]!,
    ROLE: index === 0 ? "leader" : "follower",
    NODE_ID: `node${index + 1}`,
    HOST: url.hostname,
    PORT: url.port,
  };
}

/** The last line a node wrote: why it refused to start. */
const lastLine = (logFile: string) => readFileSync(logFile, "utf8").trim().split("\n").at(-1) ?? "";

async function waitHealthy(url: string, child: Subprocess, id: string, logFile: string): Promise<void> {
  const deadlineMs = performance.now() + startTimeoutMs;
  while (performance.now() < deadlineMs) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await child.exited;
      throw new Error(`${id} exited during start (code ${child.exitCode ?? child.signalCode}): ${lastLine(logFile)}`);
    }
    const healthy = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) }).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    await Bun.sleep(25);
  }
  throw new Error(`${id} did not answer ${url}/health within ${startTimeoutMs} ms`);
}

function makeNode(env: Record<string, string>, logFile: string): PeersNode {
  const url = env.ADVERTISE_URL!;
  const id = env.NODE_ID!;
  let child: Subprocess | null = null;
  const isRunning = () => child !== null && child.exitCode === null && child.signalCode === null;
  return {
    id,
    url,
    get pid() {
      return child?.pid;
    },
    get running() {
      return isRunning();
    },
    async start() {
      if (isRunning()) throw new Error(`${id} is already running`);
      // Appended: a restarted node's lines follow the killed one's.
      const output = openSync(logFile, "a");
      const started = Bun.spawn([process.execPath, mainPath], {
        cwd: projectRoot,
        env: { ...process.env, ...env, QUORUMKV_PARENT_PID: String(process.pid) },
        stdout: output,
        stderr: output,
        stdin: "ignore",
      });
      closeSync(output);
      child = started;
      everyChild.add(started);
      void started.exited.then(() => everyChild.delete(started));
      await waitHealthy(url, started, id, logFile);
    },
    async stop(signal = "SIGTERM") {
      const running = child;
      if (!running || !isRunning()) return;
      running.kill(signal);
      const exited = await Promise.race([running.exited.then(() => true), Bun.sleep(stopTimeoutMs).then(() => false)]);
      if (!exited) {
        running.kill("SIGKILL");
        await running.exited;
      }
    },
  };
}

export async function startPeersCluster(options: PeersClusterOptions): Promise<PeersCluster> {
  const host = options.host ?? "127.0.0.1";
  const token = generateToken();
  const urls = Array.from({ length: options.nodes }, () => `http://${host}:${freePort(host)}`);
  const common = {
    ...options.env,
    CLUSTER_TOKEN: token,
    WRITE_QUORUM: String(options.writeQuorum),
    SYNC: options.sync,
    LOG_LEVEL: "warn",
  };
  const nodes = urls.map((_, index) => {
    const env = peersEnv(urls, index, common);
    return makeNode({ ...env, DATA_DIR: join(options.dataDir, env.NODE_ID!) }, join(options.dataDir, `${env.NODE_ID}.log`));
  });
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { token, nodes, urls, stop };
}
