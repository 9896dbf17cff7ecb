import { expect, test } from "bun:test";
import { ConfigError, parseConfig } from "./config.ts";

const token = { CLUSTER_TOKEN: "0123456789abcdef" };
const twoFollowers = { ...token, ROLE: "leader", FOLLOWERS: "http://a:1, http://b:2/", WRITE_QUORUM: "2" };

test("defaults follow docs/design.md §3", () => {
  const config = parseConfig({ ...token, ROLE: "follower" });
  expect(config).toMatchObject({
    role: "follower",
    nodeId: "follower-5001",
    host: "127.0.0.1",
    port: 5001,
    writeQuorum: 3,
    minDelayMs: 0.1,
    maxDelayMs: 10,
    quorumTimeoutMs: 5000,
    heartbeatMs: 50,
    logRetention: 100000,
    maxKeyBytes: 1024,
    maxValueBytes: 1048576,
  });
  expect(Object.isFrozen(config)).toBe(true);
});

test("follower URLs are trimmed and lose their trailing slash", () => {
  expect(parseConfig(twoFollowers).followers).toEqual(["http://a:1", "http://b:2"]);
});

test("flags override env, in both --name value and --name=value forms", () => {
  const config = parseConfig(twoFollowers, ["--write-quorum", "1", "--max-delay-ms=2.5", "--node-id", "L"]);
  expect(config).toMatchObject({ writeQuorum: 1, maxDelayMs: 2.5, nodeId: "L" });
});

const invalid: [what: string, env: Record<string, string>, argv: string[], names: RegExp][] = [
  ["missing role", { ...token }, [], /^ROLE: /],
  ["unknown role", { ...token, ROLE: "boss" }, [], /^ROLE: must be leader or follower/],
  ["missing token", { ROLE: "follower" }, [], /^CLUSTER_TOKEN: is required/],
  ["short token", { ROLE: "follower", CLUSTER_TOKEN: "abc" }, [], /^CLUSTER_TOKEN: /],
  ["leader without followers", { ...token, ROLE: "leader" }, [], /^FOLLOWERS: is required for a leader/],
  ["leader without followers, quorum given", { ...token, ROLE: "leader", WRITE_QUORUM: "2" }, [], /^FOLLOWERS: is required for a leader/],
  ["quorum above follower count", { ...twoFollowers, WRITE_QUORUM: "3" }, [], /^WRITE_QUORUM: must be at most the number of FOLLOWERS \(2\)/],
  ["min delay above max", { ...twoFollowers }, ["--min-delay-ms", "5", "--max-delay-ms", "1"], /^MIN_DELAY_MS: /],
  ["port not a number", { ...twoFollowers, PORT: "http" }, [], /^PORT: /],
  ["port out of range", { ...twoFollowers, PORT: "70000" }, [], /^PORT: /],
  ["follower not a URL", { ...twoFollowers, FOLLOWERS: "a:1,b:2" }, [], /^FOLLOWERS: /],
  ["unknown flag", { ...twoFollowers }, ["--write-qourum", "1"], /unknown flag --write-qourum/],
  ["flag without value", { ...twoFollowers }, ["--port"], /--port needs a value/],
  [
    "PEERS without this node's port",
    { ...token, ROLE: "follower", PORT: "7003", PEERS: "http://a:7001,http://b:7002" },
    [],
    /^ADVERTISE_URL: is needed: no PEERS entry has port 7003/,
  ],
  [
    "PEERS with this port twice",
    { ...token, ROLE: "follower", PORT: "7001", PEERS: "http://a:7001,http://b:7001" },
    [],
    /^ADVERTISE_URL: is needed: 2 PEERS entries/,
  ],
  [
    "ADVERTISE_URL not among PEERS",
    { ...token, ROLE: "follower", PEERS: "http://a:7001,http://b:7002", ADVERTISE_URL: "http://c:7003" },
    [],
    /^ADVERTISE_URL: must be one of PEERS/,
  ],
  ["ADVERTISE_URL without PEERS", { ...token, ROLE: "follower", ADVERTISE_URL: "http://c:7003" }, [], /^ADVERTISE_URL: is only meaningful with PEERS/],
  ["a peer twice", { ...token, ROLE: "follower", PORT: "7001", PEERS: "http://a:7001,http://a:7001" }, [], /^PEERS: lists a URL twice/],
  [
    "a quorum above the other peers",
    { ...token, ROLE: "leader", PORT: "7001", PEERS: "http://a:7001,http://b:7002", WRITE_QUORUM: "2" },
    [],
    /^WRITE_QUORUM: must be at most the number of other PEERS \(1\)/,
  ],
];

test("PEERS: this node's URL is the entry with its port (or ADVERTISE_URL); a leader needs no FOLLOWERS; ELECTION_TIMEOUT_MS defaults to 500", () => {
  const peers = "http://a:7001/,http://b:7002";
  expect(parseConfig({ ...token, ROLE: "leader", PORT: "7002", PEERS: peers, WRITE_QUORUM: "1" })).toMatchObject({
    peers: ["http://a:7001", "http://b:7002"],
    advertiseUrl: "http://b:7002",
    electionTimeoutMs: 500,
    followers: [],
  });
  const both = "http://a:7001,http://b:7001";
  expect(parseConfig({ ...token, ROLE: "follower", PORT: "7001", PEERS: both, ADVERTISE_URL: "http://b:7001", WRITE_QUORUM: "1" }).advertiseUrl).toBe(
    "http://b:7001",
  );
  expect(parseConfig({ ...token, ROLE: "follower" }, ["--election-timeout-ms", "150"]).electionTimeoutMs).toBe(150);
});
for (const [what, env, argv, names] of invalid) {
  test(`${what} is one clear line naming the variable`, () => {
    let error: unknown;
    try {
      parseConfig(env, argv);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(names);
    expect((error as Error).message).not.toContain("\n");
  });
}
