import fc from "fast-check";
import { contract, validKeyText } from "./cases.ts";

/** Request bodies for PUT, POST /set and the routes that read none, each with what a correct node makes of it. */

const utf8 = new TextEncoder();

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
  .tuple(
    fc.constantFrom(1, 63, 64, 65, 66, 200, 5000),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    jsonValue.filter((v) => v === null || typeof v !== "object"),
  )
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
  fc
    .constantFrom(
      "",
      " ",
      "{",
      '{"value":',
      "{value:1}",
      "{'value':1}",
      '{"value":1,}',
      '{"value":01}',
      '{"value":NaN}',
      '{"value":undefined}',
      '{"value":"\u0001"}',
      "\u0000",
      '{"value":1}}',
      '{"value":1} x',
    )
    .map((t) => body(t, undefined, ["invalid_json"])),
  // JSON, but not an object with a value.
  fc
    .constantFrom("[1]", "1", "null", '"value"', "true", "{}", '{"valeu":1}', '{"Value":1}', '{"__proto__":{"value":1}}', "[]")
    .map((t) => body(t, undefined, ["invalid_value"])),
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
  {
    arbitrary: fc.tuple(setKey, fc.option(jsonValue, { freq: 6 })).map(([{ key, valid }, value]): SetBodyPart => {
      const object: Record<string, unknown> = {};
      if (key !== undefined) object.key = key;
      if (value !== null) object.value = value;
      const text = JSON.stringify(object);
      const errors = [...(valid ? [] : ["invalid_key"]), ...(value === null ? ["invalid_value"] : [])];
      return errors.length === 0 ? { ...body(text, JSON.stringify(value)), key: key as string } : body(text, undefined, errors);
    }),
    weight: 6,
  },
  // A value of null is a value; only a missing one is refused.
  { arbitrary: validKeyText.map((key): SetBodyPart => ({ ...body(JSON.stringify({ key, value: null }), "null"), key })), weight: 1 },
  // Not an object, not JSON, or not UTF-8: the key cannot be read from it.
  { arbitrary: malformedBody.map((part): SetBodyPart => ({ bytes: part.bytes, errors: ["invalid_json", "invalid_key", "invalid_value"] })), weight: 3 },
  { arbitrary: sizeBody.filter((part) => part.errors.length > 0), weight: 1 },
);

/** Small bodies of anything, for routes that read none (DELETE, GET with a body is not allowed). */
export const ignoredBody: fc.Arbitrary<Uint8Array | null> = fc.option(fc.uint8Array({ maxLength: 64 }), { freq: 3 });
