import { existsSync, readFileSync } from "node:fs";

/** A node's base URL without its trailing slashes. */
export const trimSlash = (url: string) => url.replace(/\/+$/, "");

/** Whether `url` looks like a node's base URL: http(s)://host[:port]. */
export const isBaseUrl = (url: string) => /^https?:\/\/[^/]+/.test(url);

/** The fields of cluster.json (written by `npm start`) the tools read, unchecked. */
export interface SavedCluster {
  leader?: unknown;
  followers?: unknown;
  nodes?: unknown;
  token?: unknown;
}

/** cluster.json at `path`: undefined when there is none, null when it is not JSON. */
export function readSavedCluster(path: string): SavedCluster | null | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as SavedCluster;
  } catch {
    return null;
  }
}

/** The node URLs a saved cluster names: its `nodes`, or (files from before PEERS) the leader and its followers. */
export function savedNodeUrls(saved: SavedCluster): string[] {
  const listed = Array.isArray(saved.nodes) ? saved.nodes : [saved.leader, ...(Array.isArray(saved.followers) ? saved.followers : [])];
  return listed.filter((url): url is string => typeof url === "string").map(trimSlash);
}
