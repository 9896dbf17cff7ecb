import { describe, expect, test } from "bun:test";
import { FlagError, flagHelp, parseFlags } from "./flags.ts";

const specs = {
  writes: { type: "number", default: 10, integer: true, min: 1, help: "writes" },
  minDelayMs: { type: "number", min: 0, help: "delay" },
  leader: { type: "string", help: "url" },
  mode: { type: "string", default: "bun", help: "driver" },
  local: { type: "boolean", help: "local" },
} as const;

describe("parseFlags", () => {
  test("camelCase names are --kebab-case flags, in both --flag value and --flag=value forms", () => {
    const { values, help } = parseFlags(["--min-delay-ms", "2.5", "--writes=7", "--leader", "http://x:1", "--local"], specs);
    expect(values).toEqual({ writes: 7, minDelayMs: 2.5, leader: "http://x:1", mode: "bun", local: true });
    expect(help).toBe(false);
  });

  test("defaults apply, absent optional values stay undefined, booleans are false", () => {
    expect(parseFlags([], specs).values).toEqual({ writes: 10, minDelayMs: undefined, leader: undefined, mode: "bun", local: false });
  });

  test("bad input is a FlagError that names the flag", () => {
    expect(() => parseFlags(["--writes", "2.5"], specs)).toThrow(/--writes must be a whole number/);
    expect(() => parseFlags(["--writes", "0"], specs)).toThrow(/--writes must be at least 1/);
    expect(() => parseFlags(["--min-delay-ms", "fast"], specs)).toThrow(/--min-delay-ms must be a number/);
    expect(() => parseFlags(["--min-delay-ms", ""], specs)).toThrow(FlagError);
    expect(() => parseFlags(["--wrtes", "5"], specs)).toThrow(FlagError);
    expect(() => parseFlags(["stray"], specs)).toThrow(FlagError);
  });

  test("--help and -h are reported, and the help lists every flag with its default", () => {
    expect(parseFlags(["--help"], specs).help).toBe(true);
    expect(parseFlags(["-h"], specs).help).toBe(true);
    const help = flagHelp("Usage: tool", specs);
    expect(help).toContain("--min-delay-ms <n>");
    expect(help).toContain("writes (default 10)");
    expect(help).toContain("--local ");
  });
});
