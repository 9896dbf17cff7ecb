import fc from "fast-check";

/**
 * Hostile requests for every route, each generated together with what a correct node answers.
 * Validity is decided by construction from the contract (DESIGN §4, README), not by calling the
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

/** Every error code the API answers, with its status (README "Errors"). */
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
const validKeyText = fc
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
  // README: /kv/a%2Fb and /kv/a/b name the same key.
  validKeyText
    .filter((key) => !hasDotSegment(key))
    .map((key) => ({ segment: encodeURIComponent(key).replaceAll("%2F", "/"), key })),
  fc
    .tuple(validKeyText, fc.boolean())
    .map(([key, lower]) => ({ segment: percentEncodeBytes(utf8.encode(key), lower), key })),
);

const controlKeyPart: fc.Arbitrary<KeyPart> = fc
  .tuple(fc.string({ maxLength: 6 }), fc.oneof(fc.integer({ min: 0, max: 31 }), fc.constant(127)), fc.string({ maxLength: 6 }))
  .map(([before, code, after]) => ({ segment: encodeURIComponent(before + String.fromCharCode(code) + after), key: null }));

const longKeyPart: fc.Arbitrary<KeyPart> = fc
  .tuple(fc.constantFrom("k", "é", "🎉"), fc.integer({ min: 1, max: 3000 }))
  .map(([char, extra]) => {
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
// Bodies

export interface BodyPart {
  bytes: Uint8Array;
  /** The JSON text a correct node stores for PUT; undefined when the body is refused. */
  value?: string;
  errors: string[];
}

const body = (text: string, value: string | undefined, errors: string[] = []): BodyPart => ({ bytes: utf8.encode(text), value, errors });
const concatBytes = (...parts: (string | readonly number[])[]) =>
  new Uint8Array(parts.flatMap((part) => (typeof part === "string" ? Array.from(utf8.encode(part)) : part)));

const jsonValue = fc.jsonValue({ maxDepth: 4, stringUnit: "binary" });

/** `depth` nested containers (arrays and objects mixed) around a leaf. */
function nested(depth: number, objects: boolean[], leaf: unknown): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level++) value = objects[level % objects.length] ? { [`d${level}`]: value } : [value];
  return value;
}

const depthBody: fc.Arbitrary<BodyPart> = fc
  .tuple(fc.constantFrom(1, 63, 64, 65, 66, 200, 5000), fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }), jsonValue.filter((v) => v === null || typeof v !== "object"))
  .map(([depth, objects, leaf]) => {
    const value = nested(depth, objects, leaf);
    const text = JSON.stringify({ value });
    return depth <= contract.valueDepthMax ? body(text, JSON.stringify(value)) : body(text, undefined, ["invalid_value"]);
  });

/** Bodies of exactly the limit, one byte over, and far over. */
const sizeBody: fc.Arbitrary<BodyPart> = fc.constantFrom(0, 1, 4096).map((over) => {
  const frame = '{"value":""}'.length;
  const filler = "x".repeat(contract.maxValueBytes + over - frame);
  const text = `{"value":"${filler}"}`;
  return over === 0 ? body(text, JSON.stringify(filler)) : body(text, undefined, ["payload_too_large"]);
});

const validPutBody: fc.Arbitrary<BodyPart> = fc
  .tuple(jsonValue, fc.dictionary(fc.string({ unit: "grapheme-ascii", maxLength: 6 }), jsonValue, { maxKeys: 2 }), fc.constantFrom(0, 2), fc.boolean())
  .map(([value, extras, indent, bom]) => {
    const text = JSON.stringify({ ...extras, value }, null, indent);
    // A byte-order mark may be ignored (RFC 8259 §8.1).
    return body(`${bom ? "\ufeff" : ""}${text}`, JSON.stringify(value));
  });

/** Bytes that are not UTF-8, inside an otherwise valid body. */
const nonUtf8Body: fc.Arbitrary<BodyPart> = fc
  .constantFrom([0xff], [0xc0, 0xaf], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xfe, 0xfe])
  .map((bad) => ({ bytes: concatBytes('{"value":"a', bad, 'b"}'), errors: ["invalid_json"] }));

const malformedBody: fc.Arbitrary<BodyPart> = fc.oneof(
  // A strict prefix of an object's JSON text is never JSON.
  fc.tuple(validPutBody, fc.double({ min: 0, max: 1, noNaN: true })).map(([whole, cut]) => {
    const text = new TextDecoder().decode(whole.bytes).replace(/^\ufeff/, "");
    return body(text.slice(0, Math.floor(cut * (text.length - 1))), undefined, ["invalid_json"]);
  }),
  fc.constantFrom("", " ", "{", '{"value":', "{value:1}", "{'value':1}", '{"value":1,}', '{"value":01}', '{"value":NaN}', '{"value":undefined}', '{"value":"\u0001"}', "\u0000", '{"value":1}}', '{"value":1} x').map((t) => body(t, undefined, ["invalid_json"])),
  // JSON, but not an object with a value.
  fc.constantFrom("[1]", "1", "null", '"value"', "true", "{}", '{"valeu":1}', '{"Value":1}', '{"__proto__":{"value":1}}', "[]").map((t) => body(t, undefined, ["invalid_value"])),
  // Any text or bytes: whatever they are, the answer is one of these.
  fc.string({ unit: "binary", maxLength: 40 }).map((t) => ({ bytes: utf8.encode(t), errors: ["invalid_json", "invalid_value"], anyJson: true })),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ bytes, errors: ["invalid_json", "invalid_value"], anyJson: true })),
  nonUtf8Body,
);

/** Values the platform's JSON cannot keep: refused rather than silently changed. */
const unrepresentableBody = fc.constantFrom('{"value":1e400}', '{"value":[-1e999]}', '{"value":{"a":1E309}}').map((t) => body(t, undefined, ["invalid_value"]));

/** Special cases with a known result: last duplicate wins, big numbers round to a double. */
const knownBody = fc.constantFrom(
  body('{"value":1,"value":2}', "2"),
  body('{"value":-0}', "0"),
  body('{"value":1e308}', "1e+308"),
  body('{"value":"\\ud800"}', '"\\ud800"'),
  body('{"value":"\\u0000"}', '"\\u0000"'),
  body('{"value":null}', "null"),
  body('{"value":{"__proto__":{"x":1}}}', '{"__proto__":{"x":1}}'),
);

export const putBody: fc.Arbitrary<BodyPart> = fc
  .oneof(
    { arbitrary: validPutBody, weight: 16 },
    { arbitrary: malformedBody, weight: 5 },
    { arbitrary: depthBody, weight: 2 },
    { arbitrary: knownBody, weight: 1 },
    { arbitrary: unrepresentableBody, weight: 1 },
    { arbitrary: sizeBody, weight: 1 },
  )
  .map((part) => ("anyJson" in part ? classifyAnyBody(part.bytes, putShape) : part));

/** For bodies made of arbitrary bytes: the contract's outcome, from the platform's UTF-8 and JSON parsers. */
function classifyAnyBody(bytes: Uint8Array, shape: (parsed: unknown) => BodyPart): BodyPart {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return { bytes, errors: ["invalid_json"] };
  }
  return { ...shape(parsed), bytes };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function putShape(parsed: unknown): BodyPart {
  if (!isRecord(parsed) || !Object.hasOwn(parsed, "value")) return { bytes: new Uint8Array(), errors: ["invalid_value"] };
  // Arbitrary short text cannot nest 65 deep or overflow a double without being constructed to.
  return { bytes: new Uint8Array(), value: JSON.stringify(parsed.value), errors: [] };
}

/** POST /set bodies: {key, value}, with the key valid, invalid or not a string. */
export interface SetBodyPart extends BodyPart {
  key?: string;
}

const setKey = fc.oneof(
  { arbitrary: validKeyText.map((key) => ({ key, valid: true })), weight: 6 },
  {
    arbitrary: fc
      .constantFrom<unknown>("", ".", "..", "a\u0000b", "\u007f", "x".repeat(1025), "é".repeat(513), 5, null, true, ["k"], { k: 1 })
      .map((key) => ({ key, valid: false })),
    weight: 2,
  },
  { arbitrary: fc.constant({ key: undefined as unknown, valid: false }), weight: 1 },
);

export const setBody: fc.Arbitrary<SetBodyPart> = fc.oneof(
  { arbitrary: fc.tuple(setKey, fc.option(jsonValue, { freq: 6 })).map(([{ key, valid }, value]): SetBodyPart => {
      const object: Record<string, unknown> = {};
      if (key !== undefined) object.key = key;
      if (value !== null) object.value = value;
      const text = JSON.stringify(object);
      const errors = [...(valid ? [] : ["invalid_key"]), ...(value === null ? ["invalid_value"] : [])];
      return errors.length === 0 ? { ...body(text, JSON.stringify(value)), key: key as string } : body(text, undefined, errors);
    }), weight: 6 },
  // A value of null is a value; only a missing one is refused.
  { arbitrary: validKeyText.map((key): SetBodyPart => ({ ...body(JSON.stringify({ key, value: null }), "null"), key })), weight: 1 },
  // Not an object, not JSON, or not UTF-8: the key cannot be read from it.
  { arbitrary: malformedBody.map((part): SetBodyPart => ({ bytes: part.bytes, errors: ["invalid_json", "invalid_key", "invalid_value"] })), weight: 3 },
  { arbitrary: sizeBody.filter((part) => part.errors.length > 0), weight: 1 },
);

/** Small bodies of anything, for routes that read none (DELETE, GET with a body is not allowed). */
export const ignoredBody: fc.Arbitrary<Uint8Array | null> = fc.option(fc.uint8Array({ maxLength: 64 }), { freq: 3 });

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
