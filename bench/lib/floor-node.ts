import { fdatasyncSync, openSync, writeSync } from "node:fs";
import { Hono } from "hono";

/**
 * The least a node of this architecture can do, for `bench:floor`: a Hono leader that takes
 * `PUT /kv/:key`, batches the writes of one event-loop turn into one JSON frame per follower over
 * a WebSocket, and applies and answers each write once QUORUM followers acknowledged it; followers that parse
 * the frame, apply it to a Map and acknowledge. With SYNC_FILE every node appends each batch to
 * that file and fdatasyncs it in the event loop before it counts (the leader) or acknowledges
 * (a follower), as quorumkv's DiskStorage does. No validation beyond the value's type, no epochs,
 * no recovery, no metrics, no logs: none of quorumkv's own work, so the gap to quorumkv is that work.
 *
 * Environment: ROLE (leader|follower), PORT; the leader also FOLLOWERS (comma-separated ws://
 * URLs) and QUORUM; either SYNC_FILE (a path; absent: memory only) and SYNC (fsync, the default,
 * or write: appended without fdatasync).
 */
const role = process.env.ROLE;
const port = Number(process.env.PORT);
const file = process.env.SYNC_FILE ? openSync(process.env.SYNC_FILE, "a") : null;
const flushes = process.env.SYNC !== "write";

/** Appends `text` and waits for the device, once per batch. */
function store(text: string): void {
  if (file === null) return;
  writeSync(file, text);
  if (flushes) fdatasyncSync(file);
}

interface Entry {
  offset: number;
  key: string;
  value: string;
}

if (role === "follower") {
  const state = new Map<string, string>();
  const acks: { socket: { send(text: string): void }; frame: string }[] = [];
  const received: string[] = [];
  let flushing = false;
  // One store per turn for every frame that arrived in it (group commit), then the answers.
  const flush = () => {
    flushing = false;
    store(received.join("\n"));
    received.length = 0;
    for (const ack of acks.splice(0)) ack.socket.send(ack.frame);
  };
  Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch(request, server) {
      if (server.upgrade(request)) return;
      return new Response("floor follower");
    },
    websocket: {
      message(socket, data) {
        const text = String(data);
        const frame = JSON.parse(text) as { id: number; entries: Entry[] };
        for (const entry of frame.entries) state.set(entry.key, entry.value);
        received.push(text);
        acks.push({ socket, frame: JSON.stringify({ id: frame.id, lastOffset: frame.entries.at(-1)!.offset }) });
        if (!flushing) {
          flushing = true;
          setImmediate(flush);
        }
      },
    },
  });
} else {
  const followerUrls = (process.env.FOLLOWERS ?? "").split(",").filter(Boolean);
  const quorum = Number(process.env.QUORUM);
  const sockets = followerUrls.map((url) => new WebSocket(url));
  const matched = followerUrls.map(() => 0);
  const state = new Map<string, string>();
  /** Each write waiting for its quorum, by offset: applied to the state and answered once committed. */
  const waiters = new Map<number, { entry: Entry; answer: () => void }>();
  let pending: Entry[] = [];
  let nextOffset = 1;
  let stored = 0;
  let committed = 0;
  let nextId = 1;
  let pumping = false;

  const advance = () => {
    const held = [...matched].sort((a, b) => b - a);
    const commit = Math.min(quorum === 0 ? stored : held[quorum - 1]!, stored);
    for (; committed < commit; ) {
      committed++;
      const waiter = waiters.get(committed)!;
      waiters.delete(committed);
      state.set(waiter.entry.key, waiter.entry.value);
      waiter.answer();
    }
  };
  sockets.forEach((socket, i) => {
    socket.onmessage = (event) => {
      matched[i] = Math.max(matched[i]!, (JSON.parse(String(event.data)) as { lastOffset: number }).lastOffset);
      advance();
    };
  });
  const pump = () => {
    pumping = false;
    const batch = pending;
    pending = [];
    const frame = JSON.stringify({ id: nextId++, entries: batch });
    for (const socket of sockets) socket.send(frame);
    store(frame);
    stored = batch.at(-1)!.offset;
    advance();
  };

  const app = new Hono();
  app.get("/health", (c) => c.json({ ready: sockets.every((socket) => socket.readyState === WebSocket.OPEN) }));
  app.put("/kv/:key", async (c) => {
    const body = JSON.parse(await c.req.text()) as { value?: unknown };
    if (typeof body?.value !== "string") return c.json({ error: "invalid_value" }, 400);
    const entry = { offset: nextOffset++, key: c.req.param("key"), value: JSON.stringify(body.value) };
    pending.push(entry);
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
    await new Promise<void>((answer) => waiters.set(entry.offset, { entry, answer }));
    return c.json({ offset: entry.offset, acks: quorum });
  });
  Bun.serve({ port, hostname: "127.0.0.1", fetch: app.fetch });
}
