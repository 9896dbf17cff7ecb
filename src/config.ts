import { z } from "zod";
import { constants } from "./core/constants.ts";
import { FlagError, type FlagSpecs, parseFlags } from "./flags.ts";
import { logFormats, logLevels } from "./log.ts";

/** One schema for env and CLI flags (`--write-quorum 3` is WRITE_QUORUM=3). Parsed once, frozen. */

const blankToUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : typeof value === "string" ? value.trim() : value);

const number = (min: number, max: number) => z.preprocess(blankToUndefined, z.coerce.number().finite().min(min).max(max));
const integer = (min: number, max: number) => z.preprocess(blankToUndefined, z.coerce.number().int().min(min).max(max));
const text = () => z.preprocess(blankToUndefined, z.string());

/** Comma-separated base URLs. */
const urlList = (max: number) =>
  z
    .preprocess(
      (value) =>
        typeof value === "string"
          ? value
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : value,
      z.array(baseUrl).max(max),
    )
    .default([]);

const baseUrl = z
  .string()
  .url()
  .refine((url) => /^https?:\/\//.test(url), "must be an http(s) URL")
  .transform((url) => url.replace(/\/+$/, ""));

export const configSchema = z
  .object({
    ROLE: z.preprocess(blankToUndefined, z.enum(["leader", "follower"], { error: "must be leader or follower" })),
    NODE_ID: text().optional(),
    HOST: text().default("127.0.0.1"),
    PORT: integer(1, 65535).default(5001),
    FOLLOWERS: urlList(constants.followersMax),
    PEERS: urlList(constants.followersMax + 1),
    ADVERTISE_URL: z.preprocess(blankToUndefined, baseUrl.optional()),
    ELECTION_TIMEOUT_MS: integer(1, 600_000).default(500),
    LEADER_URL: z.preprocess(blankToUndefined, baseUrl.optional()),
    WRITE_QUORUM: integer(0, constants.followersMax).default(3),
    MIN_DELAY_MS: number(0, 60_000).default(0.1),
    MAX_DELAY_MS: number(0, 60_000).default(10),
    QUORUM_TIMEOUT_MS: integer(1, 600_000).default(5000),
    HEARTBEAT_MS: integer(1, 60_000).default(50),
    LOG_RETENTION: integer(1, 100_000_000).default(100_000),
    TRANSPORT: z.preprocess(blankToUndefined, z.enum(["websocket", "http"], { error: "must be websocket or http" }).default("websocket")),
    MAX_PENDING_WRITES: integer(1, 10_000_000).default(10_000),
    CLUSTER_TOKEN: text().pipe(z.string().min(8, "must be at least 8 characters")),
    MAX_KEY_BYTES: integer(1, 65_536).default(1024),
    MAX_VALUE_BYTES: integer(16, 1024 * 1024 * 1024).default(1024 * 1024),
    LOG_LEVEL: z.preprocess(blankToUndefined, z.enum(logLevels, { error: "must be debug, info, warn or error" }).default("info")),
    LOG_FORMAT: z.preprocess(blankToUndefined, z.enum(logFormats, { error: "must be json or pretty" }).default("json")),
    DATA_DIR: text().optional(),
    SYNC: z.preprocess(blankToUndefined, z.enum(["fsync", "write", "none"], { error: "must be fsync, write or none" }).default("fsync")),
  })
  .superRefine((config, context) => {
    if (config.MIN_DELAY_MS > config.MAX_DELAY_MS) {
      context.addIssue({ code: "custom", path: ["MIN_DELAY_MS"], message: `must not exceed MAX_DELAY_MS (${config.MAX_DELAY_MS})` });
    }
    if (config.PEERS.length > 0) {
      peerProblems(config, context);
    } else if (config.ADVERTISE_URL !== undefined) {
      context.addIssue({ code: "custom", path: ["ADVERTISE_URL"], message: "is only meaningful with PEERS" });
    } else if (config.ROLE === "leader" && config.FOLLOWERS.length === 0) {
      context.addIssue({ code: "custom", path: ["FOLLOWERS"], message: "is required for a leader: comma-separated follower base URLs" });
    } else if (config.ROLE === "leader" && config.WRITE_QUORUM > config.FOLLOWERS.length) {
      context.addIssue({
        code: "custom",
        path: ["WRITE_QUORUM"],
        message: `must be at most the number of FOLLOWERS (${config.FOLLOWERS.length})`,
      });
    }
  })
  .transform((config) => ({
    role: config.ROLE,
    peers: config.PEERS,
    /** This node's URL as written in PEERS (null without PEERS). */
    advertiseUrl: config.PEERS.length > 0 ? advertiseUrl(config) : null,
    electionTimeoutMs: config.ELECTION_TIMEOUT_MS,
    nodeId: config.NODE_ID ?? `${config.ROLE}-${config.PORT}`,
    host: config.HOST,
    port: config.PORT,
    followers: config.FOLLOWERS,
    leaderUrl: config.LEADER_URL ?? null,
    writeQuorum: config.WRITE_QUORUM,
    minDelayMs: config.MIN_DELAY_MS,
    maxDelayMs: config.MAX_DELAY_MS,
    quorumTimeoutMs: config.QUORUM_TIMEOUT_MS,
    heartbeatMs: config.HEARTBEAT_MS,
    logRetention: config.LOG_RETENTION,
    transport: config.TRANSPORT,
    maxPendingWrites: config.MAX_PENDING_WRITES,
    clusterToken: config.CLUSTER_TOKEN,
    maxKeyBytes: config.MAX_KEY_BYTES,
    maxValueBytes: config.MAX_VALUE_BYTES,
    logLevel: config.LOG_LEVEL,
    logFormat: config.LOG_FORMAT,
    dataDir: config.DATA_DIR ?? null,
    sync: config.SYNC,
  }));

interface PeerSettings {
  PEERS: string[];
  ADVERTISE_URL?: string | undefined;
  PORT: number;
  WRITE_QUORUM: number;
}

/** ADVERTISE_URL, or the one PEERS entry whose port is PORT. */
function advertiseUrl(config: PeerSettings): string {
  if (config.ADVERTISE_URL !== undefined) return config.ADVERTISE_URL;
  return config.PEERS.find((url) => urlPort(url) === config.PORT)!;
}

function urlPort(url: string): number {
  const parsed = new URL(url);
  return parsed.port ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
}

/** With PEERS: this node is one of them, exactly once, and the write quorum fits the others. */
function peerProblems(config: PeerSettings, context: z.RefinementCtx): void {
  if (new Set(config.PEERS).size !== config.PEERS.length) {
    context.addIssue({ code: "custom", path: ["PEERS"], message: "lists a URL twice" });
    return;
  }
  if (config.PEERS.length < 2) {
    context.addIssue({ code: "custom", path: ["PEERS"], message: "needs at least two nodes (this one included)" });
    return;
  }
  if (config.ADVERTISE_URL !== undefined && !config.PEERS.includes(config.ADVERTISE_URL)) {
    context.addIssue({ code: "custom", path: ["ADVERTISE_URL"], message: `must be one of PEERS (${config.PEERS.join(", ")})` });
    return;
  }
  if (config.ADVERTISE_URL === undefined) {
    const matching = config.PEERS.filter((url) => urlPort(url) === config.PORT).length;
    if (matching !== 1) {
      const why = matching === 0 ? `no PEERS entry has port ${config.PORT}` : `${matching} PEERS entries have port ${config.PORT}`;
      context.addIssue({ code: "custom", path: ["ADVERTISE_URL"], message: `is needed: ${why} (set ADVERTISE_URL to this node's URL in PEERS)` });
      return;
    }
  }
  if (config.WRITE_QUORUM > config.PEERS.length - 1) {
    context.addIssue({ code: "custom", path: ["WRITE_QUORUM"], message: `must be at most the number of other PEERS (${config.PEERS.length - 1})` });
  }
}

export type Config = Readonly<z.output<typeof configSchema>>;
export const configNames = Object.keys(configSchema.in.shape) as (keyof typeof configSchema.in.shape)[];

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** WRITE_QUORUM is the flag spec writeQuorum, that is --write-quorum; zod checks the values. */
const flagKey = (name: string) => name.toLowerCase().replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
export const configFlags: FlagSpecs = Object.fromEntries(configNames.map((name) => [flagKey(name), { type: "string", help: name }]));

/** Reads `--name value` and `--name=value` into env names; unknown flags are errors. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  let values: Record<string, unknown>;
  try {
    values = parseFlags(argv, configFlags).values;
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    throw new ConfigError(`${error.message} (see --help)`);
  }
  return configValuesToEnv(values);
}

/** Parsed flag values (configFlags' keys) back to the env names they stand for. */
export function configValuesToEnv(values: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of configNames) {
    const value = values[flagKey(name)];
    if (typeof value === "string") env[name] = value;
  }
  return env;
}

/** Env first, flags override. Throws ConfigError with one line naming the variable. */
export function parseConfig(env: Record<string, string | undefined>, argv: readonly string[] = []): Config {
  const input: Record<string, string | undefined> = {};
  for (const name of configNames) input[name] = env[name];
  Object.assign(input, flagsToEnv(argv));
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? "config");
    const message = issue.code === "invalid_type" && input[name] === undefined ? "is required" : issue.message;
    throw new ConfigError(`${name}: ${message}`);
  }
  return Object.freeze(result.data);
}

export const configHelp = `Usage: ROLE=leader|follower bun src/main.ts [--flag value]...

Every setting is an environment variable or the same name as a --kebab-case flag.
  ROLE                leader | follower (required)
  NODE_ID             name in status and logs (default: role-port)
  HOST, PORT          listen address (default 127.0.0.1:5001)
  FOLLOWERS           leader: comma-separated follower base URLs
  LEADER_URL          follower: the leader's base URL, reported on 421
  PEERS               every node's base URL, this one included: automatic failover, any
                      node may lead (ROLE=leader then only stands for election at once when
                      started); wins over FOLLOWERS/LEADER_URL; see docs/failover.md
  ADVERTISE_URL       with PEERS: this node's URL as written there (default: the one entry
                      whose port is PORT)
  ELECTION_TIMEOUT_MS with PEERS: leader silence before a follower stands for election,
                      randomised up to 2x (default 500)
  WRITE_QUORUM        follower acks per write, 0..followers (default 3; 0 = asynchronous)
  MIN_DELAY_MS        simulated leader->follower delay, uniform min (default 0.1)
  MAX_DELAY_MS        simulated leader->follower delay, uniform max (default 10)
  QUORUM_TIMEOUT_MS   a write answers 503 quorum_timeout after this (default 5000)
  HEARTBEAT_MS        idle leader->follower message interval (default 50)
  LOG_RETENTION       log entries the leader keeps for catch-up (default 100000)
  TRANSPORT           leader->follower transport: websocket (one stream per follower, default)
                      or http (one fetch per message)
  MAX_PENDING_WRITES  leader: uncommitted log entries, and writes waiting for their answer,
                      each at most this; a write beyond answers 503 overloaded (default 10000)
  CLUSTER_TOKEN       shared secret for /internal/* and /admin/* (required, 8+ chars)
  MAX_KEY_BYTES       longest key in UTF-8 bytes (default 1024)
  MAX_VALUE_BYTES     largest request body in bytes (default 1048576)
  LOG_LEVEL           debug | info | warn | error: the least severe logged (default info)
  LOG_FORMAT          json (one object per line, default) | pretty (one readable line; npm start)
  DATA_DIR            keep the log, epoch promises and snapshots in this directory, and start
                      from them (default: none, everything in memory; see docs/storage.md)
  SYNC                with DATA_DIR, when a write counts as stored: fsync (fdatasync before
                      acknowledging, default), write (handed to the OS: survives a process
                      crash, not a power cut) or none (written in the background)
`;
