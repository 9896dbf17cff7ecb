/**
 * The partition tests' client, run inside a network namespace of the test (test/netns/netns.ts):
 * one JSON request per stdin line `{id, method, url, body?, timeoutMs}`, answered on stdout as
 * `{id, status, body, invokeMs, responseMs}` (status 0 when the call failed or timed out). Times
 * are this machine's epoch milliseconds, taken here, around the call itself.
 */
export {};

const nowMs = () => performance.timeOrigin + performance.now();

interface AgentRequest {
  id: number;
  method: string;
  url: string;
  body?: unknown;
  timeoutMs: number;
}

async function call(request: AgentRequest): Promise<void> {
  const invokeMs = nowMs();
  let status = 0;
  let body: unknown = null;
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.body === undefined ? {} : { "content-type": "application/json" },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    const text = await response.text();
    status = response.status;
    body = text ? JSON.parse(text) : null;
  } catch (error) {
    body = { error: String(error) };
  }
  process.stdout.write(`${JSON.stringify({ id: request.id, status, body, invokeMs, responseMs: nowMs() })}\n`);
}

let buffered = "";
for await (const chunk of Bun.stdin.stream()) {
  buffered += new TextDecoder().decode(chunk);
  let newline = buffered.indexOf("\n");
  while (newline >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    if (line.trim()) void call(JSON.parse(line) as AgentRequest);
    newline = buffered.indexOf("\n");
  }
}
