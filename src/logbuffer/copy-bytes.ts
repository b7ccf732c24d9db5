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

/**
 * The source most recently copied from by {@link copyIntoTerm} twice in a row, and a word view of
 * it. Views are made only for a source seen twice in a row, so a caller that offers a fresh
 * buffer per message pays no allocation.
 */
let wordSource: Uint8Array | null = null;
let wordSourceInts: Int32Array | null = null;
let wordCandidate: Uint8Array | null = null;

function wordViewOf(src: Uint8Array): Int32Array | null {
  if (src === wordSource) return wordSourceInts;
  if (src !== wordCandidate) {
    wordCandidate = src;
    return null;
  }
  if ((src.byteOffset & 3) !== 0) return null;
  wordSource = src;
  wordSourceInts = new Int32Array(src.buffer, src.byteOffset, src.length >>> 2);
  return wordSourceInts;
}

/**
 * Copies `length` bytes from `src[srcOffset..]` into a term at the 4-byte aligned `dstOffset`
 * (`dstInts` is the term's Int32Array view). Short copies from a 4-byte aligned source that is
 * used again and again (the usual offer loop) go word by word: on a SharedArrayBuffer,
 * `Uint8Array#set` copies byte by byte with relaxed stores and costs several times more for a
 * small message. Everything else goes through {@link copyBytes}.
 */
export function copyIntoTerm(dstInts: Int32Array, dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (length <= SMALL_COPY_LENGTH_MAX && (srcOffset & 3) === 0) {
    const words = wordViewOf(src);
    const wordCount = length >> 2;
    const first = srcOffset >> 2;
    // A detached or shrunk source leaves the view short: fall through to the checked copy.
    if (words !== null && first + wordCount <= words.length) {
      const d = dstOffset >> 2;
      for (let w = 0; w < wordCount; w++) dstInts[d + w] = words[first + w]!;
      for (let b = wordCount << 2; b < length; b++) dst[dstOffset + b] = src[srcOffset + b]!;
      return;
    }
  }
  copyBytes(dst, dstOffset, src, srcOffset, length);
}
