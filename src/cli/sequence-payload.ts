/**
 * The payload `skein pub` sends and `skein sub --verify` checks:
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |              Sequence number, low 32 bits (LE)                |
 * +---------------------------------------------------------------+
 * |              Sequence number, high 32 bits (LE)               |
 * +---------------------------------------------------------------+
 * |  Pattern: byte i holds i & 0xff, up to the message length    ...
 * +---------------------------------------------------------------+
 * ```
 *
 * Sequence numbers count 0, 1, 2, … per publisher (per session on the subscriber side).
 */
export const SEQUENCE_LENGTH = 8;
const TWO_POW_32 = 4_294_967_296;

/** A reusable message buffer of `length` bytes holding the pattern, with the sequence number written in place. */
export class SequencePayload {
  readonly buffer: Uint8Array;
  private readonly view: DataView;

  constructor(readonly length: number) {
    this.buffer = new Uint8Array(length);
    for (let i = SEQUENCE_LENGTH; i < length; i++) this.buffer[i] = i & 0xff;
    this.view = new DataView(this.buffer.buffer);
  }

  setSequence(sequence: number): void {
    this.view.setUint32(0, sequence % TWO_POW_32, true);
    this.view.setUint32(4, Math.floor(sequence / TWO_POW_32), true);
  }
}

/** Reads the sequence number of a payload at `offset` (at least 8 bytes). */
export function readSequence(buffer: Uint8Array, offset: number): number {
  const low = (buffer[offset]! | (buffer[offset + 1]! << 8) | (buffer[offset + 2]! << 16) | (buffer[offset + 3]! << 24)) >>> 0;
  const high = (buffer[offset + 4]! | (buffer[offset + 5]! << 8) | (buffer[offset + 6]! << 16) | (buffer[offset + 7]! << 24)) >>> 0;
  return high * TWO_POW_32 + low;
}

/** True when bytes [8, length) of the payload hold the pattern. */
export function hasPattern(buffer: Uint8Array, offset: number, length: number): boolean {
  for (let i = SEQUENCE_LENGTH; i < length; i++) {
    if (buffer[offset + i] !== (i & 0xff)) return false;
  }
  return true;
}
