/**
 * The RPC frames, one per Skein message on a consumer's link to a provider (docs/rpc.md, "Wire
 * format"). Little-endian:
 *
 * ```
 *   0               1               2               3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------+---------------+-------------------------------+
 *  |    version    |     type      |             flags             |  0
 *  +---------------+---------------+-------------------------------+
 *  |                            call id                            |  4
 *  +---------------------------------------------------------------+
 *  |                   arg (per type, see below)                   |  8
 *  +-------------------------------+-------------------------------+
 *  |          name length          |        metadata count         | 12
 *  +-------------------------------+-------------------------------+
 *  |  name (UTF-8) ...  metadata: [u16 key length, key, u32 value length, value] ...
 *  |  payload (the rest of the message)
 * ```
 *
 * Types and their `arg` and `name`:
 * - HELLO (consumer → provider, first on a link): name = service; metadata = the consumer's.
 * - HELLO_ACK: arg = 0 accepted, else a status (UNIMPLEMENTED: no such service here;
 *   UNAVAILABLE: draining); name = the provider's incarnation, or the reason.
 * - CALL: arg = the call's remaining time in ms when sent (0: none); name = method; flags:
 *   ONEWAY, STREAM, attempt number in bits 8..15; metadata = headers; payload = the request.
 * - MESSAGE: one response message (server streaming); payload.
 * - END: arg = status; name = status message; metadata = trailers; payload = the unary response.
 * - CANCEL: the consumer gave up on the call (deadline, abort).
 * - CREDIT: arg = more messages the consumer takes on a stream.
 * - PING / PONG: arg = a sequence number echoed back.
 * - GOAWAY: the provider drains: no new calls on this link; calls in flight finish.
 */
import type { Codec } from './codec.js';
import { ErrorCode, SkeinError } from '../util/errors.js';

export const RPC_FRAME_VERSION = 1;
export const FRAME_HEADER_LENGTH = 16;

export const FrameType = {
  HELLO: 1,
  HELLO_ACK: 2,
  CALL: 3,
  MESSAGE: 4,
  END: 5,
  CANCEL: 6,
  CREDIT: 7,
  PING: 8,
  PONG: 9,
  GOAWAY: 10,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FrameFlag = {
  /** CALL: no response is sent. */
  ONEWAY: 1,
  /** CALL: a server stream. */
  STREAM: 2,
  /** END: the call was refused before its handler ran (shutting down, at its concurrency limit): safe to send elsewhere. */
  NOT_RUN: 4,
} as const;

export type Metadata = Readonly<Record<string, string>>;
export const EMPTY_METADATA: Metadata = Object.freeze({});

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface FrameFields {
  readonly type: FrameType;
  readonly callId: number;
  readonly flags?: number;
  readonly arg?: number;
  readonly name?: string;
  readonly metadata?: Metadata;
}

/** Bytes a frame takes without its payload. */
export function frameHeaderBytes(name: string, metadata: Metadata): number {
  let length = FRAME_HEADER_LENGTH + encoder.encode(name).length;
  for (const key in metadata) length += 6 + encoder.encode(key).length + encoder.encode(metadata[key]!).length;
  return length;
}

/**
 * Writes a frame into `buffer` from `offset` (growing nothing: the caller sizes the buffer) and
 * returns its length. `payload` is copied after the header.
 */
export function encodeFrame(buffer: Uint8Array, offset: number, fields: FrameFields, payload?: Uint8Array): number {
  return encodeInto(buffer, new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength), offset, fields, payload);
}

/** At least the bytes a frame takes without its payload (UTF-8 takes at most 3 bytes per UTF-16 unit). */
export function frameLengthBound(name: string, metadata: Metadata): number {
  let length = FRAME_HEADER_LENGTH + name.length * 3;
  for (const key in metadata) length += 6 + (key.length + metadata[key]!.length) * 3;
  return length;
}

/** Names kept encoded by a writer: method names repeat on every call. */
const NAME_CACHE_MAX = 256;

/**
 * Encodes frames into a buffer of its own, grown when a frame needs more; reused for every frame.
 * It keeps the UTF-8 bytes of the names it wrote last (up to 256 of them), so a method name is
 * encoded once, not on every call.
 */
export class FrameWriter {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  private readonly names = new Map<string, Uint8Array>();

  /** The buffer the last frame was written to (valid until the next write). */
  get bytes(): Uint8Array {
    return this.buffer;
  }

  /** Writes a frame at offset 0; returns its length. */
  write(fields: FrameFields, payload?: Uint8Array): number {
    const bound = frameLengthBound(fields.name ?? '', fields.metadata ?? EMPTY_METADATA) + (payload === undefined ? 0 : payload.length);
    if (bound > this.buffer.length) {
      this.buffer = new Uint8Array(Math.max(bound, this.buffer.length * 2));
      this.view = new DataView(this.buffer.buffer);
    }
    return encodeInto(this.buffer, this.view, 0, fields, payload, this.names);
  }
}

function encodeInto(buffer: Uint8Array, view: DataView, offset: number, fields: FrameFields, payload?: Uint8Array, names?: Map<string, Uint8Array>): number {
  const name = fields.name ?? '';
  const metadata = fields.metadata ?? EMPTY_METADATA;
  view.setUint8(offset, RPC_FRAME_VERSION);
  view.setUint8(offset + 1, fields.type);
  view.setUint16(offset + 2, fields.flags ?? 0, true);
  view.setInt32(offset + 4, fields.callId, true);
  view.setUint32(offset + 8, fields.arg ?? 0, true);
  let p = offset + FRAME_HEADER_LENGTH;
  p += names === undefined ? writeString(buffer, p, name, 0xffff, 'name') : writeName(buffer, p, name, names);
  view.setUint16(offset + 12, p - offset - FRAME_HEADER_LENGTH, true);
  let count = 0;
  if (metadata !== EMPTY_METADATA) {
    for (const key in metadata) {
      const keyLength = writeString(buffer, p + 2, key, 0xffff, 'metadata key');
      view.setUint16(p, keyLength, true);
      p += 2 + keyLength;
      const valueLength = writeString(buffer, p + 4, metadata[key]!, 0xffffffff, 'metadata value');
      view.setUint32(p, valueLength, true);
      p += 4 + valueLength;
      count++;
    }
  }
  if (count > 0xffff) throw new SkeinError(ErrorCode.ARG_INVALID, `${count} metadata entries; at most 65535`);
  view.setUint16(offset + 14, count, true);
  if (payload !== undefined && payload.length > 0) {
    if (p + payload.length > buffer.length) throw new SkeinError(ErrorCode.MESSAGE_TOO_LONG, `RPC frame of ${p + payload.length - offset} bytes does not fit the ${buffer.length - offset} bytes left`);
    buffer.set(payload, p);
    p += payload.length;
  }
  return p - offset;
}

/** Writes a name through the writer's cache of encoded names. */
function writeName(buffer: Uint8Array, at: number, name: string, names: Map<string, Uint8Array>): number {
  if (name.length === 0) return 0;
  let bytes = names.get(name);
  if (bytes === undefined) {
    bytes = encoder.encode(name);
    if (bytes.length > 0xffff) throw new SkeinError(ErrorCode.ARG_INVALID, `RPC frame: name of ${bytes.length} bytes; at most 65535`);
    if (names.size >= NAME_CACHE_MAX) names.clear();
    names.set(name, bytes);
  }
  buffer.set(bytes, at);
  return bytes.length;
}

function writeString(buffer: Uint8Array, at: number, text: string, max: number, what: string): number {
  if (text.length === 0) return 0;
  const result = encoder.encodeInto(text, buffer.subarray(at));
  if (result.read !== text.length) throw new SkeinError(ErrorCode.MESSAGE_TOO_LONG, `RPC frame: ${what} does not fit the buffer`);
  if (result.written > max) throw new SkeinError(ErrorCode.ARG_INVALID, `RPC frame: ${what} of ${result.written} bytes; at most ${max}`);
  return result.written;
}

/** The UTF-8 bytes of each name, for {@link FrameReader.nameIndex}. */
export function encodeNames(names: readonly string[]): Uint8Array[] {
  return names.map((name) => encoder.encode(name));
}

/** Reads one frame: wrap it, then read its fields. Reused across messages; strings are decoded on demand. */
export class FrameReader {
  private buffer: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private offset = 0;
  private length = 0;
  private nameEnd = 0;
  private payloadStart = 0;

  /** Checks the header and the lengths; throws PROTOCOL_INVALID naming what is wrong. */
  wrap(buffer: Uint8Array, offset: number, length: number): this {
    if (length < FRAME_HEADER_LENGTH) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `RPC frame of ${length} bytes; the header alone is ${FRAME_HEADER_LENGTH}`);
    this.buffer = buffer;
    if (this.view.buffer !== buffer.buffer || this.view.byteOffset !== buffer.byteOffset) this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    this.offset = offset;
    this.length = length;
    const version = this.view.getUint8(offset);
    if (version !== RPC_FRAME_VERSION) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `RPC frame version ${version}; this end speaks ${RPC_FRAME_VERSION}`);
    const type = this.view.getUint8(offset + 1);
    if (type < FrameType.HELLO || type > FrameType.GOAWAY) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `RPC frame type ${type} is unknown`);
    const end = offset + length;
    this.nameEnd = offset + FRAME_HEADER_LENGTH + this.view.getUint16(offset + 12, true);
    if (this.nameEnd > end) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `RPC frame name of ${this.nameEnd - offset - FRAME_HEADER_LENGTH} bytes runs past the frame's ${length}`);
    let p = this.nameEnd;
    const count = this.view.getUint16(offset + 14, true);
    for (let i = 0; i < count; i++) {
      if (p + 2 > end) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `RPC frame metadata entry ${i} runs past the frame`);
      p += 2 + this.view.getUint16(p, true);
      if (p + 4 > end) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `RPC frame metadata entry ${i} runs past the frame`);
      p += 4 + this.view.getUint32(p, true);
      if (p > end) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `RPC frame metadata entry ${i} runs past the frame`);
    }
    this.payloadStart = p;
    return this;
  }

  get type(): FrameType {
    return this.view.getUint8(this.offset + 1) as FrameType;
  }

  get flags(): number {
    return this.view.getUint16(this.offset + 2, true);
  }

  get callId(): number {
    return this.view.getInt32(this.offset + 4, true);
  }

  get arg(): number {
    return this.view.getUint32(this.offset + 8, true);
  }

  get name(): string {
    const start = this.offset + FRAME_HEADER_LENGTH;
    return this.nameEnd === start ? '' : decodeText(this.buffer, start, this.nameEnd, 'name');
  }

  /**
   * The index of the name in `names` (their UTF-8 bytes, see {@link encodeNames}), or -1; compares
   * bytes, so a known name costs no string decoding.
   */
  nameIndex(names: readonly Uint8Array[]): number {
    const start = this.offset + FRAME_HEADER_LENGTH;
    const length = this.nameEnd - start;
    const buffer = this.buffer;
    outer: for (let i = 0; i < names.length; i++) {
      const candidate = names[i]!;
      if (candidate.length !== length) continue;
      for (let j = 0; j < length; j++) if (buffer[start + j] !== candidate[j]) continue outer;
      return i;
    }
    return -1;
  }

  get metadataCount(): number {
    return this.view.getUint16(this.offset + 14, true);
  }

  /** A new frozen object of the metadata (empty: the shared empty object). */
  metadata(): Metadata {
    const count = this.metadataCount;
    if (count === 0) return EMPTY_METADATA;
    const out: Record<string, string> = {};
    let p = this.nameEnd;
    for (let i = 0; i < count; i++) {
      const keyLength = this.view.getUint16(p, true);
      const key = decodeText(this.buffer, p + 2, p + 2 + keyLength, 'metadata key');
      p += 2 + keyLength;
      const valueLength = this.view.getUint32(p, true);
      out[key] = decodeText(this.buffer, p + 4, p + 4 + valueLength, 'metadata value');
      p += 4 + valueLength;
    }
    return Object.freeze(out);
  }

  get payloadOffset(): number {
    return this.payloadStart;
  }

  get payloadLength(): number {
    return this.offset + this.length - this.payloadStart;
  }

  /** The payload in place: valid only until the frame's buffer moves on (codecs copy what they keep). */
  payloadView(): Uint8Array {
    return this.buffer.subarray(this.payloadStart, this.offset + this.length);
  }

  /** The payload decoded by `codec` (through its decodeAt when it has one, without a view first). */
  decodePayload<T>(codec: Codec<T>): T {
    const end = this.offset + this.length;
    return codec.decodeAt !== undefined ? codec.decodeAt(this.buffer, this.payloadStart, end - this.payloadStart) : codec.decode(this.buffer.subarray(this.payloadStart, end));
  }

  /** A copy of the payload. */
  payload(): Uint8Array {
    return this.buffer.slice(this.payloadStart, this.offset + this.length);
  }
}

function decodeText(buffer: Uint8Array, start: number, end: number, what: string): string {
  try {
    return decoder.decode(buffer.subarray(start, end));
  } catch {
    throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `RPC frame ${what} is not valid UTF-8`);
  }
}
