/**
 * Copies `length` bytes from `src[srcOffset..]` to `dst[dstOffset..]` (different buffers).
 *
 * Whole-source copies and copies of at most {@link SMALL_COPY_LENGTH_MAX} bytes allocate nothing.
 * Longer copies of part of a source go through a `subarray` view: on Node 20 there is no range
 * copy between two typed arrays that avoids it (`Buffer#copy` creates the same view), and the
 * view costs less than copying word by word in JavaScript.
 */
export const SMALL_COPY_LENGTH_MAX = 64;

export function copyBytes(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (srcOffset === 0 && length === src.length) {
    dst.set(src, dstOffset);
  } else if (length <= SMALL_COPY_LENGTH_MAX) {
    for (let i = 0; i < length; i++) {
      dst[dstOffset + i] = src[srcOffset + i]!;
    }
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
  }
}
