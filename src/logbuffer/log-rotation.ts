/**
 * Moves a log to its next term (PROTOCOL.md §5): the next partition's tail becomes
 * (termId + 1, offset 0) — unless it already moved on — and activeTermCount goes from
 * `currentTermCount` to `currentTermCount + 1`. The partition being reused last held the term
 * three before the new one; cleaning its old frames behind the slowest consumer is the owner's job
 * (the driver zeroes consumed regions).
 */
import { PARTITION_COUNT, indexByTermCount } from './log-buffer-descriptor.js';
import type { LogMetaData } from './log-meta-data.js';

/** Returns true if this call moved activeTermCount (false if it had already moved). */
export function rotateLog(metaData: LogMetaData, currentTermCount: number, currentTermId: number): boolean {
  const nextTermId = (currentTermId + 1) | 0;
  const nextTermCount = (currentTermCount + 1) | 0;
  const nextIndex = indexByTermCount(nextTermCount);
  const expectedTermId = (nextTermId - PARTITION_COUNT) | 0;
  if (metaData.rawTailTermId(nextIndex) === expectedTermId) {
    metaData.setRawTail(nextIndex, nextTermId, 0);
  }
  return metaData.casActiveTermCount(currentTermCount, nextTermCount);
}
