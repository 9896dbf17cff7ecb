import { readFileSync } from "node:fs";

/** Whether `port` can be bound on `host` right now (a bind test, not a connect: nothing is sent to a holder). */
export function portIsFree(host: string, port: number): boolean {
  try {
    Bun.listen({ hostname: host, port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/** Where the OS's ephemeral ports begin (the source ports of outgoing connections), or the Linux default. */
function ephemeralPortsStart(): number {
  try {
    const start = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 0 ? start : 32_768;
  } catch {
    return 32_768;
  }
}

/** The lowest port freePort picks (above the 5001–5006 of `npm start`), and how many picks it remembers. */
const pickedPortsMin = 10_000;
const pickedPortsRemembered = 1_000;
const pickedPorts = new Set<number>();

/**
 * A port free right now that nothing takes by itself before a node binds it: one below the OS's
 * ephemeral range, so no outgoing connection (a health check, a client) is given it meanwhile,
 * and not one this process handed out recently, so a cluster's nodes never share one. (A port
 * the OS picks with bind(0) is ephemeral: a connection made before the node starts can take it.)
 */
export function freePort(host = "127.0.0.1"): number {
  const max = ephemeralPortsStart() - 1;
  if (pickedPorts.size >= pickedPortsRemembered) pickedPorts.clear();
  for (let attempt = 0; max > pickedPortsMin && attempt < 100; attempt++) {
    const port = pickedPortsMin + Math.floor(Math.random() * (max - pickedPortsMin + 1));
    if (!pickedPorts.has(port) && portIsFree(host, port)) {
      pickedPorts.add(port);
      return port;
    }
  }
  const listener = Bun.listen({ hostname: host, port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}
