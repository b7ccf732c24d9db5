/**
 * What the generated SBE codecs share (SBE.md): flyweights over a Uint8Array with a cached
 * DataView (no allocation while the same buffer is reused), little-endian primitives, 64-bit
 * integers as bigint, var data with a uint32 length, and decoders that honour the acting block
 * length and version and bound every read by the message's length. A message that does not
 * follow its schema throws ERR_SKEIN_PROTOCOL_INVALID naming message, field and value.
 */
import { ErrorCode, SkeinError } from '../../util/errors.js';

/** SBE's maximum var-data length in these schemas (varAsciiEncoding/varDataEncoding maxValue). */
export const VAR_DATA_LENGTH_MAX = 1073741824;

export function protocolError(message: string): SkeinError {
  return new SkeinError(ErrorCode.PROTOCOL_INVALID, message);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** A bigint from a bigint or a safe-integer number; anything else throws naming the field. */
export function toInt64(value: bigint | number, field: string, unsigned = false): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (Number.isSafeInteger(value)) v = BigInt(value);
  else throw new SkeinError(ErrorCode.ARG_INVALID, `${field}=${String(value)} is not an integer of at most 2^53 (pass a bigint for larger values)`);
  if (unsigned ? v < 0n || v > UINT64_MAX : v < INT64_MIN || v > INT64_MAX) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `${field}=${String(value)} is outside the ${unsigned ? 'uint64' : 'int64'} range`);
  }
  return v;
}

const TWO_32 = 4294967296;

/** Writes a safe integer as a little-endian 64-bit two's complement value (low half, then the high half with the sign). */
function writeInt64Halves(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setInt32(at + 4, Math.floor(value / TWO_32), true);
}

/** A number from a bigint that must be a safe integer. */
export function safeNumber(value: bigint, field: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new SkeinError(ErrorCode.ARG_INVALID, `${field}=${value} is beyond 2^53; read it as a bigint`);
  return n;
}

abstract class Flyweight {
  protected buffer: Uint8Array = new Uint8Array(0);
  protected view: DataView = new DataView(this.buffer.buffer);
  /** Where the fixed block starts. */
  protected offset = 0;
  /** Where the next var data or group goes (or comes from). */
  protected limit = 0;

  protected bind(buffer: Uint8Array): void {
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    }
  }

  /** The buffer this flyweight is over. */
  get wrapped(): Uint8Array {
    return this.buffer;
  }

  /** @internal The running position after the fixed block, groups and var data read or written so far. */
  get cursor(): number {
    return this.limit;
  }

  /** @internal */
  set cursor(limit: number) {
    this.limit = limit;
  }
}

export abstract class SbeEncoder extends Flyweight {
  /** Where the message (its header, when applied) starts. */
  protected start = 0;

  protected bindEncoder(buffer: Uint8Array, offset: number, blockLength: number, start = offset): void {
    this.bind(buffer);
    if (!(Number.isInteger(offset) && offset >= 0 && offset + blockLength <= buffer.length)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `${this.constructor.name}: a block of ${blockLength} bytes at offset ${offset} does not fit a buffer of ${buffer.length} bytes`);
    }
    buffer.fill(0, offset, offset + blockLength);
    this.offset = offset;
    this.limit = offset + blockLength;
    this.start = start;
  }

  /** Bytes written from the start of the message (its header included when it was applied). */
  encodedLength(): number {
    return this.limit - this.start;
  }

  protected room(bytes: number, field: string): void {
    if (this.limit + bytes > this.buffer.length) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `${this.constructor.name}.${field}: ${bytes} more bytes do not fit the buffer of ${this.buffer.length} bytes at ${this.limit}`);
    }
  }

  protected i64(at: number, value: bigint | number, field: string): void {
    // A safe-integer number is written as two 32-bit halves: no bigint is made per field.
    if (typeof value === 'number' && Number.isSafeInteger(value)) writeInt64Halves(this.view, at, value);
    else this.view.setBigInt64(at, toInt64(value, field), true);
  }

  protected u64(at: number, value: bigint | number, field: string): void {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) writeInt64Halves(this.view, at, value);
    else this.view.setBigUint64(at, toInt64(value, field, true), true);
  }

  protected int(at: number, value: number, size: 1 | 2 | 4, signed: boolean, field: string): void {
    const bits = size * 8;
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `${this.constructor.name}.${field}=${String(value)} is outside [${min}, ${max}]`);
    }
    if (size === 1) this.view.setUint8(at, value & 0xff);
    else if (size === 2) this.view.setUint16(at, value & 0xffff, true);
    else this.view.setUint32(at, value >>> 0, true);
  }

  protected float(at: number, value: number, size: 4 | 8): void {
    if (size === 4) this.view.setFloat32(at, value, true);
    else this.view.setFloat64(at, value, true);
  }

  /** Appends US-ASCII text with its uint32 length; a character above 0x7F throws naming the field. */
  protected ascii(value: string, field: string): void {
    if (typeof value !== 'string') throw new SkeinError(ErrorCode.ARG_INVALID, `${this.constructor.name}.${field} must be a string, got ${typeof value}`);
    const length = value.length;
    this.room(4 + length, field);
    const at = this.limit + 4;
    const b = this.buffer;
    for (let i = 0; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c > 0x7f) throw new SkeinError(ErrorCode.ARG_INVALID, `${this.constructor.name}.${field}: character ${c} at index ${i} is not US-ASCII`);
      b[at + i] = c;
    }
    this.view.setUint32(this.limit, length, true);
    this.limit = at + length;
  }

  /** Appends bytes with their uint32 length. */
  protected bytes(value: Uint8Array, field: string, offset = 0, length = value.length - offset): void {
    this.room(4 + length, field);
    this.view.setUint32(this.limit, length, true);
    this.buffer.set(value.subarray(offset, offset + length), this.limit + 4);
    this.limit += 4 + length;
  }

  /** Writes a group header (entry block length, count) at the cursor; returns where entries start. */
  protected groupHeader(blockLength: number, count: number, field: string): number {
    if (!(Number.isInteger(count) && count >= 0 && count <= 65535)) throw new SkeinError(ErrorCode.ARG_INVALID, `${this.constructor.name}.${field} count ${String(count)} is outside [0, 65535]`);
    this.room(4 + blockLength * count, field);
    this.view.setUint16(this.limit, blockLength, true);
    this.view.setUint16(this.limit + 2, count, true);
    this.limit += 4;
    return this.limit;
  }
}

export abstract class SbeDecoder extends Flyweight {
  protected actingBlockLength = 0;
  protected actingVersion = 0;
  /** The end of the message: no read goes past it. */
  protected end = 0;

  protected bindDecoder(buffer: Uint8Array, offset: number, actingBlockLength: number, actingVersion: number, length: number, message: string): void {
    this.bind(buffer);
    const end = offset + length;
    if (!(Number.isInteger(offset) && offset >= 0 && Number.isInteger(length) && length >= 0 && end <= buffer.length)) {
      throw protocolError(`${message}: offset ${offset} and length ${length} do not fit a buffer of ${buffer.length} bytes`);
    }
    if (offset + actingBlockLength > end) {
      throw protocolError(`${message}: block length ${actingBlockLength} runs past the end of the message (${length} bytes)`);
    }
    this.offset = offset;
    this.actingBlockLength = actingBlockLength;
    this.actingVersion = actingVersion;
    this.end = end;
    this.limit = offset + actingBlockLength;
  }

  /**
   * The int64 at `at` as a number, read as two 32-bit halves (no bigint made); beyond 2^53 it
   * throws ERR_SKEIN_ARG_INVALID naming `field`, as {@link safeNumber} does.
   */
  protected i64Number(at: number, field: string): number {
    const value = this.view.getInt32(at + 4, true) * TWO_32 + this.view.getUint32(at, true);
    return Number.isSafeInteger(value) ? value : safeNumber(this.view.getBigInt64(at, true), field);
  }

  /** The uint64 at `at` as a number; see {@link i64Number}. */
  protected u64Number(at: number, field: string): number {
    const value = this.view.getUint32(at + 4, true) * TWO_32 + this.view.getUint32(at, true);
    return Number.isSafeInteger(value) ? value : safeNumber(this.view.getBigUint64(at, true), field);
  }

  /** Whether a field of `size` bytes at block offset `at`, since `sinceVersion`, is in this message. */
  protected present(at: number, size: number, sinceVersion: number): boolean {
    return this.actingVersion >= sinceVersion && at + size <= this.actingBlockLength;
  }

  protected enumValue<T extends number>(value: number, valid: ReadonlySet<number>, nullValue: number, message: string, field: string): T {
    if (!valid.has(value) && value !== nullValue) throw protocolError(`${message}.${field}: value ${value} is not one of the schema's values`);
    return value as T;
  }

  /** Reads US-ASCII text at the cursor and moves past it; absent (since a later version) reads ''. */
  protected readAscii(sinceVersion: number, message: string, field: string): string {
    if (this.actingVersion < sinceVersion) return '';
    const length = this.varLength(message, field);
    const at = this.limit + 4;
    const b = this.buffer;
    let text = '';
    for (let i = 0; i < length; i++) text += String.fromCharCode(b[at + i]!);
    this.limit = at + length;
    return text;
  }

  /** Reads var data at the cursor as a view into the buffer (no copy) and moves past it. */
  protected readBytes(sinceVersion: number, message: string, field: string): Uint8Array {
    if (this.actingVersion < sinceVersion) return this.buffer.subarray(0, 0);
    const length = this.varLength(message, field);
    const at = this.limit + 4;
    this.limit = at + length;
    return this.buffer.subarray(at, at + length);
  }

  /** Moves past var data at the cursor without reading it; returns its length. */
  protected skipVar(sinceVersion: number, message: string, field: string): number {
    if (this.actingVersion < sinceVersion) return 0;
    const length = this.varLength(message, field);
    this.limit += 4 + length;
    return length;
  }

  /** Reads a group header at the cursor: [entry block length, count]; entries start at the cursor after it. */
  protected readGroupHeader(message: string, field: string): [number, number] {
    if (this.limit + 4 > this.end) throw protocolError(`${message}.${field}: the group header runs past the end of the message at ${this.limit - this.offset}`);
    const blockLength = this.view.getUint16(this.limit, true);
    const count = this.view.getUint16(this.limit + 2, true);
    this.limit += 4;
    return [blockLength, count];
  }

  /** @internal Checks that `bytes` from `at` are inside the message. */
  checkBounds(at: number, bytes: number, message: string, field: string): void {
    if (at + bytes > this.end) throw protocolError(`${message}.${field}: ${bytes} bytes at ${at - this.offset} run past the end of the message`);
  }

  /** @internal */
  get dataView(): DataView {
    return this.view;
  }

  /** @internal */
  get messageEnd(): number {
    return this.end;
  }

  private varLength(message: string, field: string): number {
    if (this.limit + 4 > this.end) throw protocolError(`${message}.${field}: the length runs past the end of the message at ${this.limit - this.offset}`);
    const length = this.view.getUint32(this.limit, true);
    if (length > VAR_DATA_LENGTH_MAX || this.limit + 4 + length > this.end) {
      throw protocolError(`${message}.${field}: length ${length} runs past the end of the message (${this.end - this.limit - 4} bytes left)`);
    }
    return length;
  }
}

/**
 * A repeating group's entries inside a decoded message: reads the group header at the parent's
 * cursor, then each entry's fixed block (using the header's block length, which a newer sender
 * may have made longer) and var data, moving the parent's cursor along.
 */
export abstract class SbeGroupDecoder extends SbeDecoder {
  private parent: SbeDecoder | null = null;
  private entries = 0;
  private index = 0;
  private entryLength = 0;

  protected wrapGroup(parent: SbeDecoder, actingVersion: number, message: string, field: string): void {
    this.parent = parent;
    this.bind(parent.wrapped);
    this.actingVersion = actingVersion;
    this.end = parent.messageEnd;
    const at = parent.cursor;
    if (at + 4 > this.end) throw protocolError(`${message}.${field}: the group header runs past the end of the message`);
    this.entryLength = this.view.getUint16(at, true);
    this.entries = this.view.getUint16(at + 2, true);
    this.actingBlockLength = this.entryLength;
    parent.cursor = at + 4;
    this.index = 0;
  }

  /** Entries in the group. */
  get count(): number {
    return this.entries;
  }

  hasNext(): boolean {
    return this.index < this.entries;
  }

  protected nextEntry(message: string, field: string): void {
    if (this.index >= this.entries) throw protocolError(`${message}.${field}: no entry ${this.index} in a group of ${this.entries}`);
    const parent = this.parent!;
    const at = parent.cursor;
    if (at + this.entryLength > this.end) throw protocolError(`${message}.${field}: entry ${this.index} runs past the end of the message`);
    this.offset = at;
    this.limit = at + this.entryLength;
    parent.cursor = this.limit;
    this.index++;
  }

  /** After entry var data is read, the parent goes on from there. */
  protected syncParent(): void {
    this.parent!.cursor = this.limit;
  }
}

/** A repeating group's entries inside an encoded message (see SbeGroupDecoder). */
export abstract class SbeGroupEncoder extends SbeEncoder {
  private parent: SbeEncoder | null = null;
  private entries = 0;
  private index = 0;
  private entryLength = 0;

  protected wrapGroup(parent: SbeEncoder, count: number, blockLength: number, message: string, field: string): void {
    this.parent = parent;
    this.bind(parent.wrapped);
    if (!(Number.isInteger(count) && count >= 0 && count <= 65535)) throw new SkeinError(ErrorCode.ARG_INVALID, `${message}.${field} count ${String(count)} is outside [0, 65535]`);
    const at = parent.cursor;
    if (at + 4 > this.buffer.length) throw new SkeinError(ErrorCode.ARG_INVALID, `${message}.${field}: the group header does not fit the buffer of ${this.buffer.length} bytes`);
    this.view.setUint16(at, blockLength, true);
    this.view.setUint16(at + 2, count, true);
    parent.cursor = at + 4;
    this.entries = count;
    this.entryLength = blockLength;
    this.index = 0;
  }

  protected nextEntry(message: string, field: string): void {
    if (this.index >= this.entries) throw new SkeinError(ErrorCode.ARG_INVALID, `${message}.${field}: next() called more than the count ${this.entries}`);
    const parent = this.parent!;
    const at = parent.cursor;
    this.bindEncoder(this.buffer, at, this.entryLength, at);
    parent.cursor = this.limit;
    this.index++;
  }

  protected syncParent(): void {
    this.parent!.cursor = this.limit;
  }
}
