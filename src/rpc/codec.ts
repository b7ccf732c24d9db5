/**
 * Payload codecs: how a method's request and response values become bytes. Three are built in:
 * `raw` (the bytes as they are), `json` (UTF-8 JSON) and `msgpack` (MessagePack through
 * @msgpack/msgpack, compact and fast for structured values). A method names its codec when it is
 * declared; both ends use the same declaration, so they agree.
 */
import { Decoder as MsgpackDecoder, Encoder as MsgpackEncoder } from '@msgpack/msgpack';
import { ErrorCode, SkeinError } from '../util/errors.js';

export interface Codec<T> {
  readonly name: string;
  encode(value: T): Uint8Array;
  /**
   * Throws on bytes that are not a value of this codec; the caller turns it into INVALID_ARGUMENT
   * or INTERNAL. `bytes` may be a view of a buffer that is reused once decode returns: a value
   * that keeps bytes must copy them.
   */
  decode(bytes: Uint8Array): T;
  /**
   * Optional: decodes `length` bytes of `buffer` from `offset` (a reused buffer, as for decode)
   * without the caller making a view of them first; used instead of decode when present.
   */
  decodeAt?(buffer: Uint8Array, offset: number, length: number): T;
}

export const rawCodec: Codec<Uint8Array> = Object.freeze({
  name: 'raw',
  encode(value: Uint8Array): Uint8Array {
    if (!(value instanceof Uint8Array)) throw new SkeinError(ErrorCode.ARG_INVALID, `raw codec: expected a Uint8Array, got ${typeof value}`);
    return value;
  },
  decode(bytes: Uint8Array): Uint8Array {
    return bytes.slice();
  },
  // One copy, without a view of the frame's buffer made first.
  decodeAt(buffer: Uint8Array, offset: number, length: number): Uint8Array {
    return buffer.slice(offset, offset + length);
  },
});

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** JSON in UTF-8; `undefined` travels as an empty payload. */
export function jsonCodec<T = unknown>(): Codec<T> {
  return Object.freeze({
    name: 'json',
    encode(value: T): Uint8Array {
      if (value === undefined) return new Uint8Array(0);
      return textEncoder.encode(JSON.stringify(value));
    },
    decode(bytes: Uint8Array): T {
      if (bytes.length === 0) return undefined as T;
      return JSON.parse(textDecoder.decode(bytes)) as T;
    },
  });
}

/** MessagePack; one encoder and decoder per codec, reused (not for use from two threads). */
export function msgpackCodec<T = unknown>(): Codec<T> {
  const encoder = new MsgpackEncoder({ ignoreUndefined: true });
  const decoder = new MsgpackDecoder();
  return Object.freeze({
    name: 'msgpack',
    encode(value: T): Uint8Array {
      if (value === undefined) return new Uint8Array(0);
      // The encoder reuses its buffer: copy out what it wrote.
      return encoder.encode(value).slice();
    },
    decode(bytes: Uint8Array): T {
      if (bytes.length === 0) return undefined as T;
      // Binary fields come back as views of the input: give them bytes of their own.
      return decoder.decode(bytes.slice()) as T;
    },
  });
}

export type CodecName = 'raw' | 'json' | 'msgpack';

export function codecByName(name: CodecName): Codec<unknown> {
  switch (name) {
    case 'raw':
      return rawCodec as Codec<unknown>;
    case 'json':
      return jsonCodec();
    case 'msgpack':
      return msgpackCodec();
    default:
      throw new SkeinError(ErrorCode.ARG_INVALID, `codec '${String(name)}' is unknown; expected raw, json or msgpack`);
  }
}
