/**
 * Segment files of a recording (ARCHIVE.md §11): `<recordingId>-<segmentBasePosition>.rec` in the
 * archive directory, each `segmentLength` bytes, holding the recorded term bytes verbatim so that
 * byte `position - segmentBasePosition` holds the frame at `position`.
 */
import { ErrorCode, SkeinError } from '../util/errors.js';
import { isPowerOfTwo } from '../util/bits.js';

export const SEGMENT_FILE_SUFFIX = '.rec';
export const SEGMENT_LENGTH_MIN = 64 * 1024;
export const SEGMENT_LENGTH_MAX = 1024 * 1024 * 1024;
export const SEGMENT_LENGTH_DEFAULT = 128 * 1024 * 1024;

/** The file name of the segment of `recordingId` that starts at `segmentBasePosition`. */
export function segmentFileName(recordingId: number, segmentBasePosition: number): string {
  return `${recordingId}-${segmentBasePosition}${SEGMENT_FILE_SUFFIX}`;
}

/** The recording id and base position a segment file name carries, or null for other names. */
export function parseSegmentFileName(name: string): { recordingId: number; segmentBasePosition: number } | null {
  const m = /^(\d+)-(\d+)\.rec$/.exec(name);
  if (m === null) return null;
  const recordingId = Number(m[1]);
  const segmentBasePosition = Number(m[2]);
  if (!Number.isSafeInteger(recordingId) || !Number.isSafeInteger(segmentBasePosition)) return null;
  return { recordingId, segmentBasePosition };
}

/**
 * The length of a recording's segment files: the configured length, or the term length when that
 * is larger. The configured length must be a power of two in [64 KiB, 1 GiB].
 */
export function segmentLengthFor(configuredLength: number, termLength: number): number {
  if (!(Number.isInteger(configuredLength) && isPowerOfTwo(configuredLength) && configuredLength >= SEGMENT_LENGTH_MIN && configuredLength <= SEGMENT_LENGTH_MAX)) {
    throw new SkeinError(
      ErrorCode.CONFIG_INVALID,
      `segmentFileLength=${String(configuredLength)} is invalid; expected a power of two in [${SEGMENT_LENGTH_MIN}, ${SEGMENT_LENGTH_MAX}]`,
    );
  }
  return Math.max(configuredLength, termLength);
}

/**
 * The base position of the segment holding `position` in a recording that starts at
 * `startPosition`: segments start at the start of the start position's term, then every
 * `segmentLength` bytes.
 */
export function segmentBasePosition(startPosition: number, position: number, termLength: number, segmentLength: number): number {
  const startTermBase = startPosition - (startPosition % termLength);
  const distance = position - startTermBase;
  return startTermBase + distance - (distance % segmentLength);
}

/** Base positions of the segment files of `recordingId` found among `names`, ascending. */
export function segmentBasesOf(names: readonly string[], recordingId: number): number[] {
  const bases: number[] = [];
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (parsed !== null && parsed.recordingId === recordingId) bases.push(parsed.segmentBasePosition);
  }
  return bases.sort((a, b) => a - b);
}
