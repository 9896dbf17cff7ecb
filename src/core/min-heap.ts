/** A binary min-heap ordered by `before` (the simulator's agenda and the delay scheduler share it). */
export class MinHeap<Item> {
  #items: Item[] = [];

  constructor(private readonly before: (a: Item, b: Item) => boolean) {}

  get size(): number {
    return this.#items.length;
  }

  peek(): Item | undefined {
    return this.#items[0];
  }

  push(item: Item): void {
    const heap = this.#items;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[parent]!)) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  pop(): Item | undefined {
    const heap = this.#items;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < heap.length && this.before(heap[left]!, heap[first]!)) first = left;
      if (right < heap.length && this.before(heap[right]!, heap[first]!)) first = right;
      if (first === i) break;
      [heap[first], heap[i]] = [heap[i]!, heap[first]!];
      i = first;
    }
    return top;
  }

  clear(): void {
    this.#items = [];
  }
}
