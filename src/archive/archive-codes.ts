/**
 * The archive's codes and constants that applications see: Aeron's archive error codes, recording
 * signals, source locations, replay lengths and the rec-pos counter type (ARCHIVE.md §5, §8, §12),
 * and how a control session ended.
 */
import type { SkeinError } from '../util/errors.js';

/** Error codes carried in an ERROR response's relevantId (ARCHIVE.md §5). */
export const ArchiveErrorCode = {
  GENERIC: 0,
  ACTIVE_LISTING: 1,
  ACTIVE_RECORDING: 2,
  ACTIVE_SUBSCRIPTION: 3,
  UNKNOWN_SUBSCRIPTION: 4,
  UNKNOWN_RECORDING: 5,
  UNKNOWN_REPLAY: 6,
  MAX_REPLAYS: 7,
  MAX_RECORDINGS: 8,
  INVALID_EXTENSION: 9,
  AUTHENTICATION_REJECTED: 10,
  STORAGE_SPACE: 11,
  UNKNOWN_REPLICATION: 12,
  UNAUTHORISED_ACTION: 13,
  REPLICATION_CONNECTION_FAILURE: 14,
  EMPTY_RECORDING: 15,
  INVALID_POSITION: 16,
} as const;
export type ArchiveErrorCode = (typeof ArchiveErrorCode)[keyof typeof ArchiveErrorCode];

/** Recording signals (ARCHIVE.md §8). */
export const RecordingSignal = { START: 0, STOP: 1, EXTEND: 2, REPLICATE: 3, MERGE: 4, SYNC: 5, DELETE: 6, REPLICATE_END: 7 } as const;
export type RecordingSignal = (typeof RecordingSignal)[keyof typeof RecordingSignal];

export type SourceLocation = 'LOCAL' | 'REMOTE';

/** rec-pos counters (ARCHIVE.md §12). */
export const RECORDING_POSITION_TYPE_ID = 100;
/** `length` of a replay that follows the recording while it grows. */
export const REPLAY_ALL_AND_FOLLOW = -1;
/** `length` of a replay up to where the recording is now. */
export const REPLAY_ALL_AND_STOP = -2;

/** How a control session ended: why, whether that was a normal end, and the error naming it. */
export interface ControlSessionEnd {
  readonly reason: string;
  readonly normal: boolean;
  readonly error: SkeinError;
}
