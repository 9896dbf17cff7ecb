import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "./config.ts";
import { Logger, type LoggerOptions } from "./log.ts";

const at = new Date("2026-11-30T12:00:00.000Z");

function capture(options: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const logger = new Logger(
    { node: "leader", level: "info", format: "json", write: (line) => lines.push(line), now: () => at, ...options },
    { role: "leader", epoch: null },
  );
  return { logger, lines };
}

describe("structured logs", () => {
  test("json: one object per line with level, time, node, role, epoch, event, message and the fields", () => {
    const { logger, lines } = capture();
    let epoch = 3;
    logger.describeWith(() => ({ role: "leader", epoch }));
    logger.forNode("deposed by epoch 4", { event: "deposed", level: "warn", fields: { deposedBy: 4, level: "not this", skipped: undefined } });
    epoch = 4;
    logger.info("stop", "SIGTERM, stopping", { signal: "SIGTERM" });
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { level: "warn", time: at.toISOString(), node: "leader", role: "leader", epoch: 3, event: "deposed", message: "deposed by epoch 4", deposedBy: 4 },
      { level: "info", time: at.toISOString(), node: "leader", role: "leader", epoch: 4, event: "stop", message: "SIGTERM, stopping", signal: "SIGTERM" },
    ]);
  });

  test("LOG_LEVEL drops what is less severe", () => {
    const { logger, lines } = capture({ level: "warn" });
    logger.forNode("a", { event: "debugged", level: "debug" });
    logger.forNode("b", { event: "noted" });
    logger.forNode("c", { event: "warned", level: "warn" });
    logger.forNode("d", { event: "failed", level: "error" });
    expect(lines.map((line) => JSON.parse(line).event)).toEqual(["warned", "failed"]);
    expect(capture({ level: "debug" }).logger.enabled("debug")).toBe(true);
  });

  test("pretty: one readable line, strings with spaces quoted", () => {
    const { logger, lines } = capture({ format: "pretty" });
    logger.forNode("full resync of follower2 by snapshot: too far behind", {
      event: "resync",
      fields: { follower: "follower2", reason: "too far behind", kind: "full" },
    });
    expect(lines).toEqual([
      `${at.toISOString()} INFO  leader (leader) resync: full resync of follower2 by snapshot: too far behind follower=follower2 reason="too far behind" kind=full`,
    ]);
  });

  test("LOG_LEVEL and LOG_FORMAT are settings with defaults, and a bad value names the setting", () => {
    const base = { ROLE: "follower", CLUSTER_TOKEN: "0123456789" };
    expect(parseConfig(base)).toMatchObject({ logLevel: "info", logFormat: "json" });
    expect(parseConfig({ ...base, LOG_LEVEL: "debug" }, ["--log-format", "pretty"])).toMatchObject({ logLevel: "debug", logFormat: "pretty" });
    expect(() => parseConfig({ ...base, LOG_LEVEL: "verbose" })).toThrow(new ConfigError("LOG_LEVEL: must be debug, info, warn or error"));
    expect(() => parseConfig({ ...base, LOG_FORMAT: "xml" })).toThrow(new ConfigError("LOG_FORMAT: must be json or pretty"));
  });
});
