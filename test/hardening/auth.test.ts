import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { requireClusterToken } from "../../src/http/auth.ts";
import { onError } from "../../src/http/errors.ts";

/** The token check alone: exact match only, whatever the length or the characters sent. */

const token = "3f9c2a7be1d04c6f8a5b9e2d7c1f0a6b";

function guarded() {
  const app = new Hono();
  app.onError(onError);
  app.use("*", requireClusterToken(token));
  app.get("/inside", (c) => c.json({ inside: true }));
  return app;
}

const ask = async (authorization: string | undefined) => {
  const response = await guarded().request("/inside", { headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe("requireClusterToken", () => {
  test("accepts the token itself, with the scheme in any case and spaces around it", async () => {
    for (const header of [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, `Bearer  ${token}  `, `Bearer\t${token}`]) {
      expect(await ask(header)).toEqual({ status: 200, body: { inside: true } });
    }
  });

  test("refuses a token that differs only in its last character, for every replacement", async () => {
    const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.~é\u00ff"; // header values are Latin-1
    for (const last of alphabet) {
      if (last === token.at(-1)) continue;
      expect(await ask(`Bearer ${token.slice(0, -1)}${last}`)).toEqual({
        status: 401,
        body: { error: "unauthorized", message: expect.any(String) },
      });
    }
  });

  test("refuses tokens of every other length, prefixes and extensions included, with a 401 (never a 500)", async () => {
    const candidates = [
      ...Array.from({ length: token.length }, (_, n) => token.slice(0, n)), // every prefix, "" included
      ...Array.from({ length: 40 }, (_, n) => token + "0".repeat(n + 1)), // every extension up to 40 more
      token.repeat(2),
      "x".repeat(10_000),
      `${token.slice(0, -1)}\u00e9`, // same characters, one more byte
    ];
    for (const candidate of candidates) {
      const answer = await ask(`Bearer ${candidate}`);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe("unauthorized");
    }
  });

  test("refuses a missing header, other schemes and a bare token", async () => {
    for (const header of [undefined, "", "Bearer", "Bearer ", token, `Basic ${btoa(`x:${token}`)}`, `Token ${token}`, `Bearer ${token},${token}`]) {
      expect((await ask(header)).status).toBe(401);
    }
  });
});
