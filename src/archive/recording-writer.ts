/**
 * Writes a recording's blocks of frames into its segment files (ARCHIVE.md §11). A block is what
 * {@link Image.blockPoll} hands over: whole frames of one term, or one PAD frame's header, which
 * is written alone so the padded range stays a hole of zeros. Positions come from the block's term
 * id and term offset, so each frame lands at `position - segmentBasePosition` in its segment.
 * Segment files are created at their full length (sparse) when the recording reaches them.
 *
 * With a sync level above 0, zeros are written ahead of the data, {@link PREPARE_CHUNK_LENGTH} at
 * a time, so that the blocks each write lands in are already allocated: a sync then pushes the
 * data alone, not also the file system's record of newly allocated blocks (a journal commit on
 * ext4), which made each sync slower (measured here: three processes writing about 3 KiB and
 * syncing in a loop managed about 2,100 syncs/s each into sparse files and 2,900 into written
 * ones). etcd preallocates its write-ahead log files for the same reason. Zeros are what an
 * unwritten part of a segment holds anyway, so readers and recovery see no difference. When
 * writing zeros fails (a full disk), preparing stops for that segment and the data is written as
 * before.
 */
import type { FileHandle, Files } from '../env/files.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { segmentBasePosition, segmentFileName } from './segment-files.js';

/** With a sync level above 0, zeros are written this far (or to the segment's end) past the data when it comes within half of it. */
export const PREPARE_CHUNK_LENGTH = 1024 * 1024;

let zeros: Uint8Array | null = null;

/** How hard writes are pushed to the device: 0 none (the OS decides), 1 data, 2 data and metadata. */
export type FileSyncLevel = 0 | 1 | 2;

export function checkFileSyncLevel(name: string, value: unknown): FileSyncLevel {
  if (value === 0 || value === 1 || value === 2) return value;
  throw new SkeinError(ErrorCode.CONFIG_INVALID, `${name}=${String(value)} is invalid; expected 0 (no sync), 1 (data) or 2 (data and metadata)`);
}

export interface RecordingWriterInit {
  readonly files: Files;
  readonly archiveDir: string;
  readonly recordingId: number;
  /** Where the recording starts (its first segment starts at the start of this position's term). */
  readonly startPosition: number;
  /** Where writing resumes: the start position, or the stop position of a recording being extended. */
  readonly position: number;
  readonly initialTermId: number;
  readonly termLength: number;
  readonly segmentLength: number;
  readonly fileSyncLevel: FileSyncLevel;
}

export class RecordingWriter {
  readonly recordingId: number;
  private readonly files: Files;
  private readonly archiveDir: string;
  private readonly startPosition: number;
  private readonly initialTermId: number;
  private readonly termLength: number;
  private readonly segmentLength: number;
  private readonly fileSyncLevel: FileSyncLevel;
  private segment: FileHandle | null = null;
  private segmentBase = -1;
  /** With a sync level above 0: the current segment holds data or written zeros up to this offset (-1: preparing stopped). */
  private preparedTo = 0;
  private closed = false;
  /** End of the last block written (a PAD block counts as its header). */
  private writtenPosition: number;

  /** The block handler to give to {@link Image.blockPoll}; throws (consuming nothing) when a write fails. */
  readonly onBlock = (termBuffer: Uint8Array, termOffset: number, length: number, _sessionId: number, termId: number): void => {
    this.write(termBuffer, termOffset, length, termId);
  };

  constructor(init: RecordingWriterInit) {
    this.files = init.files;
    this.archiveDir = init.archiveDir;
    this.recordingId = init.recordingId;
    this.startPosition = init.startPosition;
    this.initialTermId = init.initialTermId;
    this.termLength = init.termLength;
    this.segmentLength = init.segmentLength;
    this.fileSyncLevel = init.fileSyncLevel;
    this.writtenPosition = init.position;
  }

  /** The end of what has been written so far. */
  get position(): number {
    return this.writtenPosition;
  }

  /** Writes one block; see the class comment. */
  write(termBuffer: Uint8Array, termOffset: number, length: number, termId: number): void {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, `recording ${this.recordingId}: write after the writer was closed`);
    const termCount = (termId - this.initialTermId) | 0;
    const position = termCount * this.termLength + termOffset;
    const base = segmentBasePosition(this.startPosition, position, this.termLength, this.segmentLength);
    if (base !== this.segmentBase) this.openSegment(base);
    const segment = this.segment!;
    if (this.fileSyncLevel > 0) this.prepare(segment, position - base + length);
    segment.write(termBuffer, termOffset, length, position - base);
    if (this.fileSyncLevel > 0) segment.sync(this.fileSyncLevel === 2);
    this.writtenPosition = position + length;
  }

  /** Flushes to the device at the sync level and closes the current segment file; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const segment = this.segment;
    this.segment = null;
    if (segment === null) return;
    try {
      if (this.fileSyncLevel > 0) segment.sync(this.fileSyncLevel === 2);
    } finally {
      segment.close();
    }
  }

  /** Writes zeros ahead of a write that ends at `end` (an offset in the segment); see the class comment. */
  private prepare(segment: FileHandle, end: number): void {
    const prepared = this.preparedTo;
    if (prepared < 0 || prepared >= this.segmentLength || end + PREPARE_CHUNK_LENGTH / 2 <= prepared) return;
    const from = Math.max(prepared, end);
    const to = Math.min(this.segmentLength, from + PREPARE_CHUNK_LENGTH);
    zeros ??= new Uint8Array(PREPARE_CHUNK_LENGTH);
    try {
      if (to > from) segment.write(zeros, 0, to - from, from);
      this.preparedTo = to;
    } catch {
      // Only a head start: the data's own write says whether the device can take it.
      this.preparedTo = -1;
    }
  }

  private openSegment(base: number): void {
    const previous = this.segment;
    this.segment = null;
    if (previous !== null) {
      if (this.fileSyncLevel > 0) previous.sync(this.fileSyncLevel === 2);
      previous.close();
    }
    const path = `${this.archiveDir}/${segmentFileName(this.recordingId, base)}`;
    const file = this.files.open(path, 'create-or-open');
    try {
      if (file.size() < this.segmentLength) file.truncate(this.segmentLength);
    } catch (error) {
      file.close();
      throw error;
    }
    this.segment = file;
    this.segmentBase = base;
    // Writing resumes here (a recording extended mid-segment) or at the segment's start.
    this.preparedTo = Math.max(0, this.writtenPosition - base);
  }
}
