import { dirname, normalize } from "node:path";
import type { FileSystem } from "../storage/file-system.ts";
import { applyOps, Bytes, type FileOp } from "./file-bytes.ts";
import type { Random } from "./random.ts";

/** A file: what is on the platter, what reads see (the page cache), and what lies between them. */
interface Inode {
  durable: Bytes;
  cache: Bytes;
  pending: FileOp[];
}

/**
 * A name linked to an inode (a creation), or moved to it from another (a rename), or a directory
 * made (no inode), in `dirs`, the directories it changes.
 */
interface NameOp {
  dirs: readonly string[];
  path: string;
  inode?: Inode;
  from?: string;
}

/**
 * A machine's disk for the simulator, as FoundationDB's simulated IAsyncFile: DiskStorage and its
 * start-up check (loadDir) run on it as they do on Linux. Reads see every write at once; the disk
 * keeps a file's bytes and size only once the file is synced (fdatasync, syncSoon), and its name,
 * or a new directory's, only once the directory holding it is (syncDir); what is in a directory
 * the disk did not keep is gone with it. A crash keeps a random part of the rest: a prefix of each
 * file's unsynced changes, each write of it whole, lost or torn (writeback is not in order), and a
 * prefix of the unsynced names. An fdatasync can fail as Linux's does ("fsyncgate"): part of the
 * unsynced bytes is lost for good, though reads still see it, and a later fdatasync succeeds
 * without it. Descriptors are numbered as Linux does, the lowest free one first, so a descriptor
 * used after its close writes into whatever file reuses it.
 *
 * Not modelled: a full disk (ENOSPC), hard links, unlink, renaming or removing directories, the
 * errors of a syncSoon (it never fails), permissions.
 */
export class SimFiles implements FileSystem {
  /** Chance that an fdatasync fails with EIO, losing part of what it was to make durable, or that a directory sync fails, making nothing durable. */
  syncFailureChance = 0;
  #names = new Map<string, Inode>();
  #durableNames = new Map<string, Inode>();
  #dirs = new Set<string>();
  /** The directories a restart finds: one made is durable once its parent is synced. */
  #durableDirs = new Set<string>();
  /** Creations and renames not yet durable, in the order they were made. */
  #nameOps: NameOp[] = [];
  #fds = new Map<number, Inode>();
  #version = 0;
  /** Set by `crashInNextSync`: the crash of this disk's machine, run inside the next sync. */
  #crashInSync: (() => boolean) | null = null;

  constructor(private readonly rng: Random) {}

  /** Grows whenever what the disk holds (bytes or names) changes: a decode of `durable()` stays good while it is the same. */
  get version(): number {
    return this.#version;
  }

  mkdirs(dir: string): void {
    const missing: string[] = [];
    for (let at = clean(dir); !this.#isDir(at); at = dirname(at)) {
      if (this.#names.has(at)) throw fsError(at === clean(dir) ? "EEXIST" : "ENOTDIR", "mkdir", dir);
      missing.push(at);
    }
    for (const at of missing.toReversed()) {
      this.#dirs.add(at);
      this.#nameOps.push({ dirs: [dirname(at)], path: at });
    }
  }

  exists(path: string): boolean {
    const at = clean(path);
    return this.#names.has(at) || this.#isDir(at);
  }

  read(path: string): Uint8Array {
    return this.#file(clean(path), "open").cache.copy();
  }

  open(path: string): number {
    return this.#openFile(clean(path), "open").fd;
  }

  create(path: string): number {
    const { fd, inode, existed } = this.#openFile(clean(path), "open");
    if (existed) this.#resize(inode, 0);
    return fd;
  }

  write(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number {
    const inode = this.#inode(fd, "write");
    if (!isCount(offset) || !isCount(length) || !isCount(position) || offset + length > bytes.length) {
      throw new RangeError(`write: offset ${offset}, length ${length} and position ${position} do not fit a buffer of ${bytes.length} bytes`);
    }
    if (length === 0) return 0;
    // A copy: the caller may reuse its buffer (Buffer's slice would share it).
    const data = new Uint8Array(bytes.subarray(offset, offset + length));
    inode.cache.write(data, position);
    inode.pending.push({ write: data, position });
    return length;
  }

  /**
   * The power fails while the process waits in its next fdatasync (of any file) or directory
   * sync: `crash` crashes the machine (and this disk, keeping part of what was written), then the
   * call throws, as it never returns to a process that is gone. `crash` returns false when it
   * declined (the process it was meant for is gone already): the sync then goes on. A sync is
   * where a real crash finds written, unsynced, perhaps torn records, or a rename not yet
   * durable; between simulated events DiskStorage has synced what it wrote.
   */
  crashInNextSync(crash: () => boolean): void {
    this.#crashInSync = crash;
  }

  /** Runs an armed crash (see crashInNextSync) and throws if it crashed; returns when none is armed or it declined. */
  #crashIfArmed(call: string): void {
    const crash = this.#crashInSync;
    if (!crash) return;
    this.#crashInSync = null;
    if (crash()) throw new Error(`the machine crashed during ${call}`);
  }

  cancelCrashInSync(): void {
    this.#crashInSync = null;
  }

  fdatasync(fd: number): void {
    const inode = this.#inode(fd, "fdatasync");
    this.#crashIfArmed("fdatasync");
    if (this.syncFailureChance > 0 && this.rng.chance(this.syncFailureChance)) {
      // Linux marks the pages it failed to write clean: the rest is never written unless written again.
      this.#persist(inode, inode.pending.slice(0, this.rng.int(0, inode.pending.length)));
      throw fsError("EIO", "fdatasync");
    }
    this.#persist(inode, inode.pending);
  }

  syncSoon(path: string): void {
    const inode = this.#file(clean(path), "open");
    this.#persist(inode, inode.pending);
  }

  syncDir(dir: string): void {
    const at = clean(dir);
    if (!this.#isDir(at)) throw fsError(this.#names.has(at) ? "ENOTDIR" : "ENOENT", "open", dir);
    this.#crashIfArmed("a directory sync");
    // A failed directory sync makes nothing durable; the names stay in the cache, to be synced again.
    if (this.syncFailureChance > 0 && this.rng.chance(this.syncFailureChance)) throw fsError("EIO", "fsync", dir);
    // A rename between two directories ties them: the earlier entries of the other go too, so that no name comes back later.
    const tied = new Set([at]);
    const synced = new Set<NameOp>();
    for (const op of this.#nameOps.toReversed()) {
      if (!op.dirs.some((opDir) => tied.has(opDir))) continue;
      synced.add(op);
      for (const opDir of op.dirs) tied.add(opDir);
    }
    if (synced.size === 0) return;
    for (const op of this.#nameOps) if (synced.has(op)) this.#makeDurable(op);
    this.#nameOps = this.#nameOps.filter((op) => !synced.has(op));
    this.#version++;
  }

  ftruncate(fd: number, length: number): void {
    this.#resize(this.#inode(fd, "ftruncate"), length);
  }

  truncate(path: string, length: number): void {
    this.#resize(this.#file(clean(path), "truncate"), length);
  }

  rename(from: string, to: string): void {
    const source = clean(from);
    const target = clean(to);
    const inode = this.#file(source, "rename");
    if (this.#isDir(target)) throw fsError("EISDIR", "rename", to);
    this.#checkParent(target, "rename", to);
    if (source === target) return;
    this.#names.set(target, inode);
    this.#names.delete(source);
    this.#nameOps.push({ dirs: [...new Set([dirname(source), dirname(target)])], path: target, inode, from: source });
  }

  close(fd: number): void {
    this.#inode(fd, "close");
    this.#fds.delete(fd);
  }

  /**
   * The process dies (kill -9, out of memory) and the machine stays up: its descriptors close, and
   * what it wrote or renamed without syncing stays in the page cache, where the next process reads
   * it, still unsynced: a later `crash` may lose it.
   */
  processCrash(): void {
    this.#fds.clear();
    this.#crashInSync = null;
    this.#version++;
  }

  /** The machine loses power: the disk keeps what was synced and some of the rest; the next process sees only that. */
  crash(): void {
    for (const inode of this.#liveInodes()) {
      applyOps(inode.durable, this.#writtenBack(inode.pending));
      // Every file's page cache goes, a file with nothing pending too: it may hold bytes a failed fdatasync lost.
      inode.cache = inode.durable.clone();
      inode.pending = [];
    }
    for (const op of this.#nameOps.slice(0, this.rng.int(0, this.#nameOps.length))) this.#makeDurable(op);
    this.#nameOps = [];
    this.#dropOrphans();
    this.#dirs = new Set(this.#durableDirs);
    this.#names = new Map(this.#durableNames);
    this.#fds.clear();
    this.#crashInSync = null;
    this.#version++;
  }

  /**
   * What a restart would find if the machine stopped now and no unsynced byte or name reached the
   * disk: a new SimFiles, for the checker to read without disturbing this one (it draws nothing).
   */
  durable(): SimFiles {
    const copy = new SimFiles(this.rng);
    for (const [path, inode] of this.#durableNames) {
      const twin = { durable: inode.durable.clone(), cache: inode.durable.clone(), pending: [] };
      copy.#durableNames.set(path, twin);
      copy.#names.set(path, twin);
    }
    for (const dir of this.#durableDirs) {
      copy.#dirs.add(dir);
      copy.#durableDirs.add(dir);
    }
    copy.#dropOrphans();
    return copy;
  }

  /** A corrupt sector: one byte of the file on disk changes (XOR 0x5a), and reads see it. */
  flipByte(path: string, position: number): void {
    const inode = this.#file(clean(path), "open");
    if (!isCount(position) || position >= inode.durable.length) {
      throw new RangeError(`flipByte: ${path} holds ${inode.durable.length} durable bytes, not byte ${position}`);
    }
    inode.durable.flip(position);
    if (position < inode.cache.length) inode.cache.flip(position);
    this.#version++;
  }

  /** The disk is replaced by an empty one. */
  wipe(): void {
    this.#names.clear();
    this.#durableNames.clear();
    this.#dirs.clear();
    this.#durableDirs.clear();
    this.#nameOps = [];
    this.#fds.clear();
    this.#crashInSync = null;
    this.#version++;
  }

  /** Every inode a name, a pending name or a descriptor reaches, in a replayable order: the others are gone for good. */
  #liveInodes(): Set<Inode> {
    return new Set([
      ...this.#names.values(),
      ...this.#durableNames.values(),
      ...this.#nameOps.flatMap((op) => (op.inode ? [op.inode] : [])),
      ...this.#fds.values(),
    ]);
  }

  /** What of a file's unsynced changes reaches the disk at a crash: a prefix of them, each write in it whole, lost or torn (at least one byte kept). */
  #writtenBack(pending: readonly FileOp[]): FileOp[] {
    if (pending.length === 0) return [];
    return pending.slice(0, this.rng.int(0, pending.length)).map((op) => {
      if ("truncate" in op) return op;
      const fate = this.rng.int(0, op.write.length > 1 ? 2 : 1);
      const kept = fate === 0 ? op.write.length : fate === 1 ? 0 : this.rng.int(1, op.write.length - 1);
      return { write: op.write.subarray(0, kept), position: op.position };
    });
  }

  /** `ops` reach the disk; the rest of the pending ones never will (a failed sync), and nothing is pending any more. */
  #persist(inode: Inode, ops: readonly FileOp[]): void {
    if (inode.pending.length === 0) return;
    applyOps(inode.durable, ops);
    inode.pending = [];
    this.#version++;
  }

  #resize(inode: Inode, length: number): void {
    if (!isCount(length)) throw fsError("EINVAL", "ftruncate");
    inode.cache.resize(length);
    inode.pending.push({ truncate: length });
  }

  #openFile(path: string, syscall: string): { fd: number; inode: Inode; existed: boolean } {
    let inode = this.#names.get(path);
    const existed = inode !== undefined;
    if (!inode) {
      if (this.#isDir(path)) throw fsError("EISDIR", syscall, path);
      this.#checkParent(path, syscall, path);
      inode = { durable: new Bytes(), cache: new Bytes(), pending: [] };
      this.#names.set(path, inode);
      this.#nameOps.push({ dirs: [dirname(path)], path, inode });
    }
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    this.#fds.set(fd, inode);
    return { fd, inode, existed };
  }

  #checkParent(path: string, syscall: string, given: string): void {
    const parent = dirname(path);
    if (!this.#isDir(parent)) throw fsError(this.#names.has(parent) ? "ENOTDIR" : "ENOENT", syscall, given);
  }

  #file(path: string, syscall: string): Inode {
    const inode = this.#names.get(path);
    if (!inode) throw fsError(this.#isDir(path) ? "EISDIR" : "ENOENT", syscall, path);
    return inode;
  }

  #inode(fd: number, syscall: string): Inode {
    const inode = this.#fds.get(fd);
    if (!inode) throw fsError("EBADF", syscall);
    return inode;
  }

  #makeDurable(op: NameOp): void {
    if (op.inode) link(this.#durableNames, { ...op, inode: op.inode });
    else this.#durableDirs.add(op.path);
  }

  /** Durable names and directories in a directory that is not durable are gone with it. */
  #dropOrphans(): void {
    const reachable = (path: string): boolean => {
      const parent = dirname(path);
      return parent === path || ((parent === dirname(parent) || this.#durableDirs.has(parent)) && reachable(parent));
    };
    for (const dir of [...this.#durableDirs]) if (!reachable(dir)) this.#durableDirs.delete(dir);
    for (const path of [...this.#durableNames.keys()]) if (!reachable(path)) this.#durableNames.delete(path);
  }

  /** The roots ("/", ".") always exist. */
  #isDir(path: string): boolean {
    return this.#dirs.has(path) || dirname(path) === path;
  }
}

function link(names: Map<string, Inode>, op: NameOp & { inode: Inode }): void {
  names.set(op.path, op.inode);
  if (op.from !== undefined) names.delete(op.from);
}

/** Paths as keys: "a//b/" and "a/b" are one directory. */
function clean(path: string): string {
  const normalized = normalize(path);
  return normalized.length > 1 && normalized.endsWith("/") ? normalized.slice(0, -1) : normalized;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

const messages: Record<string, string> = {
  EBADF: "bad file descriptor",
  EEXIST: "file already exists",
  EINVAL: "invalid argument",
  EIO: "i/o error",
  EISDIR: "illegal operation on a directory",
  ENOENT: "no such file or directory",
  ENOTDIR: "not a directory",
};

/** An error as node:fs throws it ("ENOENT: no such file or directory, open 'x'"), with its `code`. */
function fsError(code: string, syscall: string, path?: string): Error {
  return Object.assign(new Error(`${code}: ${messages[code]}, ${syscall}${path === undefined ? "" : ` '${path}'`}`), { code });
}
