import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../config.ts";
import { productionFollowerEnv, realClock, realTimers } from "../node/env.ts";
import { FollowerNode } from "../node/follower-node.ts";
import type { SyncMode } from "../node/storage.ts";
import type { DiskStorageOptions } from "./disk-limits.ts";
import { DiskStorage } from "./disk-storage.ts";
import { encodeRecord } from "./records.ts";
import { entry, recordsEnd, storageConformance, synced } from "./storage-conformance.ts";

const root = mkdtempSync(join(tmpdir(), "quorumkv-disk-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

export function openDisk(mode: SyncMode, dir = join(root, `d${++dirs}`), log: (line: string) => void = () => {}, options: DiskStorageOptions = {}) {
  const env = { clock: realClock, timers: realTimers, log };
  let { storage } = DiskStorage.open(dir, mode, env, options);
  return {
    dir,
    /** The storage open now: `reopen` replaces it. */
    get storage() {
      return storage;
    },
    reopen() {
      storage.close();
      const opened = DiskStorage.open(dir, mode, env, options);
      storage = opened.storage;
      return opened.data;
    },
  };
}

/** Ten entries, one log record each; returns the byte offset where each record starts. */
async function tenRecords() {
  const disk = openDisk("fsync");
  const starts: number[] = [];
  for (let offset = 1; offset <= 10; offset++) {
    starts.push(recordsEnd(join(disk.dir, "log")));
    disk.storage.appendEntries([entry(offset)]);
    await synced(disk.storage);
  }
  disk.storage.close();
  return { ...disk, starts, logPath: join(disk.dir, "log") };
}

for (const mode of ["fsync", "write", "none"] as const) {
  describe(`DiskStorage SYNC=${mode}`, () => storageConformance(() => openDisk(mode)));
}
describe("start-up checks on real files", () => {
  test("an epoch file written before the write quorum was kept beside it loads, with no write quorum", () => {
    const disk = openDisk("fsync");
    writeFileSync(join(disk.dir, "epoch"), encodeRecord({ epoch: 7 }));
    expect(disk.reopen()).toMatchObject({ epoch: 7, writeQuorum: null, writeQuorumFloor: null });
  });

  const tears = {
    "the file ends inside it (an append cut short)": (logPath: string) => truncateSync(logPath, recordsEnd(logPath) - 3),
    "its last bytes are still the preallocated zeros": (logPath: string) => {
      const bytes = readFileSync(logPath);
      const end = recordsEnd(logPath);
      bytes.fill(0, end - 3, end);
      expect(bytes.length).toBeGreaterThan(end);
      writeFileSync(logPath, bytes);
    },
  };
  test.each(Object.entries(tears))("a torn record at the end is cut off, and the log goes on from there: %s", async (_, tear) => {
    const { dir, starts, logPath } = await tenRecords();
    tear(logPath);
    const lines: string[] = [];
    const reopened = openDisk("fsync", dir, (line) => lines.push(line));
    const data = reopened.reopen();
    expect(data.entries.map((e) => e.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(lines.join("\n")).toContain(`${logPath} byte ${starts[9]}: a torn record at the end`);
    expect(statSync(logPath).size).toBe(starts[9]!);
    reopened.storage.appendEntries([entry(10, 2)]);
    await synced(reopened.storage);
    expect(reopened.reopen().entries.at(-1)).toEqual(entry(10, 2));
  });

  test("a flipped byte in a middle record: the log is cut before it, never served", async () => {
    const { dir, starts, logPath } = await tenRecords();
    const bytes = readFileSync(logPath);
    bytes[starts[4]! + 12]! ^= 0x01;
    writeFileSync(logPath, bytes);
    const lines: string[] = [];
    const data = openDisk("fsync", dir, (line) => lines.push(line)).reopen();
    expect(data.entries.map((e) => e.offset)).toEqual([1, 2, 3, 4]);
    expect(lines.join("\n")).toContain(`${logPath} byte ${starts[4]}: a corrupt record`);
  });

  test("a corrupt snapshot is set aside with the log after it: the node starts empty but for its promises, naming the file and the offset", async () => {
    const disk = openDisk("fsync");
    disk.storage.promiseEpoch(4);
    disk.storage.keepWriteQuorum(4, 2);
    disk.storage.appendEntries([entry(1), entry(2)]);
    disk.storage.saveSnapshot({
      offset: 2,
      epoch: 1,
      pairs: [
        ["k1", "1", 1],
        ["k2", "2", 2],
      ],
    });
    disk.storage.appendEntries([entry(3)]);
    await synced(disk.storage);
    disk.storage.close();
    const path = join(disk.dir, "snapshot");
    const bytes = readFileSync(path);
    bytes[bytes.length - 30]! ^= 0x40;
    writeFileSync(path, bytes);
    const lines: string[] = [];
    const data = openDisk("fsync", disk.dir, (line) => lines.push(line)).reopen();
    expect(data).toEqual({ epoch: 4, writeQuorumFloor: 2, writeQuorum: 4, snapshot: null, entries: [] });
    expect(lines.join("\n")).toMatch(new RegExp(`${path} byte \\d+: the snapshot does not check; set aside as ${path}.corrupt`));
    expect(readFileSync(`${path}.corrupt`)).toEqual(bytes);
  });

  test("a corrupt epoch file: the node refuses to start, naming the file and the offset (the promise cannot be rebuilt)", async () => {
    const disk = openDisk("fsync");
    disk.storage.promiseEpoch(4);
    await synced(disk.storage);
    disk.storage.close();
    const path = join(disk.dir, "epoch");
    const bytes = readFileSync(path);
    bytes[bytes.length - 2]! ^= 0x01;
    writeFileSync(path, bytes);
    expect(() => openDisk("fsync", disk.dir)).toThrow(new RegExp(`^${path} byte 0: the epoch promise does not check`));
  });

  test("a sync with nothing handed over since the last one costs no fdatasync", async () => {
    const { storage } = openDisk("fsync");
    storage.appendEntries([entry(1)]);
    await synced(storage);
    const before = storage.syncCount;
    for (let index = 0; index < 10; index++) await synced(storage);
    expect(storage.syncCount).toBe(before);
    storage.appendEntries([entry(2)]);
    await synced(storage);
    expect(storage.syncCount).toBe(before + 1);
  });

  test("one fdatasync covers every write of the same turn (group commit)", async () => {
    const { storage } = openDisk("fsync");
    const before = storage.syncCount;
    const all = Array.from({ length: 100 }, (_, index) => {
      storage.appendEntries([entry(index + 1)]);
      return synced(storage);
    });
    await Promise.all(all);
    expect(storage.syncCount - before).toBe(1);
  });

  test("with startNow, sync writes, fdatasyncs and calls back before it returns; callbacks come in order", () => {
    const { storage } = openDisk("fsync");
    const order: number[] = [];
    for (const offset of [1, 2, 3]) {
      storage.appendEntries([entry(offset)]);
      storage.sync(() => order.push(offset), true);
      expect(order).toEqual([1, 2, 3].slice(0, offset));
      expect(storage.syncCount).toBe(offset);
    }
  });

  test("callbacks waiting for the end of the turn run, in order, after the one sync that covers them", async () => {
    const { storage } = openDisk("fsync");
    const order: number[] = [];
    storage.appendEntries([entry(1)]);
    storage.sync(() => order.push(1));
    storage.appendEntries([entry(2)]);
    storage.sync(() => order.push(2));
    expect(order).toEqual([]);
    // A caller batching already (the leader's pump) stores everything handed over so far, the waiting callbacks' writes included.
    storage.sync(() => order.push(3), true);
    expect(order).toEqual([1, 2, 3]);
    expect(storage.syncCount).toBe(1);
    await synced(storage);
    expect(storage.syncCount).toBe(1);
  });

  test("startNow writes and syncs in the caller's turn; without it, at the end of the turn", async () => {
    const { dir, storage } = openDisk("fsync");
    const logPath = join(dir, "log");
    storage.appendEntries([entry(1)]);
    const later = synced(storage);
    expect(statSync(logPath).size).toBe(0);
    expect(storage.syncCount).toBe(0);
    await later;
    const size = recordsEnd(logPath);
    storage.appendEntries([entry(2)]);
    let stored = false;
    storage.sync(() => {
      stored = true;
    }, true);
    expect(recordsEnd(logPath)).toBeGreaterThan(size);
    expect(storage.syncCount).toBe(2);
    expect(stored).toBe(true);
  });
});

describe("preallocation: SYNC=fsync writes records into zeros written and synced ahead of them", () => {
  const logPreallocateBytes = 4096;

  test("the file keeps its size while the records fit, gets logPreallocateBytes ahead again once less than a quarter is left; SYNC=write writes no zeros", async () => {
    for (const mode of ["fsync", "write"] as const) {
      const { dir, storage } = openDisk(mode, undefined, () => {}, { logPreallocateBytes });
      const logPath = join(dir, "log");
      let grown = 0;
      let before = { size: 0, end: 0 };
      for (let offset = 1; offset <= 200; offset++) {
        storage.appendEntries([entry(offset)]);
        await synced(storage);
        const now = { size: statSync(logPath).size, end: recordsEnd(logPath) };
        expect(storage.status().bytes).toBe(now.size);
        if (mode === "write") expect(now.size).toBe(now.end);
        else if (now.size === before.size) expect((now.size - now.end) * 4).toBeGreaterThanOrEqual(logPreallocateBytes - (now.end - before.end) * 4);
        else {
          expect(now.size).toBe(now.end + logPreallocateBytes);
          grown++;
        }
        before = now;
      }
      if (mode === "fsync") expect(grown).toBeGreaterThan(2);
    }
  });

  test("after a clean stop the zero tail stays: the restart cuts nothing, loads every entry, and appends go after the records", async () => {
    const lines: string[] = [];
    const disk = openDisk("fsync", undefined, (line) => lines.push(line), { logPreallocateBytes });
    const logPath = join(disk.dir, "log");
    disk.storage.appendEntries([entry(1), entry(2), entry(3)]);
    await synced(disk.storage);
    const size = statSync(logPath).size;
    expect(size).toBeGreaterThan(recordsEnd(logPath));
    expect(disk.reopen().entries.map((e) => e.offset)).toEqual([1, 2, 3]);
    expect(statSync(logPath).size).toBe(size);
    disk.storage.appendEntries([entry(4)]);
    await synced(disk.storage);
    expect(disk.reopen().entries.map((e) => e.offset)).toEqual([1, 2, 3, 4]);
    expect(statSync(logPath).size).toBe(size);
    expect(lines).toEqual([]);
  });

  test("a record header zeroed in the middle (zero length, records after it) is a corrupt record, not the end of the log", async () => {
    const { dir, starts, logPath } = await tenRecords();
    const bytes = readFileSync(logPath);
    bytes.fill(0, starts[4]!, starts[4]! + 8);
    writeFileSync(logPath, bytes);
    const lines: string[] = [];
    const data = openDisk("fsync", dir, (line) => lines.push(line)).reopen();
    expect(data.entries.map((e) => e.offset)).toEqual([1, 2, 3, 4]);
    expect(lines.join("\n")).toContain(`${logPath} byte ${starts[4]}: a corrupt record`);
  });

  test.skipIf(process.getuid?.() !== 0)("a preallocation that finds the disk full (a 64 KiB tmpfs) leaves writes available while they fit", async () => {
    const mountPoint = join(root, "tmpfs");
    mkdirSync(mountPoint);
    const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint]);
    expect(mount.exitCode).toBe(0);
    const disk = openDisk("fsync", join(mountPoint, "data"), () => {}, { logPreallocateBytes: 1024 * 1024 });
    try {
      for (let offset = 1; offset <= 50; offset++) {
        disk.storage.appendEntries([entry(offset)]);
        await synced(disk.storage);
        expect(disk.storage.unavailable).toBeNull();
      }
      // The zeros went as far as the disk allowed (they stop where they got to, not cut back), and the records went into them.
      expect(statSync(join(disk.dir, "log")).size).toBeGreaterThan(32 * 1024);
      expect(disk.reopen().entries.length).toBe(50);
    } finally {
      disk.storage.close();
      Bun.spawnSync(["umount", "--lazy", mountPoint]);
    }
  });
});

test("compaction keeps the disk within twice the live data, old files gone, and what it keeps restores the state", async () => {
  const minLogBytes = 16 * 1024;
  const logPreallocateBytes = 4096;
  const disk = openDisk("fsync", undefined, () => {}, { compactionMinLogBytes: minLogBytes, logPreallocateBytes });
  const state = new Map<string, [string, number]>();
  let snapshots = 0;
  for (let offset = 1; offset <= 20_000; offset++) {
    const key = `key-${offset % 200}`;
    disk.storage.appendEntries([entry(offset, 1, key, JSON.stringify("x".repeat(offset % 50)))]);
    state.set(key, [JSON.stringify("x".repeat(offset % 50)), offset]);
    if (offset % 100 === 0) {
      await synced(disk.storage);
      if (disk.storage.compactionDue) {
        disk.storage.saveSnapshot({ offset, epoch: 1, pairs: [...state].map(([key, [value, at]]) => [key, value, at]) });
        snapshots++;
      }
    }
  }
  await synced(disk.storage);
  expect(snapshots).toBeGreaterThan(10);
  const snapshotBytes = statSync(join(disk.dir, "snapshot")).size;
  expect(disk.storage.status().bytes).toBeLessThanOrEqual(2 * snapshotBytes + minLogBytes + logPreallocateBytes);
  expect(readdirSync(disk.dir).sort()).toEqual(["log", "snapshot"]);
  const data = disk.reopen();
  const restored = new Map(data.snapshot!.pairs.map(([key, value, at]) => [key, [value, at]]));
  for (const stored of data.entries) restored.set(stored.key, [stored.value!, stored.offset]);
  expect(restored).toEqual(state);
});

test("a follower restarted on its DATA_DIR tells a recovering leader's fence the write quorum floor it had learnt", async () => {
  const config = parseConfig({ ROLE: "follower", CLUSTER_TOKEN: "test-token-0123456789", NODE_ID: "f1" });
  const disk = openDisk("fsync");
  const before = new FollowerNode(config, { ...productionFollowerEnv(), storage: disk.storage });
  const message = { epoch: 1, leaderId: "L", prevOffset: 0, prevEpoch: 0, entries: [entry(1), entry(2)], commitOffset: 2, writeQuorumFloor: 1 };
  expect(await new Promise((resolve) => before.replicate(message, resolve))).toMatchObject({ kind: "ok", lastOffset: 2 });
  const stored = disk.reopen();
  const after = new FollowerNode(config, { ...productionFollowerEnv(), storage: disk.storage, stored });
  const position = await new Promise<{ writeQuorumFloor?: number | null; lastOffset: number }>((resolve) => after.fence(2, "L2", resolve));
  expect(position).toMatchObject({ writeQuorumFloor: 1, lastOffset: 2 });
});
