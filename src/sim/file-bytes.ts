/** One change to a file's bytes or size since its last sync (the bytes are the file system's own copy). */
export type FileOp = { write: Uint8Array; position: number } | { truncate: number };

/** A file's bytes, with room to grow: a log grows by many small writes, and copying it whole for each would be quadratic. */
export class Bytes {
  #data: Uint8Array;
  length: number;

  constructor(data: Uint8Array = new Uint8Array(0)) {
    this.#data = data;
    this.length = data.length;
  }

  write(source: Uint8Array, position: number): void {
    if (source.length === 0) return;
    this.resize(Math.max(this.length, position + source.length));
    this.#data.set(source, position);
  }

  /** Past `length` the room is kept zero, so that growing reads zeros. */
  resize(length: number): void {
    if (length > this.#data.length) {
      const grown = new Uint8Array(Math.max(length, this.#data.length * 2));
      grown.set(this.#data.subarray(0, this.length));
      this.#data = grown;
    } else if (length < this.length) {
      this.#data.fill(0, length, this.length);
    }
    this.length = length;
  }

  flip(position: number): void {
    this.#data[position] = this.#data[position]! ^ 0x5a;
  }

  copy(): Uint8Array {
    return this.#data.slice(0, this.length);
  }

  clone(): Bytes {
    return new Bytes(this.copy());
  }
}

export function applyOps(bytes: Bytes, ops: readonly FileOp[]): void {
  for (const op of ops) {
    if ("write" in op) bytes.write(op.write, op.position);
    else bytes.resize(op.truncate);
  }
}
