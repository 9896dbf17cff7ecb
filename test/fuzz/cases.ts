import fc from "fast-check";

/**
 * Hostile requests for every route, each generated together with what a correct node answers.
 * Validity is decided by construction from the contract (docs/api.md), not by calling the
 * code under test: a key is 1..1024 bytes of UTF-8 without control characters, a body is at most
 * 1 MiB of UTF-8 JSON, a value nests at most 64 levels.
 */

export const contract = {
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024,
  valueDepthMax: 64,
  followers: 5,
  queryTimeoutMsMax: 600_000,
  delayMsMax: 60_000,
} as const;

/** Every error code the API answers, with its status (docs/api.md, "Limits and error codes"). */
export const statusOfCode: Record<string, number> = {
  invalid_json: 400,
  invalid_key: 400,
  invalid_value: 400,
  invalid_quorum: 400,
  invalid_timeout: 400,
  invalid_offset: 400,
  invalid_config: 400,
  invalid_message: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  gap: 409,
  stale_epoch: 409,
  payload_too_large: 413,
  not_leader: 421,
  quorum_timeout: 503,
  stale_read: 503,
};

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const byteLength = (text: string) => utf8.encode(text).length;
// biome-ignore lint: control characters are what the pattern is about
const controlCharacter = /[\u0000-\u001f\u007f]/;

/** The contract's rule for a key, already decoded. */
export function keyIsValid(key: string): boolean {
  return key.length > 0 && !controlCharacter.test(key) && byteLength(key) <= contract.maxKeyBytes && key !== "." && key !== "..";
}

// ---------------------------------------------------------------------------------------------
// Keys in the path

/** A key as it appears after `/kv/` or `/get/`, and the key a correct node decodes (null: invalid_key). */
export interface KeyPart {
  segment: string;
  key: string | null;
}

const hex = (byte: number, lower: boolean) => {
  const text = byte.toString(16).padStart(2, "0");
  return `%${lower ? text : text.toUpperCase()}`;
};
const percentEncodeBytes = (bytes: Uint8Array, lower: boolean) => Array.from(bytes, (b) => hex(b, lower)).join("");

const specialText = fc.string({
  unit: fc.constantFrom("/", "%", "?", "#", "&", "=", "+", " ", "\\", ".", "~", ":", "@", ";", "%2F", "é", "🎉", "\u00a0", "\u2028", "\ufeff", "a", "Z", "0"),
  minLength: 1,
  maxLength: 12,
});

/** Keys a correct node stores: any well-formed text but controls, up to 1024 bytes. */
export const validKeyText = fc
  .oneof(
    { arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 16 }), weight: 3 },
    { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 16 }), weight: 3 },
    { arbitrary: specialText, weight: 3 },
    { arbitrary: fc.constantFrom("k", "a/b", "100%", "%2F", ".a", "a.", "...", "a/./b", "🎉", "héllo wörld"), weight: 2 },
    // At the byte limit, in one-, two- and four-byte characters.
    { arbitrary: fc.constantFrom("k".repeat(1024), "é".repeat(512), "🎉".repeat(256), `${"é".repeat(511)}ab`), weight: 1 },
  )
  .filter(keyIsValid);

/** URL normalisation removes "." and ".." segments, so a raw-slash path must not contain them. */
const hasDotSegment = (key: string) => key.split("/").some((part) => part === "." || part === "..");

const validKeyPart: fc.Arbitrary<KeyPart> = fc.oneof(
  validKeyText.map((key) => ({ segment: encodeURIComponent(key), key })),
  // docs/api.md: /kv/a%2Fb and /kv/a/b name the same key.
  validKeyText.filter((key) => !hasDotSegment(key)).map((key) => ({ segment: encodeURIComponent(key).replaceAll("%2F", "/"), key })),
  fc.tuple(validKeyText, fc.boolean()).map(([key, lower]) => ({ segment: percentEncodeBytes(utf8.encode(key), lower), key })),
);

const controlKeyPart: fc.Arbitrary<KeyPart> = fc
  .tuple(fc.string({ maxLength: 6 }), fc.oneof(fc.integer({ min: 0, max: 31 }), fc.constant(127)), fc.string({ maxLength: 6 }))
  .map(([before, code, after]) => ({ segment: encodeURIComponent(before + String.fromCharCode(code) + after), key: null }));

const longKeyPart: fc.Arbitrary<KeyPart> = fc.tuple(fc.constantFrom("k", "é", "🎉"), fc.integer({ min: 1, max: 3000 })).map(([char, extra]) => {
  const key = char.repeat(Math.ceil((contract.maxKeyBytes + extra) / byteLength(char)));
  return { segment: encodeURIComponent(key), key: null };
});

/** Escapes that are not UTF-8: truncated, overlong, surrogate, beyond U+10FFFF, stray bytes. */
const brokenEscapes = ["%", "%G0", "%E0%A4%A", "%E0%A4", "%ED%A0%80", "%C0%AF", "%FF", "%80", "%F4%90%80%80", "%C3", "%%", "%2"];
const brokenEscapeKeyPart: fc.Arbitrary<KeyPart> = fc
  .tuple(fc.string({ unit: "grapheme-ascii", maxLength: 5 }), fc.constantFrom(...brokenEscapes), fc.string({ unit: "grapheme-ascii", maxLength: 5 }))
  // "_" keeps a following hex digit from completing a truncated escape.
  .map(([before, escape, after]) => ({ segment: `${encodeURIComponent(before)}${escape}_${encodeURIComponent(after)}`, key: null }));

/** Arbitrary bytes, percent-encoded: valid exactly when they are UTF-8 forming a valid key. */
const randomBytesKeyPart: fc.Arbitrary<KeyPart> = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.boolean())
  .map(([bytes, lower]) => {
    let key: string | null;
    try {
      key = strictUtf8.decode(bytes);
    } catch {
      key = null;
    }
    return { segment: percentEncodeBytes(bytes, lower), key: key !== null && keyIsValid(key) ? key : null, decoded: key };
  })
  // "%2E" and "%2E%2E" are dot segments to a URL parser: they address other routes.
  .filter((part) => part.decoded !== "." && part.decoded !== "..")
  .map(({ segment, key }) => ({ segment, key }));

export const keyPart: fc.Arbitrary<KeyPart> = fc.oneof(
  { arbitrary: validKeyPart, weight: 8 },
  { arbitrary: controlKeyPart, weight: 1 },
  { arbitrary: longKeyPart, weight: 1 },
  { arbitrary: brokenEscapeKeyPart, weight: 1 },
  { arbitrary: randomBytesKeyPart, weight: 1 },
  { arbitrary: fc.constant<KeyPart>({ segment: "", key: null }), weight: 1 },
);

/** A few keys written again and again, so reads find them and overwrites happen. */
export const hotKeyPart: fc.Arbitrary<KeyPart> = fc.constantFrom("hot-1", "hot/2", "hot 3", "hötté").map((key) => ({ segment: encodeURIComponent(key), key }));

// ---------------------------------------------------------------------------------------------
// Query strings

export interface QueryPart {
  /** Parameters in order; a value of `@commit` becomes the model's commit offset when sent. */
  params: [name: string, value: string][];
  quorum?: number;
  errors: string[];
}

const reservedParams = new Set(["quorum", "timeoutMs", "minOffset"]);
const unknownParam = fc
  .tuple(
    fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 8 }).filter((name) => !reservedParams.has(name)),
    fc.string({ unit: "grapheme", maxLength: 12 }),
  )
  .map(([name, value]): [string, string] => [encodeURIComponent(name), encodeURIComponent(value)]);

const badWholeNumbers = ["-1", "1.5", "abc", "", "1e0", "0x1", " 1", "+1", "99999999999999999999", "%31%2E5", "1%00", "NaN", "Infinity"];

interface Param {
  pair: [string, string];
  error?: string;
  quorum?: number;
}

const quorumParam: fc.Arbitrary<Param> = fc.oneof(
  fc.integer({ min: 0, max: contract.followers }).map((n): Param => ({ pair: ["quorum", String(n)], quorum: n })),
  fc.integer({ min: 0, max: contract.followers }).map((n): Param => ({ pair: ["quorum", `00${n}`], quorum: n })),
  fc.integer({ min: 0, max: contract.followers }).map((n): Param => ({ pair: ["quorum", `%3${n}`], quorum: n })),
  fc.constantFrom(...badWholeNumbers, "6", "7", "100").map((v): Param => ({ pair: ["quorum", v], error: "invalid_quorum" })),
  fc.integer({ min: 0, max: contract.followers }).map((n): Param => ({ pair: ["quorum", String(n)], quorum: n })),
);

const timeoutParam: fc.Arbitrary<Param> = fc.oneof(
  // Short timeouts are left out: a write that times out answers 503 quorum_timeout by contract.
  fc.integer({ min: 5000, max: contract.queryTimeoutMsMax }).map((n): Param => ({ pair: ["timeoutMs", String(n)] })),
  fc.integer({ min: 5000, max: contract.queryTimeoutMsMax }).map((n): Param => ({ pair: ["timeoutMs", `0${n}`] })),
  fc.constantFrom(...badWholeNumbers, "0", "600001", "1e3").map((v): Param => ({ pair: ["timeoutMs", v], error: "invalid_timeout" })),
);

const minOffsetParam: fc.Arbitrary<Param> = fc.oneof(
  fc.constantFrom("0", "000", "@commit").map((v): Param => ({ pair: ["minOffset", v] })),
  fc.constant<Param>({ pair: ["minOffset", "@commit"] }),
  fc.constantFrom(...badWholeNumbers, "1e3").map((v): Param => ({ pair: ["minOffset", v], error: "invalid_offset" })),
);

function queryOf(known: fc.Arbitrary<Param>[]): fc.Arbitrary<QueryPart> {
  return fc
    .tuple(
      fc.tuple(...known.map((param) => fc.option(param, { freq: 2 }))),
      fc.array(unknownParam, { maxLength: 3 }),
      fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    )
    .map(([chosen, unknown, repeatFirst]) => {
      const params = chosen.filter((p): p is Param => p !== null);
      const errors = params.flatMap((p) => (p.error ? [p.error] : []));
      // A parameter given twice is a list, not a whole number.
      if (repeatFirst && params[0]) {
        params.push(params[0]);
        errors.push({ quorum: "invalid_quorum", timeoutMs: "invalid_timeout", minOffset: "invalid_offset" }[params[0].pair[0]]!);
      }
      const pairs = [...params.map((p) => p.pair), ...unknown];
      return { params: pairs, quorum: errors.length === 0 ? params.find((p) => p.quorum !== undefined)?.quorum : undefined, errors };
    });
}

export const writeQuery = queryOf([quorumParam, timeoutParam]);
export const readQuery = queryOf([minOffsetParam]);
export const junkQuery = queryOf([]);

// ---------------------------------------------------------------------------------------------
// Tokens

export interface AuthPart {
  header: string | null;
  accepted: boolean;
}

/** Authorization headers: the right token in its accepted spellings, and everything else. */
export function authPart(token: string, otherClusterToken: string, rightWeight = 1): fc.Arbitrary<AuthPart> {
  const lastChanged = token.slice(0, -1) + (token.endsWith("a") ? "b" : "a");
  return fc.oneof(
    {
      arbitrary: fc.constantFrom<AuthPart>(
        { header: `Bearer ${token}`, accepted: true },
        { header: `bearer ${token}`, accepted: true },
        { header: `Bearer   ${token}  `, accepted: true },
      ),
      weight: rightWeight,
    },
    fc.constantFrom<AuthPart>(
      { header: null, accepted: false },
      { header: "", accepted: false },
      { header: "Bearer", accepted: false },
      { header: "Bearer ", accepted: false },
      { header: token, accepted: false },
      { header: `Basic ${btoa(`user:${token}`)}`, accepted: false },
      { header: `Bearer ${otherClusterToken}`, accepted: false },
      { header: `Bearer ${lastChanged}`, accepted: false },
      { header: `Bearer ${token}x`, accepted: false },
      { header: `Bearer ${token.slice(0, -1)}`, accepted: false },
      { header: `Bearer ${token.toUpperCase()}`, accepted: token === token.toUpperCase() },
      { header: `Bearer ${token},${token}`, accepted: false },
    ),
    fc.string({ unit: "grapheme-ascii", maxLength: 40 }).map((text) => ({ header: `Bearer ${text}`, accepted: text.trim() === token })),
  );
}

// ---------------------------------------------------------------------------------------------
// Headers

const headerName = fc.stringMatching(/^x-[a-z0-9-]{1,20}$/);
const headerValue = (maxLength: number) => fc.string({ unit: fc.constantFrom(..."abcXYZ019 -_.,;:=/\"'()[]{}!?*%~\t"), maxLength });

export const contentType = fc.constantFrom(
  undefined,
  "application/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=utf-16",
  "application/octet-stream",
  "garbage/;;;",
);

/** Extra headers, some large: `maxBytes` keeps them under the server's header limit when it has one. */
export function extraHeaders(maxBytes: number): fc.Arbitrary<Record<string, string>> {
  return fc.oneof(
    { arbitrary: fc.dictionary(headerName, headerValue(40), { maxKeys: 4 }), weight: 8 },
    { arbitrary: fc.integer({ min: 1, max: maxBytes }).map((size) => ({ "x-filler": "f".repeat(size) })), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: 60 }).map((count) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-h${i}`, "v"]))), weight: 1 },
  );
}
