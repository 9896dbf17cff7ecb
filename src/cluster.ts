import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { parseToolFlags } from "./flags.ts";

/**
 * The local launcher: 1 leader + N followers as child processes of this one. `npm start` uses
 * it from the command line; the tests and tools call `startCluster()`.
 */

export interface ClusterOptions {
  followers?: number;
  writeQuorum?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** First port (leader); followers take the next ones. Omit for free ports chosen by the OS. */
  basePort?: number;
  host?: string;
  token?: string;
  quorumTimeoutMs?: number;
  heartbeatMs?: number;
  logRetention?: number;
  /** Extra env for every node. */
  env?: Record<string, string>;
  /** Where each node's output goes: a folder (one file per node), the terminal, or nowhere. */
  output?: { logDir: string } | "inherit" | "ignore";
  /** Bound on waiting for a node to answer /health. */
  startTimeoutMs?: number;
}

export interface ClusterNode {
  readonly id: string;
  readonly role: "leader" | "follower";
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts the node again (same port, same settings) and waits until it is healthy. */
  start(): Promise<void>;
  /** Sends a signal; resolves once the process is gone (SIGKILL after a bound). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(): void;
  resume(): void;
}

export interface Cluster {
  readonly token: string;
  readonly leader: ClusterNode;
  readonly followers: readonly ClusterNode[];
  readonly nodes: readonly ClusterNode[];
  stop(): Promise<void>;
}

const projectRoot = resolve(import.meta.dir, "..");
const mainPath = join(projectRoot, "src", "main.ts");
const stopTimeoutMs = 3000;
const everyChild = new Set<Subprocess>();

// Last resort: whatever happens to the launcher, its nodes go with it.
process.on("exit", () => {
  for (const child of everyChild) child.kill("SIGKILL");
});

export function generateToken(): string {
  return randomBytes(16).toString("hex");
}

/** A port the OS reports free right now. */
export function freePort(host = "127.0.0.1"): number {
  const listener = Bun.listen({ hostname: host, port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

async function waitHealthy(url: string, child: Subprocess, timeoutMs: number, id: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${id} exited during start (code ${child.exitCode ?? child.signalCode})`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(25);
  }
  throw new Error(`${id} did not answer ${url}/health within ${timeoutMs} ms`);
}

function makeNode(id: string, role: "leader" | "follower", host: string, port: number, env: Record<string, string>, options: ClusterOptions): ClusterNode {
  const url = `http://${host}:${port}`;
  let child: Subprocess | null = null;
  const output = options.output ?? "ignore";
  const spawn = () => {
    const stdout =
      typeof output === "object" ? Bun.file(join(output.logDir, `${id}.log`)) : output === "inherit" ? "inherit" : "ignore";
    child = Bun.spawn([process.execPath, mainPath], {
      cwd: projectRoot,
      env: { ...process.env, ...env, ROLE: role, NODE_ID: id, HOST: host, PORT: String(port), QUORUMKV_PARENT_PID: String(process.pid) },
      stdout,
      stderr: stdout,
      stdin: "ignore",
    });
    everyChild.add(child);
    const started = child;
    void started.exited.then(() => everyChild.delete(started));
    return started;
  };
  const isRunning = () => child !== null && child.exitCode === null && child.signalCode === null;
  return {
    id,
    role,
    url,
    port,
    get pid() {
      return child?.pid;
    },
    get running() {
      return isRunning();
    },
    async start() {
      if (isRunning()) throw new Error(`${id} is already running`);
      await waitHealthy(url, spawn(), options.startTimeoutMs ?? 15_000, id);
    },
    async stop(signal = "SIGTERM") {
      const current = child;
      if (!current || !isRunning()) return;
      if (signal !== "SIGKILL") current.kill("SIGCONT"); // a paused node cannot handle SIGTERM
      current.kill(signal);
      const exited = await Promise.race([current.exited.then(() => true), Bun.sleep(stopTimeoutMs).then(() => false)]);
      if (!exited) {
        current.kill("SIGKILL");
        await current.exited;
      }
    },
    pause() {
      child?.kill("SIGSTOP");
    },
    resume() {
      child?.kill("SIGCONT");
    },
  };
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const followerCount = options.followers ?? 5;
  const host = options.host ?? "127.0.0.1";
  const token = options.token ?? generateToken();
  const ports = Array.from({ length: followerCount + 1 }, (_, i) => (options.basePort ? options.basePort + i : freePort(host)));
  if (typeof options.output === "object") mkdirSync(options.output.logDir, { recursive: true });
  const common: Record<string, string> = { CLUSTER_TOKEN: token, ...options.env };
  const set = (name: string, value: number | undefined) => {
    if (value !== undefined) common[name] = String(value);
  };
  set("MIN_DELAY_MS", options.minDelayMs);
  set("MAX_DELAY_MS", options.maxDelayMs);
  set("QUORUM_TIMEOUT_MS", options.quorumTimeoutMs);
  set("HEARTBEAT_MS", options.heartbeatMs);
  set("LOG_RETENTION", options.logRetention);
  const leaderUrl = `http://${host}:${ports[0]}`;
  const followers = ports.slice(1).map((port, i) =>
    makeNode(`follower${i + 1}`, "follower", host, port, { ...common, LEADER_URL: leaderUrl }, options),
  );
  const leader = makeNode(
    "leader",
    "leader",
    host,
    ports[0]!,
    {
      ...common,
      FOLLOWERS: followers.map((f) => f.url).join(","),
      WRITE_QUORUM: String(options.writeQuorum ?? Math.min(3, followerCount)),
    },
    options,
  );
  const nodes = [leader, ...followers];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    await Promise.all(followers.map((f) => f.start()));
    await leader.start();
  } catch (error) {
    await stop();
    throw error;
  }
  return { token, leader, followers, nodes, stop };
}

/** Where `npm start` leaves the cluster's URLs and token for the tools (DESIGN §7). */
export const clusterFile = join(projectRoot, ".quorumkv", "cluster.json");

const cliUsage = `Usage: npm start -- [flags]

Starts 1 leader + N followers on consecutive ports, prints their URLs and the cluster token,
writes them to .quorumkv/cluster.json for the tools, and stops every node on Ctrl-C.`;

const cliFlags = {
  followers: { type: "number", default: 5, integer: true, min: 0, help: "followers" },
  quorum: { type: "number", integer: true, min: 0, help: "WRITE_QUORUM (default min(3, followers))" },
  minDelayMs: { type: "number", min: 0, help: "MIN_DELAY_MS (node default 0.1)" },
  maxDelayMs: { type: "number", min: 0, help: "MAX_DELAY_MS (node default 10)" },
  basePort: { type: "number", default: 5001, integer: true, min: 0, max: 65535, help: "the leader's port, followers take the next ones (0: free ports)" },
  host: { type: "string", help: "listen address (default 127.0.0.1)" },
  token: { type: "string", help: "cluster token (default: a random one)" },
} as const;

function parseCliFlags(): ClusterOptions {
  const flags = parseToolFlags("quorumkv cluster", cliUsage, cliFlags);
  const { quorum, ...options } = flags;
  return { ...options, writeQuorum: quorum, output: "inherit" };
}

async function main() {
  const options = parseCliFlags();
  const cluster = await startCluster(options).catch((error: Error) => {
    console.error(`quorumkv cluster: ${error.message}`);
    process.exit(1);
  });
  mkdirSync(dirname(clusterFile), { recursive: true });
  writeFileSync(
    clusterFile,
    JSON.stringify(
      {
        leader: cluster.leader.url,
        followers: cluster.followers.map((f) => f.url),
        token: cluster.token,
        pids: cluster.nodes.map((n) => n.pid),
      },
      null,
      2,
    ),
  );
  const rows = cluster.nodes.map((n) => `  ${n.id.padEnd(10)} ${n.role.padEnd(9)} ${n.url}   pid ${n.pid}`);
  const leaderUrl = cluster.leader.url;
  console.log(`
quorumkv: ${cluster.followers.length} followers, write quorum ${options.writeQuorum ?? Math.min(3, cluster.followers.length)}, all healthy
${rows.join("\n")}

  token   ${cluster.token}   (also in .quorumkv/cluster.json)

Try:
  curl -X PUT ${leaderUrl}/kv/greeting -H 'content-type: application/json' -d '{"value": "hello"}'
  curl ${cluster.followers[0]?.url ?? leaderUrl}/kv/greeting
  curl ${leaderUrl}/status

Ctrl-C stops every node.`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log("\nquorumkv cluster: stopping all nodes");
    await cluster.stop();
    rmSync(clusterFile, { force: true });
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

if (import.meta.main) await main();
