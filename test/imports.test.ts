import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * One import direction between the top folders: src imports only src; tools may import src;
 * bench may import src and tools; tests (test/, and every *.test.ts beside the code) may import
 * anything, and nothing imports a *.test.ts. No cycle between files through imports that run:
 * `import type` / `export type` statements count for the direction but not for cycles, since they
 * are erased before the code runs.
 */

const root = resolve(import.meta.dir, "..");
const folders = ["src", "tools", "bench", "test"] as const;
type Layer = (typeof folders)[number];
const mayImport: Record<Layer, readonly Layer[]> = {
  src: ["src"],
  tools: ["src", "tools"],
  bench: ["src", "tools", "bench"],
  test: folders,
};

// Top-level statements start at column 0 in this code base; `[^;]*?` spans multi-line braces.
const fromPattern = /^(?:import|export)(\s+type)?\s[^;]*?\bfrom\s*["']([^"']+)["']/gm;
const bareImportPattern = /^import\s*["']([^"']+)["']/gm;
const dynamicImportPattern = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

interface Import {
  specifier: string;
  typeOnly: boolean;
}

/** What a file imports, relative specifiers only (packages and node:/bun: modules are not ours). */
function relativeImports(source: string): Import[] {
  const imports = [
    ...[...source.matchAll(fromPattern)].map((match) => ({ specifier: match[2]!, typeOnly: match[1] !== undefined })),
    ...[bareImportPattern, dynamicImportPattern].flatMap((pattern) =>
      [...source.matchAll(pattern)].map((match) => ({ specifier: match[1]!, typeOnly: false })),
    ),
  ];
  return imports.filter((entry) => entry.specifier.startsWith("."));
}

function layerOf(file: string): Layer {
  if (file.endsWith(".test.ts")) return "test";
  return file.split("/")[0] as Layer;
}

/** A cycle as a list of files that starts and ends with the same one, or null. Depth-first search. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (file: string): string[] | null => {
    if (onPath.has(file)) return [...path.slice(path.indexOf(file)), file];
    if (done.has(file)) return null;
    path.push(file);
    onPath.add(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
    return null;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return null;
}

/** Every file's imports: `all` for the direction rule, `runtime` (no type-only ones) for cycles. */
function importGraphs(): { all: Map<string, string[]>; runtime: Map<string, string[]>; unresolved: string[] } {
  const files = folders.flatMap((folder) => [...new Bun.Glob("**/*.ts").scanSync(join(root, folder))].map((file) => `${folder}/${file}`));
  const all = new Map<string, string[]>();
  const runtime = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const file of files.sort()) {
    all.set(file, []);
    runtime.set(file, []);
    for (const { specifier, typeOnly } of relativeImports(readFileSync(join(root, file), "utf8"))) {
      const target = relative(root, resolve(root, dirname(file), specifier));
      if (!existsSync(join(root, target))) unresolved.push(`${file} imports ${specifier}`);
      all.get(file)!.push(target);
      if (!typeOnly) runtime.get(file)!.push(target);
    }
  }
  return { all, runtime, unresolved };
}

describe("imports", () => {
  const { all, runtime, unresolved } = importGraphs();

  test("the scan sees the code base: every folder has files, every relative import names a file", () => {
    for (const folder of folders) expect([...all.keys()].some((file) => file.startsWith(`${folder}/`))).toBe(true);
    expect(runtime.get("src/main.ts")).toContain("src/config.ts");
    expect(unresolved).toEqual([]);
  });

  test("every import goes in an allowed direction, and no file imports a test file", () => {
    const forbidden: string[] = [];
    for (const [file, targets] of all) {
      for (const target of targets) {
        if (!/^(src|tools|bench|test)\//.test(target)) forbidden.push(`${file} imports ${target}, outside src, tools, bench and test`);
        else if (target.endsWith(".test.ts")) forbidden.push(`${file} imports the test file ${target}`);
        else if (!mayImport[layerOf(file)].includes(layerOf(target))) forbidden.push(`${file} (${layerOf(file)}) imports ${target} (${layerOf(target)})`);
      }
    }
    expect(forbidden).toEqual([]);
  });

  test("no cycle between files", () => {
    expect(findCycle(runtime)?.join(" -> ") ?? null).toBeNull();
  });

  test("the scanner reads every import form, and the search finds a cycle when there is one", () => {
    const source = [
      'import { a } from "./a.ts";',
      'import type { B } from "../b.ts";',
      "import {\n  c,\n  type C,\n} from './c.ts';",
      'export { d } from "./d.ts";',
      'export type { D } from "./d-types.ts";',
      'import "./e.ts";',
      // Split so that this file's own source holds no dynamic import of ./f.ts.
      `const f = await import${'("./f.ts")'};`,
      'import { z } from "zod";',
      '// import { g } from "./g.ts";',
    ].join("\n");
    expect(relativeImports(source)).toEqual([
      { specifier: "./a.ts", typeOnly: false },
      { specifier: "../b.ts", typeOnly: true },
      { specifier: "./c.ts", typeOnly: false },
      { specifier: "./d.ts", typeOnly: false },
      { specifier: "./d-types.ts", typeOnly: true },
      { specifier: "./e.ts", typeOnly: false },
      { specifier: "./f.ts", typeOnly: false },
    ]);
    const graphWithCycle = new Map([
      ["a", ["b"]],
      ["b", ["c", "d"]],
      ["c", []],
      ["d", ["b"]],
    ]);
    expect(findCycle(graphWithCycle)).toEqual(["b", "d", "b"]);
    expect(
      findCycle(
        new Map([
          ["a", ["b"]],
          ["b", ["c"]],
          ["c", []],
        ]),
      ),
    ).toBeNull();
  });
});
