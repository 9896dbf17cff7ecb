import type { Operation } from "../../src/sim/linearizability.ts";
import { waitFor } from "../helpers.ts";
import { type Host, PrivateNetwork } from "./netns.ts";

/**
 * PEERS nodes, each in a network namespace of its own, and a client in another
 * (test/netns/netns.ts, test/netns/client-agent.ts), for partition tests with elections.
 */

export const port = "7000";

export interface Answer {
  status: number;
  body: Record<string, any> | null;
  invokeMs: number;
  responseMs: number;
}

export const urlOf = (host: Host) => `http://${host.address}:${port}`;

export class PeerCluster {
  readonly network = new PrivateNetwork();
  readonly nodes: Host[] = [];
  #agent!: ReturnType<PrivateNetwork["spawn"]>;
  #waiting = new Map<number, (answer: Answer) => void>();
  #nextId = 1;

  /** Opens the network (throws NetnsUnavailable without root), starts `count` nodes (p0 leads first) and waits for p0 to lead. */
  async start(count: number, env: Record<string, string>): Promise<void> {
    await this.network.open();
    const clientHost = await this.network.addHost("client");
    for (let index = 0; index < count; index++) this.nodes.push(await this.network.addHost(`p${index}`));
    this.#agent = this.network.spawn(clientHost, "test/netns/client-agent.ts", {}, "pipe");
    void this.#readAnswers();
    const peers = this.nodes.map(urlOf).join(",");
    this.nodes.forEach((node, index) =>
      this.network.spawn(node, "src/main.ts", {
        PORT: port,
        PEERS: peers,
        MIN_DELAY_MS: "0",
        MAX_DELAY_MS: "0",
        ...env,
        ROLE: index === 0 ? "leader" : "follower",
        NODE_ID: node.name,
        HOST: node.address,
        ADVERTISE_URL: urlOf(node),
      }),
    );
    await waitFor("p0 to lead", async () => (await this.status(this.nodes[0]!))?.role === "leader", 30_000, 100);
  }

  async #readAnswers(): Promise<void> {
    let buffered = "";
    for await (const chunk of this.#agent.stdout) {
      buffered += new TextDecoder().decode(chunk);
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const answer = JSON.parse(buffered.slice(0, newline)) as Answer & { id: number };
        buffered = buffered.slice(newline + 1);
        this.#waiting.get(answer.id)?.(answer);
        this.#waiting.delete(answer.id);
      }
    }
  }

  /** A request made from the client's namespace. */
  call(method: string, host: Host, path: string, body?: unknown, timeoutMs = 3000): Promise<Answer> {
    const id = this.#nextId++;
    const answer = new Promise<Answer>((resolve) => this.#waiting.set(id, resolve));
    this.#agent.stdin.write(`${JSON.stringify({ id, method, url: `http://${host.address}:${port}${path}`, body, timeoutMs })}\n`);
    this.#agent.stdin.flush();
    return answer;
  }

  async status(host: Host): Promise<Record<string, any> | null> {
    const answer = await this.call("GET", host, "/status", undefined, 1000);
    return answer.status === 200 ? answer.body : null;
  }

  /** The node that says it leads and that every other node reachable names as its leader. */
  async leader(timeoutMs = 20_000): Promise<Host> {
    return waitFor(
      "one leader that every node follows",
      async () => {
        const statuses = await Promise.all(this.nodes.map((node) => this.status(node)));
        const leading = this.nodes.filter((_, index) => statuses[index]?.role === "leader");
        if (leading.length !== 1) return null;
        const url = urlOf(leading[0]!);
        return statuses.every((status) => status?.role === "leader" || status?.leader === url) ? leading[0]! : null;
      },
      timeoutMs,
      100,
    );
  }

  /**
   * A write of `key`, recorded in `history`: 200 acknowledged; a refusal (421, 503 no_leader) not
   * recorded (it changed nothing); anything else indeterminate.
   */
  async write(host: Host, key: string, value: number, history: Operation[]): Promise<Answer> {
    const answer = await this.call("PUT", host, `/kv/${key}`, { value });
    const refused = answer.status === 421 || answer.body?.error === "no_leader";
    if (!refused) {
      const responseUs = answer.status === 200 ? answer.responseMs * 1000 : Number.POSITIVE_INFINITY;
      history.push({ kind: "write", value: JSON.stringify(value), invokeUs: answer.invokeMs * 1000, responseUs });
    }
    return answer;
  }

  /** A read of `key` on `host` (a leader read: ReadIndex), recorded when answered. */
  async read(host: Host, key: string, history: Operation[]): Promise<Answer> {
    const answer = await this.call("GET", host, `/kv/${key}`);
    if (answer.status === 200) {
      history.push({ kind: "read", value: JSON.stringify(answer.body!.value), invokeUs: answer.invokeMs * 1000, responseUs: answer.responseMs * 1000 });
    } else if (answer.status === 404) {
      history.push({ kind: "read", value: null, invokeUs: answer.invokeMs * 1000, responseUs: answer.responseMs * 1000 });
    }
    return answer;
  }

  /** Cuts every link between `host` and each of `others`, both ways (`oneWay`: only host → other). */
  async cut(host: Host, others: readonly Host[], oneWay = false): Promise<void> {
    for (const other of others) {
      await this.network.cut(host, other);
      if (!oneWay) await this.network.cut(other, host);
    }
  }

  async heal(host: Host, others: readonly Host[], oneWay = false): Promise<void> {
    for (const other of others) {
      await this.network.heal(host, other);
      if (!oneWay) await this.network.heal(other, host);
    }
  }

  /** Every node holds the same state (digest) as `leader`. */
  async converged(leader: Host): Promise<void> {
    await waitFor(
      "every node to hold the leader's state",
      async () => {
        const digests = await Promise.all(this.nodes.map(async (node) => (await this.status(node))?.digest));
        return digests.every((digest) => digest === digests[this.nodes.indexOf(leader)]);
      },
      20_000,
      200,
    );
  }
}
