import { connect, type Socket } from "node:net";

/**
 * HTTP at the socket level, for what fetch cannot do: announce 100 MB and stream it only as far
 * as the server reads, send half a request and stall, count the bytes a server accepted.
 */

export interface RawAnswer {
  /** Everything the server sent, as text. */
  text: string;
  status: number | null;
  /** The body after the head, when a whole response arrived. */
  body: string;
  /** Body bytes the socket accepted before the server closed it (or all of them). */
  bodyBytesWritten: number;
  closedByServer: boolean;
}

export function parseResponse(text: string): { status: number | null; headers: Record<string, string>; body: string } {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) return { status: null, headers: {}, body: "" };
  const [statusLine = "", ...lines] = text.slice(0, headEnd).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine.split(" ")[1]);
  return { status: Number.isInteger(status) ? status : null, headers, body: text.slice(headEnd + 4) };
}

export function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once("error", reject);
  });
}

export interface UploadOptions {
  /** Bytes of body to offer after the head; the server may close before taking them all. */
  bodyBytes: number;
  /** Send the body as chunked transfer encoding (64 KiB chunks) instead of raw bytes. */
  chunked?: boolean;
  /** Chunked: send the last-chunk marker after the body (default true). */
  endChunks?: boolean;
  /** Wait for the answer before sending any body byte (proves the server did not need it). */
  answerBeforeBody?: boolean;
  timeoutMs?: number;
}

const filler = Buffer.alloc(1024 * 1024, "x");
const chunkBytes = 64 * 1024;
const chunk = Buffer.concat([Buffer.from(`${chunkBytes.toString(16)}\r\n`), filler.subarray(0, chunkBytes), Buffer.from("\r\n")]);

/** Sends `head`, then streams filler (never holding more than 1 MiB) until done or the server closes. */
export async function upload(url: string, head: string, options: UploadOptions): Promise<RawAnswer> {
  const socket = await openSocket(url);
  let text = "";
  let closedByServer = false;
  let bodyBytesWritten = 0;
  let finished = false;
  const closed = new Promise<void>((resolve) => {
    socket.on("close", () => {
      closedByServer = !finished;
      resolve();
    });
  });
  socket.on("error", () => {}); // EPIPE / ECONNRESET once the server closed: expected
  const answered = new Promise<void>((resolve) => {
    socket.on("data", (data) => {
      text += data.toString("latin1");
      if (isComplete(text)) resolve();
    });
    void closed.then(resolve);
  });
  const deadline = Bun.sleep(options.timeoutMs ?? 30_000);
  socket.write(head);
  if (options.answerBeforeBody) await Promise.race([answered, deadline]);
  const piece = options.chunked ? chunk : filler;
  const pieceBodyBytes = options.chunked ? chunkBytes : filler.length;
  let timedOut = false;
  void deadline.then(() => (timedOut = true));
  while (bodyBytesWritten < options.bodyBytes && !socket.destroyed && !timedOut && socket.writable) {
    const flushed = socket.write(piece);
    bodyBytesWritten += pieceBodyBytes;
    if (!flushed) await Promise.race([new Promise((resolve) => socket.once("drain", resolve)), closed, deadline]);
  }
  if (options.chunked && options.endChunks !== false && socket.writable && !socket.destroyed) socket.write("0\r\n\r\n");
  await Promise.race([answered, deadline]);
  // Give the server a bounded moment to close after answering; then close ourselves.
  await Promise.race([closed, Bun.sleep(1000)]);
  finished = true;
  socket.destroy();
  await closed;
  const parsed = parseResponse(text);
  return { text, status: parsed.status, body: parsed.body, bodyBytesWritten, closedByServer };
}

/** A whole response: head plus Content-Length bytes of body. */
function isComplete(text: string): boolean {
  const { status, headers, body } = parseResponse(text);
  if (status === null) return false;
  const length = Number(headers["content-length"] ?? 0);
  return Buffer.byteLength(body, "latin1") >= length;
}
