import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { ConfigError, configNames } from "../src/config.ts";
import { parseLauncherArgs, portIsFree } from "../src/cluster.ts";
import { http, waitFor } from "./helpers.ts";

// `npm start` as a newcomer meets it (issue 10): the launcher CLI as real processes, with its
// cluster.json in a temp folder so a developer's own .quorumkv/ is never touched.

const projectRoot = resolve(import.meta.dir, "..");
const stateDir = mkdtempSync(join(tmpdir(), "quorumkv-launcher-"));
const clusterFile = join(stateDir, "cluster.json");

// Started first, awaited last, so it runs while the cluster tests do: a plain `bun test` of two
// files, the second with a test that outlasts Bun's 5 s default, passes only if the preload of
// bunfig.toml reaches every file. (bunfig.toml keeps test/fixtures/ out of the main run.)
const plainBunTest = Bun.spawn([process.execPath, "test", "--path-ignore-patterns=node_modules/**", "./test/fixtures/timeout/"], {
  cwd: projectRoot,
  env: { PATH: process.env.PATH, HOME: process.env.HOME },
  stdout: "pipe",
  stderr: "pipe",
});

/** A launcher and the node PIDs it reported, all killed after the file if still running. */
interface Launcher {
  child: Subprocess<"ignore", "pipe", "pipe">;
  stdout: string;
  stderr: string;
  done: Promise<number>;
}
const launchers: Launcher[] = [];
const nodePids = new Set<number>();

afterAll(() => {
  for (const launcher of launchers) launcher.child.kill("SIGKILL");
  for (const pid of nodePids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  plainBunTest.kill("SIGKILL");
  rmSync(stateDir, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `bun src/cluster.ts` directly (no `bun run` in between, so signals reach the launcher). */
function launch(args: string[], env: Record<string, string> = {}): Launcher {
  const child = Bun.spawn([process.execPath, "src/cluster.ts", ...args], {
    cwd: projectRoot,
    // Only what the test sets: a WRITE_QUORUM or CLUSTER_TOKEN in the runner's env must not leak in.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, QUORUMKV_STATE_DIR: stateDir, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const launcher: Launcher = { child, stdout: "", stderr: "", done: child.exited };
  const collect = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) launcher[into] += decoder.decode(chunk, { stream: true });
  };
  void collect(child.stdout, "stdout");
  void collect(child.stderr, "stderr");
  launchers.push(launcher);
  return launcher;
}

async function healthy(launcher: Launcher): Promise<void> {
  await waitFor(
    "the launcher to report all healthy",
    () => {
      if (launcher.child.exitCode !== null) throw new Error(`launcher exited ${launcher.child.exitCode}: ${launcher.stderr}`);
      return launcher.stdout.includes("all healthy");
    },
    60_000,
  );
  for (const match of launcher.stdout.matchAll(/ pid (\d+)$/gm)) nodePids.add(Number(match[1]));
}

/** `count` consecutive free ports below the ephemeral range, where free ports for other tests come from. */
function freePortRange(count: number): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    if (Array.from({ length: count }, (_, i) => base + i).every((port) => portIsFree("127.0.0.1", port))) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

const nodePidsOf = (launcher: Launcher) => [...launcher.stdout.matchAll(/ pid (\d+)$/gm)].map((match) => Number(match[1]));

async function allGone(pids: number[]): Promise<void> {
  await waitFor(`processes ${pids.join(", ")} to exit`, () => pids.every((pid) => !isAlive(pid)), 15_000);
}

describe("a second npm start, signals and settings from the environment", () => {
  const token = "env-token-0123456789";
  const base = freePortRange(3);
  const leaderUrl = `http://127.0.0.1:${base}`;
  let first: Launcher;

  test("WRITE_QUORUM and CLUSTER_TOKEN from the environment reach the nodes; the token is printed as export TOKEN=", async () => {
    first = launch(["--base-port", String(base), "--followers", "2"], { WRITE_QUORUM: "1", CLUSTER_TOKEN: token });
    await healthy(first);
    expect((await http(`${leaderUrl}/status`)).body.writeQuorum).toBe(1);
    expect((await http(`${leaderUrl}/internal/digest`, { token })).status).toBe(200);
    expect((await http(`${leaderUrl}/internal/digest`, { token: "some-other-token-000" })).status).toBe(401);
    expect(first.stdout).toContain(`\n  export TOKEN=${token}\n`);
    expect(JSON.parse(readFileSync(clusterFile, "utf8"))).toMatchObject({ leader: leaderUrl, token, launcherPid: first.child.pid });
  });

  test("a second launcher on the same ports refuses before starting anything, naming the port and the cluster", async () => {
    const savedBefore = readFileSync(clusterFile, "utf8");
    const followerUrl = `http://127.0.0.1:${base + 1}`;
    const epochBefore = (await http(`${followerUrl}/status`)).body.epoch;
    const second = launch(["--base-port", String(base), "--followers", "2"], { CLUSTER_TOKEN: token });
    expect(await second.done).toBe(1);
    await waitFor("the refusal on stderr", () => second.stderr.includes("\n"));
    expect(second.stderr.trim()).toBe(
      `quorumkv cluster: port ${base} is in use (the cluster started by pid ${first.child.pid} on ${base}–${base + 2}, see ${clusterFile}); stop it first or pass --base-port`,
    );
    expect(second.stdout).not.toContain("listening"); // no node of its own ever started
    // The first cluster is untouched: not fenced, still writing at its quorum, still in cluster.json.
    expect((await http(`${followerUrl}/status`)).body.epoch).toBe(epochBefore);
    const written = await http(`${leaderUrl}/kv/after-refusal`, { method: "PUT", json: { value: 1 } });
    expect(written.status).toBe(200);
    expect(readFileSync(clusterFile, "utf8")).toBe(savedBefore);
  });

  test("a launcher on other ports runs beside it, leaves its cluster.json alone, and SIGHUP stops its nodes", async () => {
    const savedBefore = readFileSync(clusterFile, "utf8");
    const other = launch(["--base-port", String(freePortRange(2)), "--followers", "1", "--write-quorum", "1", "--cluster-token", "it's a token"]);
    await healthy(other);
    expect(other.stdout).toContain(`not saved: ${clusterFile} is the cluster of pid ${first.child.pid}`);
    expect(other.stdout).toContain("\n  export TOKEN='it'\\''s a token'\n"); // one shell word, however the token is spelt
    const pids = nodePidsOf(other);
    expect(pids).toHaveLength(2);
    other.child.kill("SIGHUP");
    expect(await other.done).toBe(0);
    await allGone(pids);
    expect(readFileSync(clusterFile, "utf8")).toBe(savedBefore);
  });

  test("SIGTERM to the launcher stops every node it started and removes its cluster.json", async () => {
    const pids = nodePidsOf(first);
    expect(pids).toHaveLength(3);
    first.child.kill("SIGTERM");
    expect(await first.done).toBe(0);
    await allGone(pids);
    expect(existsSync(clusterFile)).toBe(false);
  });
});

test("a port held by something else is named, with no cluster blamed", async () => {
  const base = freePortRange(2);
  const holder = Bun.listen({ hostname: "127.0.0.1", port: base + 1, socket: { data() {} } });
  try {
    const launcher = launch(["--base-port", String(base), "--followers", "1"]);
    expect(await launcher.done).toBe(1);
    await waitFor("the refusal on stderr", () => launcher.stderr.includes("\n"));
    expect(launcher.stderr.trim()).toBe(`quorumkv cluster: port ${base + 1} is in use; stop what holds it or pass --base-port`);
    expect(launcher.stdout).not.toContain("listening");
  } finally {
    holder.stop(true);
  }
});

test("SIGTERM while nodes are still starting stops the ones already running", async () => {
  const launcher = launch(["--base-port", String(freePortRange(6)), "--followers", "5"]);
  await waitFor("a first node to listen", () => launcher.stdout.includes("listening"), 60_000);
  // The launcher's children right now (the nodes report their PIDs only once all are healthy).
  const ps = Bun.spawnSync(["ps", "-o", "pid=", "--ppid", String(launcher.child.pid)]);
  const children = ps.stdout.toString().split("\n").filter(Boolean).map(Number);
  for (const pid of children) nodePids.add(pid);
  expect(children.length).toBeGreaterThan(0);
  launcher.child.kill("SIGTERM");
  expect(await launcher.done).toBe(0);
  await allGone(children);
});

describe("launcher settings: env or flag, checked before anything starts", () => {
  const noEnv = {};
  test("defaults: five followers from 5001, quorum 3, a generated 32-hex-digit token", () => {
    const options = parseLauncherArgs([], noEnv);
    expect(options).toMatchObject({ followers: 5, basePort: 5001, host: "127.0.0.1", writeQuorum: 3 });
    expect(options.token).toMatch(/^[0-9a-f]{32}$/);
    expect(parseLauncherArgs(["--followers", "2"], noEnv).writeQuorum).toBe(2);
  });

  test("every node setting comes from the environment, and a flag of the same name wins", () => {
    const env = { WRITE_QUORUM: "2", CLUSTER_TOKEN: "env-token-0123456789", QUORUM_TIMEOUT_MS: "800", UNRELATED: "x" };
    expect(parseLauncherArgs([], env)).toMatchObject({
      writeQuorum: 2,
      token: "env-token-0123456789",
      env: { WRITE_QUORUM: "2", CLUSTER_TOKEN: "env-token-0123456789", QUORUM_TIMEOUT_MS: "800" },
    });
    expect(parseLauncherArgs([], env).env).not.toHaveProperty("UNRELATED");
    const flagged = parseLauncherArgs(["--quorum", "4", "--token=flag-token-0123456789", "--max-delay-ms", "2"], env);
    expect(flagged).toMatchObject({ writeQuorum: 4, token: "flag-token-0123456789", env: { MAX_DELAY_MS: "2" } });
    expect(parseLauncherArgs(["--write-quorum", "5"], env).writeQuorum).toBe(5);
    for (const name of ["WRITE_QUORUM", "CLUSTER_TOKEN", "MIN_DELAY_MS", "HEARTBEAT_MS"]) expect(configNames as string[]).toContain(name);
  });

  const refused: [what: string, argv: string[], env: Record<string, string>, message: RegExp][] = [
    ["a quorum above the followers", [], { WRITE_QUORUM: "6" }, /^WRITE_QUORUM: must be at most the number of FOLLOWERS \(5\)$/],
    ["a short token", ["--token", "abc"], {}, /^CLUSTER_TOKEN: must be at least 8 characters$/],
    ["a bad delay", [], { MIN_DELAY_MS: "fast" }, /^MIN_DELAY_MS: /],
    ["no followers", ["--followers", "0"], {}, /^--followers must be at least 1, got 0 \(see --help\)$/],
    ["a per-node setting", ["--port", "6000"], {}, /^--port is set by the launcher for each node/],
    ["an unknown flag", ["--qourum", "2"], {}, /unknown flag --qourum/],
    ["a flag without its value", ["--base-port"], {}, /^--base-port needs a value \(see --help\)$/],
  ];
  for (const [what, argv, env, message] of refused) {
    test(`${what} is one line naming it`, () => {
      expect(() => parseLauncherArgs(argv, env)).toThrow(ConfigError);
      expect(() => parseLauncherArgs(argv, env)).toThrow(message);
    });
  }
});

test("a plain `bun test` gets the preload's timeout in every file, so a test may outlast Bun's default 5 s", async () => {
  const [code, stdout, stderr] = await Promise.all([plainBunTest.exited, new Response(plainBunTest.stdout).text(), new Response(plainBunTest.stderr).text()]);
  const output = `${stdout}${stderr}`;
  expect({ code, files: output.match(/^test\/fixtures\/timeout\/\S+:$/gm), counts: output.match(/^ *\d+ (pass|fail)$/gm)?.map((line) => line.trim()) }).toEqual(
    {
      code: 0,
      files: ["test/fixtures/timeout/1-first.test.ts:", "test/fixtures/timeout/2-second.test.ts:"],
      counts: ["2 pass", "0 fail"],
    },
  );
});
