import { parseArgs } from "node:util";

/**
 * A small declarative layer over node:util parseArgs: each tool lists its flags once (camelCase
 * names become --kebab-case flags), and gets typed values, number checks and --help from it.
 */

type FlagSpec =
  | { type: "string"; help: string; default?: string }
  | { type: "number"; help: string; default?: number; integer?: boolean; min?: number }
  | { type: "boolean"; help: string };

export type FlagSpecs = Record<string, FlagSpec>;

export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]: S[K] extends { type: "boolean" }
    ? boolean
    : S[K] extends { type: "number"; default: number }
      ? number
      : S[K] extends { type: "number" }
        ? number | undefined
        : S[K] extends { type: "string"; default: string }
          ? string
          : string | undefined;
};

export class FlagError extends Error {
  override name = "FlagError";
}

const toKebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

export function flagHelp(usage: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const flag = `--${toKebab(name)}${spec.type === "boolean" ? "" : ` <${spec.type === "number" ? "n" : "value"}>`}`;
    const fallback = "default" in spec && spec.default !== undefined ? ` (default ${spec.default})` : "";
    return `  ${flag.padEnd(26)} ${spec.help}${fallback}`;
  });
  return `${usage.trimEnd()}\n\nFlags:\n${rows.join("\n")}\n  ${"--help".padEnd(26)} this text\n`;
}

/** Parses argv; throws FlagError on an unknown flag or a bad value. `help` is true on --help. */
export function parseFlags<S extends FlagSpecs>(argv: string[], specs: S): { values: FlagValues<S>; help: boolean } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(specs)) options[toKebab(name)] = { type: spec.type === "boolean" ? "boolean" : "string" };
  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof parsed;
  } catch (error) {
    throw new FlagError((error as Error).message);
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const flag = `--${toKebab(name)}`;
    const raw = parsed[toKebab(name)];
    if (spec.type === "boolean") values[name] = raw === true;
    else if (spec.type === "string") values[name] = raw ?? spec.default;
    else if (raw === undefined) values[name] = spec.default;
    else values[name] = parseNumber(flag, raw as string, spec);
  }
  return { values: values as FlagValues<S>, help: parsed.help === true };
}

function parseNumber(flag: string, raw: string, spec: { integer?: boolean; min?: number }): number {
  const value = raw.trim() === "" ? Number.NaN : Number(raw);
  if (!Number.isFinite(value)) throw new FlagError(`${flag} must be a number, got "${raw}"`);
  if (spec.integer && !Number.isInteger(value)) throw new FlagError(`${flag} must be a whole number, got "${raw}"`);
  if (spec.min !== undefined && value < spec.min) throw new FlagError(`${flag} must be at least ${spec.min}, got ${raw}`);
  return value;
}

/** Parses flags for a command-line tool: prints help and exits 0, or the error and exits 2. */
export function parseToolFlags<S extends FlagSpecs>(tool: string, usage: string, specs: S, argv = process.argv.slice(2)): FlagValues<S> {
  try {
    const { values, help } = parseFlags(argv, specs);
    if (help) {
      process.stdout.write(flagHelp(usage, specs));
      process.exit(0);
    }
    return values;
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    console.error(`${tool}: ${error.message} (see --help)`);
    process.exit(2);
  }
}
