import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * House rules that a reviewer would otherwise check by eye: `src/core/` stays pure (imports only
 * itself; no clock, timer, randomness or I/O), and no source file grows past 400 lines.
 */

const root = resolve(import.meta.dir, "..");
const coreDir = join(root, "src", "core");
const linesMax = 400;

/**
 * The code with comments blanked out, and a second copy with the text of ordinary string
 * literals blanked too (quotes kept). Blanks keep lengths, so line numbers survive. Template
 * literals stay as written: their `${…}` parts are code. Regex literals are recognised well
 * enough that a `//` inside one is not taken for a comment.
 */
function blankComments(source: string): { code: string; codeWithoutStrings: string } {
  let code = "";
  let codeWithoutStrings = "";
  const emit = (kept: string, blankedString = kept) => {
    code += kept;
    codeWithoutStrings += blankedString;
  };
  const blank = (text: string) => text.replace(/[^\n]/g, " ");
  let lastSignificant = "";
  let i = 0;
  while (i < source.length) {
    const char = source[i]!;
    const next = source[i + 1];
    if (char === "/" && (next === "/" || next === "*")) {
      const end = next === "/" ? source.indexOf("\n", i) : source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : next === "/" ? end : end + 2;
      emit(blank(source.slice(i, stop)));
      i = stop;
    } else if (char === '"' || char === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== char && source[j] !== "\n") j += source[j] === "\\" ? 2 : 1;
      const stop = Math.min(source.length, source[j] === char ? j + 1 : j);
      const text = source.slice(i, stop);
      emit(text, char + blank(text.slice(1, -1)) + (text.length > 1 ? text.at(-1) : ""));
      i = stop;
      lastSignificant = char;
    } else if (char === "/" && (lastSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastSignificant))) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== "\n" && (source[j] !== "/" || inClass)) {
        if (source[j] === "[") inClass = true;
        else if (source[j] === "]") inClass = false;
        j += source[j] === "\\" ? 2 : 1;
      }
      const text = source.slice(i, Math.min(source.length, j + 1));
      emit(text, blank(text));
      i += text.length;
      lastSignificant = "/";
    } else {
      emit(char);
      if (!/\s/.test(char)) lastSignificant = char;
      i++;
    }
  }
  return { code, codeWithoutStrings };
}

/** Every module specifier a file imports or re-exports, statically or dynamically. */
function importedModules(code: string): string[] {
  const modules: string[] = [];
  const patterns = [/\b(?:import|export)\b[^;"'`]*?\bfrom\s*(["'])(.*?)\1/g, /\bimport\s*(["'])(.*?)\1/g, /\b(?:import|require)\s*\(\s*(["'`])(.*?)\1/g];
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) modules.push(match[2]!);
  return modules;
}

const impureApis: [RegExp, string][] = [
  [/\bDate\b/, "Date (a clock)"],
  [/\bperformance\b/, "performance (a clock)"],
  [/\bsetTimeout\b/, "setTimeout (a timer)"],
  [/\bsetInterval\b/, "setInterval (a timer)"],
  [/\bsetImmediate\b/, "setImmediate (a timer)"],
  [/\bqueueMicrotask\b/, "queueMicrotask (a timer)"],
  [/\bMath\s*\.\s*random\b/, "Math.random (randomness)"],
  [/\bcrypto\b/, "crypto (randomness or I/O)"],
  [/\bBun\s*\./, "Bun.* (the runtime)"],
  [/\bprocess\s*\./, "process.* (the runtime)"],
  [/\bfetch\s*\(/, "fetch (I/O)"],
  [/\bconsole\s*\./, "console (I/O)"],
];

/** What makes the core file at `path` impure: imports from outside src/core, and clocks, timers, randomness or I/O. */
function coreViolations(path: string, source: string): string[] {
  const violations: string[] = [];
  const { code, codeWithoutStrings } = blankComments(source);
  for (const specifier of importedModules(code)) {
    const target = specifier.startsWith(".") ? resolve(dirname(path), specifier) : null;
    if (target === null) violations.push(`imports the module "${specifier}"`);
    else if (relative(coreDir, target).startsWith("..")) violations.push(`imports "${specifier}", outside src/core`);
  }
  codeWithoutStrings.split("\n").forEach((line, index) => {
    for (const [pattern, what] of impureApis) if (pattern.test(line)) violations.push(`line ${index + 1} uses ${what}`);
  });
  return violations;
}

function sourceFiles(folder: string, extensions: string[]): string[] {
  const glob = new Bun.Glob(`**/*.{${extensions.join(",")}}`);
  const cwd = join(root, folder);
  // A folder that does not exist (yet) holds no file to check.
  return existsSync(cwd) ? Array.from(glob.scanSync({ cwd, onlyFiles: true }), (file) => join(cwd, file)) : [];
}

const lineCount = (text: string) => (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n").length;

describe("the checker", () => {
  test("blanks comments (and, in the second copy, string contents) but keeps code, quotes and positions", () => {
    const source = 'const a = "Date.now()"; // Date\n/* setTimeout */ const b = /\\/\\//; Math.random();\n';
    const { code, codeWithoutStrings } = blankComments(source);
    expect(code.length).toBe(source.length);
    expect(codeWithoutStrings.length).toBe(source.length);
    expect(code).toContain('"Date.now()"');
    expect(code).not.toContain("// Date");
    expect(code).not.toContain("setTimeout");
    expect(code).toContain("Math.random()");
    expect(codeWithoutStrings).not.toContain("Date");
    expect(codeWithoutStrings).toContain("Math.random()");
  });

  test("finds every kind of import", () => {
    const code = 'import a from "x";\nimport type { B } from "./y.ts";\nexport { c } from "z";\nimport "side";\nconst d = await import("dyn");';
    expect(importedModules(code).sort()).toEqual(["./y.ts", "dyn", "side", "x", "z"]);
  });

  test("catches a core file that imports outside the core or touches the clock, and lets a pure one pass", () => {
    const file = join(coreDir, "example.ts");
    expect(coreViolations(file, 'import { z } from "zod";\n')).toEqual(['imports the module "zod"']);
    expect(coreViolations(file, 'import { existsSync, readFileSync } from "node:fs";\n')).toEqual(['imports the module "node:fs"']);
    expect(coreViolations(file, 'import { config } from "../config.ts";\n')).toEqual(['imports "../config.ts", outside src/core']);
    expect(coreViolations(file, "export const now = () => Date.now();\n")).toEqual(["line 1 uses Date (a clock)"]);
    expect(coreViolations(file, "const id = crypto.randomUUID();\nconsole.log(id);\n")).toEqual([
      "line 1 uses crypto (randomness or I/O)",
      "line 2 uses console (I/O)",
    ]);
    const pure =
      '// Date.now() would be impure here\nimport { Log } from "./log.ts";\nconst why = "no setTimeout"; /* Bun. */\nexport const log = new Log();\n';
    expect(coreViolations(file, pure)).toEqual([]);
  });

  test("counts lines as an editor shows them", () => {
    expect(lineCount("a\nb\n")).toBe(2);
    expect(lineCount("a\nb")).toBe(2);
  });
});

describe("the tree", () => {
  test("src/core imports nothing outside itself and uses no clock, timer, randomness or I/O", () => {
    // Tests beside the core are not the core: they run under bun:test.
    const files = sourceFiles("src/core", ["ts"]).filter((file) => !file.endsWith(".test.ts"));
    expect(files.length).toBeGreaterThan(5);
    const found = files.flatMap((file) => coreViolations(file, readFileSync(file, "utf8")).map((v) => `${relative(root, file)}: ${v}`));
    expect(found).toEqual([]);
  });

  test(`no source file is over ${linesMax} lines`, () => {
    const folders: [string, string[]][] = [
      ["src", ["ts"]],
      ["tools", ["ts"]],
      ["bench", ["ts"]],
      ["test", ["ts"]],
      ["k6", ["ts", "js"]],
    ];
    const files = folders.flatMap(([folder, extensions]) => sourceFiles(folder, extensions));
    expect(files.length).toBeGreaterThan(50);
    const long = files.map((file) => ({ file: relative(root, file), lines: lineCount(readFileSync(file, "utf8")) })).filter(({ lines }) => lines > linesMax);
    expect(long).toEqual([]);
  });
});
