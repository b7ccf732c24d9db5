/**
 * Writes received DATA/PAD datagrams into an image's term (PROTOCOL.md §3.2, §8.3).
 *
 * A datagram holds consecutive frames starting at `termOffset`. Frames the term already holds
 * (duplicates, overlapping retransmissions) are skipped; the rest is copied with the frame length
 * of its first frame stored last (`Atomics.store`), so a reader never sees part of a datagram. A
 * PAD frame arrives as its 32-byte header only; its frame length covers the padded region, which
 * is left as it is.
 *
 * The datagram must already be validated (frames of type DATA/PAD, aligned, within the term).
 */
import { assert } from '../util/assert.js';
import { align } from '../util/bits.js';
import { copyBytes } from './copy-bytes.js';
import {
  DATA_HEADER_LENGTH,
  FRAME_ALIGNMENT,
  FRAME_LENGTH_FIELD_OFFSET,
  frameLengthOrdered,
  frameLengthVolatile,
  isPaddingFrame,
  readInt32LE,
} from './frame-descriptor.js';

/**
 * Inserts `packet[packetOffset, packetOffset + length)` at `termOffset`. Returns true if any
 * frame was written, false if all of them were already present (or the datagram is a heartbeat).
 */
export function insertPacket(
  termBuffer: Uint8Array,
  termOffset: number,
  packet: Uint8Array,
  packetOffset: number,
  length: number,
): boolean {
  assert(
    termOffset >= 0 && termOffset % FRAME_ALIGNMENT === 0 && length >= DATA_HEADER_LENGTH && termOffset + length <= termBuffer.length,
    'insertPacket: datagram not aligned or not within the term',
  );
  let skipped = 0;
  while (skipped < length) {
    const frameLength = readInt32LE(packet, packetOffset + skipped + FRAME_LENGTH_FIELD_OFFSET);
    if (frameLength <= 0) {
      return false;
    }
    if (frameLengthVolatile(termBuffer, termOffset + skipped) === 0) {
      break;
    }
    if (isPaddingFrame(packet, packetOffset + skipped)) {
      return false;
    }
    skipped += align(frameLength, FRAME_ALIGNMENT);
  }
  if (skipped >= length) {
    return false;
  }
  const frameOffset = termOffset + skipped;
  const srcOffset = packetOffset + skipped;
  const remaining = length - skipped;
  copyBytes(termBuffer, frameOffset + DATA_HEADER_LENGTH, packet, srcOffset + DATA_HEADER_LENGTH, remaining - DATA_HEADER_LENGTH);
  copyBytes(termBuffer, frameOffset + 4, packet, srcOffset + 4, DATA_HEADER_LENGTH - 4);
  frameLengthOrdered(termBuffer, frameOffset, readInt32LE(packet, srcOffset + FRAME_LENGTH_FIELD_OFFSET));
  return true;
}
