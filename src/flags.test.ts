import { describe, expect, test } from "bun:test";
import { FlagError, flagHelp, parseFlags } from "./flags.ts";

const specs = {
  writes: { type: "number", default: 10, integer: true, min: 1, help: "writes" },
  minDelayMs: { type: "number", min: 0, help: "delay" },
  leader: { type: "string", help: "url" },
  mode: { type: "string", default: "bun", help: "driver" },
  local: { type: "boolean", help: "local" },
  port: { type: "number", integer: true, min: 0, max: 65535, help: "port" },
  driver: { type: "string", default: "bun", choices: ["bun", "k6"], help: "driver" },
} as const;

describe("parseFlags", () => {
  test("camelCase names are --kebab-case flags, in both --flag value and --flag=value forms", () => {
    const { values, help } = parseFlags(["--min-delay-ms", "2.5", "--writes=7", "--leader", "http://x:1", "--local"], specs);
    expect(values).toEqual({ writes: 7, minDelayMs: 2.5, leader: "http://x:1", mode: "bun", local: true, port: undefined, driver: "bun" });
    expect(help).toBe(false);
  });

  test("defaults apply, absent optional values stay undefined, booleans are false", () => {
    expect(parseFlags([], specs).values).toEqual({
      writes: 10,
      minDelayMs: undefined,
      leader: undefined,
      mode: "bun",
      local: false,
      port: undefined,
      driver: "bun",
    });
  });

  test("a value may start with one dash, and the last of a repeated flag wins", () => {
    expect(parseFlags(["--leader", "-x", "--mode", "a", "--mode=b"], specs).values).toMatchObject({ leader: "-x", mode: "b" });
  });

  test("bad input is a FlagError that names the flag", () => {
    expect(() => parseFlags(["--writes", "2.5"], specs)).toThrow(/--writes must be a whole number/);
    expect(() => parseFlags(["--writes", "0"], specs)).toThrow(/--writes must be at least 1/);
    expect(() => parseFlags(["--min-delay-ms", "fast"], specs)).toThrow(/--min-delay-ms must be a number/);
    expect(() => parseFlags(["--min-delay-ms", ""], specs)).toThrow(FlagError);
    expect(() => parseFlags(["--port", "65536"], specs)).toThrow(/--port must be at most 65535, got 65536/);
    expect(() => parseFlags(["--driver", "curl"], specs)).toThrow(/--driver must be one of bun, k6, got "curl"/);
    expect(() => parseFlags(["--wrtes", "5"], specs)).toThrow(/^unknown flag --wrtes$/);
    expect(() => parseFlags(["stray"], specs)).toThrow(/unexpected argument "stray"/);
    expect(() => parseFlags(["-x"], specs)).toThrow(/unexpected argument "-x"/);
    expect(() => parseFlags(["--leader"], specs)).toThrow(/--leader needs a value/);
    expect(() => parseFlags(["--leader", "--local"], specs)).toThrow(/--leader needs a value/);
    expect(() => parseFlags(["--local=yes"], specs)).toThrow(/--local takes no value/);
  });

  test("every message is one line", () => {
    for (const argv of [["--wrtes"], ["x"], ["--leader"], ["--writes", "x"], ["--driver=x"], ["--local=1"]]) {
      expect(() => parseFlags(argv, specs)).toThrow(/^[^\n]+$/);
    }
  });

  test("--help and -h are reported, and the help lists every flag with its default", () => {
    expect(parseFlags(["--help"], specs).help).toBe(true);
    expect(parseFlags(["-h"], specs).help).toBe(true);
    // --help wins over everything else on the line, bad flags included: it must do nothing else.
    expect(parseFlags(["--wrtes", "x", "--help"], specs)).toEqual({ values: parseFlags([], specs).values, help: true });
    const help = flagHelp("Usage: tool", specs);
    expect(help).toContain("--min-delay-ms <n>");
    expect(help).toContain("writes (default 10)");
    expect(help).toContain("--local ");
    expect(help).toContain("--driver <value>");
    expect(help).toContain("driver (bun, k6) (default bun)");
  });
});
