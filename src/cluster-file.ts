import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { PortInUseError } from "./cluster.ts";

/** The launcher's state folder and cluster.json, which tells the tools where the running cluster is. */

const projectRoot = resolve(import.meta.dir, "..");

/** Where `npm start` keeps its state: `.quorumkv/` in the project, or QUORUMKV_STATE_DIR (the tests use a temp folder). */
export const stateDir = process.env.QUORUMKV_STATE_DIR ? resolve(process.env.QUORUMKV_STATE_DIR) : join(projectRoot, ".quorumkv");
/** The running cluster's URLs and token for the tools (DESIGN §7), written by `npm start`. */
export const clusterFile = join(stateDir, "cluster.json");

export type ClusterFile = { leader: string; followers: string[]; nodes?: string[]; token: string; pids: (number | undefined)[]; launcherPid: number };

/** A token as one shell word: a --token may hold spaces or quotes. */
export const shellWord = (text: string) => (/^[\w.:@%+=\/-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`);
export const shownPath = (path: string) => (relative(process.cwd(), path).startsWith("..") ? path : relative(process.cwd(), path));

export function readClusterFile(): { text: string; saved: ClusterFile | null } | null {
  let text: string;
  try {
    text = readFileSync(clusterFile, "utf8");
  } catch {
    return null;
  }
  try {
    return { text, saved: JSON.parse(text) as ClusterFile };
  } catch {
    return { text, saved: null };
  }
}

export function isAlive(pid: unknown): boolean {
  if (typeof pid !== "number" || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The refusal for a taken port, naming the cluster of cluster.json when it is the holder. */
export function describeTakenPort(error: PortInUseError): string {
  const saved = readClusterFile()?.saved;
  const ports = saved ? [saved.leader, ...saved.followers].map((url) => Number(new URL(url).port)) : [];
  if (!saved || !ports.includes(error.port) || !isAlive(saved.launcherPid)) return `port ${error.port} is in use; stop what holds it or pass --base-port`;
  const cluster = `the cluster started by pid ${saved.launcherPid} on ${Math.min(...ports)}–${Math.max(...ports)}, see ${shownPath(clusterFile)}`;
  return `port ${error.port} is in use (${cluster}); stop it first or pass --base-port`;
}
