/**
 * A single-producer single-consumer ring of variable-length records in a SharedArrayBuffer, the
 * baseline for Skein IPC: about the least a message hand-over between two threads costs in
 * JavaScript. Like a term of a Skein log, a record is committed by its length field.
 *
 * ```
 * control (192 bytes, each field on its own 64-byte line)
 *   0: head   consumer position in bytes (int32, wraps at 2^32)
 *  64: stop   set to 1 to end the run
 * data (capacity bytes, a power of two), records aligned to 8 bytes:
 *   0: record length (header + payload; 0 = not yet written)   4: type (1 message, 0 padding)   8: payload
 * ```
 * The producer writes type and payload with plain stores and commits with Atomics.store of the
 * length; it reads the consumer's head only when its cached copy says the ring is full. The
 * consumer reads lengths with Atomics.load, so it never touches a line the producer writes other
 * than the records themselves; after each batch it zeroes what it read and publishes its head.
 */
export const CONTROL_LENGTH = 192;
const HEAD_INDEX = 0;
const STOP_INDEX = 16;
export const RECORD_HEADER_LENGTH = 8;
const TYPE_MESSAGE = 1;
const TYPE_PADDING = 0;

export class SpscRing {
  readonly capacity: number;
  private readonly control: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly ints: Int32Array;
  private readonly mask: number;
  private position = 0;
  private cachedHead = 0;

  constructor(shared: SharedArrayBuffer, capacity: number) {
    if (capacity < 64 || (capacity & (capacity - 1)) !== 0) throw new Error(`capacity ${capacity} must be a power of two >= 64`);
    if (shared.byteLength < CONTROL_LENGTH + capacity) throw new Error(`shared buffer of ${shared.byteLength} bytes is too small`);
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.control = new Int32Array(shared, 0, CONTROL_LENGTH / 4);
    this.bytes = new Uint8Array(shared, CONTROL_LENGTH, capacity);
    this.ints = new Int32Array(shared, CONTROL_LENGTH, capacity / 4);
  }

  static sharedLength(capacity: number): number {
    return CONTROL_LENGTH + capacity;
  }

  get stopped(): boolean {
    return Atomics.load(this.control, STOP_INDEX) !== 0;
  }

  stop(): void {
    Atomics.store(this.control, STOP_INDEX, 1);
  }

  /** Producer: appends one message of `length` bytes from `source`; false when the ring is full. */
  offer(source: Uint8Array, length: number): boolean {
    const recordLength = RECORD_HEADER_LENGTH + length;
    const aligned = (recordLength + 7) & ~7;
    let tail = this.position;
    let index = tail & this.mask;
    const toEnd = this.capacity - index;
    const needed = aligned > toEnd ? aligned + toEnd : aligned;
    if (((tail - this.cachedHead) | 0) + needed > this.capacity) {
      this.cachedHead = Atomics.load(this.control, HEAD_INDEX);
      if (((tail - this.cachedHead) | 0) + needed > this.capacity) return false;
    }
    const ints = this.ints;
    if (aligned > toEnd) {
      ints[(index >> 2) + 1] = TYPE_PADDING;
      Atomics.store(ints, index >> 2, toEnd);
      tail = (tail + toEnd) | 0;
      index = 0;
    }
    ints[(index >> 2) + 1] = TYPE_MESSAGE;
    this.bytes.set(source.length === length ? source : source.subarray(0, length), index + RECORD_HEADER_LENGTH);
    Atomics.store(ints, index >> 2, recordLength);
    this.position = (tail + aligned) | 0;
    return true;
  }

  /**
   * Consumer: reads up to `limit` committed messages, calling `handler(bytes, payloadOffset,
   * payloadLength)` for each; then zeroes the records read and publishes the head. Returns the
   * number of records read (messages and padding).
   */
  poll(handler: (bytes: Uint8Array, offset: number, length: number) => void, limit: number): number {
    const start = this.position;
    const ints = this.ints;
    const bytes = this.bytes;
    const mask = this.mask;
    let head = start;
    let records = 0;
    while (records < limit) {
      const index = head & mask;
      const recordLength = Atomics.load(ints, index >> 2);
      if (recordLength === 0) break;
      if (ints[(index >> 2) + 1] === TYPE_MESSAGE) handler(bytes, index + RECORD_HEADER_LENGTH, recordLength - RECORD_HEADER_LENGTH);
      head = (head + ((recordLength + 7) & ~7)) | 0;
      records++;
    }
    if (records === 0) return 0;
    const from = start & mask;
    const length = (head - start) | 0;
    if (from + length <= this.capacity) bytes.fill(0, from, from + length);
    else {
      bytes.fill(0, from, this.capacity);
      bytes.fill(0, 0, from + length - this.capacity);
    }
    this.position = head;
    Atomics.store(this.control, HEAD_INDEX, head);
    return records;
  }
}
