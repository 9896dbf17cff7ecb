/**
 * A 64-bit hash of a string, as two independent 32-bit halves (murmur3-style mixing of UTF-16
 * code units). Plain numbers keep XOR cheap; BigInt would allocate on every apply.
 */
export interface Hash64 {
  high: number;
  low: number;
}

function hash32(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    let k = Math.imul(text.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= text.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hash64(text: string): Hash64 {
  return { high: hash32(text, 0x9747b28c), low: hash32(text, 0x5bd1e995) };
}

export function hashToHex(hash: Hash64): string {
  return hash.high.toString(16).padStart(8, "0") + hash.low.toString(16).padStart(8, "0");
}
