import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realClock, realTimers } from "../node/env.ts";
import type { SyncMode } from "../node/storage.ts";
import { DiskStorage } from "./disk-storage.ts";
import { storageConformance } from "./storage-conformance.ts";

const root = mkdtempSync(join(tmpdir(), "quorumkv-disk-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

export function openDisk(mode: SyncMode, dir = join(root, `d${++dirs}`), log: (line: string) => void = () => {}) {
  const env = { clock: realClock, timers: realTimers, log };
  let { storage } = DiskStorage.open(dir, mode, env);
  return {
    dir,
    storage,
    reopen() {
      storage.close();
      const opened = DiskStorage.open(dir, mode, env);
      storage = opened.storage;
      return opened.data;
    },
  };
}

for (const mode of ["fsync", "write", "none"] as const) {
  describe(`DiskStorage SYNC=${mode}`, () => storageConformance(() => openDisk(mode)));
}
