/**
 * The event log of a run: one line per event, folded into an FNV-1a hash so that two runs can be
 * compared in O(1). Lines are kept only when asked for (replaying one seed), so that running
 * thousands of seeds does not hold them all.
 */
const fnvOffsetBasis = 0x811c9dc5;
const fnvPrime = 0x01000193;

export class Trace {
  readonly lines: string[] = [];
  #hash = fnvOffsetBasis;
  #count = 0;

  constructor(
    private readonly keepLines: boolean,
    private readonly onLine?: (line: string) => void,
  ) {}

  get hash(): string {
    return this.#hash.toString(16).padStart(8, "0");
  }

  get count(): number {
    return this.#count;
  }

  add(nowUs: number, text: string): void {
    const line = `${formatUs(nowUs)} ${text}`;
    let hash = this.#hash;
    for (let i = 0; i < line.length; i++) hash = Math.imul(hash ^ line.charCodeAt(i), fnvPrime);
    this.#hash = Math.imul(hash ^ 10, fnvPrime) >>> 0;
    this.#count++;
    if (this.keepLines) this.lines.push(line);
    this.onLine?.(line);
  }
}

/** Virtual microseconds as milliseconds with three decimals, right-aligned for reading. */
export function formatUs(us: number): string {
  return `${(us / 1000).toFixed(3)}ms`.padStart(12);
}
