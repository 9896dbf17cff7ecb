import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * Every npm script that runs a program of ours answers --help with its usage on stdout and exit
 * 0, doing nothing else: no file written (git status and the results folders unchanged), nothing
 * left running (it exits by itself). An unknown flag is one line on stderr and exit 2.
 */

const root = resolve(import.meta.dir, "..");
const scripts = (await Bun.file(join(root, "package.json")).json()).scripts as Record<string, string>;
/** Not programs of ours: they run the compiler, the formatter and the tests. */
const notPrograms = ["test", "typecheck", "format", "format:check"];
/** A script that did not exit by then is doing more than printing its help. */
const exitBoundMs = 30_000;

interface Program {
  file: string;
  env: Record<string, string>;
}

/** `[NAME=value ...] bun file.ts` or `bun run other-script`, followed to the file it runs. */
function programOf(name: string, seen: string[] = []): Program {
  const script = scripts[name];
  if (script === undefined) throw new Error(`no script "${name}"`);
  if (seen.includes(name)) throw new Error(`scripts run each other in a loop: ${[...seen, name].join(" -> ")}`);
  const match = /^((?:[A-Z_]+=\S+ )*)bun (?:run ([a-z0-9-]+)|(\S+\.ts))$/.exec(script);
  if (!match) throw new Error(`script "${name}" is not of the form [NAME=value ...] bun file.ts: ${script}`);
  const env = Object.fromEntries(
    match[1]!
      .trim()
      .split(" ")
      .filter(Boolean)
      .map((pair) => pair.split("=") as [string, string]),
  );
  if (match[2] !== undefined) {
    const inner = programOf(match[2], [...seen, name]);
    return { file: inner.file, env: { ...inner.env, ...env } };
  }
  return { file: match[3]!, env };
}

async function run(program: Program, args: string[]): Promise<{ exitCode: number | null; stdout: string; stderr: string; ms: number }> {
  const startedMs = performance.now();
  const child = Bun.spawn([process.execPath, program.file, ...args], {
    cwd: root,
    env: { ...process.env, ...program.env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), exitBoundMs);
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  clearTimeout(timer);
  return { exitCode: child.signalCode === null ? child.exitCode : null, stdout, stderr, ms: performance.now() - startedMs };
}

/** What a script could have written: git's view of the tree (ignored paths included) and every file under the output folders. */
function fileState(): string {
  const status = Bun.spawnSync(["git", "status", "--porcelain", "--ignored"], { cwd: root }).stdout.toString();
  const files: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(`${path} ${statSync(path).mtimeMs} ${statSync(path).size}`);
    }
  };
  walk(join(root, "results"));
  walk(join(root, ".quorumkv"));
  return `${status}\n${files.join("\n")}`;
}

const programs = Object.keys(scripts).filter((name) => !notPrograms.includes(name));
const helpMs: string[] = [];
let before = "";
beforeAll(() => {
  before = fileState();
});
afterAll(() => {
  console.log(`--help times: ${helpMs.join(", ")}`);
});

describe("npm scripts", () => {
  test("every script but the listed non-programs runs one file of ours, and the list names real scripts", () => {
    for (const name of notPrograms) expect(scripts[name]).toBeDefined();
    for (const name of programs) expect(existsSync(join(root, programOf(name).file))).toBe(true);
    expect(programOf("start")).toEqual({ file: "src/cluster.ts", env: {} });
    expect(programOf("leader")).toEqual({ file: "src/main.ts", env: { ROLE: "leader" } });
  });

  test("every program in src, tools and bench (a file that parses a command line or checks import.meta.main) has a script", () => {
    const scripted = new Set(programs.map((name) => programOf(name).file));
    const withoutScript = ["src", "tools", "bench"]
      .flatMap((folder) => [...new Bun.Glob("**/*.ts").scanSync(join(root, folder))].map((file) => `${folder}/${file}`))
      .filter((file) => !file.endsWith(".test.ts") && /\bparseToolFlags\(|import\.meta\.main/.test(readFileSync(join(root, file), "utf8")))
      .filter((file) => !scripted.has(file));
    expect(withoutScript).toEqual([]);
  });

  test.each(programs)("%s --help prints its usage and exits 0", async (name) => {
    const result = await run(programOf(name), ["--help"]);
    helpMs.push(`${name} ${Math.round(result.ms)} ms`);
    expect(result.stderr).toBe("");
    expect(result.stdout).toStartWith("Usage: ");
    expect(result.exitCode).toBe(0);
  });

  test.each(programs)("%s --no-such-flag: one line on stderr, exit 2", async (name) => {
    const result = await run(programOf(name), ["--no-such-flag"]);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^[^\n]*unknown flag --no-such-flag[^\n]*\n$/);
    expect(result.exitCode).toBe(2);
  });

  test("no script wrote a file", () => {
    expect(fileState()).toBe(before);
  });
});
