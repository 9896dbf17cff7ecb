#!/usr/bin/env bun
import { type FlagSpecs, parseToolFlags } from "../src/flags.ts";
import { formatReport, runCheck } from "./check.ts";
import { KvClient, type KvAnswer, resolveEndpoints } from "./lib/kv-client.ts";
import { readSse } from "./lib/sse.ts";
import { resolveToken, TargetError } from "./lib/target.ts";
import { formatSummary, runClosedLoad } from "./load.ts";

/**
 * `kv` (or `bun run kv`): the command line of the data API, like etcdctl or redis-cli. Exit 0 ok,
 * 1 not found or a condition that failed (412, a txn's failure branch), 2 usage or connection
 * error (as `bun run check`).
 */

const common = {
  endpoints: { type: "string", help: "comma-separated node URLs (default: LEADER_URL, .quorumkv/cluster.json, http://127.0.0.1:5001)" },
  json: { type: "boolean", help: "print the node's JSON answers instead of text" },
} satisfies FlagSpecs;

interface Command {
  usage: string;
  positionals: string[];
  flags: FlagSpecs;
  run: (args: string[], flags: Record<string, any>, client: KvClient) => Promise<number>;
}

const usageError = (message: string): never => {
  throw new UsageError(message);
};
class UsageError extends Error {}

/** A non-2xx answer the command does not expect: printed, exit 2 (1 for not found and failed conditions). */
function failure(answer: KvAnswer, json: boolean): number {
  if (json) console.log(JSON.stringify(answer.body));
  else console.error(`kv: ${answer.status} ${answer.body.error ?? ""}: ${answer.body.message ?? JSON.stringify(answer.body)}`);
  return answer.status === 404 || answer.status === 412 ? 1 : 2;
}

const show = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));
const keyPath = (key: string) => `/kv/${encodeURIComponent(key)}`;
const jsonBody = (method: string, body: unknown): RequestInit => ({ method, body: JSON.stringify(body), headers: { "content-type": "application/json" } });

/** A value argument: JSON when it parses as JSON, else the text itself (--string: always the text). */
const parseValue = (text: string, asString: boolean): unknown => {
  if (asString) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

const commands: Record<string, Command> = {
  put: {
    usage:
      "kv put KEY VALUE [--if-offset N] [--string]\n\nSets KEY to VALUE (JSON if it parses as JSON, else a string); --if-offset N writes only if\nthe value read was set at offset N (0: the key must be absent); else exit 1 with the current offset.",
    positionals: ["KEY", "VALUE"],
    flags: {
      ifOffset: { type: "number", integer: true, min: 0, help: "write only if KEY's value is from offset N (0: KEY is absent)" },
      string: { type: "boolean", help: "store VALUE as a string even if it parses as JSON" },
    },
    async run([key, value], flags, client) {
      const query = flags.ifOffset === undefined ? "" : `?ifOffset=${flags.ifOffset}`;
      const answer = await client.write(keyPath(key!) + query, jsonBody("PUT", { value: parseValue(value!, flags.string) }));
      if (answer.status !== 200) return failure(answer, flags.json);
      console.log(flags.json ? JSON.stringify(answer.body) : `OK ${key} offset ${answer.body.offset}`);
      return 0;
    },
  },
  get: {
    usage: "kv get KEY [--min-offset N]\n\nPrints KEY's value (exit 1 when there is none); --min-offset waits until the node applied N.",
    positionals: ["KEY"],
    flags: { minOffset: { type: "number", integer: true, min: 0, help: "read only from a state at least this recent" } },
    async run([key], flags, client) {
      const answer = await client.read(keyPath(key!) + (flags.minOffset === undefined ? "" : `?minOffset=${flags.minOffset}`));
      if (answer.status !== 200) return failure(answer, flags.json);
      console.log(flags.json ? JSON.stringify(answer.body) : show(answer.body.value));
      return 0;
    },
  },
  del: {
    usage: "kv del KEY [--if-offset N]\n\nDeletes KEY; --if-offset N deletes only if its value is from offset N (else exit 1).",
    positionals: ["KEY"],
    flags: { ifOffset: { type: "number", integer: true, min: 0, help: "delete only if KEY's value is from offset N" } },
    async run([key], flags, client) {
      const answer = await client.write(keyPath(key!) + (flags.ifOffset === undefined ? "" : `?ifOffset=${flags.ifOffset}`), { method: "DELETE" });
      if (answer.status !== 200) return failure(answer, flags.json);
      console.log(flags.json ? JSON.stringify(answer.body) : `OK ${key} deleted at offset ${answer.body.offset}`);
      return 0;
    },
  },
  scan: {
    usage: "kv scan [--prefix P] [--after K] [--limit N] [--all]\n\nLists pairs in key order (one page, or every page with --all).",
    positionals: [],
    flags: {
      prefix: { type: "string", help: "only keys starting with this" },
      after: { type: "string", help: "start after this key (a page's next)" },
      limit: { type: "number", integer: true, min: 1, max: 1000, default: 100, help: "pairs per page" },
      all: { type: "boolean", help: "follow next until the last page" },
    },
    async run(_args, flags, client) {
      let after: string | undefined = flags.after;
      let minOffset = 0;
      for (;;) {
        const query = new URLSearchParams({ limit: String(flags.limit), minOffset: String(minOffset) });
        if (flags.prefix) query.set("prefix", flags.prefix);
        if (after !== undefined) query.set("after", after);
        const answer = await client.read(`/kv?${query}`);
        if (answer.status !== 200) return failure(answer, flags.json);
        for (const item of answer.body.items as { key: string; value: unknown; offset: number }[]) {
          console.log(flags.json ? JSON.stringify(item) : `${item.key}\t${show(item.value)}\t(offset ${item.offset})`);
        }
        after = answer.body.next;
        minOffset = answer.body.appliedOffset;
        if (!flags.all || after === undefined) return 0;
      }
    },
  },
  watch: {
    usage:
      "kv watch [--prefix P] [--from-offset N] [--count N]\n\nPrints committed changes as they happen (from offset N with --from-offset), reconnecting\nwith the last offset seen; stops after --count changes, or exit 1 when the node no longer\nholds the offset to resume from.",
    positionals: [],
    flags: {
      prefix: { type: "string", help: "only keys starting with this" },
      fromOffset: { type: "number", integer: true, min: 1, help: "first offset to show (default: changes from now on)" },
      count: { type: "number", integer: true, min: 1, help: "stop after this many changes" },
    },
    async run(_args, flags, client) {
      let seen = 0;
      let lastId: string | undefined = flags.fromOffset === undefined ? undefined : String(flags.fromOffset - 1);
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort());
      while (!controller.signal.aborted) {
        const query = new URLSearchParams(flags.prefix ? { prefix: flags.prefix } : {});
        const response = await client.stream(`/watch?${query}`, lastId === undefined ? {} : { "last-event-id": lastId }, controller.signal).catch((error) => {
          if (controller.signal.aborted) return null;
          throw error;
        });
        if (!response) return 0;
        if (response.status !== 200) return failure({ status: response.status, body: (await response.json()) as Record<string, any>, url: "" }, flags.json);
        try {
          for await (const event of readSse(response.body!)) {
            const data = JSON.parse(event.data) as Record<string, any>;
            if (event.event === "dropped") lastId = String(data.resumeFrom - 1);
            if (event.event === "compacted" || event.event === "error") {
              console.error(`kv: watch ended: ${event.event} ${event.data}`);
              return 1;
            }
            if (event.event !== "change") continue;
            if (event.id !== undefined) lastId = event.id;
            console.log(flags.json ? event.data : `${data.offset}\t${data.key}\t${data.deleted ? "(deleted)" : show(data.value)}`);
            if (flags.count !== undefined && ++seen >= flags.count) return 0;
          }
        } catch (error) {
          if (controller.signal.aborted) return 0;
          console.error(`kv: watch stream broke (${(error as Error).message}); reconnecting`);
        }
        await Bun.sleep(200);
      }
      return 0;
    },
  },
  txn: {
    usage:
      'kv txn [JSON | -]\n\nRuns a transaction: {"compare":[{"key","offset"}],"success":[ops],"failure":[ops]}, ops\n{"op":"put","key","value"}, {"op":"delete","key"}, {"op":"get","key"}; from the argument, or\nstdin with - or none. Exit 1 when the failure branch ran.',
    positionals: [],
    flags: {},
    async run(args, flags, client) {
      const text = args[0] !== undefined && args[0] !== "-" ? args[0] : await Bun.stdin.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return usageError("the transaction is not valid JSON");
      }
      const answer = await client.write("/txn", jsonBody("POST", body));
      if (answer.status !== 200) return failure(answer, flags.json);
      if (flags.json) console.log(JSON.stringify(answer.body));
      else {
        console.log(`${answer.body.succeeded ? "SUCCESS" : "FAILURE"} at offset ${answer.body.offset}`);
        for (const result of answer.body.results as Record<string, any>[]) {
          if (result.op === "get") console.log(`get ${result.key}\t${result.found ? `${show(result.value)}\t(offset ${result.offset})` : "(not found)"}`);
          else console.log(`${result.op} ${result.key}${result.op === "delete" && !result.deleted ? " (was absent)" : ""}`);
        }
      }
      return answer.body.succeeded ? 0 : 1;
    },
  },
  status: {
    usage: "kv status\n\nEach endpoint's role, epoch, offsets and keys.",
    positionals: [],
    flags: {},
    async run(_args, flags, client) {
      let reached = 0;
      for (const url of client.endpoints) {
        const answer = await new KvClient([url]).read("/status").catch((error: Error) => error);
        if (answer instanceof Error) {
          console.log(flags.json ? JSON.stringify({ url, error: answer.message }) : `${url}\tUNREACHABLE`);
          continue;
        }
        reached++;
        const s = answer.body;
        console.log(flags.json ? JSON.stringify({ url, ...s }) : `${url}\t${s.id}\t${s.role}\tepoch ${s.epoch}\tcommit ${s.commitOffset}\tkeys ${s.keys}`);
      }
      return reached > 0 ? 0 : 2;
    },
  },
  check: {
    usage: "kv check [--token T] [--wait-ms N]\n\nbun run check: compares every follower's state with the leader's (exit 1 when they differ).",
    positionals: [],
    flags: {
      token: { type: "string", help: "cluster token (env CLUSTER_TOKEN; default .quorumkv/cluster.json)" },
      waitMs: { type: "number", min: 0, default: 10_000, help: "how long to wait for every node to apply the leader's log" },
    },
    async run(_args, flags, client) {
      const token = resolveToken(flags.token) ?? usageError("no cluster token: pass --token, set CLUSTER_TOKEN, or start the cluster with `npm start`");
      const leader = await client.leader();
      const leaderStatus = await new KvClient([leader]).read("/status");
      const followerUrls = (leaderStatus.body.followers as { url: string }[]).map((follower) => follower.url);
      const result = await runCheck({ leaderUrl: leader, followerUrls, token, waitMs: flags.waitMs });
      console.log(flags.json ? JSON.stringify(result) : formatReport(result));
      return result.consistent ? 0 : 1;
    },
  },
  bench: {
    usage: "kv bench [--writes N] [--concurrency C] [--keys K]\n\nbun run load's closed model against the leader: throughput and latency.",
    positionals: [],
    flags: {
      writes: { type: "number", integer: true, min: 1, default: 10_000, help: "writes in all" },
      concurrency: { type: "number", integer: true, min: 1, default: 20, help: "concurrent clients" },
      keys: { type: "number", integer: true, min: 1, default: 100, help: "distinct keys" },
    },
    async run(_args, flags, client) {
      const leaderUrl = await client.leader();
      const summary = await runClosedLoad({ leaderUrl, nodeUrls: client.endpoints, writes: flags.writes, concurrency: flags.concurrency, keys: flags.keys });
      console.log(flags.json ? JSON.stringify(summary) : formatSummary(summary));
      return summary.failed + summary.indeterminate === 0 ? 0 : 1;
    },
  },
};

const mainUsage = `Usage: kv <command> [args] [flags]   (bun run kv -- <command> …)

Commands:
${Object.values(commands)
  .map((command) => `  ${command.usage.split("\n")[0]}`)
  .join("\n")}

Every command takes --endpoints URL,URL and --json; \`kv <command> --help\` for its own flags.
Exit codes: 0 ok, 1 not found or a condition that failed, 2 usage or connection error.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h") {
    process.stdout.write(mainUsage);
    return name === undefined ? 2 : 0;
  }
  if (name.startsWith("-")) return usageError(`unknown flag ${name} before a command (see kv --help)`);
  const command = commands[name];
  if (!command) return usageError(`unknown command "${name}" (see kv --help)`);
  const wantsHelp = rest.includes("--help") || rest.includes("-h");
  // txn's one argument is optional (stdin otherwise); every other command's are required, first.
  const optional = name === "txn" && rest[0] !== undefined && !rest[0].startsWith("--") ? 1 : 0;
  const count = wantsHelp ? 0 : name === "txn" ? optional : command.positionals.length;
  const args = rest.slice(0, count);
  if (args.length < count) return usageError(`${name} needs ${command.positionals.join(" ")} (see kv ${name} --help)`);
  const flags = parseToolFlags(`kv ${name}`, `Usage: ${command.usage}\n`, { ...command.flags, ...common }, rest.slice(count));
  return command.run(args, flags, new KvClient(resolveEndpoints(flags.endpoints)));
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2)).catch((error: Error) => {
    if (!(error instanceof TargetError || error instanceof UsageError)) throw error;
    console.error(`kv: ${error.message}`);
    return 2;
  });
  process.exit(code);
}
