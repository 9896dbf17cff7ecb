import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

/**
 * A private network of Linux network namespaces for partition tests (root only). Every node, and
 * the test's client, runs in a namespace of its own (`qkv-<random>-<name>`), plugged by a veth
 * pair into a bridge that lives in one more namespace of ours; addresses are 10.213.0.x/24 and
 * exist only inside those namespaces. Nothing on the host is touched: every link is created with
 * `ip -n <ours>` and both of its ends stay in our namespaces. Cuts are blackhole routes inside a
 * node's namespace (its packets to one address are dropped; a /32 wins over the /24), so a cut
 * is one-way unless made on both sides.
 */

const projectRoot = resolve(import.meta.dir, "../..");

export class NetnsUnavailable extends Error {
  override name = "NetnsUnavailable";
}

async function ip(args: string[]): Promise<string> {
  const child = Bun.spawn(["ip", ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`ip ${args.join(" ")} failed (exit ${code}): ${stderr.trim()}`);
  return stdout;
}

export interface Host {
  name: string;
  namespace: string;
  address: string;
}

export class PrivateNetwork {
  readonly prefix = `qkv-${Math.random().toString(36).slice(2, 8)}`;
  readonly bridgeNamespace = `${this.prefix}-br`;
  readonly hosts = new Map<string, Host>();
  readonly #namespaces: string[] = [];
  readonly #processes: Subprocess[] = [];

  /** Creates the bridge namespace; throws NetnsUnavailable (with the reason) when namespaces cannot be made. */
  async open(): Promise<void> {
    try {
      await this.#addNamespace(this.bridgeNamespace);
    } catch (error) {
      throw new NetnsUnavailable(`cannot create a network namespace (root and iproute2 needed): ${(error as Error).message}`);
    }
    await ip(["-n", this.bridgeNamespace, "link", "add", "br0", "type", "bridge"]);
    await ip(["-n", this.bridgeNamespace, "link", "set", "br0", "up"]);
  }

  /** A namespace for `name`, wired to the bridge, with address 10.213.0.`index + 10`. */
  async addHost(name: string): Promise<Host> {
    const namespace = `${this.prefix}-${name}`;
    const address = `10.213.0.${this.hosts.size + 10}`;
    const port = `p${this.hosts.size}`;
    await this.#addNamespace(namespace);
    await ip(["-n", this.bridgeNamespace, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
    await ip(["-n", this.bridgeNamespace, "link", "set", port, "master", "br0", "up"]);
    await ip(["-n", namespace, "addr", "add", `${address}/24`, "dev", "eth0"]);
    await ip(["-n", namespace, "link", "set", "eth0", "up"]);
    await ip(["-n", namespace, "link", "set", "lo", "up"]);
    const host = { name, namespace, address };
    this.hosts.set(name, host);
    return host;
  }

  /** Drops every packet `from` sends to `to` (one way); `cut(a, b)` and `cut(b, a)` for both. */
  async cut(from: Host, to: Host): Promise<void> {
    await ip(["-n", from.namespace, "route", "add", "blackhole", `${to.address}/32`]);
  }

  async heal(from: Host, to: Host): Promise<void> {
    await ip(["-n", from.namespace, "route", "del", "blackhole", `${to.address}/32`]);
  }

  /** `bun <script>` inside a host's namespace, from the project root; killed in `close`. */
  spawn(host: Host, script: string, env: Record<string, string>, stdio: "ignore" | "pipe" = "ignore"): Subprocess<"pipe", "pipe", "ignore"> {
    const child = Bun.spawn(["ip", "netns", "exec", host.namespace, process.execPath, join(projectRoot, script)], {
      cwd: projectRoot,
      env: { ...process.env, ...env, QUORUMKV_PARENT_PID: String(process.pid) },
      stdin: "pipe",
      stdout: stdio === "pipe" ? "pipe" : "ignore",
      stderr: "ignore",
    }) as Subprocess<"pipe", "pipe", "ignore">;
    this.#processes.push(child);
    return child;
  }

  /** Kills what it started (by PID; `ip netns exec` execs the program, so the PID is bun's), then deletes every namespace. */
  async close(): Promise<void> {
    for (const child of this.#processes) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await Promise.all(this.#processes.map((child) => child.exited));
    // Deleting a namespace deletes the veth ends in it, and with them their peers.
    const failures: string[] = [];
    for (const namespace of this.#namespaces.reverse()) {
      await ip(["netns", "del", namespace]).catch((error: Error) => failures.push(error.message));
    }
    if (failures.length > 0) throw new Error(`cleanup failed: ${failures.join("; ")}`);
  }

  async #addNamespace(namespace: string): Promise<void> {
    await ip(["netns", "add", namespace]);
    this.#namespaces.push(namespace);
  }
}

/** Namespaces of ours left behind (by a crashed run), for the test to assert none remain. */
export async function ourNamespaces(prefix: string): Promise<string[]> {
  return (await ip(["netns", "list"])).split("\n").map((line) => line.split(" ")[0]!).filter((name) => name.startsWith(prefix));
}
