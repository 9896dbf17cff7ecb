import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

/**
 * A private network of Linux network namespaces for partition tests (root only). Every node, and
 * the test's client, runs in a namespace of its own (`qkv-<random>-<name>`), linked by a veth pair
 * to a router namespace of ours: host i is 10.213.i.2/24, its router end 10.213.i.1, and these
 * addresses exist only inside those namespaces. Nothing on the host is touched: every link is
 * created with `ip -n <ours>` and both of its ends stay in our namespaces. A cut is a policy rule
 * in the router (`from A to B blackhole`): packets from A to B are dropped in transit, silently,
 * as a lost link does; a cut is one-way unless made both ways.
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
  readonly routerNamespace = `${this.prefix}-router`;
  readonly hosts = new Map<string, Host>();
  readonly #namespaces: string[] = [];
  readonly #processes: Subprocess[] = [];

  /** Creates the router namespace; throws NetnsUnavailable (with the reason) when namespaces cannot be made. */
  async open(): Promise<void> {
    try {
      await this.#addNamespace(this.routerNamespace);
    } catch (error) {
      throw new NetnsUnavailable(`cannot create a network namespace (root and iproute2 needed): ${(error as Error).message}`);
    }
    await ip(["-n", this.routerNamespace, "link", "set", "lo", "up"]);
    // The sysctl of the router namespace only (ip netns exec enters it).
    const forward = Bun.spawnSync(["ip", "netns", "exec", this.routerNamespace, "sysctl", "-qw", "net.ipv4.ip_forward=1"], { stderr: "pipe" });
    if (forward.exitCode !== 0) throw new Error(`enabling forwarding in ${this.routerNamespace} failed: ${forward.stderr.toString().trim()}`);
  }

  /** A namespace for `name`, linked to the router, with address 10.213.`n`.2 (n = 1, 2, …). */
  async addHost(name: string): Promise<Host> {
    const namespace = `${this.prefix}-${name}`;
    const subnet = this.hosts.size + 1;
    const address = `10.213.${subnet}.2`;
    const port = `r${subnet}`;
    await this.#addNamespace(namespace);
    await ip(["-n", this.routerNamespace, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
    await ip(["-n", this.routerNamespace, "addr", "add", `10.213.${subnet}.1/24`, "dev", port]);
    await ip(["-n", this.routerNamespace, "link", "set", port, "up"]);
    await ip(["-n", namespace, "addr", "add", `${address}/24`, "dev", "eth0"]);
    await ip(["-n", namespace, "link", "set", "eth0", "up"]);
    await ip(["-n", namespace, "link", "set", "lo", "up"]);
    await ip(["-n", namespace, "route", "add", "default", "via", `10.213.${subnet}.1`]);
    const host = { name, namespace, address };
    this.hosts.set(name, host);
    return host;
  }

  /** Drops, in the router, every packet `from` sends to `to` (one way); `cut(a, b)` and `cut(b, a)` for both. */
  async cut(from: Host, to: Host): Promise<void> {
    await ip(["-n", this.routerNamespace, "rule", "add", "from", from.address, "to", to.address, "blackhole"]);
  }

  async heal(from: Host, to: Host): Promise<void> {
    await ip(["-n", this.routerNamespace, "rule", "del", "from", from.address, "to", to.address, "blackhole"]);
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
  return (await ip(["netns", "list"]))
    .split("\n")
    .map((line) => line.split(" ")[0]!)
    .filter((name) => name.startsWith(prefix));
}
