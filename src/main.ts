import { ConfigError, type Config, configHelp, parseConfig } from "./config.ts";
import { createApp, replicateBodyLimitBytes } from "./http/app.ts";
import { Logger, type NodeLog } from "./log.ts";
import { streamHandler, streamUpgrader } from "./http/stream.ts";
import { productionFollowerEnv, realClock, realDelays, realRandom, realTimers } from "./node/env.ts";
import { FollowerNode } from "./node/follower-node.ts";
import { HttpTransport } from "./node/http-transport.ts";
import { LeaderNode } from "./node/leader-node.ts";
import { NodeMetrics } from "./node/metrics.ts";
import { RecoveryFailed, recoverFromFollowers, storedRecoveryData } from "./node/recovery.ts";
import { MemoryStorage, type Storage, type StoredData } from "./node/storage.ts";
import { DiskStorage } from "./storage/disk-storage.ts";
import { StorageCorrupt } from "./storage/load.ts";
import { StreamTransport } from "./node/stream-transport.ts";
import { PeerNode } from "./node/peer-node.ts";
import { HttpPeerRpc } from "./node/peer-transport.ts";
import { peerApp, peerReplication } from "./http/peer-routes.ts";
import type { Transport } from "./node/transport.ts";

function loadConfig(): Config {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(configHelp);
    process.exit(0);
  }
  try {
    return parseConfig(process.env, argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`quorumkv: invalid config: ${error.message}`);
    process.exit(2);
  }
}

/** DATA_DIR's storage and what it holds, or memory; a DATA_DIR that cannot be repaired stops the process with one line. */
function openStorage(config: Config, log: NodeLog, metrics: NodeMetrics): { storage: Storage; stored?: StoredData } {
  if (config.dataDir === null) return { storage: new MemoryStorage() };
  try {
    const started = performance.now();
    const storageLog = (line: string) => log(line, { event: "storage", level: "warn" });
    const { storage, data } = DiskStorage.open(config.dataDir, config.sync, {
      clock: realClock,
      timers: realTimers,
      log: storageLog,
      observeSync: (seconds) => metrics.storageSynced(seconds),
    });
    const loadedMs = Math.round(performance.now() - started);
    const snapshotOffset = data.snapshot?.offset ?? 0;
    log(
      `storage: ${config.dataDir} (SYNC=${config.sync}): epoch ${data.epoch}, snapshot at ${snapshotOffset}, ${data.entries.length} entries after it, loaded in ${loadedMs} ms`,
      {
        event: "storage_loaded",
        fields: { dir: config.dataDir, sync: config.sync, epoch: data.epoch, snapshotOffset, entries: data.entries.length, loadedMs },
      },
    );
    return { storage, stored: data };
  } catch (error) {
    // A corrupt file (StorageCorrupt names it) or a directory that cannot be opened: one line.
    const reason = error instanceof StorageCorrupt ? error.message : `${config.dataDir}: ${error instanceof Error ? error.message : String(error)}`;
    console.error(`quorumkv ${config.nodeId}: refusing to start: ${reason}`);
    process.exit(3);
  }
}

/** The node's storage, closed on a clean stop (SYNC=none buffers writes). */
let openedStorage: Storage | null = null;

const newTransport = (config: Config): Transport =>
  config.transport === "http" ? new HttpTransport(config.clusterToken) : new StreamTransport(config.clusterToken);

/** Among PEERS (docs/failover.md): a follower that may stand for election; ROLE=leader stands at once. */
function createPeer(config: Config, metrics: NodeMetrics, logger: Logger): PeerNode {
  const log = logger.forNode;
  const { storage, stored } = openStorage(config, log, metrics);
  openedStorage = storage;
  return new PeerNode(config, {
    clock: realClock,
    timers: realTimers,
    random: realRandom,
    storage,
    stored,
    log,
    newTransport: () => newTransport(config),
    newDelays: realDelays,
    rpc: new HttpPeerRpc(config.clusterToken),
    observer: metrics,
    elections: metrics,
  });
}

async function createNode(config: Config, metrics: NodeMetrics, logger: Logger): Promise<LeaderNode | FollowerNode> {
  const log = logger.forNode;
  const { storage, stored } = openStorage(config, log, metrics);
  openedStorage = storage;
  if (config.role === "follower") return new FollowerNode(config, { ...productionFollowerEnv(log), storage, stored });
  const transport = newTransport(config);
  const own = stored && storedRecoveryData(stored);
  const recovery = await recoverFromFollowers(config.nodeId, config.followers, config.writeQuorum, {
    clock: realClock,
    timers: realTimers,
    transport,
    log,
    own,
  });
  return new LeaderNode(
    config,
    { clock: realClock, timers: realTimers, random: realRandom, transport, storage, delays: realDelays(), log, observer: metrics },
    recovery,
  );
}

const config = loadConfig();
// A leader listens only once it has recovered what its followers hold, so /health means ready.
const logger = new Logger({ node: config.nodeId, level: config.logLevel, format: config.logFormat }, { role: config.role, epoch: null });
const metrics = new NodeMetrics(realClock, { peers: config.peers.length > 0 });
const peer = config.peers.length > 0 ? createPeer(config, metrics, logger) : null;
const node =
  peer ??
  (await createNode(config, metrics, logger).catch((error: unknown) => {
    // Recovery logged why it gave up; a supervisor may start the leader again.
    if (!(error instanceof RecoveryFailed)) throw error;
    process.exit(1);
  }));
const fixed = node instanceof PeerNode ? null : node;
logger.describeWith(() =>
  node instanceof PeerNode
    ? { role: node.role, epoch: node.epoch }
    : { role: node instanceof LeaderNode && node.core.deposedBy !== null ? "deposed" : node.role, epoch: node.epoch },
);
const app = node instanceof PeerNode ? peerApp(node, metrics) : createApp(node, metrics);
const streams = node instanceof PeerNode || node instanceof FollowerNode;
const upgradeToStream = streams ? streamUpgrader(config.clusterToken) : () => undefined;
const replicationTarget = node instanceof PeerNode ? peerReplication(node) : node instanceof FollowerNode ? node : null;
const server = Bun.serve({
  hostname: config.host,
  port: config.port,
  fetch(request, server) {
    const stream = upgradeToStream(request, server);
    if (stream === "upgraded") return undefined;
    return stream ?? app.fetch(request, server);
  },
  // Only followers (and every node among PEERS) upgrade (to /internal/stream); Bun's types want one handler either way.
  websocket: replicationTarget ? streamHandler(replicationTarget, replicateBodyLimitBytes(config.maxValueBytes)) : { message() {} },
  // The app refuses oversize bodies with a JSON 413 (src/http/app.ts); Bun's own limit would
  // answer first, in plain text, so it sits above anything a client can announce.
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  idleTimeout: 30,
});
if (fixed instanceof LeaderNode) fixed.start();
peer?.start(config.role === "leader");
const url = `http://${server.hostname}:${server.port}`;
logger.info("start", `listening on ${url}`, {
  url,
  writeQuorum: fixed instanceof LeaderNode ? fixed.core.writeQuorum : undefined,
  followers: config.followers.length || undefined,
  leader: config.leaderUrl ?? undefined,
  transport: fixed instanceof LeaderNode ? config.transport : undefined,
  peers: peer ? config.peers.length : undefined,
  pid: process.pid,
});

function shutdown(signal: string) {
  logger.info("stop", "stopping", { signal });
  node.stop();
  if (openedStorage instanceof DiskStorage) openedStorage.close();
  server.stop(true);
  process.exit(0);
}
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));

// A node started by a launcher dies with it, so a killed test run leaves no orphans.
const parentPid = Number(process.env.QUORUMKV_PARENT_PID);
if (parentPid > 0) {
  setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      shutdown("launcher gone");
    }
  }, 500).unref();
}
