/**
 * The 64-bit hash of a key and its value behind the state's digest, as two independent 32-bit
 * halves (murmur3-style mixing of UTF-16 code units) of `key + "\u0000" + value`. Plain numbers
 * keep XOR cheap; BigInt would allocate on every apply. The pair is hashed where it lies, without
 * building the joined string: the halves are the same as hashing it, with nothing allocated.
 */

const highSeed = 0x9747b28c;
const lowSeed = 0x5bd1e995;

function mix(h: number, codeUnit: number): number {
  let k = Math.imul(codeUnit, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One half of the pair's hash: `seed` picks which. */
function pairHash32(key: string, value: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < key.length; i++) h = mix(h, key.charCodeAt(i));
  h = mix(h, 0);
  for (let i = 0; i < value.length; i++) h = mix(h, value.charCodeAt(i));
  return finish(h, key.length + 1 + value.length);
}

export function pairHashHigh(key: string, value: string): number {
  return pairHash32(key, value, highSeed);
}

export function pairHashLow(key: string, value: string): number {
  return pairHash32(key, value, lowSeed);
}

export function hashToHex(high: number, low: number): string {
  return high.toString(16).padStart(8, "0") + low.toString(16).padStart(8, "0");
}
