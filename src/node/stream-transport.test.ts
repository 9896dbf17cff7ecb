import { expect, test } from "bun:test";
import type { ReplicateMessage } from "../core/types.ts";
import { StreamTransport } from "./stream-transport.ts";
import { TransportError } from "./transport.ts";

const message: ReplicateMessage = { epoch: 1, leaderId: "L", prevOffset: 0, prevEpoch: 0, entries: [], commitOffset: 0 };

test("messages a follower never answers time out, the shorter timeout first even when sent last", async () => {
  // A stream peer that takes every frame and answers none.
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, server) => (server.upgrade(request) ? undefined : new Response("upgrade", { status: 426 })),
    websocket: { message() {} },
  });
  const transport = new StreamTransport("stream-token-0123");
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const answers: string[] = [];
    const answered = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => (answers.length >= count ? resolve() : setTimeout(check, 10));
        check();
      });
    const record = (name: string) => (answer: unknown) => {
      expect(answer).toBeInstanceOf(TransportError);
      answers.push(name);
    };
    transport.replicate(url, message, 3000, record("long"));
    transport.replicate(url, message, 200, record("short"));
    await answered(2);
    expect(answers).toEqual(["short", "long"]);
  } finally {
    transport.close();
    await server.stop(true);
  }
});
