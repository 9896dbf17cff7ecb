import { expect, test } from "bun:test";
import { Random } from "./random.ts";
import { SimFiles } from "./sim-files.ts";

const seeds = Array.from({ length: 50 }, (_, index) => index + 1);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A disk with a durable directory /d. */
function freshDisk(seed: number): SimFiles {
  const files = new SimFiles(new Random(seed));
  files.mkdirs("/d");
  files.syncDir("/");
  return files;
}

function put(files: SimFiles, fd: number, text: string, position: number): void {
  const bytes = encoder.encode(text);
  expect(files.write(fd, bytes, 0, bytes.length, position)).toBe(bytes.length);
}

function text(files: SimFiles, path: string): string | null {
  return files.exists(path) ? decoder.decode(files.read(path)) : null;
}

/** For every seed: a new disk, `scenario` on it, a crash, and what `look` then finds. */
function afterCrash<T>(scenario: (files: SimFiles) => void, look: (files: SimFiles) => T): T[] {
  return seeds.map((seed) => {
    const files = freshDisk(seed);
    scenario(files);
    files.crash();
    return look(files);
  });
}

function thrown(run: () => void): { code?: string; message: string } {
  try {
    run();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error("expected an error");
}

/** A file "/d/f" holding `synced`, its bytes and its name durable; returns its descriptor. */
function syncedFile(files: SimFiles, synced: string): number {
  const fd = files.create("/d/f");
  put(files, fd, synced, 0);
  files.fdatasync(fd);
  files.syncDir("/d");
  return fd;
}

test("synced bytes survive every crash; unsynced ones are kept whole, lost or torn, depending on the seed", () => {
  const found = afterCrash(
    (files) => put(files, syncedFile(files, "synced"), "unsynced", 6),
    (files) => text(files, "/d/f")!,
  );
  for (const content of found) {
    expect(content.startsWith("synced")).toBe(true);
    expect("unsynced".startsWith(content.slice(6))).toBe(true);
  }
  expect(found).toContain("synced");
  expect(found).toContain("syncedunsynced");
  expect(found.some((content) => content.length > "synced".length && content.length < "syncedunsynced".length)).toBe(true);
});

test("writeback is not in order: a later unsynced write can reach the disk without an earlier one", () => {
  const found = afterCrash(
    (files) => {
      const fd = syncedFile(files, "");
      put(files, fd, "a", 0);
      put(files, fd, "b", 1);
    },
    (files) => text(files, "/d/f"),
  );
  expect(found).toContain("\0b");
  expect(found).toContain("ab");
  expect(found).toContain("");
});

test("an unsynced truncation is kept for some seeds and not for others; a synced one for all", () => {
  const shrink = (sync: boolean) => (files: SimFiles) => {
    const fd = syncedFile(files, "0123456789");
    files.ftruncate(fd, 4);
    if (sync) files.fdatasync(fd);
  };
  expect(new Set(afterCrash(shrink(false), (files) => text(files, "/d/f")))).toEqual(new Set(["0123", "0123456789"]));
  expect(new Set(afterCrash(shrink(true), (files) => text(files, "/d/f")))).toEqual(new Set(["0123"]));
});

test("a synced file whose directory was not synced is missing after some crashes; after syncDir it is found after all", () => {
  const created = (syncDir: boolean) => (files: SimFiles) => {
    const fd = files.create("/d/new");
    put(files, fd, "data", 0);
    files.fdatasync(fd);
    files.close(fd);
    if (syncDir) files.syncDir("/d");
  };
  const unsyncedName = afterCrash(created(false), (files) => text(files, "/d/new"));
  expect(new Set(unsyncedName)).toEqual(new Set([null, "data"]));
  expect(new Set(afterCrash(created(true), (files) => text(files, "/d/new")))).toEqual(new Set(["data"]));
});

test("a rename not made durable can be undone by a crash, bringing back the file it replaced", () => {
  const replace = (syncDir: boolean) => (files: SimFiles) => {
    files.close(syncedFile(files, "old"));
    const fd = files.create("/d/f.tmp");
    put(files, fd, "new", 0);
    files.fdatasync(fd);
    files.close(fd);
    files.rename("/d/f.tmp", "/d/f");
    expect(text(files, "/d/f")).toBe("new");
    expect(files.exists("/d/f.tmp")).toBe(false);
    if (syncDir) files.syncDir("/d");
  };
  const look = (files: SimFiles) => `${text(files, "/d/f")} ${files.exists("/d/f.tmp")}`;
  expect(new Set(afterCrash(replace(false), look))).toEqual(new Set(["old false", "old true", "new false"]));
  expect(new Set(afterCrash(replace(true), look))).toEqual(new Set(["new false"]));
});

test("a rename between directories made durable by the target's directory never leaves the file under both names", () => {
  const found = afterCrash(
    (files) => {
      files.mkdirs("/e");
      files.syncDir("/");
      files.close(files.create("/d/x"));
      files.rename("/d/x", "/e/y");
      files.syncDir("/e");
    },
    (files) => [files.exists("/d/x"), files.exists("/e/y")],
  );
  for (const names of found) expect(names).toEqual([false, true]);
});

/** A file whose fdatasync failed once (syncFailureChance 1), then succeeded: returns the disk and the file's descriptor. */
function failedThenSynced(seed: number): { files: SimFiles; fd: number } {
  const files = freshDisk(seed);
  const fd = syncedFile(files, "");
  put(files, fd, "first", 0);
  put(files, fd, "second", 5);
  files.syncFailureChance = 1;
  const error = thrown(() => files.fdatasync(fd));
  expect(error.code).toBe("EIO");
  expect(error.message.startsWith("EIO")).toBe(true);
  files.syncFailureChance = 0;
  expect(text(files, "/d/f")).toBe("firstsecond");
  files.fdatasync(fd);
  return { files, fd };
}

test("bytes a failed fdatasync lost stay lost after a later good one, though reads saw them; writing them again saves them", () => {
  const afterCrashes = seeds.map((seed) => {
    const { files } = failedThenSynced(seed);
    files.crash();
    return text(files, "/d/f");
  });
  expect(afterCrashes.some((content) => content !== "firstsecond")).toBe(true);
  for (const seed of seeds) {
    const { files, fd } = failedThenSynced(seed);
    put(files, fd, "firstsecond", 0);
    files.fdatasync(fd);
    files.crash();
    expect(text(files, "/d/f")).toBe("firstsecond");
  }
});

test("durable() shows what is synced only, and neither changes the disk nor draws from its randomness", () => {
  const build = (seed: number) => {
    const files = freshDisk(seed);
    put(files, syncedFile(files, "synced"), "unsynced", 6);
    files.close(files.create("/d/new"));
    return files;
  };
  const files = build(1);
  const image = files.durable();
  expect(text(image, "/d/f")).toBe("synced");
  expect(image.exists("/d/new")).toBe(false);
  expect(image.exists("/d")).toBe(true);
  image.flipByte("/d/f", 0);
  put(image, image.open("/d/f"), "image", 0);
  expect(text(files, "/d/f")).toBe("syncedunsynced");
  expect(files.exists("/d/new")).toBe(true);

  const look = (disk: SimFiles) => `${text(disk, "/d/f")} ${disk.exists("/d/new")}`;
  const outcomes = seeds.map((seed) => {
    const plain = build(seed);
    const looked = build(seed);
    looked.durable();
    plain.crash();
    looked.crash();
    expect(look(looked)).toBe(look(plain));
    return look(plain);
  });
  expect(new Set(outcomes).size).toBeGreaterThan(1);
});

test("the same seed and the same operations give the same disk after a crash", () => {
  const paths = ["/d/log", "/d/epoch", "/d/epoch.tmp", "/d/sub/x", "/d/y"];
  const run = (seed: number) => {
    const files = freshDisk(seed);
    files.mkdirs("/d/sub");
    const log = files.open("/d/log");
    for (let index = 0; index < 20; index++) {
      put(files, log, `record ${index};`, index * 10);
      if (index % 7 === 0) files.fdatasync(log);
    }
    const epoch = files.create("/d/epoch.tmp");
    put(files, epoch, "epoch 3", 0);
    files.fdatasync(epoch);
    files.rename("/d/epoch.tmp", "/d/epoch");
    const other = files.create("/d/sub/x");
    put(files, other, "other file", 0);
    files.ftruncate(other, 3);
    files.rename("/d/sub/x", "/d/y");
    files.crash();
    return paths.map((path) => text(files, path));
  };
  const outcomes = seeds.map((seed) => {
    const found = run(seed);
    expect(run(seed)).toEqual(found);
    return JSON.stringify(found);
  });
  expect(new Set(outcomes).size).toBeGreaterThan(1);
});

test("flipByte damages one byte on disk and in reads, and refuses a byte the file does not hold", () => {
  const files = freshDisk(1);
  syncedFile(files, "abc");
  files.flipByte("/d/f", 1);
  const expected = Uint8Array.of(0x61, 0x62 ^ 0x5a, 0x63);
  expect(files.read("/d/f")).toEqual(expected);
  expect(files.durable().read("/d/f")).toEqual(expected);
  expect(() => files.flipByte("/d/f", 3)).toThrow(RangeError);
  expect(thrown(() => files.flipByte("/d/missing", 0)).code).toBe("ENOENT");
});

test("version grows when the disk's content changes (syncs, syncDir, crash, flipByte), not on writes", () => {
  const files = freshDisk(1);
  let version = files.version;
  const grew = () => {
    const before = version;
    version = files.version;
    return version > before;
  };
  const fd = files.create("/d/f");
  put(files, fd, "abc", 0);
  files.ftruncate(fd, 2);
  expect(grew()).toBe(false);
  files.fdatasync(fd);
  expect(grew()).toBe(true);
  files.syncDir("/d");
  expect(grew()).toBe(true);
  put(files, fd, "d", 2);
  expect(grew()).toBe(false);
  files.syncSoon("/d/f");
  expect(grew()).toBe(true);
  files.crash();
  expect(grew()).toBe(true);
  files.flipByte("/d/f", 0);
  expect(grew()).toBe(true);
});

test("reads see writes at once; a gap, a file grown, and bytes cut then grown again read zeros; a write copies its buffer", () => {
  const files = freshDisk(1);
  const fd = files.open("/d/f");
  files.syncDir("/d");
  const buffer = encoder.encode("xyz");
  files.write(fd, buffer, 1, 2, 3);
  buffer.fill(0x21);
  expect(files.read("/d/f")).toEqual(Uint8Array.of(0, 0, 0, 0x79, 0x7a));
  files.fdatasync(fd);
  expect(files.durable().read("/d/f")).toEqual(Uint8Array.of(0, 0, 0, 0x79, 0x7a));
  files.ftruncate(fd, 4);
  files.truncate("/d/f", 5);
  expect(files.read("/d/f")).toEqual(Uint8Array.of(0, 0, 0, 0x79, 0));
  files.fdatasync(fd);
  expect(files.durable().read("/d/f")).toEqual(Uint8Array.of(0, 0, 0, 0x79, 0));
  files.close(files.create("/d/f"));
  expect(files.read("/d/f")).toEqual(new Uint8Array(0));
});

test("errors as Linux gives them: ENOENT, EBADF, EISDIR, ENOTDIR", () => {
  const files = freshDisk(1);
  expect(thrown(() => files.read("/d/missing")).code).toBe("ENOENT");
  expect(thrown(() => files.truncate("/d/missing", 0)).code).toBe("ENOENT");
  expect(thrown(() => files.open("/nowhere/f")).code).toBe("ENOENT");
  expect(thrown(() => files.rename("/d/missing", "/d/g")).code).toBe("ENOENT");
  expect(thrown(() => files.syncDir("/nowhere")).code).toBe("ENOENT");
  expect(thrown(() => files.read("/d")).code).toBe("EISDIR");
  const fd = files.open("/d/f");
  expect(thrown(() => files.mkdirs("/d/f/sub")).code).toBe("ENOTDIR");
  files.close(fd);
  expect(thrown(() => files.close(fd)).code).toBe("EBADF");
  expect(thrown(() => files.write(99, new Uint8Array(1), 0, 1, 0)).code).toBe("EBADF");
  expect(thrown(() => files.fdatasync(99)).code).toBe("EBADF");
});

test("descriptors count up from 3, the lowest free one first, and a crash forgets them all", () => {
  const files = freshDisk(1);
  const first = files.open("/d/a");
  const second = files.open("/d/b");
  expect([first, second]).toEqual([3, 4]);
  files.close(first);
  expect(files.open("/d/c")).toBe(3);
  files.crash();
  expect(thrown(() => files.fdatasync(second)).code).toBe("EBADF");
});

test("wipe leaves an empty disk", () => {
  const files = freshDisk(1);
  syncedFile(files, "data");
  files.wipe();
  expect(files.exists("/d/f")).toBe(false);
  expect(files.exists("/d")).toBe(false);
  expect(thrown(() => files.open("/d/f")).code).toBe("ENOENT");
});

test("a directory made is durable once its parent is synced: before, a crash may take it with the files synced in it", () => {
  const found = afterCrash(
    (files) => {
      files.mkdirs("/d/new/deeper");
      const fd = files.create("/d/new/deeper/f");
      put(files, fd, "synced", 0);
      files.fdatasync(fd);
      files.syncDir("/d/new/deeper");
    },
    (files) => [files.exists("/d/new"), files.exists("/d/new/deeper/f")],
  );
  expect(found).toContainEqual([false, false]);
  expect(found).toContainEqual([true, true]);
  const kept = afterCrash(
    (files) => {
      files.mkdirs("/d/new/deeper");
      files.syncDir("/d");
      files.syncDir("/d/new");
      const fd = files.create("/d/new/deeper/f");
      files.fdatasync(fd);
      files.syncDir("/d/new/deeper");
    },
    (files) => [files.exists("/d/new"), files.exists("/d/new/deeper/f")],
  );
  expect(new Set(kept.map(String))).toEqual(new Set(["true,true"]));
});
