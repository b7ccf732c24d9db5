/**
 * Reads a recording back from its segment files in blocks of whole frames, for a replay: each
 * block starts at the reader's position and stays within one term, the buffer and a limit; the
 * frames' session and stream ids are rewritten to those of the replay publication. A PAD frame
 * comes alone, as its header (the padded range is zeros on disk and becomes padding again).
 */
import type { FileHandle, Files } from '../env/files.js';
import { align } from '../util/bits.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { DATA_HEADER_LENGTH, FRAME_ALIGNMENT, PAD_FRAME_TYPE, SESSION_ID_FIELD_OFFSET, STREAM_ID_FIELD_OFFSET, TYPE_FIELD_OFFSET, readInt32LE, writeInt32LE } from '../logbuffer/frame-descriptor.js';
import { segmentBasePosition, segmentFileName } from './segment-files.js';
import type { RecordingLayout } from './segment-scan.js';

export class RecordingReader {
  /** The block read by {@link read}: `blockLength` bytes from offset 0. */
  readonly buffer: Uint8Array;
  /** Length of the block in {@link buffer} (0 when none); a PAD block is the PAD header alone. */
  blockLength = 0;
  /** For a PAD block, the whole padded length (header included) the position moves by. */
  paddingLength = 0;
  private readonly files: Files;
  private readonly archiveDir: string;
  private readonly layout: RecordingLayout;
  private segment: FileHandle | null = null;
  private segmentBase = -1;
  private readPosition: number;
  private closed = false;

  constructor(files: Files, archiveDir: string, layout: RecordingLayout, fromPosition: number, bufferLength: number) {
    if (!(Number.isInteger(bufferLength) && bufferLength >= 4096)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `replay buffer length ${String(bufferLength)} is too small; at least 4096`);
    }
    this.files = files;
    this.archiveDir = archiveDir;
    this.layout = layout;
    this.buffer = new Uint8Array(bufferLength);
    this.readPosition = fromPosition;
  }

  /** Where the next block starts. */
  get position(): number {
    return this.readPosition;
  }

  /**
   * Reads the next block (whole frames from the position up to `limit`, the term's end, the
   * buffer and `maxLength`, the replay publication's window) unless one is waiting; returns its
   * length, 0 when nothing is there yet or the next frame is longer than `maxLength`. Frames get
   * `sessionId` and `streamId`. A frame longer than the buffer throws ERR_SKEIN_ARG_INVALID.
   */
  read(limit: number, sessionId: number, streamId: number, maxLength = Number.MAX_SAFE_INTEGER): number {
    if (this.blockLength > 0) return this.blockLength <= maxLength || this.paddingLength > 0 ? this.blockLength : 0;
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, `recording ${this.layout.recordingId}: read after the reader was closed`);
    const position = this.readPosition;
    const termLength = this.layout.termLength;
    const termRemaining = termLength - (position % termLength);
    const wanted = Math.min(limit - position, termRemaining, this.buffer.length);
    const blockMax = Math.min(wanted, maxLength);
    if (wanted < DATA_HEADER_LENGTH) return 0;
    const base = segmentBasePosition(this.layout.startPosition, position, termLength, this.layout.segmentLength);
    if (base !== this.segmentBase) this.openSegment(base);
    const b = this.buffer;
    const got = this.segment!.read(b, 0, wanted, position - base);
    let length = 0;
    while (length + DATA_HEADER_LENGTH <= got) {
      const frameLength = readInt32LE(b, length);
      if (frameLength <= 0) break;
      const isPad = (b[length + TYPE_FIELD_OFFSET]! | (b[length + TYPE_FIELD_OFFSET + 1]! << 8)) === PAD_FRAME_TYPE;
      const aligned = align(frameLength, FRAME_ALIGNMENT);
      if (isPad) {
        if (length === 0) {
          this.paddingLength = aligned;
          length = DATA_HEADER_LENGTH;
        }
        break;
      }
      if (length + aligned > blockMax) {
        if (length === 0 && aligned > this.buffer.length) {
          throw new SkeinError(ErrorCode.ARG_INVALID, `recording ${this.layout.recordingId}: frame of ${frameLength} bytes at position ${position} is longer than the replay buffer of ${this.buffer.length} bytes`);
        }
        break;
      }
      writeInt32LE(b, length + SESSION_ID_FIELD_OFFSET, sessionId);
      writeInt32LE(b, length + STREAM_ID_FIELD_OFFSET, streamId);
      length += aligned;
    }
    this.blockLength = length;
    return length;
  }

  /** The block was sent: the position moves past it (past the whole padding for a PAD block). */
  consume(): void {
    this.readPosition += this.paddingLength > 0 ? this.paddingLength : this.blockLength;
    this.blockLength = 0;
    this.paddingLength = 0;
  }

  /** Closes the open segment file; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const segment = this.segment;
    this.segment = null;
    segment?.close();
  }

  private openSegment(base: number): void {
    this.segment?.close();
    this.segment = null;
    this.segment = this.files.open(`${this.archiveDir}/${segmentFileName(this.layout.recordingId, base)}`, 'read');
    this.segmentBase = base;
  }
}
