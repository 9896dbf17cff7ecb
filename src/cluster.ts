import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { ConfigError, configFlags, configNames, configValuesToEnv, parseConfig } from "./config.ts";
import { FlagError, type FlagSpecs, type FlagValues, parseFlags } from "./flags.ts";
import { type ClusterFile, clusterFile, describeTakenPort, isAlive, readClusterFile, shellWord, shownPath, stateDir } from "./cluster-file.ts";
import { constants } from "./core/constants.ts";
import { waitForLeader } from "./cluster-leader.ts";
import { freePort, portIsFree } from "./free-port.ts";

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
  /** Each node keeps its data in `<dataDir>/<node id>` (DATA_DIR) and starts from it; omit for memory only. */
  dataDir?: string;
  /** Wipe `dataDir` first (`npm start -- --fresh`). */
  fresh?: boolean;
  /** Extra env for every node. */
  env?: Record<string, string>;
  /** Where each node's output goes: a folder (one file per node), the terminal, or nowhere. */
  output?: { logDir: string } | "inherit" | "ignore";
  /** Bound on waiting for a node to answer /health. */
  startTimeoutMs?: number;
  /**
   * Every node gets PEERS (all of them) and may lead (automatic failover, docs/failover.md); the
   * node started as leader stands at once. `leader` is then whichever node leads once started.
   */
  peers?: boolean;
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
  /** The leader once started (among PEERS another node may lead later: see `leaderOf`). */
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

/** Sends `signal`; resolves once the process is gone, with SIGKILL after `stopTimeoutMs`. */
async function stopChild(child: Subprocess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (signal !== "SIGKILL") child.kill("SIGCONT"); // a paused node cannot handle SIGTERM
  child.kill(signal);
  const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(stopTimeoutMs).then(() => false)]);
  if (!exited) {
    child.kill("SIGKILL");
    await child.exited;
  }
}

export function generateToken(): string {
  return randomBytes(16).toString("hex");
}

/** Thrown by `startCluster` before it spawns anything: a port it needs is taken. */
export class PortInUseError extends Error {
  override name = "PortInUseError";
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`port ${port} on ${host} is in use`);
  }
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
  const dataDirEnv = options.dataDir ? { DATA_DIR: join(options.dataDir, id) } : {};
  const spawn = () => {
    const stdout = typeof output === "object" ? Bun.file(join(output.logDir, `${id}.log`)) : output === "inherit" ? "inherit" : "ignore";
    child = Bun.spawn([process.execPath, mainPath], {
      cwd: projectRoot,
      env: { ...process.env, ...env, ...dataDirEnv, ROLE: role, NODE_ID: id, HOST: host, PORT: String(port), QUORUMKV_PARENT_PID: String(process.pid) },
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
      if (child && isRunning()) await stopChild(child, signal);
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
  // Before anything starts: a node on a taken port would exit, but its health checks would be
  // answered by whatever holds the port, and a new leader would fence that cluster's followers.
  const taken = ports.find((port) => !portIsFree(host, port));
  if (taken !== undefined) throw new PortInUseError(host, taken);
  if (typeof options.output === "object") mkdirSync(options.output.logDir, { recursive: true });
  if (options.fresh && options.dataDir) rmSync(options.dataDir, { recursive: true, force: true });
  const common: Record<string, string> = { ...options.env, CLUSTER_TOKEN: token };
  const set = (name: string, value: number | undefined) => {
    if (value !== undefined) common[name] = String(value);
  };
  set("MIN_DELAY_MS", options.minDelayMs);
  set("MAX_DELAY_MS", options.maxDelayMs);
  set("QUORUM_TIMEOUT_MS", options.quorumTimeoutMs);
  set("HEARTBEAT_MS", options.heartbeatMs);
  set("LOG_RETENTION", options.logRetention);
  const leaderUrl = `http://${host}:${ports[0]}`;
  const urls = ports.map((port) => `http://${host}:${port}`);
  const writeQuorum = String(options.writeQuorum ?? Math.min(3, followerCount));
  // Among PEERS every node knows every node and the write quorum; otherwise roles are fixed.
  const followerEnv = options.peers ? { ...common, PEERS: urls.join(","), WRITE_QUORUM: writeQuorum } : { ...common, LEADER_URL: leaderUrl };
  const followers = ports.slice(1).map((port, i) => makeNode(`follower${i + 1}`, "follower", host, port, followerEnv, options));
  const leaderEnv = options.peers ? followerEnv : { ...common, FOLLOWERS: followers.map((f) => f.url).join(","), WRITE_QUORUM: writeQuorum };
  const started = makeNode("leader", "leader", host, ports[0]!, leaderEnv, options);
  const nodes = [started, ...followers];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    if (options.peers) {
      await Promise.all(nodes.map((node) => node.start()));
      const leader = await waitForLeader(nodes, options.startTimeoutMs ?? 15_000);
      return { token, leader, followers: nodes.filter((node) => node !== leader), nodes, stop };
    }
    await Promise.all(followers.map((f) => f.start()));
    await started.start();
  } catch (error) {
    await stop();
    throw error;
  }
  return { token, leader: started, followers, nodes, stop };
}

export { clusterFile, stateDir } from "./cluster-file.ts";
export { leaderOf, waitForLeader } from "./cluster-leader.ts";
export { freePort, portIsFree } from "./free-port.ts";

const cliHelp = `Usage: npm start -- [--followers 5] [--quorum 3] [--base-port 5001] [--host 127.0.0.1] [--token T] [--fresh] [--SETTING v]...

Starts 1 leader + N followers on consecutive ports (refusing if one is taken), every node given
PEERS (all of them): if the leader dies another takes over (docs/failover.md). Prints their URLs
and the cluster token, writes them to .quorumkv/cluster.json for the tools (QUORUMKV_STATE_DIR
moves that folder), and stops every node on Ctrl-C, SIGTERM or SIGHUP. Each node keeps its data
in .quorumkv/data/<node> and starts from it next time; --fresh wipes it first.
Every node setting (bun src/main.ts --help) is read from the environment or the same name as a
flag: WRITE_QUORUM=2 or --write-quorum 2 (--quorum), CLUSTER_TOKEN or --cluster-token (--token).
The launcher sets ROLE, NODE_ID, PORT, PEERS, FOLLOWERS, LEADER_URL and DATA_DIR itself.
`;

/** Settings the launcher gives each node itself. */
const perNodeNames = new Set(["ROLE", "NODE_ID", "PORT", "FOLLOWERS", "LEADER_URL", "DATA_DIR", "PEERS", "ADVERTISE_URL"]);

/** Node settings as flags, but --followers, which is the launcher's count (it sets FOLLOWERS itself). */
const { followers: _followerUrls, ...nodeSettingFlags } = configFlags;

/** The launcher's own flags; every node setting is a flag too, and two have short forms. */
const launcherFlags = {
  ...nodeSettingFlags,
  followers: { type: "number", default: 5, integer: true, min: 1, max: constants.followersMax, help: "followers" },
  basePort: {
    type: "number",
    default: 5001,
    integer: true,
    min: 1,
    max: 65_535 - constants.followersMax,
    help: "the leader's port; followers take the next ones",
  },
  quorum: { type: "string", help: "short for --write-quorum" },
  token: { type: "string", help: "short for --cluster-token" },
  fresh: { type: "boolean", help: "wipe the nodes' data (.quorumkv/data) first" },
} as const satisfies FlagSpecs;

/**
 * The launcher's options from its flags and the environment (flags win), checked the way the
 * leader will check them, so a bad value is one line before anything starts. Throws ConfigError.
 */
export function parseLauncherArgs(argv: readonly string[], env: Record<string, string | undefined>): ClusterOptions {
  let values: FlagValues<typeof launcherFlags>;
  try {
    values = parseFlags(argv, launcherFlags).values;
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    throw new ConfigError(`${error.message} (see --help)`);
  }
  const fromFlags = configValuesToEnv(values);
  if (values.quorum !== undefined) fromFlags.WRITE_QUORUM ??= values.quorum;
  if (values.token !== undefined) fromFlags.CLUSTER_TOKEN ??= values.token;
  const perNode = Object.keys(fromFlags).find((name) => perNodeNames.has(name));
  if (perNode) throw new ConfigError(`--${perNode.toLowerCase().replace(/_/g, "-")} is set by the launcher for each node (see --help)`);
  const settings: Record<string, string> = {};
  for (const name of configNames) {
    const fromEnv = env[name];
    if (fromEnv?.trim() && !perNodeNames.has(name)) settings[name] = fromEnv;
  }
  Object.assign(settings, fromFlags);
  const { followers, basePort } = values;
  const host = settings.HOST?.trim() || "127.0.0.1";
  const followerUrls = Array.from({ length: followers }, (_, i) => `http://${host}:${basePort + 1 + i}`);
  const leader = parseConfig({
    ...settings,
    ROLE: "leader",
    PORT: String(basePort),
    FOLLOWERS: followerUrls.join(","),
    WRITE_QUORUM: settings.WRITE_QUORUM ?? String(Math.min(3, followers)),
    CLUSTER_TOKEN: settings.CLUSTER_TOKEN ?? generateToken(),
  });
  const dataDir = join(stateDir, "data");
  return {
    followers,
    basePort,
    host: leader.host,
    token: leader.clusterToken,
    writeQuorum: leader.writeQuorum,
    env: settings,
    output: "inherit",
    dataDir,
    fresh: values.fresh,
    peers: true,
  };
}

async function main() {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(cliHelp);
    process.exit(0);
  }
  let options: ClusterOptions;
  try {
    options = parseLauncherArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`quorumkv cluster: ${error.message}`);
    process.exit(2);
  }
  let written: string | null = null;
  let stopping = false;
  // Installed before the first node starts, so a signal during start stops what has started.
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nquorumkv cluster: ${signal}, stopping all nodes`);
    await Promise.all([...everyChild].map((child) => stopChild(child)));
    // Only the launcher that wrote cluster.json removes it: another one's cluster may be running.
    if (written !== null && readClusterFile()?.text === written) rmSync(clusterFile, { force: true });
    process.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown(signal));

  // Nodes started from a terminal log readable lines unless LOG_FORMAT says otherwise.
  const cluster = await startCluster({ ...options, env: { LOG_FORMAT: "pretty", ...options.env } }).catch((error: Error) => {
    if (stopping) return new Promise<never>(() => {}); // shutdown exits
    console.error(`quorumkv cluster: ${error instanceof PortInUseError ? describeTakenPort(error) : error.message}`);
    process.exit(1);
  });
  const saved: ClusterFile = {
    leader: cluster.leader.url,
    followers: cluster.followers.map((f) => f.url),
    nodes: cluster.nodes.map((n) => n.url),
    token: cluster.token,
    pids: cluster.nodes.map((n) => n.pid),
    launcherPid: process.pid,
  };
  const previous = readClusterFile()?.saved;
  let savedNote = `also in ${shownPath(clusterFile)}`;
  if (previous && previous.launcherPid !== process.pid && isAlive(previous.launcherPid)) {
    savedNote = `not saved: ${shownPath(clusterFile)} is the cluster of pid ${previous.launcherPid}, so tools need --leader and --token`;
  } else {
    mkdirSync(stateDir, { recursive: true });
    written = JSON.stringify(saved, null, 2);
    writeFileSync(clusterFile, written);
  }
  const rows = cluster.nodes.map((n) => `  ${n.id.padEnd(10)} ${(n === cluster.leader ? "leader" : "follower").padEnd(9)} ${n.url}   pid ${n.pid}`);
  const leaderUrl = cluster.leader.url;
  console.log(`
quorumkv: ${cluster.followers.length} followers, write quorum ${options.writeQuorum}, all healthy
${rows.join("\n")}
Data: ${shownPath(options.dataDir ?? "")}/<node> (kept across restarts; --fresh wipes it)

Dashboard (live, any node serves it): ${leaderUrl}/   metrics: ${leaderUrl}/metrics

The cluster token (${savedNote}); run this line to use $TOKEN below:
  export TOKEN=${shellWord(cluster.token)}

Try:
  curl -X PUT ${leaderUrl}/kv/greeting -H 'content-type: application/json' -d '{"value": "hello"}'
  curl ${cluster.followers[0]?.url ?? leaderUrl}/kv/greeting
  curl ${leaderUrl}/status
  curl ${leaderUrl}/internal/digest -H "authorization: Bearer $TOKEN"
  curl -X POST ${leaderUrl}/admin/step-down -H "authorization: Bearer $TOKEN"   # another node leads

Ctrl-C (or kill ${process.pid}) stops every node.`);
}

if (import.meta.main) await main();
