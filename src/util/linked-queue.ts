/** The links a {@link LinkedQueue} keeps in each of its entries. */
export interface QueueLinks<T> {
  prev: T | null;
  next: T | null;
  /** In a queue now. */
  queued: boolean;
}

/**
 * Entries in the order they were added, each removable in O(1), through links kept in the entries
 * themselves: adding and removing allocates nothing. For entries added and removed per message
 * where a Set would do (see IntMap for why a churned Set is costly). A removed entry's links are
 * cleared, so it holds on to nothing. Iterate with `for (let e = queue.first; e !== null; e = e.next)`,
 * reading `next` before removing `e`.
 */
export class LinkedQueue<T extends QueueLinks<T>> {
  private head: T | null = null;
  private tail: T | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get first(): T | null {
    return this.head;
  }

  /** Appends; an entry already in a queue is left where it is. */
  add(entry: T): void {
    if (entry.queued) return;
    entry.queued = true;
    entry.prev = this.tail;
    entry.next = null;
    if (this.tail === null) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    this.count++;
  }

  /** Removes an entry of this queue; false when it was not queued. */
  remove(entry: T): boolean {
    if (!entry.queued) return false;
    const { prev, next } = entry;
    if (prev === null) this.head = next;
    else prev.next = next;
    if (next === null) this.tail = prev;
    else next.prev = prev;
    entry.prev = null;
    entry.next = null;
    entry.queued = false;
    this.count--;
    return true;
  }

  /** The entries in order, as a new array (for paths that remove while they walk, not per message). */
  toArray(): T[] {
    const out: T[] = [];
    for (let e = this.head; e !== null; e = e.next) out.push(e);
    return out;
  }

  /** Removes every entry, clearing their links. */
  clear(): void {
    let e = this.head;
    while (e !== null) {
      const next = e.next;
      e.prev = null;
      e.next = null;
      e.queued = false;
      e = next;
    }
    this.head = null;
    this.tail = null;
    this.count = 0;
  }
}
