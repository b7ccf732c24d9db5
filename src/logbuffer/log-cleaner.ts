import { TermWords } from './frame-descriptor.js';
import { computeTermOffsetFromPosition, indexByPosition } from './log-buffer-descriptor.js';

/**
 * Zeroes a log behind its slowest reader so a term can be written again three rotations later
 * (readers treat a zero frame length as "not yet written"). Each call cleans at most up to the end
 * of one term and only once at least `chunkLength` bytes are due, so work per call stays bounded.
 */
export class LogCleaner {
  private cleanPosition: number;
  private readonly termWords = new TermWords();

  constructor(
    private readonly termBuffers: readonly Uint8Array[],
    private readonly positionBitsToShift: number,
    startPosition: number,
    private readonly chunkLength = 0,
  ) {
    this.cleanPosition = startPosition;
  }

  get position(): number {
    return this.cleanPosition;
  }

  /** Zeroes from the last cleaned position towards `position`. */
  cleanTo(position: number): void {
    const cleanPosition = this.cleanPosition;
    if (position - cleanPosition <= this.chunkLength || position <= cleanPosition) return;
    const termBuffer = this.termBuffers[indexByPosition(cleanPosition, this.positionBitsToShift)]!;
    const offset = computeTermOffsetFromPosition(cleanPosition, this.positionBitsToShift);
    const length = Math.min(position - cleanPosition, termBuffer.length - offset);
    // Offsets and lengths are frame-aligned; word fill is several times faster on shared memory.
    this.termWords.get(termBuffer).fill(0, offset >> 2, (offset + length) >> 2);
    this.cleanPosition = cleanPosition + length;
  }
}
