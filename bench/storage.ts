import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StateMachine } from "../src/core/state-machine.ts";
import type { Entry } from "../src/core/types.ts";
import { realClock, realTimers } from "../src/node/env.ts";
import type { Storage } from "../src/node/storage.ts";
import { parseToolFlags } from "../src/flags.ts";
import { DiskStorage } from "../src/storage/disk-storage.ts";
import { median } from "../tools/lib/latency.ts";
import { benchEntry, largeStatePairs } from "./lib/large-state.ts";

/**
 * The two candidate disk formats on this machine, SYNC=fsync: DiskStorage (our checksummed
 * append-only log, fdatasync per group) and bun:sqlite (WAL, synchronous=FULL, a CRC per row as
 * DiskStorage has). Per-commit latency (one entry per commit, awaited), throughput in batches,
 * then DiskStorage's restart time and disk bytes per live byte with a large state.
 */

const flags = parseToolFlags("storage", "Usage: bun run bench:storage [flags]\n\nMeasures the disk storage candidates; prints figures.", {
  commits: { type: "number", help: "single-entry commits timed", default: 2000, integer: true, min: 10 },
  batches: { type: "number", help: "100-entry batches timed", default: 500, integer: true, min: 1 },
  keys: { type: "number", help: "keys in the restart measurement", default: 1_000_000, integer: true, min: 1 },
  rounds: { type: "number", help: "interleaved rounds (medians reported)", default: 3, integer: true, min: 1 },
});

const root = mkdtempSync(join(tmpdir(), "quorumkv-bench-storage-"));
let dirs = 0;
const newDir = () => join(root, `d${++dirs}`);
const synced = (storage: Storage) => new Promise<void>((resolve) => storage.sync(resolve));

function openDisk(): DiskStorage {
  return DiskStorage.open(newDir(), "fsync", { clock: realClock, timers: realTimers, log: () => {} }).storage;
}

function openSqlite(): { append(entries: Entry[]): void; close(): void } {
  const db = new Database(join(newDir() + ".sqlite"), { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
  db.run("CREATE TABLE log (offset INTEGER PRIMARY KEY, body TEXT NOT NULL, crc INTEGER NOT NULL)");
  const insert = db.prepare("INSERT INTO log (offset, body, crc) VALUES (?, ?, ?)");
  const appendAll = db.transaction((entries: Entry[]) => {
    for (const one of entries) {
      const body = JSON.stringify(one);
      insert.run(one.offset, body, Bun.hash.crc32(body));
    }
  });
  return { append: (entries) => appendAll(entries), close: () => db.close() };
}

async function diskCommitMs(): Promise<number> {
  const storage = openDisk();
  const started = performance.now();
  for (let offset = 1; offset <= flags.commits; offset++) {
    storage.appendEntries([benchEntry(offset)]);
    await synced(storage);
  }
  storage.close();
  return (performance.now() - started) / flags.commits;
}

function sqliteCommitMs(): number {
  const sqlite = openSqlite();
  const started = performance.now();
  for (let offset = 1; offset <= flags.commits; offset++) sqlite.append([benchEntry(offset)]);
  sqlite.close();
  return (performance.now() - started) / flags.commits;
}

async function diskEntriesPerS(): Promise<number> {
  const storage = openDisk();
  const started = performance.now();
  for (let batch = 0; batch < flags.batches; batch++) {
    storage.appendEntries(Array.from({ length: 100 }, (_, index) => benchEntry(batch * 100 + index + 1)));
    await synced(storage);
  }
  storage.close();
  return (flags.batches * 100) / ((performance.now() - started) / 1000);
}

function sqliteEntriesPerS(): number {
  const sqlite = openSqlite();
  const started = performance.now();
  for (let batch = 0; batch < flags.batches; batch++) sqlite.append(Array.from({ length: 100 }, (_, index) => benchEntry(batch * 100 + index + 1)));
  sqlite.close();
  return (flags.batches * 100) / ((performance.now() - started) / 1000);
}

const figures = { diskCommitMs: [] as number[], sqliteCommitMs: [] as number[], diskEntriesPerS: [] as number[], sqliteEntriesPerS: [] as number[] };
for (let round = 0; round < flags.rounds; round++) {
  figures.diskCommitMs.push(await diskCommitMs());
  figures.sqliteCommitMs.push(sqliteCommitMs());
  figures.diskEntriesPerS.push(await diskEntriesPerS());
  figures.sqliteEntriesPerS.push(sqliteEntriesPerS());
}
console.log(`single-entry commit, fsync (median of ${flags.rounds} rounds of ${flags.commits}):`);
console.log(`  DiskStorage (log + fdatasync)   ${median(figures.diskCommitMs).toFixed(3)} ms`);
console.log(`  bun:sqlite (WAL, sync=FULL)     ${median(figures.sqliteCommitMs).toFixed(3)} ms`);
console.log(`100-entry batches, fsync (median of ${flags.rounds} rounds of ${flags.batches}):`);
console.log(`  DiskStorage                     ${Math.round(median(figures.diskEntriesPerS)).toLocaleString("en")} entries/s`);
console.log(`  bun:sqlite                      ${Math.round(median(figures.sqliteEntriesPerS)).toLocaleString("en")} entries/s`);

// Restart with a large state: a snapshot of `keys` pairs and a log after it, loaded and restored
// as src/main.ts does for a follower. The pairs in key order, as a node's snapshot lists them.
const dir = newDir();
const pairs = largeStatePairs(flags.keys);
const liveBytes = pairs.reduce((sum, [key, value]) => sum + key.length + value.length, 0);
const env = { clock: realClock, timers: realTimers, log: () => {} };
const writer = DiskStorage.open(dir, "fsync", env).storage;
let started = performance.now();
writer.saveSnapshot({ offset: flags.keys, epoch: 1, pairs });
const snapshotMs = performance.now() - started;
writer.appendEntries(Array.from({ length: 10_000 }, (_, index) => benchEntry(flags.keys + index + 1)));
await synced(writer);
const diskBytes = writer.status().bytes;
writer.close();
started = performance.now();
const cpuBefore = process.cpuUsage();
const { data } = DiskStorage.open(dir, "fsync", env);
const loadMs = performance.now() - started;
const state = StateMachine.restore(data.snapshot!.offset, data.snapshot!.epoch, data.snapshot!.pairs);
const restartMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
console.log(
  `restart with ${flags.keys.toLocaleString("en")} keys (+ ${data.entries.length.toLocaleString("en")} log entries): ${Math.round(restartMs)} ms (load and check ${Math.round(loadMs)} ms, restore ${state.size.toLocaleString("en")} keys ${Math.round(restartMs - loadMs)} ms; CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms, GC threads included)`,
);
console.log(`snapshot write: ${Math.round(snapshotMs)} ms; disk bytes per live byte (key + value): ${(diskBytes / liveBytes).toFixed(2)}`);
rmSync(root, { recursive: true, force: true });
