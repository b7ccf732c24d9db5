import { assert } from '../util/assert.js';

/**
 * A bounded first-in first-out queue for messages between agents in one thread. Offers beyond the
 * capacity fail (return false) so a stalled consumer shows up as back-pressure, never as growth.
 */
export class MessageQueue<T> {
  private readonly slots: (T | undefined)[];
  private readonly mask: number;
  private head = 0;
  private tail = 0;

  constructor(capacity: number) {
    assert(capacity > 0 && (capacity & (capacity - 1)) === 0, `queue capacity must be a power of two: ${capacity}`);
    this.slots = new Array<T | undefined>(capacity);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.tail - this.head;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  offer(message: T): boolean {
    if (this.tail - this.head > this.mask) return false;
    this.slots[this.tail & this.mask] = message;
    this.tail++;
    return true;
  }

  poll(): T | undefined {
    if (this.head === this.tail) return undefined;
    const index = this.head & this.mask;
    const message = this.slots[index];
    this.slots[index] = undefined;
    this.head++;
    return message;
  }

  /** Hands up to `limit` messages to `handler`; returns how many. */
  drain(handler: (message: T) => void, limit: number): number {
    let count = 0;
    while (count < limit && this.head !== this.tail) {
      const message = this.poll() as T;
      count++;
      handler(message);
    }
    return count;
  }
}
