/** Polls `check` until it returns a truthy value, at most `timeoutMs`; throws naming `what` otherwise. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 20): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result) return result as NonNullable<T>;
      last = result;
    } catch (error) {
      last = error;
    }
    if (performance.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await Bun.sleep(intervalMs);
  }
}

export interface Answer {
  status: number;
  body: Record<string, any>;
}

/** One HTTP call; the body parsed as JSON (or {} when there is none). */
export async function http(url: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body = init.body;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  const response = await fetch(url, { ...init, headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** Every committed pair of a node, from its streamed dump. */
export async function dump(nodeUrl: string, token: string): Promise<Map<string, { value: unknown; offset: number }>> {
  const response = await fetch(`${nodeUrl}/internal/dump`, { headers: { authorization: `Bearer ${token}` } });
  const pairs = new Map<string, { value: unknown; offset: number }>();
  for (const line of (await response.text()).split("\n")) {
    if (!line) continue;
    const { key, value, offset } = JSON.parse(line);
    pairs.set(key, { value, offset });
  }
  return pairs;
}
