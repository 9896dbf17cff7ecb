import { freePort } from "../src/cluster.ts";
import { parseToolFlags } from "../src/flags.ts";
import { processCpuMicroseconds } from "./lib/process-cpu.ts";

/**
 * What one request/answer costs between two Bun processes on loopback, HTTP against WebSocket
 * (CPU of both sides per exchange, 16 in flight), and how much slower a round trip gets when each
 * follows 12 ms of idleness (processes asleep) than back to back: over `fetch`, over a WebSocket,
 * and over a bare TCP socket. The figures behind the choice of `/internal/stream` and the constant
 * in the spaced-writes measurement (BENCHMARKS.md).
 */
parseToolFlags(
  "transport-cost",
  `Usage: bun run transport-cost

One request/answer between two Bun processes on loopback: the CPU per exchange over HTTP and over
a WebSocket (16 in flight), and the round trip after 12 ms idle against back to back, over fetch,
a WebSocket and a bare TCP socket. Starts one answering process on free ports.`,
  {},
);
const exchanges = 20_000;
const inFlight = 16;
const body = JSON.stringify({ epoch: 1, entries: Array.from({ length: 6 }, (_, i) => ({ offset: i, key: `k${i}`, value: '"v"' })) });

// The answering side runs in a process of its own, as a follower does.
const port = freePort();
const tcpPort = freePort();
const server = Bun.spawn(
  [
    process.execPath,
    "-e",
    `Bun.serve({
      port: ${port},
      fetch(request, server) {
        if (server.upgrade(request)) return;
        return request.text().then(() => new Response('{"lastOffset":1}'));
      },
      websocket: { message(socket, data) { socket.send(JSON.stringify({ id: JSON.parse(String(data)).id, status: 200 })); } },
    });
    Bun.listen({ hostname: "127.0.0.1", port: ${tcpPort}, socket: { data(socket, data) { socket.write(data); } } });`,
  ],
  { stdout: "ignore", stderr: "inherit" },
);
for (let attempt = 0; ; attempt++) {
  const up = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "{}" }).then(
    () => true,
    () => false,
  );
  if (up) break;
  if (attempt > 200) throw new Error("the answering process did not start");
  await Bun.sleep(25);
}

async function cpuOf<T>(work: () => Promise<T>): Promise<{ wallMs: number; clientCpuUs: number; serverCpuUs: number }> {
  const serverBefore = serverCpu();
  const clientBefore = process.cpuUsage();
  const startedMs = performance.now();
  await work();
  const client = process.cpuUsage(clientBefore);
  return { wallMs: performance.now() - startedMs, clientCpuUs: client.user + client.system, serverCpuUs: serverCpu() - serverBefore };
}

function serverCpu(): number {
  return processCpuMicroseconds(server.pid);
}

async function overHttp(): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < exchanges) await (await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body })).text();
    }),
  );
}

async function overWebSocket(): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  await new Promise((resolve) => (socket.onopen = resolve));
  const waiting = new Map<number, () => void>();
  socket.onmessage = (event) => {
    const id = JSON.parse(String(event.data)).id as number;
    waiting.get(id)!();
    waiting.delete(id);
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < exchanges) {
        const id = ++next;
        await new Promise<void>((resolve) => {
          waiting.set(id, resolve);
          socket.send(JSON.stringify({ id, body }));
        });
      }
    }),
  );
  socket.close();
}

/** Median of 300 round trips, each `gapMs` after the last answer. */
async function roundTripMs(gapMs: number, once: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 300; i++) {
    const startedMs = performance.now();
    await once();
    times.push(performance.now() - startedMs);
    if (gapMs > 0) await Bun.sleep(gapMs);
  }
  return times.sort((a, b) => a - b)[150]!;
}

async function roundTrips(): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  await new Promise((resolve) => (socket.onopen = resolve));
  let answered = () => {};
  socket.onmessage = () => answered();
  let echoed = () => {};
  const tcp = await Bun.connect({ hostname: "127.0.0.1", port: tcpPort, socket: { data: () => echoed() } });
  const kinds = [
    ["HTTP (fetch)", () => fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "{}" }).then((response) => response.text())],
    ["WebSocket", () => new Promise<void>((resolve) => ((answered = resolve), socket.send(JSON.stringify({ id: 1 }))))],
    ["TCP", () => new Promise<void>((resolve) => ((echoed = resolve), tcp.write("x")))],
  ] as const;
  for (const [name, once] of kinds) {
    const busy = await roundTripMs(0, once);
    const idle = await roundTripMs(12, once);
    console.log(`${`${name} round trip,`.padEnd(24)} median: ${busy.toFixed(3)} ms back to back, ${idle.toFixed(3)} ms after 12 ms idle`);
  }
  socket.close();
  tcp.end();
}

try {
  for (const [name, run] of [
    ["HTTP", overHttp],
    ["WebSocket", overWebSocket],
  ] as const) {
    const { wallMs, clientCpuUs, serverCpuUs } = await cpuOf(run);
    console.log(
      `${name.padEnd(9)} ${Math.round(exchanges / (wallMs / 1000))} exchanges/s, CPU per exchange: ` +
        `${(clientCpuUs / exchanges).toFixed(1)} µs client + ${(serverCpuUs / exchanges).toFixed(1)} µs server`,
    );
  }
  await roundTrips();
} finally {
  server.kill();
}
