/** One Server-Sent Event as GET /watch sends them: `id` is the offset when the event carries one. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Events of an SSE body as they arrive (the EventSource format: `field: value` lines, a blank
 * line ends an event, `:` lines are comments). Stops when the body ends or `signal` aborts.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  let current: SseEvent = { event: "message", data: "" };
  let hasData = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.indexOf("\n");
      while (newline !== -1) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
        if (line === "") {
          if (hasData) yield current;
          current = { event: "message", data: "" };
          hasData = false;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const text = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") current.event = text;
        else if (field === "id") current.id = text;
        else if (field === "data") {
          current.data = hasData ? `${current.data}\n${text}` : text;
          hasData = true;
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
