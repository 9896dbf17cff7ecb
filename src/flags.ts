/**
 * The one flag parser of the node's config, the launcher, the simulator and the tools: each lists
 * its flags once (camelCase names become --kebab-case flags, `--name value` or `--name=value`),
 * and gets typed values, checks, --help text and one-line errors from the list.
 */

type FlagSpec =
  | { type: "string"; help: string; default?: string; choices?: readonly string[] }
  | { type: "number"; help: string; default?: number; integer?: boolean; min?: number; max?: number }
  | { type: "boolean"; help: string };

export type FlagSpecs = Record<string, FlagSpec>;

type StringValue<S> = S extends { choices: readonly (infer C)[] } ? C : string;

export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]: S[K] extends { type: "boolean" }
    ? boolean
    : S[K] extends { type: "number"; default: number }
      ? number
      : S[K] extends { type: "number" }
        ? number | undefined
        : S[K] extends { type: "string"; default: string }
          ? StringValue<S[K]>
          : StringValue<S[K]> | undefined;
};

export class FlagError extends Error {
  override name = "FlagError";
}

export const toKebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

export function flagHelp(usage: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const flag = `--${toKebab(name)}${spec.type === "boolean" ? "" : ` <${spec.type === "number" ? "n" : "value"}>`}`;
    const choices = spec.type === "string" && spec.choices ? ` (${spec.choices.join(", ")})` : "";
    const fallback = "default" in spec && spec.default !== undefined ? ` (default ${spec.default})` : "";
    return `  ${flag.padEnd(26)} ${spec.help}${choices}${fallback}`;
  });
  return `${usage.trimEnd()}\n\nFlags:\n${rows.join("\n")}\n  ${"--help".padEnd(26)} this text\n`;
}

/**
 * Parses argv; throws FlagError on an unknown flag, a stray argument or a bad value. With --help
 * or -h anywhere the rest is not checked: `help` is true and the values are the defaults.
 */
export function parseFlags<S extends FlagSpecs>(argv: readonly string[], specs: S): { values: FlagValues<S>; help: boolean } {
  if (argv.includes("--help") || argv.includes("-h")) return { values: parseFlags([], specs).values, help: true };
  const names = new Map(Object.keys(specs).map((name) => [toKebab(name), name]));
  const raw = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new FlagError(`unexpected argument "${arg}": flags look like --name value`);
    const [, flag, inline] = match as unknown as [string, string, string | undefined];
    const name = names.get(flag);
    if (name === undefined) throw new FlagError(`unknown flag --${flag}`);
    if (specs[name]!.type === "boolean") {
      if (inline !== undefined) throw new FlagError(`--${flag} takes no value`);
      raw.set(name, true);
      continue;
    }
    // A following flag is not a value: `--token --quiet` is a missing token, not the token "--quiet".
    const value = inline ?? (argv[i + 1]?.startsWith("--") ? undefined : argv[++i]);
    if (value === undefined) throw new FlagError(`--${flag} needs a value`);
    raw.set(name, value);
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const flag = `--${toKebab(name)}`;
    const given = raw.get(name);
    if (spec.type === "boolean") values[name] = given === true;
    else if (given === undefined) values[name] = spec.default;
    else if (spec.type === "string") values[name] = parseChoice(flag, given as string, spec.choices);
    else values[name] = parseNumber(flag, given as string, spec);
  }
  return { values: values as FlagValues<S>, help: false };
}

function parseChoice(flag: string, raw: string, choices: readonly string[] | undefined): string {
  if (choices && !choices.includes(raw)) throw new FlagError(`${flag} must be one of ${choices.join(", ")}, got "${raw}"`);
  return raw;
}

function parseNumber(flag: string, raw: string, spec: { integer?: boolean; min?: number; max?: number }): number {
  const value = raw.trim() === "" ? Number.NaN : Number(raw);
  if (!Number.isFinite(value)) throw new FlagError(`${flag} must be a number, got "${raw}"`);
  if (spec.integer && !Number.isSafeInteger(value)) throw new FlagError(`${flag} must be a whole number, got "${raw}"`);
  if (spec.min !== undefined && value < spec.min) throw new FlagError(`${flag} must be at least ${spec.min}, got ${raw}`);
  if (spec.max !== undefined && value > spec.max) throw new FlagError(`${flag} must be at most ${spec.max}, got ${raw}`);
  return value;
}

/**
 * Parses a command line's flags: on --help prints the usage and the flags and exits 0 (before the
 * command does anything else); on a bad flag prints one line and exits 2.
 */
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
